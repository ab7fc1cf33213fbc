//! W3C trace context over gRPC metadata (HTTP/2 headers).

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The remote parent context carried by `headers` (`traceparent`, `tracestate`).
pub fn extract_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// Makes `span` continue the trace whose context `headers` carry (a span
/// opened for an incoming request); without one, `span` starts a trace.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    let _ = span.set_parent(extract_context(headers));
}

/// Writes the current span's context into outgoing `headers`.
pub fn inject_current_context(headers: &mut http::HeaderMap) {
    inject_context(&tracing::Span::current(), headers);
}

/// Writes `span`'s context into outgoing `headers`.
pub fn inject_context(span: &tracing::Span, headers: &mut http::HeaderMap) {
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut HeaderInjector(headers));
    });
}

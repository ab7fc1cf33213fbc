//! JSON log lines, one object per line, built so that spans cost little when
//! nothing is logged — the case of almost every RPC. A span's fields are
//! written once, when it opens, as a ready JSON fragment, and fields recorded
//! later are appended to it (the stock JSON layer re-parses and re-serializes
//! a span's fields on every record). The trace and span ids are asked of
//! OpenTelemetry only when a line is written.
//!
//! A line: `{"timestamp","level","target","message",<event fields>,
//! "span":{"name",<span fields>},"trace_id","span_id"}`.

use std::fmt::{self, Write as _};
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TraceContextExt;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Span fields as a JSON object's members (`"a":1,"b":"x"`), appended to
/// when fields are recorded later.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonFields;

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        // Built in a sized buffer, then copied once at its exact size, rather
        // than grown piece by piece in the stored string.
        let mut buffer = String::with_capacity(256);
        let mut local = Writer::new(&mut buffer);
        let mut members = Members::new(&mut local, true);
        fields.record(&mut members);
        members.result?;
        writer.write_str(&buffer)
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut writer = current.as_writer();
        let mut members = Members::new(&mut writer, first);
        fields.record(&mut members);
        members.result
    }
}

/// The line formatter. Needs the process's dispatcher to reach the
/// OpenTelemetry layer's data (an event is formatted while the dispatcher
/// is busy, so it cannot be looked up then): see [`JsonLines::dispatcher`].
#[derive(Debug, Clone, Default)]
pub struct JsonLines {
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

impl JsonLines {
    /// Where the installed dispatcher goes once the subscriber is set.
    pub fn dispatcher(&self) -> Arc<OnceLock<WeakDispatch>> {
        Arc::clone(&self.dispatch)
    }

    fn trace_ids(&self, span: &tracing::span::Id) -> Option<(String, String)> {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let context = tracing_opentelemetry::get_otel_context(span, &dispatch)?;
        let otel_span = context.span();
        let ids = otel_span.span_context();
        ids.is_valid()
            .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
    }
}

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\",\"target\":", meta.level())?;
        write_str(&mut writer, meta.target())?;
        let mut members = Members::new(&mut writer, false);
        event.record(&mut members);
        members.result?;
        // The event's explicit parent, else the current span.
        if let Some(span) = ctx.parent_span() {
            writer.write_str(",\"span\":{\"name\":")?;
            write_str(&mut writer, span.name())?;
            if let Some(fields) = span.extensions().get::<FormattedFields<JsonFields>>()
                && !fields.fields.is_empty()
            {
                writer.write_char(',')?;
                writer.write_str(&fields.fields)?;
            }
            writer.write_char('}')?;
            // The span's extensions are released: OpenTelemetry locks them.
            if let Some((trace_id, span_id)) = self.trace_ids(&span.id()) {
                write!(
                    writer,
                    ",\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\""
                )?;
            }
        }
        writer.write_str("}\n")
    }
}

/// Writes visited fields as JSON object members.
struct Members<'a, 'w> {
    writer: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl<'a, 'w> Members<'a, 'w> {
    fn new(writer: &'a mut Writer<'w>, first: bool) -> Self {
        Self {
            writer,
            first,
            result: Ok(()),
        }
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'w>) -> fmt::Result) {
        // `otel.*` fields instruct the OpenTelemetry layer (span name, kind,
        // status); they are not log content.
        if self.result.is_err() || field.name().starts_with("otel.") {
            return;
        }
        self.result = (|| {
            if !std::mem::take(&mut self.first) {
                self.writer.write_char(',')?;
            }
            write_str(self.writer, field.name())?;
            self.writer.write_char(':')?;
            value(self.writer)
        })();
    }
}

impl Visit for Members<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| write_str(w, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.member(field, |w| write!(w, "{value}"));
        } else {
            self.member(field, |w| write!(w, "\"{value}\""));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.member(field, |w| quoted(w, |e| write!(e, "{value}")));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |w| quoted(w, |e| write!(e, "{value:?}")));
    }
}

/// A JSON string literal.
fn write_str(writer: &mut Writer<'_>, value: &str) -> fmt::Result {
    quoted(writer, |e| e.write_str(value))
}

/// A JSON string literal of whatever `write` produces, escaped on the fly.
fn quoted(
    writer: &mut Writer<'_>,
    write: impl FnOnce(&mut Escaped<'_, '_>) -> fmt::Result,
) -> fmt::Result {
    writer.write_char('"')?;
    write(&mut Escaped(writer))?;
    writer.write_char('"')
}

struct Escaped<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < b' ')
        {
            self.0.write_str(&rest[..at])?;
            // An ASCII byte: `at` is a character boundary.
            let c = char::from(rest.as_bytes()[at]);
            match c {
                '"' => self.0.write_str("\\\"")?,
                '\\' => self.0.write_str("\\\\")?,
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                other => write!(self.0, "\\u{:04x}", u32::from(other))?,
            }
            rest = &rest[at + 1..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    use super::{JsonFields, JsonLines};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_json_with_span_fields_recorded_late_and_escaped_values() {
        let sink = Sink::default();
        let writer = sink.clone();
        let lines = JsonLines::default();
        let dispatcher = lines.dispatcher();
        let tracer = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .build()
            .tracer("test");
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields)
                    .event_format(lines)
                    .with_writer(move || writer.clone()),
            );
        tracing::subscriber::with_default(subscriber, || {
            tracing::dispatcher::get_default(|d| dispatcher.set(d.downgrade()).unwrap());
            let span = tracing::info_span!(
                "grpc",
                otel.kind = "server",
                rpc.method = "GetMe",
                user = tracing::field::Empty
            );
            span.record("user", 42_u64);
            let _in = span.enter();
            tracing::warn!(attempts = 3, ok = false, "said \"hi\"\n\tthen\\left");
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "said \"hi\"\n\tthen\\left");
        assert_eq!(line["attempts"], 3);
        assert_eq!(line["ok"], false);
        assert_eq!(line["span"]["name"], "grpc");
        assert_eq!(line["span"]["rpc.method"], "GetMe");
        assert_eq!(line["span"]["user"], 42);
        assert!(line["span"].get("otel.kind").is_none(), "{line}");
        assert!(line["timestamp"].as_str().unwrap().contains('T'));
        assert_eq!(line["trace_id"].as_str().unwrap().len(), 32, "{line}");
        assert_eq!(line["span_id"].as_str().unwrap().len(), 16, "{line}");
    }
}

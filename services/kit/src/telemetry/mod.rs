//! Telemetry in one place: `tracing` logs (JSON by default) carrying trace
//! ids, OpenTelemetry traces exported over OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (each span under its target's
//! `service.name` unless `OTEL_SERVICE_NAME` names them all), W3C
//! trace-context propagation, and the Prometheus metrics Grafana's gRPC
//! dashboards expect.

mod json;
mod metrics;
mod propagation;
mod targets;

pub use json::{JsonFields, JsonLines};
pub use metrics::{MethodMetrics, Metrics};
pub use propagation::{continue_trace, extract_context, inject_context, inject_current_context};
pub use targets::{TARGET_KEY, current_target, with_target};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, with span fields (trace_id, rpc...).
    Json,
    /// Human-readable lines for a terminal.
    Text,
}

/// Flushes pending spans when dropped (at the end of `main`).
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Installs the global subscriber and tracer. Call once, early in `main`.
/// Logs go to stderr, so command output on stdout (`malha token`) stays clean.
/// Spans always get OpenTelemetry ids (so logs carry a trace id); they are
/// exported only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
pub fn init(service_name: &str, format: LogFormat) -> anyhow::Result<TelemetryGuard> {
    init_with(
        service_name,
        format,
        "info,h2=warn,hyper=warn,tower=warn,sqlx=warn",
    )
}

/// [`init`] with the filter used when `RUST_LOG` is unset (tools pass `warn`).
pub fn init_with(
    service_name: &str,
    format: LogFormat,
    default_filter: &str,
) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let named = std::env::var("OTEL_SERVICE_NAME").ok();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(named.clone().unwrap_or_else(|| service_name.to_owned()))
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()?;
        builder = if named.is_some() {
            // One name for every span, as the operator said (a cluster pod
            // serves one target and is named after it).
            builder.with_batch_exporter(exporter)
        } else {
            // Several targets in one process: each span under its target's
            // name (targets.rs).
            let batch = opentelemetry_sdk::trace::BatchSpanProcessor::builder(
                targets::PerTargetExporter::new(exporter),
            )
            .build();
            builder.with_span_processor(targets::InheritTarget::new(batch))
        };
    } else {
        // Nowhere to send spans: a root span is not recorded (it still has
        // ids, so logs and outgoing calls carry the trace), while a span
        // whose caller sampled the trace is, keeping the caller's decision.
        builder = builder.with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
    }
    let provider = builder.build();
    let tracer = provider.tracer("malha");
    opentelemetry::global::set_tracer_provider(provider.clone());

    // The log level (RUST_LOG) filters log lines only: trace spans stay on at
    // INFO whatever it says, so trace context still propagates (into events,
    // outgoing calls) when logs are quiet.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Per-span extras (source location, thread, busy/idle timers) cost
    // allocations and clock reads on every RPC; spans keep their own fields.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        // Nothing reads OpenTelemetry's thread-local current context (the kit
        // asks the tracing span for it), so skip attaching it on every poll.
        .with_context_activation(false)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let lines = JsonLines::default();
    let dispatcher = lines.dispatcher();
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .fmt_fields(JsonFields)
            .event_format(lines)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(colour_on_stderr())
            .with_filter(filter)
            .boxed(),
    };
    let result = tracing_subscriber::registry()
        .with(otel)
        .with(logs)
        .try_init();
    // A second init (several apps in one test process) keeps the first subscriber.
    if result.is_ok() {
        tracing::dispatcher::get_default(|dispatch| {
            let _ = dispatcher.set(dispatch.downgrade());
        });
    }
    Ok(TelemetryGuard { provider })
}

/// Colour codes only for a person at a terminal: a log redirected to a file
/// or a pipe stays plain text, and a non-empty `NO_COLOR` (no-color.org)
/// turns them off everywhere.
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

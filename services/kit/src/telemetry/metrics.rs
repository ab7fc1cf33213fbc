//! Prometheus metrics with the names of the grpc-ecosystem middleware, which
//! Grafana's stock gRPC dashboards query: `grpc_server_started_total`,
//! `grpc_server_handled_total`, `grpc_server_handling_seconds`.
//! Handles are resolved once per method, so the hot path does no label lookups.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The process's registry and metric families.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    started: IntCounterVec,
    handled: IntCounterVec,
    handling: HistogramVec,
}

/// The series of one RPC, resolved up front.
#[derive(Clone)]
pub struct MethodMetrics {
    /// Calls started.
    pub started: IntCounter,
    /// Calls finished, by gRPC code (index = code number, 0..=16).
    pub handled: Vec<IntCounter>,
    /// Latency histogram.
    pub handling: prometheus::Histogram,
}

const CODES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

impl Metrics {
    /// Registers the gRPC server families in a fresh registry.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let labels = ["grpc_service", "grpc_method", "grpc_type"];
        let started = IntCounterVec::new(
            Opts::new("grpc_server_started_total", "RPCs started on the server."),
            &labels,
        )?;
        let handled = IntCounterVec::new(
            Opts::new(
                "grpc_server_handled_total",
                "RPCs completed on the server, regardless of success or failure.",
            ),
            &["grpc_service", "grpc_method", "grpc_type", "grpc_code"],
        )?;
        let handling = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "Response latency of RPCs handled by the server, in seconds.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &labels,
        )?;
        registry.register(Box::new(started.clone()))?;
        registry.register(Box::new(handled.clone()))?;
        registry.register(Box::new(handling.clone()))?;
        Ok(Self {
            registry,
            started,
            handled,
            handling,
        })
    }

    /// The series of one RPC.
    pub fn method(&self, service: &str, method: &str, kind: &str) -> MethodMetrics {
        let labels = [service, method, kind];
        MethodMetrics {
            started: self.started.with_label_values(&labels),
            handled: CODES
                .iter()
                .map(|code| {
                    self.handled
                        .with_label_values(&[service, method, kind, code])
                })
                .collect(),
            handling: self.handling.with_label_values(&labels),
        }
    }

    /// The text exposition format, for `/metrics`.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl MethodMetrics {
    /// Records a finished call.
    pub fn finish(&self, code: i32, seconds: f64) {
        let index = usize::try_from(code).unwrap_or(2).min(16);
        self.handled[index].inc();
        self.handling.observe(seconds);
    }
}

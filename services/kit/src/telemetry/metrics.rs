//! Prometheus metrics with the names of the grpc-ecosystem middleware, which
//! Grafana's stock gRPC dashboards query: `grpc_server_started_total`,
//! `grpc_server_handled_total`, `grpc_server_handling_seconds`.
//! Handles are resolved once per method, so the hot path does no label lookups.
//! Each service's database pool is read when the metrics are scraped:
//! `malha_db_pool_connections{service,state}`, `malha_db_pool_max_connections`,
//! `malha_db_pool_acquire_timeouts_total`.

use std::sync::Arc;

use parking_lot::Mutex;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::db::Pool;

/// The process's registry and metric families.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    started: IntCounterVec,
    handled: IntCounterVec,
    handling: HistogramVec,
    pools: Arc<Mutex<Vec<WatchedPool>>>,
    pool_connections: IntGaugeVec,
    pool_max: IntGaugeVec,
    pool_timeouts: IntCounterVec,
}

struct WatchedPool {
    service: &'static str,
    pool: Pool,
    timeouts_seen: u64,
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
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "malha_db_pool_connections",
                "PostgreSQL connections of a service's pool, by state (idle, in_use).",
            ),
            &["service", "state"],
        )?;
        let pool_max = IntGaugeVec::new(
            Opts::new(
                "malha_db_pool_max_connections",
                "The most connections a service's pool opens.",
            ),
            &["service"],
        )?;
        let pool_timeouts = IntCounterVec::new(
            Opts::new(
                "malha_db_pool_acquire_timeouts_total",
                "Calls that gave up waiting for a free database connection.",
            ),
            &["service"],
        )?;
        registry.register(Box::new(started.clone()))?;
        registry.register(Box::new(handled.clone()))?;
        registry.register(Box::new(handling.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(pool_timeouts.clone()))?;
        Ok(Self {
            registry,
            started,
            handled,
            handling,
            pools: Arc::default(),
            pool_connections,
            pool_max,
            pool_timeouts,
        })
    }

    /// Reports `service`'s database pool with every scrape.
    pub fn watch_pool(&self, service: &'static str, pool: Pool) {
        self.pool_max
            .with_label_values(&[service])
            .set(i64::from(pool.max_connections()));
        self.pools.lock().push(WatchedPool {
            service,
            pool,
            timeouts_seen: 0,
        });
    }

    fn refresh_pools(&self) {
        for watched in self.pools.lock().iter_mut() {
            let service = watched.service;
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            self.pool_connections
                .with_label_values(&[service, "idle"])
                .set(count(watched.pool.idle_count()));
            self.pool_connections
                .with_label_values(&[service, "in_use"])
                .set(count(watched.pool.in_use_count()));
            let timeouts = watched.pool.timeouts();
            self.pool_timeouts
                .with_label_values(&[service])
                .inc_by(timeouts.saturating_sub(watched.timeouts_seen));
            watched.timeouts_seen = timeouts;
        }
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
        self.refresh_pools();
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

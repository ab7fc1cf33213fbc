//! The service kit: everything cross-cutting that a Malha service stands on,
//! so a service crate holds only its domain, store and handlers.
//!
//! - [`cpf`]: the CPF with its check digits, and its masked form.
//! - [`config`]: command-line and environment settings, secrets that never print.
//! - [`telemetry`]: JSON logs with trace ids, OTLP traces, Prometheus metrics.
//! - [`server`]: the gRPC server with health, reflection, auth and metrics layers.
//! - [`auth`]: JWT verification, the [`auth::Principal`], declared access rules.
//! - [`error`]: one error type mapped to `tonic::Status` in one place.
//! - [`db`]: PostgreSQL pools, one schema per service, embedded migrations.
//! - [`clients`]: outgoing gRPC with deadlines, token and trace propagation.
//! - [`events`]: transactional outbox, relay to NATS JetStream, exactly-once consumers.
//! - [`feed`]: resumable live streams (cursor, NOTIFY from every replica, heartbeats).
//! - [`hot`]: per-replica caches of hot reads, kept fresh by NOTIFY.
//! - [`page`]: page tokens for list RPCs.
//! - [`chain`]: hash chains for tamper-evident logs (payments, pharmacy).
//! - [`idempotency`]: caller-scoped `request_id` keys for every create.
//! - [`mask`]: field masks for every update (AIP-134).
//! - [`stored`]: statuses stored by name, read back fallibly.
//! - [`service`]: how a service crate describes itself to the binary that hosts it.
//! - [`web`]: static pages a service contributes to the edge (embedded files).

pub mod auth;
pub mod chain;
pub mod clients;
pub mod config;
pub mod cpf;
pub mod db;
pub mod error;
pub mod events;
pub mod feed;
pub mod hot;
pub mod idempotency;
pub mod mask;
pub mod page;
pub mod server;
pub mod service;
pub mod stored;
pub mod telemetry;
pub mod time;
pub mod validate;
pub mod web;

pub use error::{ServiceError, ServiceResult};

#[cfg(test)]
mod feed_signals {
    use crate::feed::Signals;

    #[tokio::test]
    async fn a_signal_reaches_every_subscriber_and_liveness_is_reported() {
        let signals = Signals::new();
        assert!(!signals.is_live(), "no listener yet");
        let (mut a, mut b) = (signals.subscribe(), signals.subscribe());
        signals.changed("unit-1");
        assert_eq!(a.recv().await.unwrap(), "unit-1");
        assert_eq!(b.recv().await.unwrap(), "unit-1");
        signals.set_live_for_tests();
        assert!(signals.is_live());
    }
}

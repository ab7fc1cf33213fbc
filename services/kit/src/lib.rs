//! The service kit: everything cross-cutting that a Malha service stands on,
//! so a service crate holds only its domain, store and handlers.
//!
//! - [`config`]: command-line and environment settings, secrets that never print.
//! - [`telemetry`]: JSON logs with trace ids, OTLP traces, Prometheus metrics.
//! - [`server`]: the gRPC server with health, reflection, auth and metrics layers.
//! - [`auth`]: JWT verification, the [`auth::Principal`], declared access rules.
//! - [`error`]: one error type mapped to `tonic::Status` in one place.
//! - [`db`]: PostgreSQL pools, one schema per service, embedded migrations.
//! - [`clients`]: outgoing gRPC with deadlines, token and trace propagation.
//! - [`events`]: transactional outbox, relay to NATS JetStream, exactly-once consumers.
//! - [`page`]: page tokens for list RPCs.
//! - [`chain`]: hash chains for tamper-evident logs (payments, pharmacy).
//! - [`idempotency`]: caller-scoped `request_id` keys for every create.
//! - [`mask`]: field masks for every update (AIP-134).
//! - [`stored`]: statuses stored by name, read back fallibly.
//! - [`service`]: how a service crate describes itself to the binary that hosts it.

pub mod auth;
pub mod chain;
pub mod clients;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod mask;
pub mod page;
pub mod server;
pub mod service;
pub mod stored;
pub mod telemetry;
pub mod time;
pub mod validate;

pub use error::{ServiceError, ServiceResult};

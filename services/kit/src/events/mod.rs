//! Durable events on NATS JetStream, exactly once in effect.
//!
//! - Publishing is a transactional outbox: [`publish`] writes the event in the
//!   caller's transaction, so it exists if and only if the state change does.
//! - The [`relay`] sends unsent rows to JetStream with the event id as the
//!   message id (the broker drops duplicates), then marks them sent. It wakes
//!   on LISTEN/NOTIFY and on a timer, and several replicas share the work
//!   through `FOR UPDATE SKIP LOCKED`.
//! - A [`consumer`] applies each event and records its id in the inbox in one
//!   transaction, acks after commit, retries with backoff, and sends an event
//!   that keeps failing to the dead-letter subject.
//! - Every event travels in an [`Envelope`] carrying the producer's trace
//!   context, so the consumer's span continues the producer's trace.

mod bus;
pub mod consumer;
mod envelope;
mod outbox;
pub mod relay;

pub use bus::{DEAD_LETTER_PREFIX, EventBus, stream_name};
pub use consumer::{ConsumerSpec, Handler, spawn_consumer};
pub use envelope::{decode_payload, open, seal};
pub use malha_api::malha::events::v1::Envelope;
pub use outbox::{publish, publish_sealed};
pub use relay::spawn_relay;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock};

use crate::db::Pool;
use sqlx::migrate::Migrator;
use tokio::sync::watch;

/// The outbox and inbox tables, created in every service's schema.
pub static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name("_malha_events_migrations");
    migrator
});

/// The event work of one service, started once its schema is migrated: the
/// outbox relay of `relay_schema` (for services that publish) and one
/// exactly-once consumer per `(spec, handler)`; all end when `stop` turns true.
pub fn start_after_migrations(
    pool: Pool,
    bus: EventBus,
    migrated: Arc<AtomicBool>,
    relay_schema: Option<&'static str>,
    consumers: Vec<(ConsumerSpec, Arc<dyn Handler>)>,
    stop: watch::Receiver<bool>,
) {
    // The target this runs for, read now: the task below runs elsewhere.
    let target = crate::telemetry::current_target();
    tokio::spawn(async move {
        crate::db::wait_migrated(&migrated).await;
        let start = move || {
            if let Some(schema) = relay_schema {
                spawn_relay(pool.clone(), bus.clone(), schema, stop.clone());
            }
            for (spec, handler) in consumers {
                spawn_consumer(pool.clone(), bus.clone(), spec, handler, stop.clone());
            }
        };
        match target {
            Some(target) => crate::telemetry::with_target(target, start),
            None => start(),
        }
    });
}

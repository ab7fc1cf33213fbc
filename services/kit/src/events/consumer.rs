//! Durable consumers that apply each event exactly once in effect: the
//! effect and the inbox row (event id) commit in one transaction; the ack is
//! sent after the commit; a redelivered event finds its id in the inbox and
//! changes nothing. Failures are retried with exponential backoff; after the
//! last attempt the event goes to `deadletter.<consumer>` and is logged.

use std::sync::Arc;
use std::time::Duration;

use crate::db::Pool;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use futures::StreamExt;
use futures::future::BoxFuture;
use prost::Message as _;
use sqlx::PgConnection;
use tokio::sync::watch;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::bus::DEAD_LETTER_PREFIX;
use super::envelope::parent_context;
use super::{Envelope, EventBus};
use crate::error::ServiceError;

/// Applies one event inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    /// The effect of `envelope`; an error rolls everything back and retries.
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;
}

/// What a consumer listens to.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerSpec {
    /// Durable consumer name, also the inbox key, e.g. `inventory-projects`.
    pub name: &'static str,
    /// The producing service whose stream is read, e.g. `projects`.
    pub source: &'static str,
    /// Subject filter, e.g. `projects.project.created`.
    pub subject: &'static str,
    /// Attempts before dead-lettering.
    pub max_deliver: i64,
}

/// Consumes until `stop` turns true, reconnecting after errors.
pub fn spawn_consumer(
    pool: Pool,
    bus: EventBus,
    spec: ConsumerSpec,
    handler: Arc<dyn Handler>,
    stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            if *stop.borrow() {
                return;
            }
            match run(&pool, &bus, spec, &handler, stop.clone()).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(
                        consumer = spec.name,
                        error = format!("{error:#}"),
                        "consumer interrupted; retrying"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
}

async fn run(
    pool: &Pool,
    bus: &EventBus,
    spec: ConsumerSpec,
    handler: &Arc<dyn Handler>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    bus.ensure_stream(spec.source).await?;
    bus.ensure_dead_letters().await?;
    let stream = bus
        .jetstream()
        .get_stream(super::bus::stream_name(spec.source))
        .await?;
    let consumer = stream
        .get_or_create_consumer(
            spec.name,
            pull::Config {
                durable_name: Some(spec.name.to_owned()),
                filter_subject: spec.subject.to_owned(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?;
    loop {
        let message = tokio::select! {
            next = messages.next() => next,
            _ = stop.changed() => return Ok(()),
        };
        let Some(message) = message else {
            anyhow::bail!("message stream ended");
        };
        let message = message.map_err(|e| anyhow::anyhow!("receiving: {e}"))?;
        process(pool, bus, spec, handler, message).await;
    }
}

async fn process(
    pool: &Pool,
    bus: &EventBus,
    spec: ConsumerSpec,
    handler: &Arc<dyn Handler>,
    message: async_nats::jetstream::Message,
) {
    let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
    let envelope = match Envelope::decode(message.payload.as_ref()) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::error!(consumer = spec.name, %error, "undecodable event; dead-lettering");
            dead_letter(bus, spec, &message.payload, "undecodable").await;
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    let span = tracing::info_span!(
        "event",
        otel.name = %format!("consume {}", envelope.subject),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.destination.name = %envelope.subject,
        messaging.message.id = %envelope.id,
        consumer = spec.name,
    );
    let _ = span.set_parent(parent_context(&envelope));
    async {
        match apply(pool, spec, handler, &envelope).await {
            Ok(applied) => {
                if !applied {
                    tracing::info!(event = %envelope.id, "already applied; acknowledging the redelivery");
                }
                if let Err(error) = message.ack().await {
                    // The inbox makes the redelivery harmless.
                    tracing::warn!(event = %envelope.id, %error, "ack failed");
                }
            }
            // A database outage is not the event's fault: retry, never dead-letter.
            Err(error @ ServiceError::Unavailable(_)) => {
                let delay = retry_delay(delivered.min(5));
                tracing::warn!(event = %envelope.id, error = %error, ?delay, "dependency unavailable; will retry");
                let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
            }
            Err(error) if delivered >= spec.max_deliver => {
                tracing::error!(event = %envelope.id, attempts = delivered, error = %error, "event failed for the last time; dead-lettering");
                dead_letter(bus, spec, &message.payload, &error.to_string()).await;
                let _ = message.ack_with(AckKind::Term).await;
            }
            Err(error) => {
                let delay = retry_delay(delivered);
                tracing::warn!(event = %envelope.id, attempts = delivered, error = %error, ?delay, "event failed; will retry");
                let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
            }
        }
    }
    .instrument(span)
    .await;
}

/// Applies the event once: inbox row and effect in one transaction.
/// Returns false when the event had already been applied.
async fn apply(
    pool: &Pool,
    spec: ConsumerSpec,
    handler: &Arc<dyn Handler>,
    envelope: &Envelope,
) -> Result<bool, ServiceError> {
    let id = uuid::Uuid::parse_str(&envelope.id).map_err(anyhow::Error::from)?;
    let mut tx = pool.begin().await?;
    let fresh = sqlx::query(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(spec.name)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    handler.handle(&mut tx, envelope).await?;
    tx.commit().await?;
    Ok(true)
}

/// 200 ms, 400 ms, 800 ms ... capped at 30 s.
pub fn retry_delay(delivered: i64) -> Duration {
    let exponent = u32::try_from(delivered.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_millis(200u64.saturating_mul(1 << exponent.min(10))).min(Duration::from_secs(30))
}

async fn dead_letter(bus: &EventBus, spec: ConsumerSpec, payload: &[u8], reason: &str) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        "Malha-Dead-Letter-Reason",
        reason.chars().take(200).collect::<String>().as_str(),
    );
    let subject = format!("{DEAD_LETTER_PREFIX}.{}", spec.name);
    match bus
        .jetstream()
        .publish_with_headers(subject, headers, payload.to_vec().into())
        .await
    {
        Ok(ack) => {
            if let Err(error) = ack.await {
                tracing::error!(%error, "dead letter not stored");
            }
        }
        Err(error) => tracing::error!(%error, "dead letter not published"),
    }
}

#[cfg(test)]
mod tests {
    use super::retry_delay;
    use std::time::Duration;

    #[test]
    fn retries_back_off_exponentially_and_stay_bounded() {
        assert_eq!(retry_delay(1), Duration::from_millis(200));
        assert_eq!(retry_delay(2), Duration::from_millis(400));
        assert_eq!(retry_delay(4), Duration::from_millis(1600));
        assert_eq!(retry_delay(50), Duration::from_secs(30));
    }
}

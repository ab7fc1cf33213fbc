//! Durable consumers that apply each event exactly once in effect: the
//! effect and the inbox row (event id) commit in one transaction; the ack is
//! sent after the commit; a redelivered event finds its id in the inbox and
//! changes nothing. Failures are retried with exponential backoff; after the
//! last attempt the event goes to `deadletter.<consumer>` and is logged.
//!
//! Events that are already waiting when the consumer is free are applied
//! together, in delivery order, in one transaction (up to [`MAX_BATCH`]): one
//! inbox statement and one commit for all of them (ADR 0017). If one event's
//! handler fails, the batch rolls back; the events before it are applied
//! again as a batch, the failing one alone with its own retries, the rest
//! likewise; so one bad event never holds back or fails the others.

use std::sync::Arc;
use std::time::Duration;

use crate::db::Pool;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt};
use prost::Message as _;
use sqlx::PgConnection;
use tokio::sync::watch;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::bus::DEAD_LETTER_PREFIX;
use super::envelope::parent_context;
use super::{Envelope, EventBus};
use crate::error::ServiceError;

/// Most events applied in one transaction.
pub const MAX_BATCH: usize = 64;

/// Applies one event inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    /// The effect of `envelope`; an error rolls everything back and retries.
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;

    /// The effect of several events, in order, in one transaction. By
    /// default each [`Handler::handle`] in turn; a handler may do the same
    /// in fewer statements. An error names the event that could not be
    /// applied (its index), when one can be named.
    fn handle_batch<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelopes: &'a [&'a Envelope],
    ) -> BoxFuture<'a, Result<(), (Option<usize>, ServiceError)>> {
        Box::pin(async move {
            for (index, envelope) in envelopes.iter().enumerate() {
                self.handle(&mut *tx, envelope)
                    .await
                    .map_err(|error| (Some(index), error))?;
            }
            Ok(())
        })
    }
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
    // Its spans belong to the service it runs for (telemetry::with_target).
    let target = crate::telemetry::current_target().unwrap_or_default();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            if *stop.borrow() {
                return;
            }
            match run(&pool, &bus, spec, target, &handler, stop.clone()).await {
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
    target: &'static str,
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
        let mut batch = vec![message.map_err(|e| anyhow::anyhow!("receiving: {e}"))?];
        // Whatever has already arrived joins the batch; nothing waits for more.
        let mut interrupted = None;
        while batch.len() < MAX_BATCH {
            match messages.next().now_or_never() {
                Some(Some(Ok(message))) => batch.push(message),
                Some(Some(Err(error))) => {
                    interrupted = Some(anyhow::anyhow!("receiving: {error}"));
                    break;
                }
                Some(None) => {
                    interrupted = Some(anyhow::anyhow!("message stream ended"));
                    break;
                }
                None => break,
            }
        }
        process_batch(pool, bus, spec, target, handler, batch).await;
        if let Some(error) = interrupted {
            return Err(error);
        }
    }
}

/// An event of a batch: the message, its envelope and its span.
type Decoded = (async_nats::jetstream::Message, Envelope, tracing::Span);

/// Applies `batch` in as few transactions as it can: all in one; if one
/// event's handler fails, the events before it in one, the failing one alone
/// (with its retries), and the rest likewise; anything else one at a time.
async fn process_batch(
    pool: &Pool,
    bus: &EventBus,
    spec: ConsumerSpec,
    target: &'static str,
    handler: &Arc<dyn Handler>,
    batch: Vec<async_nats::jetstream::Message>,
) {
    if batch.len() == 1 {
        for message in batch {
            process(pool, bus, spec, target, handler, message).await;
        }
        return;
    }
    let mut undecodable = Vec::new();
    // Applied one at a time, each in the span it was given on arrival (one
    // consumer span per event, whichever path applies it).
    let mut single: Vec<Decoded> = Vec::new();
    let mut rest: Vec<Decoded> = Vec::with_capacity(batch.len());
    for message in batch {
        match Envelope::decode(message.payload.as_ref()) {
            Ok(envelope) => {
                let span = event_span(spec, target, &message, &envelope);
                rest.push((message, envelope, span));
            }
            // Dead-lettered by the one-at-a-time path.
            Err(_) => undecodable.push(message),
        }
    }
    while rest.len() > 1 {
        match apply_batch(pool, spec, handler, &rest).await {
            Ok(()) => {
                acknowledge(spec, &rest).await;
                rest.clear();
            }
            Err((Some(failed), error)) => {
                tracing::debug!(consumer = spec.name, %error, failed, "an event failed in a batch; applying around it");
                let tail = rest.split_off(failed + 1);
                let failing = rest.pop();
                match apply_batch(pool, spec, handler, &rest).await {
                    Ok(()) => acknowledge(spec, &rest).await,
                    Err(_) => single.append(&mut rest),
                }
                single.extend(failing);
                rest = tail;
            }
            Err((None, error)) => {
                tracing::debug!(consumer = spec.name, %error, "batch rolled back; applying its events one at a time");
                single.append(&mut rest);
            }
        }
    }
    single.append(&mut rest);
    for decoded in single {
        process_decoded(pool, bus, spec, handler, decoded).await;
    }
    for message in undecodable {
        process(pool, bus, spec, target, handler, message).await;
    }
}

/// Acks every event of a committed batch, each in its span.
async fn acknowledge(spec: ConsumerSpec, batch: &[Decoded]) {
    for (message, envelope, span) in batch {
        if let Err(error) = message.ack().instrument(span.clone()).await {
            // The inbox makes the redelivery harmless.
            tracing::warn!(parent: span, event = %envelope.id, %error, "ack failed");
        }
    }
    tracing::debug!(consumer = spec.name, events = batch.len(), "batch applied");
}

/// Applies every event of `batch` not yet in the inbox, in order, in one
/// transaction. On error, the index of the event whose handler failed (none
/// when the transaction itself failed).
async fn apply_batch(
    pool: &Pool,
    spec: ConsumerSpec,
    handler: &Arc<dyn Handler>,
    batch: &[Decoded],
) -> Result<(), (Option<usize>, ServiceError)> {
    if batch.is_empty() {
        return Ok(());
    }
    let whole = |error: ServiceError| (None, error);
    let ids = batch
        .iter()
        .map(|(_, envelope, _)| uuid::Uuid::parse_str(&envelope.id))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| whole(anyhow::Error::from(e).into()))?;
    let mut tx = pool.begin().await.map_err(|e| whole(e.into()))?;
    let mut fresh: std::collections::HashSet<uuid::Uuid> = sqlx::query_scalar(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(spec.name)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| whole(e.into()))?
    .into_iter()
    .collect();
    // A redelivery already applied (or twice in this batch) changes nothing.
    let (positions, envelopes): (Vec<usize>, Vec<&Envelope>) = batch
        .iter()
        .zip(&ids)
        .enumerate()
        .filter(|(_, (_, id))| fresh.remove(id))
        .map(|(index, ((_, envelope, _), _))| (index, envelope))
        .unzip();
    let span = tracing::debug_span!("batch", consumer = spec.name, events = envelopes.len());
    handler
        .handle_batch(&mut tx, &envelopes)
        .instrument(span)
        .await
        .map_err(|(failed, error)| (failed.and_then(|i| positions.get(i).copied()), error))?;
    tx.commit().await.map_err(|e| whole(e.into()))?;
    Ok(())
}

/// The consumer span of one event: a child of the relay's publish span (the
/// message's headers), else of the span that wrote the event (an event
/// relayed before the headers carried it).
fn event_span(
    spec: ConsumerSpec,
    target: &'static str,
    message: &async_nats::jetstream::Message,
    envelope: &Envelope,
) -> tracing::Span {
    let span = tracing::info_span!(
        "event",
        otel.name = %format!("consume {}", envelope.subject),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.operation.type = "process",
        messaging.operation.name = "consume",
        messaging.destination.name = %envelope.subject,
        messaging.message.id = %envelope.id,
        messaging.consumer.group.name = spec.name,
        consumer = spec.name,
        malha.target = target,
    );
    let parent = message
        .headers
        .as_ref()
        .and_then(headers_context)
        .unwrap_or_else(|| parent_context(envelope));
    let _ = span.set_parent(parent);
    span
}

async fn process(
    pool: &Pool,
    bus: &EventBus,
    spec: ConsumerSpec,
    target: &'static str,
    handler: &Arc<dyn Handler>,
    message: async_nats::jetstream::Message,
) {
    let envelope = match Envelope::decode(message.payload.as_ref()) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::error!(consumer = spec.name, %error, "undecodable event; dead-lettering");
            dead_letter(bus, spec, &message.payload, "undecodable").await;
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    let span = event_span(spec, target, &message, &envelope);
    process_decoded(pool, bus, spec, handler, (message, envelope, span)).await;
}

/// Applies one decoded event in its own transaction, in its span: acked,
/// retried later, or dead-lettered after its last attempt.
async fn process_decoded(
    pool: &Pool,
    bus: &EventBus,
    spec: ConsumerSpec,
    handler: &Arc<dyn Handler>,
    (message, envelope, span): Decoded,
) {
    let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
    async {
        match apply(pool, spec, handler, &envelope).await {
            Ok(applied) => {
                if applied {
                    tracing::debug!(event = %envelope.id, attempts = delivered, "event applied");
                } else {
                    tracing::info!(event = %envelope.id, "already applied; acknowledging the redelivery");
                }
                if let Err(error) = message.ack().await {
                    // The inbox makes the redelivery harmless.
                    tracing::warn!(event = %envelope.id, %error, "ack failed");
                }
            }
            // A database outage is not the event's fault: retry, never dead-letter.
            Err(error @ (ServiceError::Unavailable(_) | ServiceError::PeerUnavailable { .. })) => {
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

/// The trace context carried by a message's `traceparent` header, if any.
fn headers_context(headers: &async_nats::HeaderMap) -> Option<opentelemetry::Context> {
    let mut carried = http::HeaderMap::new();
    for name in ["traceparent", "tracestate"] {
        if let Some(value) = headers.get(name)
            && let Ok(value) = http::HeaderValue::from_str(value.as_str())
        {
            carried.insert(name, value);
        }
    }
    carried
        .contains_key("traceparent")
        .then(|| crate::telemetry::extract_context(&carried))
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

//! The outbox relay: publishes unsent outbox rows to JetStream and marks them
//! sent. A crash between publishing and marking makes it publish again with
//! the same message id, which the broker drops inside its duplicate window
//! (and consumers' inboxes drop after it). Each publish is a producer span
//! of the event's trace, and the message's headers carry its context.

use std::time::Duration;

use crate::db::Pool;
use async_nats::HeaderMap;
use futures::future::try_join_all;
use tokio::sync::watch;
use uuid::Uuid;

use prost::Message as _;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::envelope::parent_context;
use super::{Envelope, EventBus};

const BATCH: i64 = 128;
const POLL: Duration = Duration::from_secs(1);
/// Published rows older than this are deleted.
const KEEP_PUBLISHED: &str = "1 day";

/// Relays `schema`'s outbox until `stop` turns true.
pub fn spawn_relay(pool: Pool, bus: EventBus, schema: &'static str, stop: watch::Receiver<bool>) {
    let target = crate::telemetry::current_target().unwrap_or(schema);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            if *stop.borrow() {
                return;
            }
            match run(&pool, &bus, schema, target, stop.clone()).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(
                        schema,
                        error = format!("{error:#}"),
                        "outbox relay interrupted; retrying"
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
    schema: &'static str,
    target: &'static str,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut wakes = pool.subscribe(&format!("malha_outbox_{schema}")).await?;
    bus.ensure_stream(schema).await?;
    let mut last_cleanup = std::time::Instant::now();
    loop {
        while relay_batch(pool, bus, target).await? == BATCH {}
        if last_cleanup.elapsed() > Duration::from_secs(3600) {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM outbox WHERE published_at < now() - interval '{KEEP_PUBLISHED}'"
            )))
            .execute(pool)
            .await?;
            last_cleanup = std::time::Instant::now();
        }
        tokio::select! {
            woken = wakes.recv() => {
                woken?;
                // Every commit since the last batch notified; the next batch
                // serves them all, so one wake-up is enough.
                wakes.drain()?;
            }
            () = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// Publishes one batch of unsent rows, tracing each publish as `target`'s;
/// returns how many.
pub async fn relay_batch(pool: &Pool, bus: &EventBus, target: &str) -> anyhow::Result<i64> {
    let mut tx = pool.begin().await?;
    let rows: Vec<(Uuid, String, Vec<u8>)> = sqlx::query_as(
        "SELECT id, subject, envelope FROM outbox
          WHERE published_at IS NULL
          ORDER BY created_at, id
          LIMIT $1
          FOR UPDATE SKIP LOCKED",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        // Ends the transaction now: an idle poll holds no snapshot.
        tx.rollback().await?;
        return Ok(0);
    }
    let ids: Vec<Uuid> = rows.iter().map(|(id, _, _)| *id).collect();
    let mut acks = Vec::with_capacity(rows.len());
    // Each publish is a span of the trace that wrote the event; it ends once
    // the broker has stored the message. Publishes are pipelined: the acks
    // are awaited together.
    let mut spans = Vec::with_capacity(rows.len());
    for (id, subject, envelope) in rows {
        let span = publish_span(target, id, &subject, &envelope);
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.to_string().as_str());
        inject_trace_headers(&span, &mut headers);
        let ack = bus
            .jetstream()
            .publish_with_headers(subject, headers, envelope.into())
            .instrument(span.clone())
            .await?;
        acks.push(ack.into_future());
        tracing::debug!(parent: &span, event = %id, "event published");
        spans.push(span);
    }
    // Marked sent only once the broker has stored every one of them.
    try_join_all(acks).await?;
    drop(spans);
    sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::debug!(count = ids.len(), "relayed events");
    Ok(i64::try_from(ids.len()).unwrap_or(0))
}

/// The producer span of relaying one outbox row, a child of the span that
/// wrote the event (its envelope's trace context).
fn publish_span(target: &str, id: Uuid, subject: &str, envelope: &[u8]) -> tracing::Span {
    let span = tracing::info_span!(
        "publish",
        otel.name = %format_args!("publish {subject}"),
        otel.kind = "producer",
        messaging.system = "nats",
        messaging.operation.type = "send",
        messaging.operation.name = "publish",
        messaging.destination.name = subject,
        messaging.message.id = %id,
        malha.target = target,
    );
    if let Ok(envelope) = Envelope::decode(envelope) {
        let _ = span.set_parent(parent_context(&envelope));
    }
    span
}

/// `traceparent`/`tracestate` of `span` as NATS message headers, so that a
/// consumer continues the relay's span.
fn inject_trace_headers(span: &tracing::Span, headers: &mut HeaderMap) {
    let mut context = http::HeaderMap::new();
    crate::telemetry::inject_context(span, &mut context);
    for (name, value) in &context {
        if let Ok(value) = value.to_str() {
            headers.insert(name.as_str(), value);
        }
    }
}

//! The outbox relay: publishes unsent outbox rows to JetStream and marks them
//! sent. A crash between publishing and marking makes it publish again with
//! the same message id, which the broker drops inside its duplicate window
//! (and consumers' inboxes drop after it).

use std::time::Duration;

use crate::db::Pool;
use async_nats::HeaderMap;
use futures::future::try_join_all;
use tokio::sync::watch;
use uuid::Uuid;

use super::EventBus;

const BATCH: i64 = 128;
const POLL: Duration = Duration::from_secs(1);
/// Published rows older than this are deleted.
const KEEP_PUBLISHED: &str = "1 day";

/// Relays `schema`'s outbox until `stop` turns true.
pub fn spawn_relay(pool: Pool, bus: EventBus, schema: &'static str, stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            if *stop.borrow() {
                return;
            }
            match run(&pool, &bus, schema, stop.clone()).await {
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
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut listener = pool.listener().await?;
    listener.listen(&format!("malha_outbox_{schema}")).await?;
    bus.ensure_stream(schema).await?;
    let mut last_cleanup = std::time::Instant::now();
    loop {
        while relay_batch(pool, bus).await? == BATCH {}
        if last_cleanup.elapsed() > Duration::from_secs(3600) {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM outbox WHERE published_at < now() - interval '{KEEP_PUBLISHED}'"
            )))
            .execute(pool)
            .await?;
            last_cleanup = std::time::Instant::now();
        }
        tokio::select! {
            notification = listener.recv() => { notification?; }
            () = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// Publishes one batch of unsent rows; returns how many.
pub async fn relay_batch(pool: &Pool, bus: &EventBus) -> anyhow::Result<i64> {
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
        return Ok(0);
    }
    let mut acks = Vec::with_capacity(rows.len());
    for (id, subject, envelope) in &rows {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.to_string().as_str());
        let ack = bus
            .jetstream()
            .publish_with_headers(subject.clone(), headers, envelope.clone().into())
            .await?;
        acks.push(ack.into_future());
    }
    // Marked sent only once the broker has stored every one of them.
    try_join_all(acks).await?;
    let ids: Vec<Uuid> = rows.iter().map(|(id, _, _)| *id).collect();
    sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::debug!(count = ids.len(), "relayed events");
    Ok(i64::try_from(ids.len()).unwrap_or(0))
}

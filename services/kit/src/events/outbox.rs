//! Writing events into the transactional outbox.

use prost::{Message, Name};
use sqlx::PgConnection;
use uuid::Uuid;

use super::seal;
use crate::error::ServiceResult;

/// Writes `event` to the outbox inside the caller's transaction and wakes the
/// relay (NOTIFY is delivered only if the transaction commits).
pub async fn publish<M: Message + Name>(
    tx: &mut PgConnection,
    source: &str,
    subject: &str,
    event: &M,
) -> ServiceResult<Uuid> {
    let envelope = seal(source, subject, event);
    let id = Uuid::parse_str(&envelope.id).map_err(anyhow::Error::from)?;
    sqlx::query("INSERT INTO outbox (id, subject, envelope) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(subject)
        .bind(envelope.encode_to_vec())
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_notify('malha_outbox_' || current_schema(), '')")
        .execute(&mut *tx)
        .await?;
    Ok(id)
}

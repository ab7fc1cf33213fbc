//! Writing events into the transactional outbox.

use prost::{Message, Name};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Envelope, seal};
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
    publish_sealed(tx, std::slice::from_ref(&envelope)).await?;
    Ok(id)
}

/// Writes every sealed event (see [`seal`]) to the outbox in one statement,
/// with the relay's wake-up; nothing when there are none.
pub async fn publish_sealed(tx: &mut PgConnection, envelopes: &[Envelope]) -> ServiceResult<()> {
    if envelopes.is_empty() {
        return Ok(());
    }
    let ids = envelopes
        .iter()
        .map(|e| Uuid::parse_str(&e.id))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::from)?;
    let subjects: Vec<&str> = envelopes.iter().map(|e| e.subject.as_str()).collect();
    let bodies: Vec<Vec<u8>> = envelopes.iter().map(Message::encode_to_vec).collect();
    // One round trip: the rows, and the relay's wake-up as their FROM clause.
    sqlx::query(
        "INSERT INTO outbox (id, subject, envelope)
         SELECT event.* FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS event,
                (SELECT pg_notify('malha_outbox_' || current_schema(), '')) AS wake",
    )
    .bind(&ids)
    .bind(&subjects)
    .bind(&bodies)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

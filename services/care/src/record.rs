//! The one way a request changes: the new state, its numbered history entry
//! (which is also the watch's feed), its events in the outbox and the wake-up
//! of every replica's watchers (NOTIFY, delivered on commit) all go into the
//! caller's transaction, so they commit together or not at all.

use prost::Message as _;
use sqlx::PgConnection;

use crate::api::convert;
use crate::domain::Status;
use crate::events;
use crate::store::changes::{self, NewChange};
use crate::store::requests::RequestRow;
use malha_api::malha::care::v1::{CareRequest, StatusChange};
use malha_kit::ServiceResult;
use malha_kit::stored::StoredName;

/// The PostgreSQL channel that wakes watchers (the payload is the change's
/// number).
pub const CHANNEL: &str = "malha_care_changes";

/// What happened to the request.
pub enum What {
    /// It was just created.
    Created,
    /// Its status moved from `from`.
    Moved { from: Status },
    /// Someone noted something on it without moving it (pharmacy refusing a
    /// delivery).
    Noted,
}

/// Records `row` (already written) as changed by `actor` for `reason`, with
/// its events; the request as the change left it.
pub async fn change(
    tx: &mut PgConnection,
    row: &RequestRow,
    what: What,
    actor: &str,
    reason: &str,
) -> ServiceResult<CareRequest> {
    let request = convert::request(row)?;
    let to = Status::from_stored(&row.status)?;
    let from = match &what {
        What::Created => None,
        What::Moved { from } => Some(*from),
        What::Noted => Some(to),
    };
    match what {
        What::Created => events::created(tx, &request).await?,
        What::Moved { from } => {
            let change = StatusChange {
                from: convert::status(from) as i32,
                to: convert::status(to) as i32,
                actor: actor.to_owned(),
                reason: reason.to_owned(),
                time: request.update_time,
            };
            events::status_changed(tx, &request, change).await?;
            if to == Status::Completed {
                events::completed(tx, &request).await?;
            }
        }
        What::Noted => {}
    }
    // Last: numbering holds the counter's lock until commit.
    let seq = changes::record(
        tx,
        NewChange {
            request_id: row.id,
            from_status: from.map(StoredName::as_str),
            to_status: to.as_str(),
            actor,
            reason,
            ward: &row.ward,
            kind: &row.kind,
            snapshot: request.encode_to_vec(),
        },
    )
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(seq.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(request)
}

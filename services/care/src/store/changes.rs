//! `request_changes`: every change of every request, numbered in commit
//! order by `change_counter` (its one row stays locked until the change
//! commits, so a reader that has seen number N has seen everything below).
//! The history of one request and the watch's feed of all of them.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use malha_kit::ServiceResult;

/// One recorded change.
#[derive(Debug, Clone, FromRow)]
pub struct ChangeRow {
    pub seq: i64,
    pub request_id: Uuid,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor: String,
    pub reason: String,
    /// The request as the change left it (an encoded `CareRequest`).
    pub snapshot: Vec<u8>,
    pub changed_at: DateTime<Utc>,
}

/// A change to record.
pub struct NewChange<'a> {
    pub request_id: Uuid,
    pub from_status: Option<&'a str>,
    pub to_status: &'a str,
    pub actor: &'a str,
    pub reason: &'a str,
    pub ward: &'a str,
    pub kind: &'a str,
    pub snapshot: Vec<u8>,
}

/// Numbers and records `change` in `tx`; its number. Call it last in the
/// transaction: from here to the commit every other change waits.
pub async fn record(tx: &mut PgConnection, change: NewChange<'_>) -> ServiceResult<i64> {
    let seq: i64 =
        sqlx::query_scalar("UPDATE change_counter SET seq = seq + 1 WHERE only_row RETURNING seq")
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO request_changes
             (seq, request_id, from_status, to_status, actor, reason, ward, kind, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(change.request_id)
    .bind(change.from_status)
    .bind(change.to_status)
    .bind(change.actor)
    .bind(change.reason)
    .bind(change.ward)
    .bind(change.kind)
    .bind(change.snapshot)
    .execute(&mut *tx)
    .await?;
    Ok(seq)
}

/// Every change of `request`, oldest first.
pub async fn history(db: impl PgExecutor<'_>, request: Uuid) -> ServiceResult<Vec<ChangeRow>> {
    Ok(sqlx::query_as(
        "SELECT seq, request_id, from_status, to_status, actor, reason, snapshot, changed_at
           FROM request_changes WHERE request_id = $1 ORDER BY seq",
    )
    .bind(request)
    .fetch_all(db)
    .await?)
}

/// The number of the newest committed change (0 before any).
pub async fn latest(db: impl PgExecutor<'_>) -> ServiceResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT seq FROM change_counter WHERE only_row")
            .fetch_one(db)
            .await?,
    )
}

/// The watch's filter over changes: a change matches a status when it
/// moved a request into or out of it, so a watcher of `requested` learns
/// that one was accepted.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter<'a> {
    pub ward: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub status: Option<&'a str>,
}

/// Up to `limit` changes numbered after `seq` and up to `upto`, matching
/// `filter`, in order.
pub async fn after(
    db: impl PgExecutor<'_>,
    seq: i64,
    upto: i64,
    filter: &ChangeFilter<'_>,
    limit: i64,
) -> ServiceResult<Vec<ChangeRow>> {
    Ok(sqlx::query_as(
        "SELECT seq, request_id, from_status, to_status, actor, reason, snapshot, changed_at
           FROM request_changes
          WHERE seq > $1 AND seq <= $6
            AND ($2::text IS NULL OR ward = $2)
            AND ($3::text IS NULL OR kind = $3)
            AND ($4::text IS NULL OR to_status = $4 OR from_status = $4)
          ORDER BY seq LIMIT $5",
    )
    .bind(seq)
    .bind(filter.ward)
    .bind(filter.kind)
    .bind(filter.status)
    .bind(limit)
    .bind(upto)
    .fetch_all(db)
    .await?)
}

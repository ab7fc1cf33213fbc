//! `panel_calls`: every call and recall, numbered per unit in commit order
//! (the position comes from the unit's row, locked until the call commits),
//! and the `NOTIFY` that wakes every replica's panels.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use malha_kit::{ServiceError, ServiceResult};

/// The PostgreSQL channel of panel changes; the payload is the unit id.
pub const CHANNEL: &str = "malha_queue_panel";

/// One call as the panel shows it.
#[derive(Debug, Clone, FromRow)]
pub struct PanelRow {
    pub position: i64,
    pub ticket_id: Uuid,
    pub code: String,
    pub desk_id: Uuid,
    pub desk_name: String,
    pub service_id: Uuid,
    pub service_name: String,
    pub recall: bool,
    pub at: DateTime<Utc>,
}

const SELECT: &str = "SELECT position, ticket_id, code, desk_id, desk_name, service_id,
        service_name, recall, at
   FROM panel_calls";

/// Records that `desk_id` called (or recalled) `ticket_id` at `at`, in the
/// call's transaction, and notifies the panels (delivered on commit).
pub async fn record(
    tx: &mut PgConnection,
    ticket_id: Uuid,
    desk_id: Uuid,
    recall: bool,
    at: DateTime<Utc>,
) -> ServiceResult<()> {
    let recorded: Option<Uuid> = sqlx::query_scalar(
        "WITH head AS (
             UPDATE units u SET panel_position = u.panel_position + 1
               FROM tickets t
              WHERE t.id = $1 AND u.id = t.unit_id
          RETURNING u.id AS unit_id, u.panel_position AS position
         ), call AS (
             INSERT INTO panel_calls (unit_id, position, ticket_id, code, desk_id, desk_name,
                                      service_id, service_name, recall, at)
             SELECT head.unit_id, head.position, t.id, t.code, d.id, d.name, s.id, s.name, $3, $4
               FROM head, tickets t, desks d, services s
              WHERE t.id = $1 AND d.id = $2 AND s.id = t.service_id
          RETURNING unit_id
         )
         SELECT unit_id FROM call, LATERAL pg_notify($5, unit_id::text)",
    )
    .bind(ticket_id)
    .bind(desk_id)
    .bind(recall)
    .bind(at)
    .bind(CHANNEL)
    .fetch_optional(&mut *tx)
    .await?;
    recorded.map(|_| ()).ok_or_else(|| {
        ServiceError::Internal(anyhow::anyhow!(
            "the call of ticket {ticket_id} at desk {desk_id} found no ticket or desk to record"
        ))
    })
}

/// The unit's last panel position and its name; NOT_FOUND for an unknown
/// unit.
pub async fn head(db: impl PgExecutor<'_>, unit_id: Uuid) -> ServiceResult<(i64, String)> {
    sqlx::query_as("SELECT panel_position, name FROM units WHERE id = $1")
        .bind(unit_id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound { resource: "unit" })
}

/// The unit's last `limit` calls, newest first.
pub async fn recent(
    db: impl PgExecutor<'_>,
    unit_id: Uuid,
    limit: i64,
) -> ServiceResult<Vec<PanelRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE unit_id = $1 ORDER BY position DESC LIMIT $2"
    )))
    .bind(unit_id)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// The unit's calls after `position`, oldest first, at most `limit`.
pub async fn after(
    db: impl PgExecutor<'_>,
    unit_id: Uuid,
    position: i64,
    limit: i64,
) -> ServiceResult<Vec<PanelRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE unit_id = $1 AND position > $2 ORDER BY position LIMIT $3"
    )))
    .bind(unit_id)
    .bind(position)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

//! `desks` with the services each serves (`desk_services`), read in one
//! statement.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::conflict;
use crate::domain::place::{DeskPatch, NewDesk};
use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored desk and the ids of the services it serves, sorted.
#[derive(Debug, Clone, FromRow)]
pub struct DeskRow {
    pub id: Uuid,
    pub unit_id: Uuid,
    pub name: String,
    pub service_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT d.id, d.unit_id, d.name, d.created_at, d.updated_at,
        COALESCE((SELECT array_agg(service_id ORDER BY service_id)
                    FROM desk_services WHERE desk_id = d.id), '{}') AS service_ids
   FROM desks d";

const TAKEN: &str = "a desk with this name";

fn not_found() -> ServiceError {
    ServiceError::NotFound { resource: "desk" }
}

/// Inserts the desk and what it serves in `tx`; returns its id.
pub async fn insert(tx: &mut PgConnection, new: &NewDesk) -> ServiceResult<Uuid> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO desks (id, unit_id, name) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(new.unit_id)
    .bind(&new.name)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| conflict(e, TAKEN))?;
    replace_services(tx, new.unit_id, id, &new.service_ids).await?;
    Ok(id)
}

/// Makes `service_ids` exactly what the desk serves. A service of another
/// unit fails the composite foreign key.
async fn replace_services(
    tx: &mut PgConnection,
    unit_id: Uuid,
    desk_id: Uuid,
    service_ids: &[Uuid],
) -> ServiceResult<()> {
    sqlx::query("DELETE FROM desk_services WHERE desk_id = $1")
        .bind(desk_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO desk_services (unit_id, desk_id, service_id)
         SELECT $1, $2, unnest($3::uuid[])",
    )
    .bind(unit_id)
    .bind(desk_id)
    .bind(service_ids)
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict(e, TAKEN))?;
    Ok(())
}

/// The desk with `id`.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<DeskRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE d.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(not_found)
}

/// One page of the unit's desks, by name.
pub async fn list(
    db: impl PgExecutor<'_>,
    unit_id: Uuid,
    page: &PageRequest,
) -> ServiceResult<Vec<DeskRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE d.unit_id = $1 AND ($2::text IS NULL OR d.name > $2)
          ORDER BY d.name LIMIT $3"
    )))
    .bind(unit_id)
    .bind(page.after.as_deref())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Applies `patch` to the desk in `tx`.
pub async fn update(tx: &mut PgConnection, id: Uuid, patch: &DeskPatch) -> ServiceResult<()> {
    let unit_id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE desks SET name = COALESCE($2, name), updated_at = now()
          WHERE id = $1 RETURNING unit_id",
    )
    .bind(id)
    .bind(patch.name.as_deref())
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| conflict(e, TAKEN))?;
    let unit_id = unit_id.ok_or_else(not_found)?;
    if let Some(service_ids) = &patch.service_ids {
        replace_services(tx, unit_id, id, service_ids).await?;
    }
    Ok(())
}

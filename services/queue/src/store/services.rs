//! `services`: what a unit offers, each with its letter.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::conflict;
use crate::domain::place::{NewService, ServicePatch};
use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored service.
#[derive(Debug, Clone, FromRow)]
pub struct ServiceRow {
    pub id: Uuid,
    pub unit_id: Uuid,
    pub name: String,
    pub letter: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT id, unit_id, name, letter::text AS letter, created_at, updated_at
   FROM services";

const TAKEN: &str = "a service with this letter";

fn not_found() -> ServiceError {
    ServiceError::NotFound {
        resource: "service",
    }
}

/// Inserts the service; returns its id. NOT_FOUND when the unit is not there.
pub async fn insert(db: &mut PgConnection, new: &NewService) -> ServiceResult<Uuid> {
    sqlx::query_scalar(
        "INSERT INTO services (id, unit_id, name, letter) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(new.unit_id)
    .bind(&new.name)
    .bind(new.letter.to_string())
    .fetch_one(db)
    .await
    .map_err(|e| conflict(e, TAKEN))
}

/// The service with `id`.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<ServiceRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(not_found)
}

/// One page of the unit's services, by letter.
pub async fn list(
    db: impl PgExecutor<'_>,
    unit_id: Uuid,
    page: &PageRequest,
) -> ServiceResult<Vec<ServiceRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE unit_id = $1 AND ($2::text IS NULL OR letter > $2)
          ORDER BY letter LIMIT $3"
    )))
    .bind(unit_id)
    .bind(page.after.as_deref())
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Applies `patch` to the service.
pub async fn update(db: impl PgExecutor<'_>, id: Uuid, patch: &ServicePatch) -> ServiceResult<()> {
    let updated: Option<Uuid> = sqlx::query_scalar(
        "UPDATE services SET
            name       = COALESCE($2, name),
            letter     = COALESCE($3, letter),
            updated_at = now()
          WHERE id = $1 RETURNING id",
    )
    .bind(id)
    .bind(patch.name.as_deref())
    .bind(patch.letter.map(|l| l.to_string()))
    .fetch_optional(db)
    .await
    .map_err(|e| conflict(e, TAKEN))?;
    updated.map(drop).ok_or_else(not_found)
}

//! `units`.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::place::{NewUnit, UnitPatch};
use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored unit.
#[derive(Debug, Clone, FromRow)]
pub struct UnitRow {
    pub id: Uuid,
    pub name: String,
    pub time_zone: String,
    pub max_preferential_streak: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT id, name, time_zone, max_preferential_streak, created_at, updated_at
   FROM units";

fn not_found() -> ServiceError {
    ServiceError::NotFound { resource: "unit" }
}

/// Inserts the unit; returns its id.
pub async fn insert(db: &mut PgConnection, new: &NewUnit) -> ServiceResult<Uuid> {
    Ok(sqlx::query_scalar(
        "INSERT INTO units (id, name, time_zone, max_preferential_streak)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(&new.name)
    .bind(new.time_zone.name())
    .bind(streak(new.rule))
    .fetch_one(db)
    .await?)
}

fn streak(rule: crate::domain::FairnessRule) -> i32 {
    // At most FairnessRule::MAX_STREAK, so it always fits.
    i32::try_from(rule.max_preferential_streak()).unwrap_or(i32::MAX)
}

/// The unit with `id`.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<UnitRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(not_found)
}

/// One page of units, oldest first.
pub async fn list(db: impl PgExecutor<'_>, page: &PageRequest) -> ServiceResult<Vec<UnitRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
    )))
    .bind(page.after_as::<Uuid>()?)
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Applies `patch` to the unit.
pub async fn update(db: impl PgExecutor<'_>, id: Uuid, patch: &UnitPatch) -> ServiceResult<()> {
    let updated: Option<Uuid> = sqlx::query_scalar(
        "UPDATE units SET
            name                    = COALESCE($2, name),
            time_zone               = COALESCE($3, time_zone),
            max_preferential_streak = COALESCE($4, max_preferential_streak),
            updated_at              = now()
          WHERE id = $1 RETURNING id",
    )
    .bind(id)
    .bind(patch.name.as_deref())
    .bind(patch.time_zone.map(|tz| tz.name()))
    .bind(patch.rule.map(streak))
    .fetch_optional(db)
    .await?;
    updated.map(drop).ok_or_else(not_found)
}

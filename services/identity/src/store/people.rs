//! `people`: employees and administrators.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use malha_kit::{ServiceError, ServiceResult};

/// A stored person.
#[derive(Debug, Clone, FromRow)]
pub struct PersonRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

/// A person to create.
pub struct NewPerson<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub kind: &'a str,
    pub request_id: Option<Uuid>,
}

/// Inserts the person; `None` when `request_id` was already used.
pub async fn insert(
    db: impl PgExecutor<'_>,
    new: &NewPerson<'_>,
) -> ServiceResult<Option<PersonRow>> {
    Ok(sqlx::query_as(
        "INSERT INTO people (id, name, email, kind, request_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (request_id) DO NOTHING
         RETURNING id, name, email, kind, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(new.name)
    .bind(new.email)
    .bind(new.kind)
    .bind(new.request_id)
    .fetch_optional(db)
    .await?)
}

/// Inserts the person, or returns the one created earlier with the same request id.
pub async fn create(pool: &Pool, new: &NewPerson<'_>) -> ServiceResult<PersonRow> {
    if let Some(row) = insert(pool, new).await? {
        return Ok(row);
    }
    Ok(
        sqlx::query_as(
            "SELECT id, name, email, kind, created_at FROM people WHERE request_id = $1",
        )
        .bind(new.request_id)
        .fetch_one(pool)
        .await?,
    )
}

/// The person with `id`.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<PersonRow> {
    sqlx::query_as("SELECT id, name, email, kind, created_at FROM people WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound { resource: "person" })
}

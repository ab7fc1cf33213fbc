//! `people`: employees and administrators.

use chrono::{DateTime, Utc};
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
}

/// Inserts the person.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewPerson<'_>) -> ServiceResult<PersonRow> {
    Ok(sqlx::query_as(
        "INSERT INTO people (id, name, email, kind) VALUES ($1, $2, $3, $4)
         RETURNING id, name, email, kind, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(new.name)
    .bind(new.email)
    .bind(new.kind)
    .fetch_one(db)
    .await?)
}

/// The person with `id`.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<PersonRow> {
    sqlx::query_as("SELECT id, name, email, kind, created_at FROM people WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound { resource: "person" })
}

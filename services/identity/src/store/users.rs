//! `users` and `user_roles`.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::UserState;
use malha_kit::page::PageRequest;
use malha_kit::stored::StoredName;
use malha_kit::{ServiceError, ServiceResult};

/// A stored user with its roles and its person's e-mail.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub person_id: Uuid,
    pub username: String,
    pub email: String,
    /// The person's name.
    pub name: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub state: UserState,
}

/// What login needs.
#[derive(Debug, Clone, FromRow)]
pub struct LoginRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

const SELECT: &str = "SELECT u.id, u.person_id, u.username, p.email, p.name, u.created_at, u.state,
        COALESCE((SELECT array_agg(r.role ORDER BY r.role) FROM user_roles r WHERE r.user_id = u.id), '{}') AS roles";

/// A user to create.
pub struct NewUser<'a> {
    pub person_id: Uuid,
    pub username: &'a str,
    pub password_hash: &'a str,
    pub roles: &'a [String],
    pub state: UserState,
}

/// Inserts the user and its roles in `tx`.
pub async fn insert(tx: &mut PgConnection, new: &NewUser<'_>) -> ServiceResult<Uuid> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO users (id, person_id, username, password_hash, state)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(new.person_id)
    .bind(new.username)
    .bind(new.password_hash)
    .bind(new.state.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        unique_username(
            e,
            "a user with this username or for this person already exists",
        )
    })?;
    set_roles(tx, id, new.roles).await?;
    Ok(id)
}

fn unique_username(error: sqlx::Error, message: &str) -> ServiceError {
    match ServiceError::from(error) {
        ServiceError::AlreadyExists(_) => ServiceError::AlreadyExists(message.into()),
        other => other,
    }
}

/// Replaces the user's roles in `tx`.
pub async fn set_roles(
    tx: &mut PgConnection,
    user_id: Uuid,
    roles: &[String],
) -> ServiceResult<()> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO user_roles (user_id, role) SELECT $1, unnest($2::text[])")
        .bind(user_id)
        .bind(roles)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The user with `id`.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<UserRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} FROM users u JOIN people p ON p.id = u.person_id WHERE u.id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(ServiceError::NotFound { resource: "user" })
}

/// The user logging in as `username`, with its password hash.
pub async fn for_login(pool: &Pool, username: &str) -> ServiceResult<Option<LoginRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT}, u.password_hash FROM users u JOIN people p ON p.id = u.person_id WHERE u.username = $1"
    )))
    .bind(username)
    .fetch_optional(pool)
    .await?)
}

/// One page of users, oldest first.
pub async fn list(pool: &Pool, page: &PageRequest) -> ServiceResult<Vec<UserRow>> {
    let after = page.after_as::<Uuid>()?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} FROM users u JOIN people p ON p.id = u.person_id
          WHERE $1::uuid IS NULL OR u.id > $1 ORDER BY u.id LIMIT $2"
    )))
    .bind(after)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?)
}

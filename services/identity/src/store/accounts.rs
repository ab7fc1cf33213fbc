//! `service_accounts`: client credentials of services.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use malha_kit::{ServiceError, ServiceResult};

/// A stored service account.
#[derive(Debug, Clone, FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub name: String,
    pub client_id: String,
    pub secret_hash: Vec<u8>,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

const ACCOUNT: &str = "id, name, client_id, secret_hash, roles, created_at, disabled_at";

/// Creates an account.
pub async fn insert(
    db: impl PgExecutor<'_>,
    name: &str,
    client_id: &str,
    secret_hash: &[u8],
    roles: &[String],
) -> ServiceResult<AccountRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO service_accounts (id, name, client_id, secret_hash, roles)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING {ACCOUNT}"
    )))
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(client_id)
    .bind(secret_hash)
    .bind(roles)
    .fetch_one(db)
    .await
    .map_err(|e| match ServiceError::from(e) {
        ServiceError::AlreadyExists(_) => {
            ServiceError::AlreadyExists("a service account with this name already exists".into())
        }
        other => other,
    })
}

/// The account with this client id.
pub async fn by_client_id(pool: &Pool, client_id: &str) -> ServiceResult<Option<AccountRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ACCOUNT} FROM service_accounts WHERE client_id = $1"
    )))
    .bind(client_id)
    .fetch_optional(pool)
    .await?)
}

/// Disables the account (keeping the first time it was disabled); `None`
/// when there is no such account.
pub async fn disable(pool: &Pool, client_id: &str) -> ServiceResult<Option<AccountRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE service_accounts SET disabled_at = coalesce(disabled_at, now())
          WHERE client_id = $1 RETURNING {ACCOUNT}"
    )))
    .bind(client_id)
    .fetch_optional(pool)
    .await?)
}

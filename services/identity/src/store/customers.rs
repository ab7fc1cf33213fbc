//! `customers`: identified by CPF, or anonymous.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored customer.
#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    pub id: Uuid,
    pub kind: String,
    pub cpf: Option<String>,
    pub name: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

/// Registers an identified customer; another registration of the same CPF
/// is refused.
pub async fn register(
    db: impl PgExecutor<'_>,
    cpf: &str,
    name: &str,
    email: &str,
) -> ServiceResult<CustomerRow> {
    sqlx::query_as(
        "INSERT INTO customers (id, kind, cpf, name, email)
         VALUES ($1, 'identified', $2, $3, $4)
         RETURNING id, kind, cpf, name, email, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(cpf)
    .bind(name)
    .bind(email)
    .fetch_one(db)
    .await
    .map_err(|e| match ServiceError::from(e) {
        ServiceError::AlreadyExists(_) => {
            ServiceError::AlreadyExists("a customer with this CPF is already registered".into())
        }
        other => other,
    })
}

/// Creates an anonymous customer.
pub async fn anonymous(db: impl PgExecutor<'_>) -> ServiceResult<CustomerRow> {
    Ok(sqlx::query_as(
        "INSERT INTO customers (id, kind) VALUES ($1, 'anonymous')
         RETURNING id, kind, cpf, name, email, created_at",
    )
    .bind(Uuid::now_v7())
    .fetch_one(db)
    .await?)
}

/// The customer with this CPF.
pub async fn by_cpf(pool: &Pool, cpf: &str) -> ServiceResult<Option<CustomerRow>> {
    Ok(sqlx::query_as(
        "SELECT id, kind, cpf, name, email, created_at FROM customers WHERE cpf = $1",
    )
    .bind(cpf)
    .fetch_optional(pool)
    .await?)
}

/// The customer with `id`.
pub async fn get(pool: &Pool, id: Uuid) -> ServiceResult<CustomerRow> {
    sqlx::query_as("SELECT id, kind, cpf, name, email, created_at FROM customers WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "customer",
        })
}

/// One page of customers, oldest first.
pub async fn list(pool: &Pool, page: &PageRequest) -> ServiceResult<Vec<CustomerRow>> {
    let after = page.after_as::<Uuid>()?;
    Ok(sqlx::query_as(
        "SELECT id, kind, cpf, name, email, created_at FROM customers
          WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?)
}

//! `customers`: identified by CPF, or anonymous.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::FromRow;
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

/// Registers an identified customer. A retry with the same `request_id`
/// returns the first result; another registration of the same CPF is refused.
pub async fn register(
    pool: &Pool,
    cpf: &str,
    name: &str,
    email: &str,
    request_id: Option<Uuid>,
) -> ServiceResult<CustomerRow> {
    if let Some(request_id) = request_id
        && let Some(row) = by_request_id(pool, request_id).await?
    {
        return Ok(row);
    }
    sqlx::query_as(
        "INSERT INTO customers (id, kind, cpf, name, email, request_id)
         VALUES ($1, 'identified', $2, $3, $4, $5)
         RETURNING id, kind, cpf, name, email, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(cpf)
    .bind(name)
    .bind(email)
    .bind(request_id)
    .fetch_one(pool)
    .await
    .map_err(|e| match ServiceError::from(e) {
        ServiceError::AlreadyExists(_) => {
            ServiceError::AlreadyExists("a customer with this CPF is already registered".into())
        }
        other => other,
    })
}

/// Creates an anonymous customer (idempotent by `request_id`).
pub async fn anonymous(pool: &Pool, request_id: Option<Uuid>) -> ServiceResult<CustomerRow> {
    if let Some(request_id) = request_id
        && let Some(row) = by_request_id(pool, request_id).await?
    {
        return Ok(row);
    }
    Ok(sqlx::query_as(
        "INSERT INTO customers (id, kind, request_id) VALUES ($1, 'anonymous', $2)
         RETURNING id, kind, cpf, name, email, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(request_id)
    .fetch_one(pool)
    .await?)
}

async fn by_request_id(pool: &Pool, request_id: Uuid) -> ServiceResult<Option<CustomerRow>> {
    Ok(sqlx::query_as(
        "SELECT id, kind, cpf, name, email, created_at FROM customers WHERE request_id = $1",
    )
    .bind(request_id)
    .fetch_optional(pool)
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

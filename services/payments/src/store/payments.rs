//! The `payments` table.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored payment.
#[derive(Debug, Clone, FromRow)]
pub struct PaymentRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub amount_centavos: i64,
    pub description: String,
    pub status: String,
    pub provider: String,
    pub provider_payment_id: String,
    pub txid: String,
    pub pix_code: String,
    pub payer_id: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, order_id, amount_centavos, description, status, provider, provider_payment_id, \
                       txid, pix_code, payer_id, expires_at, created_at, updated_at";

/// Inserts a new pending payment.
pub async fn insert(tx: &mut PgConnection, row: &PaymentRow) -> ServiceResult<()> {
    sqlx::query(
        "INSERT INTO payments (id, order_id, amount_centavos, description, status, provider,
                               provider_payment_id, txid, pix_code, payer_id, expires_at,
                               created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(row.id)
    .bind(row.order_id)
    .bind(row.amount_centavos)
    .bind(&row.description)
    .bind(&row.status)
    .bind(&row.provider)
    .bind(&row.provider_payment_id)
    .bind(&row.txid)
    .bind(&row.pix_code)
    .bind(&row.payer_id)
    .bind(row.expires_at)
    .bind(row.created_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Serializes payment creation for one order until the transaction ends.
pub async fn lock_order(tx: &mut PgConnection, order_id: Uuid) -> ServiceResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('payments.order:' || $1::text, 0))")
        .bind(order_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// The payment with `id`, locked for update when asked.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid, lock: bool) -> ServiceResult<PaymentRow> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payments WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "payment",
        })
}

/// The order's live (pending or approved) payment, if any.
pub async fn live_for_order(
    db: impl PgExecutor<'_>,
    order_id: Uuid,
) -> ServiceResult<Option<PaymentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payments WHERE order_id = $1 AND status IN ('pending', 'approved')"
    )))
    .bind(order_id)
    .fetch_optional(db)
    .await?)
}

/// The payment `provider` knows as `provider_payment_id`, locked when asked.
pub async fn by_provider_id(
    db: impl PgExecutor<'_>,
    provider: &str,
    provider_payment_id: &str,
    lock: bool,
) -> ServiceResult<Option<PaymentRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payments WHERE provider = $1 AND provider_payment_id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(provider)
        .bind(provider_payment_id)
        .fetch_optional(db)
        .await?)
}

/// Writes a new status.
pub async fn set_status(
    tx: &mut PgConnection,
    id: Uuid,
    status: &str,
) -> ServiceResult<DateTime<Utc>> {
    Ok(sqlx::query_scalar(
        "UPDATE payments SET status = $2, updated_at = now() WHERE id = $1 RETURNING updated_at",
    )
    .bind(id)
    .bind(status)
    .fetch_one(tx)
    .await?)
}

/// Pending payments past their expiry, locked; rows another replica is
/// expiring right now are skipped.
pub async fn due_for_expiry(tx: &mut PgConnection, limit: i64) -> ServiceResult<Vec<PaymentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payments
          WHERE status = 'pending' AND expires_at <= now()
          ORDER BY expires_at LIMIT $1
          FOR UPDATE SKIP LOCKED"
    )))
    .bind(limit)
    .fetch_all(tx)
    .await?)
}

/// One page of payments, newest first, optionally of one order.
pub async fn list(
    pool: &Pool,
    order_id: Option<Uuid>,
    page: &PageRequest,
) -> ServiceResult<Vec<PaymentRow>> {
    let before = page.after_as::<Uuid>()?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payments
          WHERE ($1::uuid IS NULL OR id < $1) AND ($2::uuid IS NULL OR order_id = $2)
          ORDER BY id DESC LIMIT $3"
    )))
    .bind(before)
    .bind(order_id)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?)
}

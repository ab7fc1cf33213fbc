//! `supplied_products`: which inventory products a supplier supplies, and
//! on which terms. Keyed by (supplier, product).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored supplied product.
#[derive(Debug, Clone, FromRow)]
pub struct SuppliedRow {
    pub supplier_id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub supplier_sku: String,
    pub price_centavos: Option<i64>,
    pub lead_time_days: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product to supply, with its terms.
#[derive(Debug, Clone)]
pub struct NewSupplied<'a> {
    pub supplier_id: Uuid,
    pub product_id: Uuid,
    pub product_name: &'a str,
    pub supplier_sku: &'a str,
    pub price_centavos: Option<i64>,
    pub lead_time_days: i32,
}

const COLUMNS: &str = "supplier_id, product_id, product_name, supplier_sku, price_centavos,
        lead_time_days, created_at, updated_at";

const NOT_FOUND: ServiceError = ServiceError::NotFound {
    resource: "supplied product",
};

/// Adds the product, or replaces its terms; terms equal to the stored ones
/// change nothing (not even `updated_at`), so a retry is harmless.
pub async fn upsert(tx: &mut PgConnection, new: &NewSupplied<'_>) -> ServiceResult<SuppliedRow> {
    let changed: Option<SuppliedRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO supplied_products AS p
                (supplier_id, product_id, product_name, supplier_sku, price_centavos, lead_time_days)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (supplier_id, product_id) DO UPDATE
            SET product_name = EXCLUDED.product_name,
                supplier_sku = EXCLUDED.supplier_sku,
                price_centavos = EXCLUDED.price_centavos,
                lead_time_days = EXCLUDED.lead_time_days,
                updated_at = now()
          WHERE (p.product_name, p.supplier_sku, p.price_centavos, p.lead_time_days)
                IS DISTINCT FROM (EXCLUDED.product_name, EXCLUDED.supplier_sku,
                                  EXCLUDED.price_centavos, EXCLUDED.lead_time_days)
         RETURNING {COLUMNS}"
    )))
    .bind(new.supplier_id)
    .bind(new.product_id)
    .bind(new.product_name)
    .bind(new.supplier_sku)
    .bind(new.price_centavos)
    .bind(new.lead_time_days)
    .fetch_optional(&mut *tx)
    .await?;
    match changed {
        Some(row) => Ok(row),
        None => get(&mut *tx, new.supplier_id, new.product_id).await,
    }
}

/// The terms on which `supplier_id` supplies `product_id`.
pub async fn get(
    db: impl PgExecutor<'_>,
    supplier_id: Uuid,
    product_id: Uuid,
) -> ServiceResult<SuppliedRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM supplied_products WHERE supplier_id = $1 AND product_id = $2"
    )))
    .bind(supplier_id)
    .bind(product_id)
    .fetch_optional(db)
    .await?
    .ok_or(NOT_FOUND)
}

/// Removes the product from the supplier's list; NOT_FOUND when absent.
pub async fn remove(
    db: impl PgExecutor<'_>,
    supplier_id: Uuid,
    product_id: Uuid,
) -> ServiceResult<()> {
    let removed =
        sqlx::query("DELETE FROM supplied_products WHERE supplier_id = $1 AND product_id = $2")
            .bind(supplier_id)
            .bind(product_id)
            .execute(db)
            .await?
            .rows_affected();
    if removed == 0 {
        return Err(NOT_FOUND);
    }
    Ok(())
}

/// How many products the supplier supplies.
pub async fn count(db: impl PgExecutor<'_>, supplier_id: Uuid) -> ServiceResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM supplied_products WHERE supplier_id = $1")
            .bind(supplier_id)
            .fetch_one(db)
            .await?,
    )
}

/// One page of the supplier's products, by product id.
pub async fn list(
    db: impl PgExecutor<'_>,
    supplier_id: Uuid,
    page: &PageRequest,
) -> ServiceResult<Vec<SuppliedRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM supplied_products
          WHERE supplier_id = $1 AND ($2::uuid IS NULL OR product_id > $2)
          ORDER BY product_id LIMIT $3"
    )))
    .bind(supplier_id)
    .bind(page.after_as::<Uuid>()?)
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

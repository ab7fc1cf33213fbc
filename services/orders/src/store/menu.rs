//! Categories and products.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored category.
#[derive(Debug, Clone, FromRow)]
pub struct CategoryRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored product.
#[derive(Debug, Clone, FromRow)]
pub struct ProductRow {
    pub id: Uuid,
    pub category_id: Uuid,
    pub name: String,
    pub description: String,
    pub price_centavos: i64,
    pub image_url: String,
    pub available: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const CATEGORY: &str = "id, name, description, position, created_at, updated_at";
const PRODUCT: &str = "id, category_id, name, description, price_centavos, image_url, available, created_at, updated_at";

/// The editable fields of a category.
pub struct CategoryFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub position: i32,
}

/// The editable fields of a product.
pub struct ProductFields<'a> {
    pub category_id: Uuid,
    pub name: &'a str,
    pub description: &'a str,
    pub price_centavos: i64,
    pub image_url: &'a str,
    pub available: bool,
}

fn name_taken(error: sqlx::Error, what: &str) -> ServiceError {
    match ServiceError::from(error) {
        ServiceError::AlreadyExists(_) => {
            ServiceError::AlreadyExists(format!("a {what} with this name already exists"))
        }
        other => other,
    }
}

/// Inserts a category.
pub async fn insert_category(
    db: impl PgExecutor<'_>,
    fields: &CategoryFields<'_>,
) -> ServiceResult<CategoryRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO categories (id, name, description, position) VALUES ($1, $2, $3, $4)
         RETURNING {CATEGORY}"
    )))
    .bind(Uuid::now_v7())
    .bind(fields.name)
    .bind(fields.description)
    .bind(fields.position)
    .fetch_one(db)
    .await
    .map_err(|e| name_taken(e, "category"))
}

/// The category with `id`, locked when asked.
pub async fn category(db: impl PgExecutor<'_>, id: Uuid, lock: bool) -> ServiceResult<CategoryRow> {
    let sql = format!(
        "SELECT {CATEGORY} FROM categories WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "category",
        })
}

/// Every category in menu order.
pub async fn categories(pool: &Pool) -> ServiceResult<Vec<CategoryRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CATEGORY} FROM categories ORDER BY position, name, id"
    )))
    .fetch_all(pool)
    .await?)
}

/// Writes a category's fields.
pub async fn update_category(
    tx: &mut PgConnection,
    id: Uuid,
    fields: &CategoryFields<'_>,
) -> ServiceResult<CategoryRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE categories SET name = $2, description = $3, position = $4, updated_at = now()
          WHERE id = $1 RETURNING {CATEGORY}"
    )))
    .bind(id)
    .bind(fields.name)
    .bind(fields.description)
    .bind(fields.position)
    .fetch_one(tx)
    .await
    .map_err(|e| name_taken(e, "category"))
}

/// Deletes a category; FAILED_PRECONDITION while products use it.
pub async fn delete_category(pool: &Pool, id: Uuid) -> ServiceResult<()> {
    let deleted = sqlx::query("DELETE FROM categories WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .map_err(|e| match ServiceError::from(e) {
            ServiceError::FailedPrecondition { .. } => ServiceError::precondition(
                "CATEGORY_IN_USE",
                "the category still has products; move or delete them first",
            ),
            other => other,
        })?;
    if deleted.rows_affected() == 0 {
        return Err(ServiceError::NotFound {
            resource: "category",
        });
    }
    Ok(())
}

/// Inserts a product.
pub async fn insert_product(
    db: impl PgExecutor<'_>,
    fields: &ProductFields<'_>,
) -> ServiceResult<ProductRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO products (id, category_id, name, description, price_centavos, image_url, available)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {PRODUCT}"
    )))
    .bind(Uuid::now_v7())
    .bind(fields.category_id)
    .bind(fields.name)
    .bind(fields.description)
    .bind(fields.price_centavos)
    .bind(fields.image_url)
    .bind(fields.available)
    .fetch_one(db)
    .await
    .map_err(|e| name_taken(e, "product in this category"))
}

/// The product with `id`, locked when asked.
pub async fn product(db: impl PgExecutor<'_>, id: Uuid, lock: bool) -> ServiceResult<ProductRow> {
    let sql = format!(
        "SELECT {PRODUCT} FROM products WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "product",
        })
}

/// The products with these ids (missing ones are simply absent).
pub async fn products_by_ids(pool: &Pool, ids: &[Uuid]) -> ServiceResult<Vec<ProductRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT} FROM products WHERE id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// One page of products by name, optionally of a category or only available.
pub async fn products(
    pool: &Pool,
    page: &PageRequest,
    category_id: Option<Uuid>,
    available_only: bool,
) -> ServiceResult<Vec<ProductRow>> {
    let (after_name, after_id) =
        match page.after.as_deref().map(|a| a.rsplit_once('\u{1f}')) {
            None => (None, None),
            Some(Some((name, id))) => (
                Some(name.to_owned()),
                Some(Uuid::parse_str(id).map_err(|_| {
                    ServiceError::invalid("page_token", "not a token from this API")
                })?),
            ),
            Some(None) => {
                return Err(ServiceError::invalid(
                    "page_token",
                    "not a token from this API",
                ));
            }
        };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT} FROM products
          WHERE ($1::text IS NULL OR (name, id) > ($1, $2))
            AND ($3::uuid IS NULL OR category_id = $3)
            AND (NOT $4 OR available)
          ORDER BY name, id LIMIT $5"
    )))
    .bind(after_name)
    .bind(after_id)
    .bind(category_id)
    .bind(available_only)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?)
}

/// The page key of a product row.
pub fn product_key(row: &ProductRow) -> String {
    format!("{}\u{1f}{}", row.name, row.id)
}

/// Every available product, for the menu.
pub async fn available_products(pool: &Pool) -> ServiceResult<Vec<ProductRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT} FROM products WHERE available ORDER BY name, id"
    )))
    .fetch_all(pool)
    .await?)
}

/// Writes a product's fields.
pub async fn update_product(
    tx: &mut PgConnection,
    id: Uuid,
    fields: &ProductFields<'_>,
) -> ServiceResult<ProductRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE products SET category_id = $2, name = $3, description = $4, price_centavos = $5,
                image_url = $6, available = $7, updated_at = now()
          WHERE id = $1 RETURNING {PRODUCT}"
    )))
    .bind(id)
    .bind(fields.category_id)
    .bind(fields.name)
    .bind(fields.description)
    .bind(fields.price_centavos)
    .bind(fields.image_url)
    .bind(fields.available)
    .fetch_one(tx)
    .await
    .map_err(|e| name_taken(e, "product in this category"))
}

/// Sets a product's availability.
pub async fn set_available(pool: &Pool, id: Uuid, available: bool) -> ServiceResult<ProductRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE products SET available = $2, updated_at = now() WHERE id = $1 RETURNING {PRODUCT}"
    )))
    .bind(id)
    .bind(available)
    .fetch_optional(pool)
    .await?
    .ok_or(ServiceError::NotFound {
        resource: "product",
    })
}

/// Deletes a product.
pub async fn delete_product(pool: &Pool, id: Uuid) -> ServiceResult<()> {
    let deleted = sqlx::query("DELETE FROM products WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ServiceError::NotFound {
            resource: "product",
        });
    }
    Ok(())
}

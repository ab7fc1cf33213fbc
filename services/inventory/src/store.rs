//! Inventory's repository: every SQL statement of the service.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored product.
#[derive(Debug, Clone, FromRow)]
pub struct ProductRow {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub quantity_on_hand: i64,
    pub minimum_level: i64,
    pub supplier_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored movement.
#[derive(Debug, Clone, FromRow)]
pub struct MovementRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub kind: String,
    pub delta: i64,
    pub quantity_after: i64,
    pub reason: String,
    pub source: String,
    pub created_at: DateTime<Utc>,
}

/// A stored shortage.
#[derive(Debug, Clone, FromRow)]
pub struct ShortageRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub project_id: Option<Uuid>,
    pub requested: i64,
    pub available: i64,
    pub created_at: DateTime<Utc>,
}

// Column lists as macros so every statement is one `&'static str` built at
// compile time: no SQL text is formatted per call.
macro_rules! product_columns {
    () => {
        "id, sku, name, unit, quantity_on_hand, minimum_level, supplier_id, created_at, updated_at"
    };
}
macro_rules! movement_columns {
    () => {
        "id, product_id, kind, delta, quantity_after, reason, source, created_at"
    };
}

/// The editable fields of a product.
pub struct ProductFields<'a> {
    pub sku: &'a str,
    pub name: &'a str,
    pub unit: &'a str,
    pub minimum_level: i64,
    pub supplier_id: Option<Uuid>,
}

/// Inserts a product.
pub async fn insert_product(
    db: impl PgExecutor<'_>,
    fields: &ProductFields<'_>,
) -> ServiceResult<ProductRow> {
    sqlx::query_as(concat!(
        "INSERT INTO products (id, sku, name, unit, minimum_level, supplier_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        product_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(fields.sku)
    .bind(fields.name)
    .bind(fields.unit)
    .bind(fields.minimum_level)
    .bind(fields.supplier_id)
    .fetch_one(db)
    .await
    .map_err(|e| match ServiceError::from(e) {
        ServiceError::AlreadyExists(_) => {
            ServiceError::AlreadyExists("a product with this SKU already exists".into())
        }
        other => other,
    })
}

/// The products with `ids` that exist, locked for update in id order (so
/// concurrent transactions locking several cannot deadlock), in one statement.
pub async fn products_for_update(
    tx: &mut PgConnection,
    ids: &[Uuid],
) -> ServiceResult<Vec<ProductRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        product_columns!(),
        " FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE"
    ))
    .bind(ids)
    .fetch_all(tx)
    .await?)
}

/// The product with `id`; locked for update inside a transaction when asked.
pub async fn product(
    db: impl PgExecutor<'_>,
    id: Uuid,
    lock: bool,
) -> ServiceResult<Option<ProductRow>> {
    let sql = if lock {
        concat!(
            "SELECT ",
            product_columns!(),
            " FROM products WHERE id = $1 FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            product_columns!(),
            " FROM products WHERE id = $1"
        )
    };
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(db).await?)
}

/// One page of products by SKU.
pub async fn products(pool: &Pool, page: &PageRequest) -> ServiceResult<Vec<ProductRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        product_columns!(),
        " FROM products WHERE $1::text IS NULL OR sku > $1 ORDER BY sku LIMIT $2"
    ))
    .bind(page.after.as_deref())
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?)
}

/// Writes the editable fields.
pub async fn update_product(
    tx: &mut PgConnection,
    id: Uuid,
    f: &ProductFields<'_>,
) -> ServiceResult<()> {
    sqlx::query(
        "UPDATE products SET name = $2, unit = $3, minimum_level = $4, supplier_id = $5, updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(f.name)
    .bind(f.unit)
    .bind(f.minimum_level)
    .bind(f.supplier_id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes a product without movements; false when it has some.
pub async fn delete_product(pool: &Pool, id: Uuid) -> ServiceResult<bool> {
    let deleted = sqlx::query(
        "DELETE FROM products p WHERE p.id = $1
            AND NOT EXISTS (SELECT 1 FROM movements m WHERE m.product_id = p.id)",
    )
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(deleted == 1)
}

/// A movement to append (see [`record_movements`]).
pub struct NewMovement {
    pub product: Uuid,
    pub kind: &'static str,
    pub delta: i64,
    pub after: i64,
    pub reason: String,
    pub source: String,
}

/// Appends `movements` in order and sets each product they touch to the
/// quantity its last movement left, in one statement; the stored movements.
pub async fn record_movements(
    tx: &mut PgConnection,
    movements: &[NewMovement],
) -> ServiceResult<Vec<MovementRow>> {
    if movements.is_empty() {
        return Ok(Vec::new());
    }
    let mut last: std::collections::HashMap<Uuid, i64> = std::collections::HashMap::new();
    for m in movements {
        last.insert(m.product, m.after);
    }
    let (products, quantities): (Vec<Uuid>, Vec<i64>) = last.into_iter().unzip();
    let ids: Vec<Uuid> = movements.iter().map(|_| Uuid::now_v7()).collect();
    let text =
        |pick: fn(&NewMovement) -> &str| -> Vec<&str> { movements.iter().map(pick).collect() };
    let product_ids: Vec<Uuid> = movements.iter().map(|m| m.product).collect();
    let deltas: Vec<i64> = movements.iter().map(|m| m.delta).collect();
    let afters: Vec<i64> = movements.iter().map(|m| m.after).collect();
    Ok(sqlx::query_as(concat!(
        "WITH product AS (
             UPDATE products SET quantity_on_hand = q.after, updated_at = now()
               FROM unnest($1::uuid[], $2::bigint[]) AS q(id, after)
              WHERE products.id = q.id
         )
         INSERT INTO movements (id, product_id, kind, delta, quantity_after, reason, source)
         SELECT * FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::bigint[], $7::bigint[],
                              $8::text[], $9::text[])
         RETURNING ",
        movement_columns!()
    ))
    .bind(&products)
    .bind(&quantities)
    .bind(&ids)
    .bind(&product_ids)
    .bind(text(|m| m.kind))
    .bind(&deltas)
    .bind(&afters)
    .bind(text(|m| m.reason.as_str()))
    .bind(text(|m| m.source.as_str()))
    .fetch_all(tx)
    .await?)
}

/// One page of a product's movements, newest first.
pub async fn movements(
    pool: &Pool,
    product: Uuid,
    page: &PageRequest,
) -> ServiceResult<Vec<MovementRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        movement_columns!(),
        " FROM movements
          WHERE product_id = $1 AND ($2::uuid IS NULL OR id < $2)
          ORDER BY id DESC LIMIT $3"
    ))
    .bind(product)
    .bind(page.after_as::<Uuid>()?)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?)
}

/// A shortage to record (see [`insert_shortages`]).
pub struct NewShortage {
    pub product: Uuid,
    pub product_name: String,
    pub project: Option<Uuid>,
    pub requested: i64,
    pub available: i64,
}

/// Records `shortages` in `tx`, in one statement.
pub async fn insert_shortages(
    tx: &mut PgConnection,
    shortages: &[NewShortage],
) -> ServiceResult<()> {
    if shortages.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = shortages.iter().map(|_| Uuid::now_v7()).collect();
    let products: Vec<Uuid> = shortages.iter().map(|s| s.product).collect();
    let names: Vec<&str> = shortages.iter().map(|s| s.product_name.as_str()).collect();
    let projects: Vec<Option<Uuid>> = shortages.iter().map(|s| s.project).collect();
    let requested: Vec<i64> = shortages.iter().map(|s| s.requested).collect();
    let available: Vec<i64> = shortages.iter().map(|s| s.available).collect();
    sqlx::query(
        "INSERT INTO shortages (id, product_id, product_name, project_id, requested, available)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::bigint[],
                              $6::bigint[])",
    )
    .bind(&ids)
    .bind(&products)
    .bind(&names)
    .bind(&projects)
    .bind(&requested)
    .bind(&available)
    .execute(tx)
    .await?;
    Ok(())
}

/// One page of shortages, newest first.
pub async fn shortages(
    pool: &Pool,
    project: Option<Uuid>,
    page: &PageRequest,
) -> ServiceResult<Vec<ShortageRow>> {
    Ok(sqlx::query_as(
        "SELECT id, product_id, product_name, project_id, requested, available, created_at
           FROM shortages
          WHERE ($1::uuid IS NULL OR project_id = $1) AND ($2::uuid IS NULL OR id < $2)
          ORDER BY id DESC LIMIT $3",
    )
    .bind(project)
    .bind(page.after_as::<Uuid>()?)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?)
}

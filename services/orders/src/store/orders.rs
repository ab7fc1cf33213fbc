//! Orders, their lines and their status history.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::cart::PricedLine;
use crate::domain::visibility::Filter;
use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored order (lines and history loaded separately).
#[derive(Debug, Clone, FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub number: i64,
    pub customer_id: String,
    pub status: String,
    pub notes: String,
    pub total_centavos: i64,
    pub payment_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The session (token `sid`) the order was placed in.
    pub session_id: Option<String>,
}

/// A stored line.
#[derive(Debug, Clone, FromRow)]
pub struct ItemRow {
    pub order_id: Uuid,
    pub line: i32,
    pub product_id: Uuid,
    pub product_name: String,
    pub unit_price_centavos: i64,
    pub quantity: i32,
    pub notes: String,
}

/// A stored status change.
#[derive(Debug, Clone, FromRow)]
pub struct TransitionRow {
    pub order_id: Uuid,
    pub sequence: i32,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

const ORDER: &str =
    "id, number, customer_id, status, notes, total_centavos, payment_id, created_at, updated_at,
     session_id";

/// What a new order is made of.
pub struct NewOrder<'a> {
    pub customer_id: &'a str,
    pub status: &'a str,
    pub notes: &'a str,
    pub total_centavos: i64,
    /// The session it is placed in (`None` for a token without one).
    pub session_id: Option<&'a str>,
}

/// Inserts an order.
pub async fn insert(tx: &mut PgConnection, order: &NewOrder<'_>) -> ServiceResult<OrderRow> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO orders (id, customer_id, status, notes, total_centavos, session_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ORDER}"
    )))
    .bind(Uuid::now_v7())
    .bind(order.customer_id)
    .bind(order.status)
    .bind(order.notes)
    .bind(order.total_centavos)
    .bind(order.session_id)
    .fetch_one(tx)
    .await?)
}

/// Inserts the lines of a new order.
pub async fn insert_items(
    tx: &mut PgConnection,
    order: Uuid,
    lines: &[PricedLine],
) -> ServiceResult<()> {
    let numbers: Vec<i32> = (1..).take(lines.len()).collect();
    let products: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    let names: Vec<&str> = lines.iter().map(|l| l.product_name.as_str()).collect();
    let prices: Vec<i64> = lines.iter().map(|l| l.unit_price_centavos).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let notes: Vec<&str> = lines.iter().map(|l| l.notes.as_str()).collect();
    sqlx::query(
        "INSERT INTO order_items (order_id, line, product_id, product_name, unit_price_centavos, quantity, notes)
         SELECT $1, * FROM unnest($2::int[], $3::uuid[], $4::text[], $5::bigint[], $6::int[], $7::text[])",
    )
    .bind(order)
    .bind(&numbers)
    .bind(&products)
    .bind(&names)
    .bind(&prices)
    .bind(&quantities)
    .bind(&notes)
    .execute(tx)
    .await?;
    Ok(())
}

/// The order with `id`, locked when asked.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid, lock: bool) -> ServiceResult<OrderRow> {
    let sql = format!(
        "SELECT {ORDER} FROM orders WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound { resource: "order" })
}

/// The lines of `orders`, in one query.
pub async fn items(db: impl PgExecutor<'_>, orders: &[Uuid]) -> ServiceResult<Vec<ItemRow>> {
    Ok(sqlx::query_as(
        "SELECT order_id, line, product_id, product_name, unit_price_centavos, quantity, notes
           FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, line",
    )
    .bind(orders)
    .fetch_all(db)
    .await?)
}

/// The history of `orders`, oldest change first, in one query.
pub async fn history(
    db: impl PgExecutor<'_>,
    orders: &[Uuid],
) -> ServiceResult<Vec<TransitionRow>> {
    Ok(sqlx::query_as(
        "SELECT order_id, sequence, from_status, to_status, actor, reason, created_at
           FROM order_transitions WHERE order_id = ANY($1) ORDER BY order_id, sequence",
    )
    .bind(orders)
    .fetch_all(db)
    .await?)
}

/// Records a status change of the locked order and wakes its watchers in
/// every replica (NOTIFY is delivered when the transaction commits).
pub async fn record_transition(
    tx: &mut PgConnection,
    order: Uuid,
    from: Option<&str>,
    to: &str,
    actor: &str,
    reason: &str,
) -> ServiceResult<TransitionRow> {
    // One round trip: the transition, the order's status, and the watchers'
    // wake-up as the FROM clause (a data-modifying CTE always runs).
    let row: TransitionRow = sqlx::query_as(
        "WITH moved AS (
             INSERT INTO order_transitions (order_id, sequence, from_status, to_status, actor, reason)
             SELECT $1, COALESCE(MAX(sequence), 0) + 1, $2, $3, $4, $5
               FROM order_transitions WHERE order_id = $1
             RETURNING order_id, sequence, from_status, to_status, actor, reason, created_at),
         status AS (
             UPDATE orders SET status = $3, updated_at = now() WHERE id = $1)
         SELECT moved.* FROM moved, (SELECT pg_notify($6, $1::text)) AS wake",
    )
    .bind(order)
    .bind(from)
    .bind(to)
    .bind(actor)
    .bind(reason)
    .bind(crate::watch::CHANNEL)
    .fetch_one(&mut *tx)
    .await?;
    Ok(row)
}

/// Records which payment the order is waiting for.
pub async fn set_payment(tx: &mut PgConnection, order: Uuid, payment: Uuid) -> ServiceResult<()> {
    sqlx::query("UPDATE orders SET payment_id = $2, updated_at = now() WHERE id = $1")
        .bind(order)
        .bind(payment)
        .execute(tx)
        .await?;
    Ok(())
}

/// One page of orders, newest first, of those `filter` shows.
pub async fn list(
    pool: &Pool,
    page: &PageRequest,
    filter: Filter<'_>,
    status: Option<&str>,
) -> ServiceResult<Vec<OrderRow>> {
    let before = page.after_as::<Uuid>()?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER} FROM orders
          WHERE ($1::uuid IS NULL OR id < $1)
            AND ($2::text IS NULL OR customer_id = $2)
            AND ($3::text IS NULL OR status = $3)
            AND ($5::text IS NULL OR session_id = $5)
          ORDER BY id DESC LIMIT $4"
    )))
    .bind(before)
    .bind(filter.customer)
    .bind(status)
    .bind(page.fetch_limit())
    .bind(filter.session)
    .fetch_all(pool)
    .await?)
}

/// An open order with its place in the kitchen's queue.
#[derive(Debug, Clone, FromRow)]
pub struct KitchenRow {
    #[sqlx(flatten)]
    pub order: OrderRow,
    pub rank: i32,
}

/// The page key of a kitchen row: rank, creation time (µs) and id.
pub fn kitchen_key(row: &KitchenRow) -> String {
    format!(
        "{}|{}|{}",
        row.rank,
        row.order.created_at.timestamp_micros(),
        row.order.id
    )
}

/// One page of the kitchen's queue: READY, then PREPARING, then the rest of
/// the open orders; oldest first within each group.
pub async fn kitchen(pool: &Pool, page: &PageRequest) -> ServiceResult<Vec<KitchenRow>> {
    let bad = || ServiceError::invalid("page_token", "not a token from this API");
    let after = match page.after.as_deref() {
        None => None,
        Some(key) => {
            let mut parts = key.splitn(3, '|');
            let rank: i32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
            let micros: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
            let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
            let id = parts
                .next()
                .and_then(|p| Uuid::parse_str(p).ok())
                .ok_or_else(bad)?;
            Some((rank, at, id))
        }
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM (
            SELECT {ORDER},
                   CASE status WHEN 'ready' THEN 0 WHEN 'preparing' THEN 1 ELSE 2 END AS rank
              FROM orders WHERE status NOT IN ('delivered', 'cancelled')
         ) open
         WHERE $1::int IS NULL OR (rank, created_at, id) > ($1, $2, $3)
         ORDER BY rank, created_at, id LIMIT $4"
    )))
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(after.map(|a| a.2))
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?)
}

//! `requests` with their items, read in one statement (items as parallel
//! arrays, in order).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored request with its items.
#[derive(Debug, Clone, FromRow)]
pub struct RequestRow {
    pub id: Uuid,
    pub kind: String,
    pub priority: String,
    pub ward: String,
    pub bed: String,
    pub note: String,
    pub status: String,
    pub requester_id: String,
    pub requester_name: String,
    pub requester_role: String,
    pub dispenser_id: Option<Uuid>,
    pub reject_reason: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub item_ids: Vec<Uuid>,
    pub item_names: Vec<String>,
    pub item_units: Vec<String>,
    pub item_quantities: Vec<i64>,
}

const SELECT: &str = "SELECT r.id, r.kind, r.priority, r.ward, r.bed, r.note, r.status,
        r.requester_id, r.requester_name, r.requester_role, r.dispenser_id, r.reject_reason,
        r.created_at, r.updated_at,
        COALESCE(i.ids, '{}') AS item_ids, COALESCE(i.names, '{}') AS item_names,
        COALESCE(i.units, '{}') AS item_units, COALESCE(i.quantities, '{}') AS item_quantities
   FROM requests r
   LEFT JOIN LATERAL (
        SELECT array_agg(item_id ORDER BY position) AS ids,
               array_agg(name ORDER BY position) AS names,
               array_agg(unit ORDER BY position) AS units,
               array_agg(quantity ORDER BY position) AS quantities
          FROM request_items WHERE request_id = r.id) i ON true";

/// One line of a new request, as pharmacy described its item.
pub struct NewItem<'a> {
    pub item_id: Uuid,
    pub name: &'a str,
    pub unit: &'a str,
    pub quantity: i64,
}

/// A request to insert, in status `requested`.
pub struct NewRequest<'a> {
    pub kind: &'a str,
    pub priority: &'a str,
    pub ward: &'a str,
    pub bed: &'a str,
    pub note: &'a str,
    pub requester_id: &'a str,
    pub requester_name: &'a str,
    pub requester_role: &'a str,
    pub items: Vec<NewItem<'a>>,
}

/// Inserts the request and its items in `tx`; the new id.
pub async fn insert(tx: &mut PgConnection, new: &NewRequest<'_>) -> ServiceResult<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO requests (id, kind, priority, ward, bed, note, status, requester_id,
                               requester_name, requester_role)
         VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7, $8, $9)",
    )
    .bind(id)
    .bind(new.kind)
    .bind(new.priority)
    .bind(new.ward)
    .bind(new.bed)
    .bind(new.note)
    .bind(new.requester_id)
    .bind(new.requester_name)
    .bind(new.requester_role)
    .execute(&mut *tx)
    .await?;
    if !new.items.is_empty() {
        let ids: Vec<Uuid> = new.items.iter().map(|i| i.item_id).collect();
        let names: Vec<&str> = new.items.iter().map(|i| i.name).collect();
        let units: Vec<&str> = new.items.iter().map(|i| i.unit).collect();
        let quantities: Vec<i64> = new.items.iter().map(|i| i.quantity).collect();
        sqlx::query(
            "INSERT INTO request_items (request_id, position, item_id, name, unit, quantity)
             SELECT $1, ordinality::int - 1, item_id, name, unit, quantity
               FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bigint[])
                    WITH ORDINALITY AS t(item_id, name, unit, quantity, ordinality)",
        )
        .bind(id)
        .bind(&ids)
        .bind(&names)
        .bind(&units)
        .bind(&quantities)
        .execute(&mut *tx)
        .await?;
    }
    Ok(id)
}

/// One request; `lock` takes its row lock for a status change.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid, lock: bool) -> ServiceResult<RequestRow> {
    let lock = if lock { " FOR UPDATE OF r" } else { "" };
    sqlx::query_as::<_, RequestRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE r.id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(ServiceError::NotFound {
        resource: "request",
    })
}

/// What a list or the watch's snapshot filters on; `None` is any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub ward: Option<String>,
    pub kind: Option<&'static str>,
    pub status: Option<&'static str>,
}

/// A page of requests matching `filter`, newest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &Filter,
    page: &PageRequest,
) -> ServiceResult<Vec<RequestRow>> {
    let after: Option<Uuid> = page.after_as()?;
    Ok(sqlx::query_as::<_, RequestRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT}
          WHERE ($1::text IS NULL OR r.ward = $1)
            AND ($2::text IS NULL OR r.kind = $2)
            AND ($3::text IS NULL OR r.status = $3)
            AND ($4::uuid IS NULL OR r.id < $4)
          ORDER BY r.id DESC LIMIT $5"
    )))
    .bind(filter.ward.as_deref())
    .bind(filter.kind)
    .bind(filter.status)
    .bind(after)
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Every open request matching `filter`, oldest first (the watch's
/// snapshot: the longest waiting on top).
pub async fn open(db: impl PgExecutor<'_>, filter: &Filter) -> ServiceResult<Vec<RequestRow>> {
    Ok(sqlx::query_as::<_, RequestRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT}
          WHERE r.status IN ('requested', 'accepted', 'in-progress')
            AND ($1::text IS NULL OR r.ward = $1)
            AND ($2::text IS NULL OR r.kind = $2)
            AND ($3::text IS NULL OR r.status = $3)
          ORDER BY r.id"
    )))
    .bind(filter.ward.as_deref())
    .bind(filter.kind)
    .bind(filter.status)
    .fetch_all(db)
    .await?)
}

/// What a status change writes on the request.
pub struct Moved<'a> {
    pub status: &'a str,
    pub dispenser_id: Option<Uuid>,
    pub reject_reason: &'a str,
}

/// Writes a status change on the locked request `id`; the row as it is now.
pub async fn set_status(
    tx: &mut PgConnection,
    id: Uuid,
    moved: &Moved<'_>,
) -> ServiceResult<RequestRow> {
    sqlx::query(
        "UPDATE requests
            SET status = $2, dispenser_id = COALESCE($3, dispenser_id),
                reject_reason = CASE WHEN $4 = '' THEN reject_reason ELSE $4 END,
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(moved.status)
    .bind(moved.dispenser_id)
    .bind(moved.reject_reason)
    .execute(&mut *tx)
    .await?;
    get(&mut *tx, id, false).await
}

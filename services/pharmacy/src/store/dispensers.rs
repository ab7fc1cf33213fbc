//! `dispensers` and their `pockets`; pockets are read with their items for
//! a whole page of cabinets in one statement.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::catalog::{Item, ItemRow};
use crate::domain::{DispenserCode, DispenserStatus, ItemKind, PocketCode};
use malha_kit::page::PageRequest;
use malha_kit::stored::{StoredName, UnknownStored, readable_rows};
use malha_kit::{ServiceError, ServiceResult};

/// Where a cabinet stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub building: String,
    pub floor: String,
    pub ward: String,
    pub room: String,
}

/// A cabinet to register, every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDispenser {
    pub code: DispenserCode,
    pub name: String,
    pub location: Location,
}

/// The fields an update changes; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispenserPatch {
    pub name: Option<String>,
    pub building: Option<String>,
    pub floor: Option<String>,
    pub ward: Option<String>,
    pub room: Option<String>,
    pub status: Option<DispenserStatus>,
}

/// A stored cabinet, its status still text.
#[derive(Debug, Clone, FromRow)]
struct DispenserRow {
    id: Uuid,
    code: String,
    name: String,
    building: String,
    floor: String,
    ward: String,
    room: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A cabinet as read.
#[derive(Debug, Clone)]
pub struct Dispenser {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub location: Location,
    pub status: DispenserStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DispenserRow {
    fn read(self) -> Result<Dispenser, UnknownStored> {
        Ok(Dispenser {
            id: self.id,
            code: self.code,
            name: self.name,
            location: Location {
                building: self.building,
                floor: self.floor,
                ward: self.ward,
                room: self.room,
            },
            status: DispenserStatus::from_stored(&self.status)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// One pocket with its item.
#[derive(Debug, Clone)]
pub struct Pocket {
    pub dispenser_id: Uuid,
    pub pocket: String,
    pub item: Item,
    pub quantity: i64,
    pub minimum: i64,
}

#[derive(Debug, Clone, FromRow)]
struct PocketRow {
    dispenser_id: Uuid,
    pocket: String,
    quantity: i64,
    minimum: i64,
    #[sqlx(flatten)]
    item: ItemRow,
}

impl PocketRow {
    fn read(self) -> Result<Pocket, UnknownStored> {
        Ok(Pocket {
            dispenser_id: self.dispenser_id,
            pocket: self.pocket,
            quantity: self.quantity,
            minimum: self.minimum,
            item: self.item.read()?,
        })
    }
}

const DISPENSER: &str = "SELECT id, code, name, building, floor, ward, room, status, created_at,
        updated_at FROM dispensers";

pub(crate) const POCKET: &str = "SELECT p.dispenser_id, p.pocket, p.quantity, p.minimum,
        i.id AS item_id, i.kind AS item_kind, i.name AS item_name, i.unit AS item_unit,
        i.controlled AS item_controlled, i.active AS item_active
   FROM pockets p JOIN items i ON i.id = p.item_id";

fn code_taken(error: sqlx::Error) -> ServiceError {
    match ServiceError::from(error) {
        ServiceError::AlreadyExists(_) => {
            ServiceError::AlreadyExists("a dispenser with this code already exists".into())
        }
        other => other,
    }
}

const NOT_FOUND: ServiceError = ServiceError::NotFound {
    resource: "dispenser",
};

/// Inserts a cabinet in `tx`.
pub async fn insert(tx: &mut PgConnection, new: &NewDispenser) -> ServiceResult<Uuid> {
    sqlx::query_scalar(
        "INSERT INTO dispensers (id, code, name, building, floor, ward, room)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(new.code.as_str())
    .bind(&new.name)
    .bind(&new.location.building)
    .bind(&new.location.floor)
    .bind(&new.location.ward)
    .bind(&new.location.room)
    .fetch_one(&mut *tx)
    .await
    .map_err(code_taken)
}

/// The cabinet with `id`, without its pockets.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<Dispenser> {
    let row: DispenserRow =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{DISPENSER} WHERE id = $1")))
            .bind(id)
            .fetch_optional(db)
            .await?
            .ok_or(NOT_FOUND)?;
    Ok(row.read()?)
}

/// Locks the cabinet against status changes until `tx` ends (movements
/// share the lock, an update takes it exclusively) and reads it.
pub async fn lock_shared(tx: &mut PgConnection, id: Uuid) -> ServiceResult<Dispenser> {
    let row: DispenserRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{DISPENSER} WHERE id = $1 FOR SHARE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(NOT_FOUND)?;
    Ok(row.read()?)
}

/// Locks the cabinet for an update until `tx` ends and returns its status.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> ServiceResult<DispenserStatus> {
    let status: String =
        sqlx::query_scalar("SELECT status FROM dispensers WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(NOT_FOUND)?;
    Ok(DispenserStatus::from_stored(&status)?)
}

/// Which cabinets a list returns.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// Only those in this ward (any case, surrounding spaces ignored).
    pub ward: Option<&'a str>,
    pub status: Option<DispenserStatus>,
}

/// One page of cabinets by code (the token holds the last code).
pub async fn list(
    db: impl PgExecutor<'_>,
    page: &PageRequest,
    filter: &Filter<'_>,
) -> ServiceResult<Vec<Dispenser>> {
    let rows: Vec<DispenserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{DISPENSER}
          WHERE ($1::text IS NULL OR code > $1)
            AND ($2::text IS NULL OR lower(ward) = lower($2))
            AND ($3::text IS NULL OR status = $3)
          ORDER BY code LIMIT $4"
    )))
    .bind(page.after.as_deref())
    .bind(filter.ward)
    .bind(filter.status.map(StoredName::as_str))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?;
    Ok(readable_rows(
        "dispenser",
        rows,
        |r| r.id.to_string(),
        DispenserRow::read,
    ))
}

/// The pockets of every cabinet in `ids`, by cabinet then pocket, in one
/// statement.
pub async fn pockets_of(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> ServiceResult<HashMap<Uuid, Vec<Pocket>>> {
    let rows: Vec<PocketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{POCKET} WHERE p.dispenser_id = ANY($1) ORDER BY p.dispenser_id, p.pocket"
    )))
    .bind(ids)
    .fetch_all(db)
    .await?;
    let mut by_dispenser: HashMap<Uuid, Vec<Pocket>> = HashMap::new();
    for pocket in readable_rows(
        "pocket",
        rows,
        |r| format!("{}/{}", r.dispenser_id, r.pocket),
        PocketRow::read,
    ) {
        by_dispenser
            .entry(pocket.dispenser_id)
            .or_default()
            .push(pocket);
    }
    Ok(by_dispenser)
}

/// Applies `patch` to the cabinet in `tx`.
pub async fn update(tx: &mut PgConnection, id: Uuid, patch: &DispenserPatch) -> ServiceResult<()> {
    sqlx::query(
        "UPDATE dispensers SET
            name     = COALESCE($2, name),
            building = COALESCE($3, building),
            floor    = COALESCE($4, floor),
            ward     = COALESCE($5, ward),
            room     = COALESCE($6, room),
            status   = COALESCE($7, status),
            updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(patch.name.as_deref())
    .bind(patch.building.as_deref())
    .bind(patch.floor.as_deref())
    .bind(patch.ward.as_deref())
    .bind(patch.room.as_deref())
    .bind(patch.status.map(StoredName::as_str))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The pocket as stored, locked until `tx` ends: its item and quantity.
pub async fn lock_pocket(
    tx: &mut PgConnection,
    dispenser_id: Uuid,
    pocket: &PocketCode,
) -> ServiceResult<Option<Pocket>> {
    let row: Option<PocketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{POCKET} WHERE p.dispenser_id = $1 AND p.pocket = $2 FOR UPDATE OF p"
    )))
    .bind(dispenser_id)
    .bind(pocket.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(PocketRow::read).transpose()?)
}

/// The pockets of a cabinet holding any of `items`, by pocket, locked
/// until `tx` ends, in one statement.
pub async fn lock_pockets_holding(
    tx: &mut PgConnection,
    dispenser_id: Uuid,
    items: &[Uuid],
) -> ServiceResult<Vec<Pocket>> {
    let rows: Vec<PocketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{POCKET} WHERE p.dispenser_id = $1 AND p.item_id = ANY($2)
          ORDER BY p.pocket FOR UPDATE OF p"
    )))
    .bind(dispenser_id)
    .bind(items)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(PocketRow::read)
        .collect::<Result<_, _>>()?)
}

/// Assigns the pocket to `item` with `minimum`, creating it empty or
/// keeping its quantity.
pub async fn upsert_pocket(
    tx: &mut PgConnection,
    dispenser_id: Uuid,
    pocket: &PocketCode,
    item: &Item,
    minimum: i64,
) -> ServiceResult<()> {
    let (medicine, material) = match item.kind {
        ItemKind::Medicine => (Some(item.id), None),
        ItemKind::Material => (None, Some(item.id)),
    };
    sqlx::query(
        "INSERT INTO pockets (dispenser_id, pocket, medicine_id, material_id, minimum)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (dispenser_id, pocket) DO UPDATE SET
            medicine_id = EXCLUDED.medicine_id,
            material_id = EXCLUDED.material_id,
            minimum = EXCLUDED.minimum,
            updated_at = now()",
    )
    .bind(dispenser_id)
    .bind(pocket.as_str())
    .bind(medicine)
    .bind(material)
    .bind(minimum)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A pocket holding the item searched for, with its cabinet.
#[derive(Debug, Clone)]
pub struct Holding {
    pub dispenser: Dispenser,
    pub pocket: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, FromRow)]
struct HoldingRow {
    #[sqlx(flatten)]
    dispenser: DispenserRow,
    pocket: String,
    quantity: i64,
}

/// Every pocket of an active cabinet holding `item`, in one statement.
pub async fn holding(db: impl PgExecutor<'_>, item: Uuid) -> ServiceResult<Vec<Holding>> {
    let rows: Vec<HoldingRow> = sqlx::query_as(
        "SELECT d.id, d.code, d.name, d.building, d.floor, d.ward, d.room, d.status,
                d.created_at, d.updated_at, p.pocket, p.quantity
           FROM pockets p JOIN dispensers d ON d.id = p.dispenser_id
          WHERE p.item_id = $1 AND d.status = 'active'",
    )
    .bind(item)
    .fetch_all(db)
    .await?;
    Ok(readable_rows(
        "pocket",
        rows,
        |r| format!("{}/{}", r.dispenser.id, r.pocket),
        |r| {
            Ok(Holding {
                dispenser: r.dispenser.read()?,
                pocket: r.pocket,
                quantity: r.quantity,
            })
        },
    ))
}

//! `medicines` and `materials`, and the `items` view over both.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::ItemKind;
use crate::domain::catalog::{MaterialPatch, MedicinePatch, NewMaterial, NewMedicine};
use malha_kit::page::PageRequest;
use malha_kit::stored::{StoredName, UnknownStored};
use malha_kit::{ServiceError, ServiceResult};

/// A stored medicine.
#[derive(Debug, Clone, FromRow)]
pub struct MedicineRow {
    pub id: Uuid,
    pub name: String,
    pub active_ingredient: String,
    pub strength: String,
    pub dosage_form: String,
    pub unit: String,
    pub controlled: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored material.
#[derive(Debug, Clone, FromRow)]
pub struct MaterialRow {
    pub id: Uuid,
    pub name: String,
    pub unit: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A medicine or material as pockets and the ledger see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: Uuid,
    pub kind: ItemKind,
    pub name: String,
    pub unit: String,
    pub controlled: bool,
    pub active: bool,
}

/// An `items` row as read, its kind still text.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct ItemRow {
    pub(crate) item_id: Uuid,
    pub(crate) item_kind: String,
    pub(crate) item_name: String,
    pub(crate) item_unit: String,
    pub(crate) item_controlled: bool,
    pub(crate) item_active: bool,
}

impl ItemRow {
    pub(crate) fn read(self) -> Result<Item, UnknownStored> {
        Ok(Item {
            id: self.item_id,
            kind: ItemKind::from_stored(&self.item_kind)?,
            name: self.item_name,
            unit: self.item_unit,
            controlled: self.item_controlled,
            active: self.item_active,
        })
    }
}

const MEDICINE: &str =
    "SELECT id, name, active_ingredient, strength, dosage_form, unit, controlled,
        active, created_at, updated_at FROM medicines";
const MATERIAL: &str = "SELECT id, name, unit, active, created_at, updated_at FROM materials";

/// Inserts a medicine in `tx`.
pub async fn insert_medicine(tx: &mut PgConnection, new: &NewMedicine) -> ServiceResult<Uuid> {
    Ok(sqlx::query_scalar(
        "INSERT INTO medicines (id, name, active_ingredient, strength, dosage_form, unit, controlled)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(&new.name)
    .bind(&new.active_ingredient)
    .bind(&new.strength)
    .bind(&new.dosage_form)
    .bind(&new.unit)
    .bind(new.controlled)
    .fetch_one(&mut *tx)
    .await?)
}

/// The medicine with `id`.
pub async fn medicine(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<MedicineRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{MEDICINE} WHERE id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "medicine",
        })
}

/// Which medicines a list returns.
#[derive(Debug, Clone, Default)]
pub struct MedicineFilter<'a> {
    pub active: Option<bool>,
    pub controlled: Option<bool>,
    /// Part of the name or active ingredient, any case.
    pub query: Option<&'a str>,
}

/// `%text%` for ILIKE, with the pattern characters escaped.
fn contains(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// One page of medicines by name (then id). The page token holds the last
/// id; its (name, id) is the keyset position.
pub async fn list_medicines(
    db: impl PgExecutor<'_>,
    page: &PageRequest,
    filter: &MedicineFilter<'_>,
) -> ServiceResult<Vec<MedicineRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MEDICINE}
          WHERE ($1::uuid IS NULL OR (name, id) > (SELECT name, id FROM medicines WHERE id = $1))
            AND ($2::boolean IS NULL OR active = $2)
            AND ($3::boolean IS NULL OR controlled = $3)
            AND ($4::text IS NULL OR name ILIKE $4 OR active_ingredient ILIKE $4)
          ORDER BY name, id LIMIT $5"
    )))
    .bind(page.after_as::<Uuid>()?)
    .bind(filter.active)
    .bind(filter.controlled)
    .bind(filter.query.map(contains))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Applies `patch` to the medicine in `tx`.
pub async fn update_medicine(
    tx: &mut PgConnection,
    id: Uuid,
    patch: &MedicinePatch,
) -> ServiceResult<()> {
    let updated: Option<Uuid> = sqlx::query_scalar(
        "UPDATE medicines SET
            name              = COALESCE($2, name),
            active_ingredient = COALESCE($3, active_ingredient),
            strength          = COALESCE($4, strength),
            dosage_form       = COALESCE($5, dosage_form),
            unit              = COALESCE($6, unit),
            controlled        = COALESCE($7, controlled),
            updated_at        = now()
          WHERE id = $1 RETURNING id",
    )
    .bind(id)
    .bind(patch.name.as_deref())
    .bind(patch.active_ingredient.as_deref())
    .bind(patch.strength.as_deref())
    .bind(patch.dosage_form.as_deref())
    .bind(patch.unit.as_deref())
    .bind(patch.controlled)
    .fetch_optional(&mut *tx)
    .await?;
    updated.map(drop).ok_or(ServiceError::NotFound {
        resource: "medicine",
    })
}

/// Locks the medicine's row until `tx` ends and returns its `active` flag.
pub async fn lock_medicine(tx: &mut PgConnection, id: Uuid) -> ServiceResult<bool> {
    sqlx::query_scalar("SELECT active FROM medicines WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "medicine",
        })
}

/// Marks the medicine inactive.
pub async fn deactivate_medicine(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<()> {
    sqlx::query("UPDATE medicines SET active = false, updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Inserts a material in `tx`.
pub async fn insert_material(tx: &mut PgConnection, new: &NewMaterial) -> ServiceResult<Uuid> {
    Ok(sqlx::query_scalar(
        "INSERT INTO materials (id, name, unit) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(&new.name)
    .bind(&new.unit)
    .fetch_one(&mut *tx)
    .await?)
}

/// The material with `id`.
pub async fn material(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<MaterialRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{MATERIAL} WHERE id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "material",
        })
}

/// Which materials a list returns.
#[derive(Debug, Clone, Default)]
pub struct MaterialFilter<'a> {
    pub active: Option<bool>,
    /// Part of the name, any case.
    pub query: Option<&'a str>,
}

/// One page of materials by name (then id), keyset like medicines.
pub async fn list_materials(
    db: impl PgExecutor<'_>,
    page: &PageRequest,
    filter: &MaterialFilter<'_>,
) -> ServiceResult<Vec<MaterialRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MATERIAL}
          WHERE ($1::uuid IS NULL OR (name, id) > (SELECT name, id FROM materials WHERE id = $1))
            AND ($2::boolean IS NULL OR active = $2)
            AND ($3::text IS NULL OR name ILIKE $3)
          ORDER BY name, id LIMIT $4"
    )))
    .bind(page.after_as::<Uuid>()?)
    .bind(filter.active)
    .bind(filter.query.map(contains))
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Applies `patch` to the material in `tx`.
pub async fn update_material(
    tx: &mut PgConnection,
    id: Uuid,
    patch: &MaterialPatch,
) -> ServiceResult<()> {
    let updated: Option<Uuid> = sqlx::query_scalar(
        "UPDATE materials SET
            name = COALESCE($2, name),
            unit = COALESCE($3, unit),
            updated_at = now()
          WHERE id = $1 RETURNING id",
    )
    .bind(id)
    .bind(patch.name.as_deref())
    .bind(patch.unit.as_deref())
    .fetch_optional(&mut *tx)
    .await?;
    updated.map(drop).ok_or(ServiceError::NotFound {
        resource: "material",
    })
}

/// Locks the material's row until `tx` ends and returns its `active` flag.
pub async fn lock_material(tx: &mut PgConnection, id: Uuid) -> ServiceResult<bool> {
    sqlx::query_scalar("SELECT active FROM materials WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "material",
        })
}

/// Marks the material inactive.
pub async fn deactivate_material(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<()> {
    sqlx::query("UPDATE materials SET active = false, updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The medicine or material with `id`.
pub async fn item(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<Item> {
    let row: ItemRow = sqlx::query_as(
        "SELECT id AS item_id, kind AS item_kind, name AS item_name, unit AS item_unit,
                controlled AS item_controlled, active AS item_active
           FROM items WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(ServiceError::NotFound { resource: "item" })?;
    Ok(row.read()?)
}

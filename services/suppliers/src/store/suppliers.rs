//! `suppliers`, read with their contacts in one statement.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::contacts;
use crate::domain::{Contact, NewSupplier, SupplierPatch};
use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored supplier with its contacts (as parallel arrays, in order).
#[derive(Debug, Clone, FromRow)]
pub struct SupplierRow {
    pub id: Uuid,
    pub legal_name: String,
    pub trade_name: String,
    pub cnpj: String,
    pub street: String,
    pub number: String,
    pub complement: String,
    pub district: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    contact_names: Vec<String>,
    contact_emails: Vec<String>,
    contact_phones: Vec<String>,
    contact_roles: Vec<String>,
}

impl SupplierRow {
    /// The contacts, in the order they were given.
    pub fn contacts(&self) -> Vec<Contact> {
        (0..self.contact_names.len())
            .map(|i| Contact {
                name: self.contact_names[i].clone(),
                email: self.contact_emails[i].clone(),
                phone: self.contact_phones[i].clone(),
                role: self.contact_roles[i].clone(),
            })
            .collect()
    }
}

const SELECT: &str = "SELECT s.id, s.legal_name, s.trade_name, s.cnpj, s.street, s.number,
        s.complement, s.district, s.city, s.state, s.postal_code, s.active, s.created_at,
        s.updated_at,
        COALESCE(c.names, '{}') AS contact_names, COALESCE(c.emails, '{}') AS contact_emails,
        COALESCE(c.phones, '{}') AS contact_phones, COALESCE(c.roles, '{}') AS contact_roles
   FROM suppliers s
   LEFT JOIN LATERAL (
        SELECT array_agg(name ORDER BY position) AS names,
               array_agg(email ORDER BY position) AS emails,
               array_agg(phone ORDER BY position) AS phones,
               array_agg(role ORDER BY position) AS roles
          FROM supplier_contacts WHERE supplier_id = s.id) c ON true";

/// The only unique value a caller can collide with is the CNPJ.
fn cnpj_taken(error: sqlx::Error) -> ServiceError {
    match ServiceError::from(error) {
        ServiceError::AlreadyExists(_) => {
            ServiceError::AlreadyExists("a supplier with this CNPJ already exists".into())
        }
        other => other,
    }
}

/// Inserts the supplier and its contacts in `tx`.
pub async fn insert(tx: &mut PgConnection, new: &NewSupplier) -> ServiceResult<Uuid> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO suppliers (id, legal_name, trade_name, cnpj, street, number, complement,
                                district, city, state, postal_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(&new.legal_name)
    .bind(&new.trade_name)
    .bind(new.cnpj.as_str())
    .bind(&new.address.street)
    .bind(&new.address.number)
    .bind(&new.address.complement)
    .bind(&new.address.district)
    .bind(&new.address.city)
    .bind(new.address.state.as_str())
    .bind(new.address.postal_code.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(cnpj_taken)?;
    contacts::replace(tx, id, &new.contacts).await?;
    Ok(id)
}

/// The supplier with `id`.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<SupplierRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE s.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "supplier",
        })
}

/// Locks the supplier's row until `tx` ends and returns its `active` flag.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> ServiceResult<bool> {
    sqlx::query_scalar("SELECT active FROM suppliers WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "supplier",
        })
}

/// Which suppliers a list returns.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// Only those whose `active` equals this.
    pub active: Option<bool>,
    /// Only the one with this (normalised) CNPJ.
    pub cnpj: Option<&'a str>,
}

/// One page of suppliers, oldest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    page: &PageRequest,
    filter: &Filter<'_>,
) -> ServiceResult<Vec<SupplierRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT}
          WHERE ($1::uuid IS NULL OR s.id > $1)
            AND ($2::boolean IS NULL OR s.active = $2)
            AND ($3::text IS NULL OR s.cnpj = $3)
          ORDER BY s.id LIMIT $4"
    )))
    .bind(page.after_as::<Uuid>()?)
    .bind(filter.active)
    .bind(filter.cnpj)
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?)
}

/// Applies `patch` to the supplier in `tx`.
pub async fn update(tx: &mut PgConnection, id: Uuid, patch: &SupplierPatch) -> ServiceResult<()> {
    let updated: Option<Uuid> = sqlx::query_scalar(
        "UPDATE suppliers SET
            legal_name  = COALESCE($2, legal_name),
            trade_name  = COALESCE($3, trade_name),
            cnpj        = COALESCE($4, cnpj),
            street      = COALESCE($5, street),
            number      = COALESCE($6, number),
            complement  = COALESCE($7, complement),
            district    = COALESCE($8, district),
            city        = COALESCE($9, city),
            state       = COALESCE($10, state),
            postal_code = COALESCE($11, postal_code),
            updated_at  = now()
          WHERE id = $1 RETURNING id",
    )
    .bind(id)
    .bind(patch.legal_name.as_deref())
    .bind(patch.trade_name.as_deref())
    .bind(patch.cnpj.as_ref().map(|c| c.as_str()))
    .bind(patch.street.as_deref())
    .bind(patch.number.as_deref())
    .bind(patch.complement.as_deref())
    .bind(patch.district.as_deref())
    .bind(patch.city.as_deref())
    .bind(patch.state.map(|s| s.as_str()))
    .bind(patch.postal_code.as_ref().map(|c| c.as_str()))
    .fetch_optional(&mut *tx)
    .await
    .map_err(cnpj_taken)?;
    if updated.is_none() {
        return Err(ServiceError::NotFound {
            resource: "supplier",
        });
    }
    if let Some(contacts) = &patch.contacts {
        contacts::replace(tx, id, contacts).await?;
    }
    Ok(())
}

/// Sets the supplier's `active` flag.
pub async fn set_active(db: impl PgExecutor<'_>, id: Uuid, active: bool) -> ServiceResult<()> {
    sqlx::query("UPDATE suppliers SET active = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(active)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes the supplier (its contacts go with it).
pub async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<()> {
    sqlx::query("DELETE FROM suppliers WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// NOT_FOUND unless the supplier exists.
pub async fn exists(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<()> {
    let found: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM suppliers WHERE id = $1)")
        .bind(id)
        .fetch_one(db)
        .await?;
    if found {
        Ok(())
    } else {
        Err(ServiceError::NotFound {
            resource: "supplier",
        })
    }
}

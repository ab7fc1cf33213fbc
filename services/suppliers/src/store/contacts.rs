//! `supplier_contacts`: a supplier's contacts, kept in the order given and
//! replaced as a whole.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::Contact;
use malha_kit::ServiceResult;

/// Replaces the contacts of `supplier_id` with `contacts`, in `tx`.
pub async fn replace(
    tx: &mut PgConnection,
    supplier_id: Uuid,
    contacts: &[Contact],
) -> ServiceResult<()> {
    sqlx::query("DELETE FROM supplier_contacts WHERE supplier_id = $1")
        .bind(supplier_id)
        .execute(&mut *tx)
        .await?;
    if contacts.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&Contact) -> &str| -> Vec<&str> { contacts.iter().map(f).collect() };
    sqlx::query(
        "INSERT INTO supplier_contacts (supplier_id, position, name, email, phone, role)
         SELECT $1, c.position - 1, c.name, c.email, c.phone, c.role
           FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
                WITH ORDINALITY AS c (name, email, phone, role, position)",
    )
    .bind(supplier_id)
    .bind(column(|c| &c.name))
    .bind(column(|c| &c.email))
    .bind(column(|c| &c.phone))
    .bind(column(|c| &c.role))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

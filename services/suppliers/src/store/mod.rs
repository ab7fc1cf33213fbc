//! Suppliers' repository: every SQL statement of the service, by table.
//! Supplier ids are UUIDv7, so ordering by id is ordering by creation
//! (keyset pages).

pub mod contacts;
pub mod supplied;
pub mod suppliers;

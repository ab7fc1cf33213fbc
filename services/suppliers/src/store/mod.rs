//! Suppliers' repository: every SQL statement of the service, by table.
//! Supplier ids are UUIDv7, so ordering by id is ordering by creation
//! (keyset pages).

pub mod contacts;
pub mod supplied;
pub mod suppliers;

use uuid::Uuid;

use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// The id a page starts after, decoded from the page token.
fn after_id(page: &PageRequest) -> ServiceResult<Option<Uuid>> {
    page.after
        .as_deref()
        .map(Uuid::parse_str)
        .transpose()
        .map_err(|_| ServiceError::invalid("page_token", "not a token from this API"))
}

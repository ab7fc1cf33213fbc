//! Pharmacy's repository: every SQL statement of the service, by concern.
//! Ids are UUIDv7, so ordering by id is ordering by creation.

pub mod catalog;
pub mod dispensers;
pub mod stock;

//! Identity's repository: every SQL statement of the service, by table.
//! Ids are UUIDv7, so ordering by id is ordering by creation (keyset pages).

pub mod accounts;
pub mod activation;
pub mod customers;
pub mod failures;
pub mod keys;
pub mod people;
pub mod tokens;
pub mod users;

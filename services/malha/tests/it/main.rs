//! Integration and end-to-end tests of Malha: real PostgreSQL (started by
//! the test support crate), real gRPC over real sockets, the real binary.
//! One test binary, so the whole suite links once.

mod authz;
mod cancellation;
mod e2e;
mod edge;
mod flows;
mod helpers;
mod icarus;
mod identity;
mod inventory;
mod kit;
mod orders;
mod payments;
mod migrations;
mod pool;
mod projects;
mod security;
mod snackbar;
mod suppliers;

//! Integration and end-to-end tests of Malha: real PostgreSQL (started by
//! the test support crate), real gRPC over real sockets, the real binary.
//! One test binary, so the whole suite links once.
//!
//! Tests are grouped by service (`<service>/`); flows that cross services
//! live in `flows/`. The snack-bar tests in `orders/` and `payments/` share the
//! snack bar's fixture, `flows/snackbar.rs`, and are declared there.

mod care;
mod cli;
mod edge;
mod flows;
mod helpers;
mod identity;
mod inventory;
mod kit;
mod migrations;
mod orders;
mod payments;
mod pharmacy;
mod projects;
mod queue;
mod suppliers;

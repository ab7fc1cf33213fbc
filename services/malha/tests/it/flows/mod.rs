//! Flows across services: Icarus (projects and inventory over the event
//! bus), the snack bar (identity, orders and payments), and the real binary
//! end to end.

mod e2e;
mod icarus;
pub(crate) mod snackbar;

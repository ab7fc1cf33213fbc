//! Flows across services: Icarus (projects and inventory over the event
//! bus), the snack bar (identity, orders and payments), key rotation and the
//! request checks seen by every service, and the real binary end to end.

mod asky;
mod chaos;
mod e2e;
mod fuzz;
mod icarus;
mod key_rotation;
mod request_checks;
pub(crate) mod snackbar;
mod split;

//! Payments' repository: every SQL statement of the service.

pub mod ledger;
pub mod notifications;
pub mod payments;

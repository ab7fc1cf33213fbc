//! Orders' repository: every SQL statement of the service.

pub mod menu;
pub mod orders;

//! Inventory RPCs through a real server and client.

mod idempotency;
mod kinds;
mod update;

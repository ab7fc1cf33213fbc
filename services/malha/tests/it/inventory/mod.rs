//! Inventory RPCs through a real server and client.

mod idempotency;
mod update;

//! Inventory through real gRPC and PostgreSQL.

mod idempotency;

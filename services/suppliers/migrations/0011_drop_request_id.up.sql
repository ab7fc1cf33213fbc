-- Idempotency keys live in the kit's idempotency table (caller, RPC, key),
-- so the old global per-table request_id columns are no longer written.
ALTER TABLE suppliers DROP COLUMN request_id;

-- Idempotency keys live in the kit's idempotency table (caller, RPC, key),
-- so the old global per-table request_id columns are no longer written.
ALTER TABLE people DROP COLUMN request_id;
ALTER TABLE users DROP COLUMN request_id;
ALTER TABLE customers DROP COLUMN request_id;
ALTER TABLE service_accounts DROP COLUMN request_id;

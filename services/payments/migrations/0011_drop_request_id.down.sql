-- Reverts 0011: the request_id columns come back, empty (the keys since
-- then are in the idempotency table), with their UNIQUE constraints.
ALTER TABLE payments ADD COLUMN request_id uuid CONSTRAINT payments_request_id_key UNIQUE;

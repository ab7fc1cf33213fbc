-- Reverts 0011: the request_id columns come back, empty (the keys since
-- then are in the idempotency table), with their UNIQUE constraints.
ALTER TABLE products ADD COLUMN request_id uuid CONSTRAINT products_request_id_key UNIQUE;
ALTER TABLE movements ADD COLUMN request_id uuid CONSTRAINT movements_request_id_key UNIQUE;

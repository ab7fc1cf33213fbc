-- Reverts 0011: the request_id columns come back, empty (the keys since
-- then are in the idempotency table), with their UNIQUE constraints.
ALTER TABLE people ADD COLUMN request_id uuid CONSTRAINT people_request_id_key UNIQUE;
ALTER TABLE users ADD COLUMN request_id uuid CONSTRAINT users_request_id_key UNIQUE;
ALTER TABLE customers ADD COLUMN request_id uuid CONSTRAINT customers_request_id_key UNIQUE;
ALTER TABLE service_accounts ADD COLUMN request_id uuid CONSTRAINT service_accounts_request_id_key UNIQUE;

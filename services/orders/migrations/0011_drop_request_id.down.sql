-- Reverts 0011: the request_id columns come back, empty (the keys since
-- then are in the idempotency table), with their UNIQUE constraints.
ALTER TABLE categories ADD COLUMN request_id uuid CONSTRAINT categories_request_id_key UNIQUE;
ALTER TABLE products ADD COLUMN request_id uuid CONSTRAINT products_request_id_key UNIQUE;
ALTER TABLE orders ADD COLUMN request_id uuid,
    ADD CONSTRAINT orders_customer_id_request_id_key UNIQUE (customer_id, request_id);

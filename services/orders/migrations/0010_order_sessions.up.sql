-- The session (token sid) an order was placed in: a session opened with a
-- CPF alone (customer.identified) sees only the orders placed in it.
ALTER TABLE orders ADD COLUMN session_id text;
CREATE INDEX orders_customer_session ON orders (customer_id, session_id);

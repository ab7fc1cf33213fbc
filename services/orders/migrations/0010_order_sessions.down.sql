DROP INDEX orders_customer_session;
ALTER TABLE orders DROP COLUMN session_id;

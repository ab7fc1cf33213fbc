-- Reverts 0001: every orders table, dependents first, and the order numbers.
DROP TABLE order_transitions;
DROP TABLE order_items;
DROP TABLE orders;
DROP SEQUENCE order_numbers;
DROP TABLE products;
DROP TABLE categories;

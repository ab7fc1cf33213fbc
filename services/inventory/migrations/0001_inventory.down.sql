-- Reverts 0001: every inventory table, dependents first.
DROP TABLE shortages;
DROP TABLE movements;
DROP TABLE products;

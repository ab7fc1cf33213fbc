-- Reverts 0001: suppliers, their contacts and what they supply.
DROP TABLE supplied_products;
DROP TABLE supplier_contacts;
DROP TABLE suppliers;

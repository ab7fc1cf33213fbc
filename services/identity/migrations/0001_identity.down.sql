-- Reverts 0001: every identity table, dependents first.
DROP TABLE signing_keys;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE service_accounts;
DROP TABLE customers;
DROP TABLE bootstrap;
DROP TABLE user_roles;
DROP TABLE users;
DROP TABLE roles;
DROP TABLE people;

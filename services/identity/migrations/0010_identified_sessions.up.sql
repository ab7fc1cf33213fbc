-- A session opened by IdentifyCustomer (anyone who knows a CPF) keeps the
-- narrow customer.identified scope when its tokens are refreshed.
ALTER TABLE refresh_tokens ADD COLUMN identified_only boolean NOT NULL DEFAULT false;

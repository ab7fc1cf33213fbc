-- A disabled service account gets no new token.
ALTER TABLE service_accounts ADD COLUMN disabled_at timestamptz;

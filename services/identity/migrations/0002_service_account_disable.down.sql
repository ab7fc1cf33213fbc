-- Reverts 0002: service accounts can no longer be disabled.
ALTER TABLE service_accounts DROP COLUMN disabled_at;

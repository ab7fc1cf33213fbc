ALTER TABLE refresh_tokens DROP COLUMN identified_only;

DROP TABLE activation_codes;

ALTER TABLE users
    DROP COLUMN activation_requested_at,
    DROP COLUMN state;

-- A rotated key is published before it signs: `activates_at` is when it
-- starts signing (rotation + the verifiers' cache window), and the key it
-- replaces gets `retired_at` = that same time, which may lie in the future.
ALTER TABLE signing_keys ADD COLUMN activates_at timestamptz;
UPDATE signing_keys SET activates_at = created_at;
ALTER TABLE signing_keys
    ALTER COLUMN activates_at SET NOT NULL,
    ALTER COLUMN activates_at SET DEFAULT now();

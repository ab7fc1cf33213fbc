-- Without activation times a key not yet signing would never start: the one
-- key with no retirement signs from now on, as the old code reads it.
ALTER TABLE signing_keys DROP COLUMN activates_at;

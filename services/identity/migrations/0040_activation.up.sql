-- Users created by an administrator start pending until they follow their
-- activation e-mail. Every user that exists already (the bootstrap
-- administrator, the demo logins) stays active: the column's default is
-- 'active', and the service names the state on every insert.
ALTER TABLE users
    ADD COLUMN state text NOT NULL DEFAULT 'active' CHECK (state IN ('pending', 'active')),
    -- When the last activation e-mail was asked for (re-sending is rate-limited).
    ADD COLUMN activation_requested_at timestamptz;

-- One-time activation codes, by the SHA-256 of the code (never the code).
CREATE TABLE activation_codes (
    code_hash  bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX activation_codes_user ON activation_codes (user_id);

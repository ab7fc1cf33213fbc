-- Idempotency keys of create RPCs (malha_kit::idempotency), created in every
-- service's schema. A key belongs to (caller, rpc, key); the request hash
-- tells a retry (same body: replay `response`) from a reused key (another
-- body: refused). The row commits in the create's own transaction.
CREATE TABLE idempotency (
    caller       text NOT NULL,
    rpc          text NOT NULL,
    key          uuid NOT NULL,
    request_hash bytea NOT NULL,
    -- The encoded proto message a retry answers; NULL only until the create
    -- records it, in the same transaction.
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (caller, rpc, key)
);
CREATE INDEX idempotency_expiry ON idempotency (expires_at);

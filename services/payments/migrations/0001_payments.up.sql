-- Pix payments, provider notifications and the hash-chained transaction log
-- (schema `payments`).

CREATE TABLE payments (
    id                  uuid PRIMARY KEY,
    order_id            uuid NOT NULL,
    amount_centavos     bigint NOT NULL CHECK (amount_centavos > 0),
    description         text NOT NULL DEFAULT '',
    status              text NOT NULL
                        CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'refunded')),
    provider            text NOT NULL,
    provider_payment_id text NOT NULL,
    txid                text NOT NULL UNIQUE,
    pix_code            text NOT NULL,
    payer_id            text NOT NULL,
    request_id          uuid UNIQUE,
    expires_at          timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- One live payment per order: a second insert for the same order fails.
CREATE UNIQUE INDEX payments_one_live_per_order ON payments (order_id)
    WHERE status IN ('pending', 'approved');
CREATE UNIQUE INDEX payments_by_provider_id ON payments (provider, provider_payment_id);
CREATE INDEX payments_pending_by_expiry ON payments (expires_at) WHERE status = 'pending';
CREATE INDEX payments_by_order ON payments (order_id, id DESC);

-- Notifications already processed, by x-request-id: a replay changes nothing.
CREATE TABLE notifications (
    request_id  text PRIMARY KEY,
    provider    text NOT NULL,
    data_id     text NOT NULL,
    action      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- The transaction log: append-only, each entry hashing the one before.
CREATE TABLE transactions (
    sequence        bigint PRIMARY KEY CHECK (sequence > 0),
    id              uuid NOT NULL UNIQUE,
    payment_id      uuid NOT NULL REFERENCES payments (id),
    kind            text NOT NULL
                    CHECK (kind IN ('created', 'notified', 'approved', 'rejected', 'expired', 'refunded')),
    amount_centavos bigint NOT NULL,
    actor           text NOT NULL,
    detail          text NOT NULL,
    created_at      timestamptz NOT NULL,
    previous_hash   bytea NOT NULL CHECK (length(previous_hash) = 32),
    hash            bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX transactions_by_payment ON transactions (payment_id, sequence);

-- The newest entry's sequence and hash: appends lock this row, so the chain
-- stays linear across replicas, and dropping entries from the end shows.
CREATE TABLE ledger_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sequence  bigint NOT NULL,
    hash      bytea NOT NULL
);
INSERT INTO ledger_head (sequence, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- In normal operation the log only grows: UPDATE, DELETE and TRUNCATE are
-- refused. (A superuser can still disable this; VerifyLedger finds the edit.)
CREATE FUNCTION refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the payments transaction log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER transactions_append_only
    BEFORE UPDATE OR DELETE ON transactions
    FOR EACH ROW EXECUTE FUNCTION refuse_ledger_change();
CREATE TRIGGER transactions_no_truncate
    BEFORE TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_change();

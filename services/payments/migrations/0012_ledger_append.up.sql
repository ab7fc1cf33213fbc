-- Appends entries to the transaction log in one call, under the head's row
-- lock, computing each link in the database (ADR 0018): the lock is then
-- held for this one statement and the commit, not for a read, a round trip
-- to the client and a write.
--
-- The hash is the one src/domain/ledger.rs computes and VerifyLedger checks:
-- SHA-256(previous hash ‖ canonical encoding), the encoding being the tag
-- `malha.payments.ledger.v1;` then every field as `name=<byte length>:<value>;`
-- (kit `chain::canonical`). `created_at` is the time of the append, at the
-- database's microsecond precision, written as RFC 3339 with a `Z`.
CREATE FUNCTION ledger_field(name text, value text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT convert_to(name || '=' || octet_length(convert_to(value, 'UTF8')) || ':', 'UTF8')
           || convert_to(value, 'UTF8') || '\x3b'::bytea
$$;

CREATE FUNCTION ledger_append(
    ids uuid[], payment_ids uuid[], kinds text[], amounts bigint[], actors text[], details text[]
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    head_sequence bigint;
    head_hash     bytea;
    at            timestamptz := clock_timestamp();
    at_text       text := to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    next_hash     bytea;
    i             int;
BEGIN
    SELECT sequence, hash INTO head_sequence, head_hash FROM ledger_head FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP
        head_sequence := head_sequence + 1;
        next_hash := sha256(
            head_hash
            || convert_to('malha.payments.ledger.v1;', 'UTF8')
            || ledger_field('sequence', head_sequence::text)
            || ledger_field('id', ids[i]::text)
            || ledger_field('payment_id', payment_ids[i]::text)
            || ledger_field('kind', kinds[i])
            || ledger_field('amount_centavos', amounts[i]::text)
            || ledger_field('actor', actors[i])
            || ledger_field('detail', details[i])
            || ledger_field('created_at', at_text));
        INSERT INTO transactions (sequence, id, payment_id, kind, amount_centavos, actor, detail,
                                  created_at, previous_hash, hash)
        VALUES (head_sequence, ids[i], payment_ids[i], kinds[i], amounts[i], actors[i], details[i],
                at, head_hash, next_hash);
        head_hash := next_hash;
    END LOOP;
    UPDATE ledger_head SET sequence = head_sequence, hash = head_hash;
    RETURN head_sequence;
END
$$;

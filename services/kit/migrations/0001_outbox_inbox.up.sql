-- The kit's event tables, created in every service's schema (tracked apart
-- from the service's own migrations, in _malha_events_migrations).

-- Transactional outbox: a row commits with the state change it announces;
-- the relay publishes it to JetStream (message id = event id) and marks it.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    subject      text NOT NULL,
    envelope     bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;

-- Inbox: the ids of events a consumer has applied, written in the same
-- transaction as the effect, so a redelivered event changes nothing.
CREATE TABLE inbox (
    consumer    text NOT NULL,
    event_id    uuid NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

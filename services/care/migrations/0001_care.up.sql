-- Care's requests from the floor, their items, and every change to them.

CREATE TABLE requests (
    id             uuid PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('medicine', 'material', 'assistance')),
    priority       text NOT NULL CHECK (priority IN ('routine', 'urgent', 'emergency')),
    ward           text NOT NULL,
    bed            text NOT NULL,
    note           text NOT NULL DEFAULT '',
    status         text NOT NULL CHECK (status IN
                       ('requested', 'accepted', 'in-progress', 'completed', 'rejected', 'cancelled')),
    requester_id   text NOT NULL,
    requester_name text NOT NULL,
    requester_role text NOT NULL,
    -- The cabinet the items came from, once completed.
    dispenser_id   uuid,
    reject_reason  text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Filtered lists (newest first by id: ids are UUIDv7, ordered by time).
CREATE INDEX requests_by_ward ON requests (ward, id DESC);
-- The watch's snapshot: the open ones.
CREATE INDEX requests_open ON requests (id)
    WHERE status IN ('requested', 'accepted', 'in-progress');

-- The items of a medicine or material request, as pharmacy described them
-- when the request was created.
CREATE TABLE request_items (
    request_id uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    item_id    uuid NOT NULL,
    name       text NOT NULL,
    unit       text NOT NULL,
    quantity   bigint NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
    PRIMARY KEY (request_id, position)
);

-- Every change of every request, numbered in commit order: the history
-- (ListRequestHistory) and the watch's feed (cursor = seq). `seq` comes from
-- change_counter, whose one row is locked until the change commits, so a
-- smaller number never becomes visible after a larger one.
CREATE TABLE request_changes (
    seq         bigint PRIMARY KEY,
    request_id  uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    -- NULL for the creation.
    from_status text CHECK (from_status IN
                    ('requested', 'accepted', 'in-progress', 'completed', 'rejected', 'cancelled')),
    to_status   text NOT NULL CHECK (to_status IN
                    ('requested', 'accepted', 'in-progress', 'completed', 'rejected', 'cancelled')),
    actor       text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    -- The request as the change left it (malha.care.v1.CareRequest), what
    -- a watcher is sent; ward and kind copied out for the watch's filter.
    ward        text NOT NULL,
    kind        text NOT NULL,
    snapshot    bytea NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX request_changes_by_request ON request_changes (request_id, seq);

CREATE TABLE change_counter (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq      bigint NOT NULL
);
INSERT INTO change_counter (only_row, seq) VALUES (true, 0);

-- The TV panel's calls: every call and recall, numbered per unit in commit
-- order, so a panel watching "after position N" on any replica misses and
-- repeats nothing.

-- The last panel position handed out. Taken with `UPDATE ... RETURNING`
-- in the call's own transaction: the row lock makes concurrent calls of a
-- unit commit one after another, so positions become visible in order and
-- without gaps.
ALTER TABLE units ADD COLUMN panel_position bigint NOT NULL DEFAULT 0;

CREATE TABLE panel_calls (
    unit_id      uuid NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    position     bigint NOT NULL CHECK (position > 0),
    ticket_id    uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    code         text NOT NULL,
    -- What the panel said at the time, even if the desk or service is
    -- renamed later.
    desk_id      uuid NOT NULL REFERENCES desks (id) ON DELETE RESTRICT,
    desk_name    text NOT NULL,
    service_id   uuid NOT NULL,
    service_name text NOT NULL,
    recall       boolean NOT NULL,
    at           timestamptz NOT NULL,
    PRIMARY KEY (unit_id, position)
);

-- Tickets: issued with a daily code per (service, local day), called by
-- desks under the fairness rule, and every step of their attendance.

-- Preferential calls this desk made in a row (the fairness rule's count);
-- only changed with the desk's row locked, so concurrent calls of one desk
-- cannot miscount.
ALTER TABLE desks ADD COLUMN preferential_streak integer NOT NULL DEFAULT 0;

-- The last number handed out per service and local day. Issuing increments
-- it with an upsert in the ticket's own transaction: the row lock makes
-- concurrent totems wait for each other, so no two get the same number,
-- and a new day starts a new row at 1.
CREATE TABLE ticket_counters (
    service_id  uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    local_date  date NOT NULL,
    last_number integer NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (service_id, local_date)
);

CREATE TABLE tickets (
    id            uuid PRIMARY KEY,
    unit_id       uuid NOT NULL,
    service_id    uuid NOT NULL,
    code          text NOT NULL,
    local_date    date NOT NULL,
    priority      text NOT NULL CHECK (priority IN (
        'normal', 'aged_80_plus', 'aged_60_plus', 'disability', 'pregnant', 'nursing',
        'small_child', 'obese', 'reduced_mobility', 'blood_donor')),
    -- Derived from the priority by the service, stored so the waiting
    -- index can order by them.
    preferential  boolean NOT NULL,
    priority_rank smallint NOT NULL,
    status        text NOT NULL DEFAULT 'waiting' CHECK (status IN (
        'waiting', 'called', 'in_attendance', 'finished', 'no_show', 'cancelled')),
    -- Arrival order within a class.
    queued_at     timestamptz NOT NULL DEFAULT now(),
    desk_id       uuid REFERENCES desks (id) ON DELETE RESTRICT,
    called_at     timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (unit_id, service_id) REFERENCES services (unit_id, id) ON DELETE RESTRICT,
    -- The counter already makes codes unique; this backs it up.
    UNIQUE (service_id, local_date, code)
);

-- What CallNext reads: today's waiting tickets of a service in call order.
CREATE INDEX tickets_waiting ON tickets (service_id, local_date, preferential, priority_rank, queued_at)
    WHERE status = 'waiting';

-- Every call, recall, start, finish, no-show and cancellation: who did it,
-- at which desk and when (the attendance record).
CREATE TABLE ticket_steps (
    ticket_id uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    position  integer NOT NULL,
    step      text NOT NULL CHECK (step IN (
        'issued', 'called', 'recalled', 'started', 'finished', 'no_show', 'cancelled')),
    desk_id   uuid REFERENCES desks (id) ON DELETE RESTRICT,
    -- The caller (`user:<id>`, `service:<id>`).
    staff     text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, position)
);

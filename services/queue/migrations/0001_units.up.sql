-- Queue's places: units (clinics, each in its time zone), the services each
-- offers (with the letter their ticket codes start with) and its desks, with
-- which services each desk serves. Runs inside the `queue` schema
-- (search_path is set by the kit).

CREATE TABLE units (
    id                      uuid PRIMARY KEY,
    name                    text NOT NULL,
    -- An IANA name, checked by the service (chrono-tz knows the list).
    time_zone               text NOT NULL DEFAULT 'America/Sao_Paulo',
    -- The fairness rule: preferential calls in a row while normal tickets wait.
    max_preferential_streak integer NOT NULL DEFAULT 2
        CHECK (max_preferential_streak BETWEEN 1 AND 10),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE services (
    id         uuid PRIMARY KEY,
    unit_id    uuid NOT NULL REFERENCES units (id) ON DELETE RESTRICT,
    name       text NOT NULL,
    letter     char(1) NOT NULL CHECK (letter ~ '^[A-Z]$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Codes are letter + daily number, so two services of one unit sharing a
    -- letter would hand out the same code.
    UNIQUE (unit_id, letter),
    -- Lets desk_services refer to (unit, service) and so keep a desk to its
    -- own unit's services.
    UNIQUE (unit_id, id)
);

CREATE TABLE desks (
    id         uuid PRIMARY KEY,
    unit_id    uuid NOT NULL REFERENCES units (id) ON DELETE RESTRICT,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- The panel names the desk a patient goes to.
    UNIQUE (unit_id, name),
    UNIQUE (unit_id, id)
);

-- Which services a desk calls tickets of; both sides in the same unit.
CREATE TABLE desk_services (
    unit_id    uuid NOT NULL,
    desk_id    uuid NOT NULL,
    service_id uuid NOT NULL,
    PRIMARY KEY (desk_id, service_id),
    FOREIGN KEY (unit_id, desk_id) REFERENCES desks (unit_id, id) ON DELETE CASCADE,
    FOREIGN KEY (unit_id, service_id) REFERENCES services (unit_id, id) ON DELETE RESTRICT
);

-- The desks serving a service (a ticket's possible callers).
CREATE INDEX desk_services_service ON desk_services (service_id);

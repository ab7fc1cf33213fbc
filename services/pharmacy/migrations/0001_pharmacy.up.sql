-- Pharmacy: the catalogue (medicines, materials), the dispensing cabinets
-- with their pockets, the append-only stock ledger and the hash-chained
-- audit of controlled medicines. Runs inside the `pharmacy` schema
-- (search_path is set by the kit).

CREATE TABLE medicines (
    id                uuid PRIMARY KEY,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    active_ingredient text NOT NULL CHECK (length(active_ingredient) BETWEEN 1 AND 200),
    strength          text NOT NULL CHECK (length(strength) BETWEEN 1 AND 100),
    dosage_form       text NOT NULL CHECK (length(dosage_form) BETWEEN 1 AND 100),
    unit              text NOT NULL CHECK (length(unit) BETWEEN 1 AND 50),
    controlled        boolean NOT NULL DEFAULT false,
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- Lists go by name (keyset on name, id).
CREATE INDEX medicines_by_name ON medicines (name, id);

CREATE TABLE materials (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    unit       text NOT NULL CHECK (length(unit) BETWEEN 1 AND 50),
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX materials_by_name ON materials (name, id);

-- Every stocked item as pockets and the ledger see it: a medicine or a
-- material (ids are UUIDv7, unique across both tables).
CREATE VIEW items AS
    SELECT id, 'medicine'::text AS kind, name, unit, controlled, active FROM medicines
    UNION ALL
    SELECT id, 'material'::text AS kind, name, unit, false AS controlled, active FROM materials;

CREATE TABLE dispensers (
    id         uuid PRIMARY KEY,
    -- Uppercase letters, digits and inner dashes (the service normalises).
    code       text NOT NULL UNIQUE
               CHECK (code ~ '^[A-Z0-9]([A-Z0-9-]{0,30}[A-Z0-9])?$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    building   text NOT NULL CHECK (length(building) BETWEEN 1 AND 100),
    floor      text NOT NULL CHECK (length(floor) BETWEEN 1 AND 20),
    ward       text NOT NULL CHECK (length(ward) BETWEEN 1 AND 100),
    room       text NOT NULL DEFAULT '' CHECK (length(room) <= 50),
    status     text NOT NULL DEFAULT 'active'
               CHECK (status IN ('active', 'maintenance', 'retired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- ListDispensers by ward; FindItem puts the caller's ward first.
CREATE INDEX dispensers_by_ward ON dispensers (lower(ward), code);

-- A cabinet's pockets: each holds one medicine or one material. The
-- quantity can never go below zero, whatever the code does.
CREATE TABLE pockets (
    dispenser_id uuid NOT NULL REFERENCES dispensers (id) ON DELETE RESTRICT,
    pocket       text NOT NULL CHECK (pocket ~ '^[A-Z0-9]([A-Z0-9-]{0,14}[A-Z0-9])?$'),
    medicine_id  uuid REFERENCES medicines (id) ON DELETE RESTRICT,
    material_id  uuid REFERENCES materials (id) ON DELETE RESTRICT,
    item_id      uuid NOT NULL GENERATED ALWAYS AS (COALESCE(medicine_id, material_id)) STORED,
    quantity     bigint NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    minimum      bigint NOT NULL DEFAULT 0 CHECK (minimum >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dispenser_id, pocket),
    CHECK ((medicine_id IS NULL) <> (material_id IS NULL))
);
-- "Where is item X".
CREATE INDEX pockets_by_item ON pockets (item_id);

-- The stock ledger: one row per movement, never changed or deleted.
CREATE TABLE movements (
    id              uuid PRIMARY KEY,
    dispenser_id    uuid NOT NULL,
    pocket          text NOT NULL,
    medicine_id     uuid REFERENCES medicines (id) ON DELETE RESTRICT,
    material_id     uuid REFERENCES materials (id) ON DELETE RESTRICT,
    item_id         uuid NOT NULL GENERATED ALWAYS AS (COALESCE(medicine_id, material_id)) STORED,
    kind            text NOT NULL CHECK (kind IN ('restock', 'dispense', 'return', 'adjust')),
    quantity        bigint NOT NULL CHECK (quantity <> 0),
    delta           bigint NOT NULL CHECK (delta <> 0),
    balance         bigint NOT NULL CHECK (balance >= 0),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    -- The caller (`user:<id>`, `service:<id>`).
    actor           text NOT NULL CHECK (actor <> ''),
    care_request_id uuid,
    -- The batch a consumer recorded it under (see dispense_sources).
    source_key      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (dispenser_id, pocket) REFERENCES pockets (dispenser_id, pocket) ON DELETE RESTRICT,
    CHECK ((medicine_id IS NULL) <> (material_id IS NULL)),
    CHECK (kind = 'adjust' OR quantity > 0),
    CHECK (delta = CASE WHEN kind = 'dispense' THEN -quantity ELSE quantity END)
);
-- ListMovements: a cabinet's newest first (ids are UUIDv7).
CREATE INDEX movements_by_dispenser ON movements (dispenser_id, id DESC);
CREATE INDEX movements_by_source ON movements (source_key) WHERE source_key IS NOT NULL;

-- Each batch of dispenses recorded for a source (a completed care
-- request): the primary key makes a redelivered batch a no-op.
CREATE TABLE dispense_sources (
    source_key   text PRIMARY KEY CHECK (source_key <> ''),
    dispenser_id uuid NOT NULL REFERENCES dispensers (id) ON DELETE RESTRICT,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- The audit trail of controlled medicines: each entry hashes the one before.
CREATE TABLE audit_entries (
    sequence      bigint PRIMARY KEY CHECK (sequence > 0),
    movement_id   uuid NOT NULL UNIQUE REFERENCES movements (id) ON DELETE RESTRICT,
    dispenser_id  uuid NOT NULL,
    pocket        text NOT NULL,
    medicine_id   uuid NOT NULL REFERENCES medicines (id) ON DELETE RESTRICT,
    kind          text NOT NULL CHECK (kind IN ('restock', 'dispense', 'return', 'adjust')),
    delta         bigint NOT NULL,
    balance       bigint NOT NULL CHECK (balance >= 0),
    actor         text NOT NULL,
    reason        text NOT NULL,
    created_at    timestamptz NOT NULL,
    previous_hash bytea NOT NULL CHECK (length(previous_hash) = 32),
    hash          bytea NOT NULL CHECK (length(hash) = 32)
);

-- The newest audit entry: appends lock this row, so the chain stays linear
-- across replicas, and entries dropped from the end show.
CREATE TABLE audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sequence  bigint NOT NULL,
    hash      bytea NOT NULL
);
INSERT INTO audit_head (sequence, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- The ledger and the audit only grow: UPDATE, DELETE and TRUNCATE are
-- refused. (A superuser can still disable this; VerifyAudit finds the edit.)
CREATE FUNCTION refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the pharmacy % is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER movements_append_only
    BEFORE UPDATE OR DELETE ON movements
    FOR EACH ROW EXECUTE FUNCTION refuse_ledger_change();
CREATE TRIGGER movements_no_truncate
    BEFORE TRUNCATE ON movements
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_change();
CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_ledger_change();
CREATE TRIGGER audit_entries_no_truncate
    BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_change();

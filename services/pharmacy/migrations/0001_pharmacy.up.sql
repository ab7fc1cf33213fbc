-- Pharmacy: the catalogue (medicines, materials), the dispensing cabinets
-- and their pockets, the stock ledger and the controlled-substance audit.

CREATE TABLE medicines (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    active_ingredient text NOT NULL,
    strength          text NOT NULL,
    dosage_form       text NOT NULL,
    unit              text NOT NULL,
    controlled        boolean NOT NULL DEFAULT false,
    active            boolean NOT NULL DEFAULT true,
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX medicines_by_name ON medicines (lower(name), id);

CREATE TABLE materials (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    unit        text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX materials_by_name ON materials (lower(name), id);

CREATE TABLE dispensers (
    id          uuid PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    building    text NOT NULL,
    floor       text NOT NULL,
    ward        text NOT NULL,
    room        text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'maintenance', 'retired')),
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dispensers_by_ward ON dispensers (lower(ward));

-- A pocket holds one item: a medicine or a material, named by kind so the
-- foreign key that applies is the one filled in. The quantity is never
-- negative: the domain explains a refusal, this CHECK makes it certain.
CREATE TABLE pockets (
    dispenser_id uuid NOT NULL REFERENCES dispensers (id),
    pocket       text NOT NULL,
    item_kind    text NOT NULL CHECK (item_kind IN ('medicine', 'material')),
    medicine_id  uuid REFERENCES medicines (id),
    material_id  uuid REFERENCES materials (id),
    quantity     bigint NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    minimum      bigint NOT NULL DEFAULT 0 CHECK (minimum >= 0),
    update_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dispenser_id, pocket),
    CHECK ((item_kind = 'medicine') = (medicine_id IS NOT NULL)
       AND (item_kind = 'material') = (material_id IS NOT NULL))
);
CREATE INDEX pockets_by_medicine ON pockets (medicine_id) WHERE medicine_id IS NOT NULL;
CREATE INDEX pockets_by_material ON pockets (material_id) WHERE material_id IS NOT NULL;

-- The stock ledger: one row per movement, never changed afterwards. Each
-- names who (actor) and why (reason); the balance it left is never
-- negative either.
CREATE TABLE movements (
    id              uuid PRIMARY KEY,
    dispenser_id    uuid NOT NULL,
    pocket          text NOT NULL,
    item_kind       text NOT NULL CHECK (item_kind IN ('medicine', 'material')),
    medicine_id     uuid REFERENCES medicines (id),
    material_id     uuid REFERENCES materials (id),
    kind            text NOT NULL CHECK (kind IN ('restock', 'dispense', 'return', 'adjust')),
    quantity        bigint NOT NULL CHECK (quantity <> 0),
    delta           bigint NOT NULL CHECK (delta <> 0),
    balance         bigint NOT NULL CHECK (balance >= 0),
    reason          text NOT NULL CHECK (reason <> ''),
    actor           text NOT NULL CHECK (actor <> ''),
    care_request_id uuid,
    create_time     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (dispenser_id, pocket) REFERENCES pockets (dispenser_id, pocket),
    CHECK ((item_kind = 'medicine') = (medicine_id IS NOT NULL)
       AND (item_kind = 'material') = (material_id IS NOT NULL))
);
CREATE INDEX movements_by_dispenser ON movements (dispenser_id, create_time DESC, id DESC);
-- A care request's dispenses are recorded once per pocket, whatever
-- redelivers its completion.
CREATE UNIQUE INDEX movements_once_per_care_request
    ON movements (care_request_id, dispenser_id, pocket)
    WHERE care_request_id IS NOT NULL;

-- The audit trail of controlled medicines: append-only, each entry hashing
-- the one before (malha_kit::chain, as payments' transaction log).
CREATE TABLE audit_entries (
    sequence      bigint PRIMARY KEY CHECK (sequence > 0),
    movement_id   uuid NOT NULL UNIQUE REFERENCES movements (id),
    dispenser_id  uuid NOT NULL,
    pocket        text NOT NULL,
    medicine_id   uuid NOT NULL REFERENCES medicines (id),
    kind          text NOT NULL,
    delta         bigint NOT NULL,
    balance       bigint NOT NULL,
    actor         text NOT NULL,
    reason        text NOT NULL,
    created_at    timestamptz NOT NULL,
    previous_hash bytea NOT NULL CHECK (length(previous_hash) = 32),
    hash          bytea NOT NULL CHECK (length(hash) = 32)
);

-- The newest audit entry's sequence and hash: appends lock this row, so the
-- chain stays linear across replicas, and dropping entries from the end shows.
CREATE TABLE audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sequence  bigint NOT NULL,
    hash      bytea NOT NULL
);
INSERT INTO audit_head (sequence, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- The ledger and the audit trail only grow: UPDATE, DELETE and TRUNCATE are
-- refused. (A superuser can still disable this; VerifyAudit finds the edit.)
CREATE FUNCTION refuse_pharmacy_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pharmacy.% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER movements_append_only
    BEFORE UPDATE OR DELETE ON movements
    FOR EACH ROW EXECUTE FUNCTION refuse_pharmacy_log_change();
CREATE TRIGGER movements_no_truncate
    BEFORE TRUNCATE ON movements
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_pharmacy_log_change();
CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_pharmacy_log_change();
CREATE TRIGGER audit_entries_no_truncate
    BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_pharmacy_log_change();

-- Inventory: products, the stock ledger, shortages (schema `inventory`).

CREATE TABLE products (
    id               uuid PRIMARY KEY,
    sku              text NOT NULL UNIQUE,
    name             text NOT NULL,
    unit             text NOT NULL,
    -- Never negative: a need larger than the stock becomes a shortage.
    quantity_on_hand bigint NOT NULL DEFAULT 0 CHECK (quantity_on_hand >= 0),
    minimum_level    bigint NOT NULL DEFAULT 0 CHECK (minimum_level >= 0),
    supplier_id      uuid,
    request_id       uuid UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The ledger: every change of quantity_on_hand, append-only.
CREATE TABLE movements (
    id             uuid PRIMARY KEY,
    product_id     uuid NOT NULL REFERENCES products (id),
    kind           text NOT NULL CHECK (kind IN ('receipt', 'consumption', 'adjustment')),
    delta          bigint NOT NULL CHECK (delta <> 0),
    quantity_after bigint NOT NULL CHECK (quantity_after >= 0),
    reason         text NOT NULL DEFAULT '',
    source         text NOT NULL,
    request_id     uuid UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX movements_by_product ON movements (product_id, id DESC);

CREATE TABLE shortages (
    id           uuid PRIMARY KEY,
    product_id   uuid NOT NULL,
    product_name text NOT NULL,
    project_id   uuid,
    requested    bigint NOT NULL,
    available    bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shortages_by_project ON shortages (project_id, id DESC);

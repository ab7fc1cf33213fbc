-- Suppliers: companies with their CNPJ, address and contacts, and the
-- inventory products each supplies. Runs inside the `suppliers` schema
-- (search_path is set by the kit).

CREATE TABLE suppliers (
    id           uuid PRIMARY KEY,
    legal_name   text NOT NULL,
    trade_name   text NOT NULL DEFAULT '',
    -- 14 characters, no punctuation, uppercase; the check digits are
    -- verified by the service (numeric or alphanumeric, IN RFB 2.229/2024).
    cnpj         char(14) NOT NULL UNIQUE CHECK (cnpj ~ '^[0-9A-Z]{12}[0-9]{2}$'),
    street       text NOT NULL,
    number       text NOT NULL,
    complement   text NOT NULL DEFAULT '',
    district     text NOT NULL,
    city         text NOT NULL,
    state        char(2) NOT NULL CHECK (state IN (
        'AC', 'AL', 'AP', 'AM', 'BA', 'CE', 'DF', 'ES', 'GO', 'MA', 'MT', 'MS', 'MG', 'PA',
        'PB', 'PR', 'PE', 'PI', 'RJ', 'RN', 'RS', 'RO', 'RR', 'SC', 'SP', 'SE', 'TO')),
    postal_code  char(8) NOT NULL CHECK (postal_code ~ '^[0-9]{8}$'),
    active       boolean NOT NULL DEFAULT true,
    request_id   uuid UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Listing only active (or inactive) suppliers, by id.
CREATE INDEX suppliers_active ON suppliers (active, id);

-- A supplier's contacts, in the order given; replaced as a whole on update.
CREATE TABLE supplier_contacts (
    supplier_id uuid NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    name        text NOT NULL,
    email       text NOT NULL DEFAULT '',
    phone       text NOT NULL DEFAULT '',
    role        text NOT NULL DEFAULT '',
    PRIMARY KEY (supplier_id, position)
);

-- What a supplier supplies. A row makes the supplier referenced: it is then
-- deactivated instead of deleted (RESTRICT backs that rule up).
CREATE TABLE supplied_products (
    supplier_id    uuid NOT NULL REFERENCES suppliers (id) ON DELETE RESTRICT,
    -- Inventory's product id; inventory owns products, so no foreign key.
    product_id     uuid NOT NULL,
    product_name   text NOT NULL,
    supplier_sku   text NOT NULL DEFAULT '',
    price_centavos bigint CHECK (price_centavos >= 0),
    lead_time_days integer NOT NULL DEFAULT 0 CHECK (lead_time_days BETWEEN 0 AND 365),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (supplier_id, product_id)
);

-- Who supplies product X.
CREATE INDEX supplied_products_product ON supplied_products (product_id);

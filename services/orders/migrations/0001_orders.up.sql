-- The snack bar: menu categories and products, orders, their lines and
-- their status history (schema `orders`).

CREATE TABLE categories (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    position    integer NOT NULL DEFAULT 0,
    request_id  uuid UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX categories_unique_name ON categories (lower(name));

CREATE TABLE products (
    id             uuid PRIMARY KEY,
    category_id    uuid NOT NULL REFERENCES categories (id),
    name           text NOT NULL,
    description    text NOT NULL DEFAULT '',
    price_centavos bigint NOT NULL CHECK (price_centavos > 0),
    image_url      text NOT NULL DEFAULT '',
    available      boolean NOT NULL DEFAULT true,
    request_id     uuid UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX products_unique_name_per_category ON products (category_id, lower(name));
CREATE INDEX products_by_name ON products (name, id);

CREATE SEQUENCE order_numbers;

CREATE TABLE orders (
    id             uuid PRIMARY KEY,
    number         bigint NOT NULL UNIQUE DEFAULT nextval('order_numbers'),
    customer_id    text NOT NULL,
    status         text NOT NULL CHECK (status IN ('received', 'awaiting_payment', 'paid', 'preparing',
                                                   'ready', 'delivered', 'cancelled')),
    notes          text NOT NULL DEFAULT '',
    total_centavos bigint NOT NULL CHECK (total_centavos > 0),
    payment_id     uuid,
    request_id     uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, request_id)
);
CREATE INDEX orders_by_customer ON orders (customer_id, id DESC);
CREATE INDEX orders_by_status ON orders (status, id DESC);
CREATE INDEX orders_open ON orders (created_at, id) WHERE status NOT IN ('delivered', 'cancelled');

-- Lines keep the product's name and price as ordered: menu edits never
-- change an order.
CREATE TABLE order_items (
    order_id            uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line                integer NOT NULL,
    product_id          uuid NOT NULL,
    product_name        text NOT NULL,
    unit_price_centavos bigint NOT NULL CHECK (unit_price_centavos > 0),
    quantity            integer NOT NULL CHECK (quantity BETWEEN 1 AND 50),
    notes               text NOT NULL DEFAULT '',
    PRIMARY KEY (order_id, line)
);

-- Every status change, with its time and actor.
CREATE TABLE order_transitions (
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sequence    integer NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    actor       text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (order_id, sequence)
);

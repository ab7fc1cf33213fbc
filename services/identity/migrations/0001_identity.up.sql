-- Identity: people, users and roles, customers, service accounts, refresh
-- token families, login failures and signing keys. Runs inside the
-- `identity` schema (search_path is set by the kit).

CREATE TABLE people (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('employee', 'administrator')),
    request_id  uuid UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE roles (
    name        text PRIMARY KEY,
    description text NOT NULL
);

INSERT INTO roles (name, description) VALUES
    ('admin', 'administers every service'),
    ('employee', 'staff: clinic, pharmacy, kitchen, production'),
    ('customer', 'a snack-bar or clinic customer'),
    ('service', 'a service calling another with its own token');

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    person_id     uuid NOT NULL UNIQUE REFERENCES people (id),
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    request_id    uuid UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_roles (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    text NOT NULL REFERENCES roles (name),
    PRIMARY KEY (user_id, role)
);

-- Exactly one row once the first administrator exists.
CREATE TABLE bootstrap (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    admin_user_id uuid NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customers (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('identified', 'anonymous')),
    cpf         char(11) UNIQUE,
    name        text NOT NULL DEFAULT '',
    email       text NOT NULL DEFAULT '',
    request_id  uuid UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'identified') = (cpf IS NOT NULL))
);

CREATE TABLE service_accounts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    client_id   text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    roles       text[] NOT NULL,
    request_id  uuid UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens are stored as SHA-256 hashes. A family is one login session.
CREATE TABLE refresh_tokens (
    id           uuid PRIMARY KEY,
    family_id    uuid NOT NULL,
    subject_kind text NOT NULL CHECK (subject_kind IN ('user', 'customer')),
    subject_id   uuid NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Counted per username as typed, existing or not (no enumeration).
CREATE TABLE login_failures (
    username     text PRIMARY KEY,
    failures     integer NOT NULL,
    locked_until timestamptz
);

-- Ed25519 signing keys. The active key has retired_at NULL; a retired key is
-- published until publish_until so tokens it signed keep verifying.
CREATE TABLE signing_keys (
    kid           text PRIMARY KEY,
    private_pkcs8 bytea NOT NULL,
    public_x      text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    retired_at    timestamptz,
    publish_until timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE retired_at IS NULL;

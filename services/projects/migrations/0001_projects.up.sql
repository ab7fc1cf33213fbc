-- Projects and the materials they use (schema `projects`).

CREATE TABLE projects (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    client      text NOT NULL DEFAULT '',
    status      text NOT NULL CHECK (status IN ('planned', 'in_progress', 'done', 'cancelled')),
    start_time  timestamptz,
    due_time    timestamptz,
    request_id  uuid UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (due_time IS NULL OR start_time IS NULL OR due_time >= start_time)
);
CREATE INDEX projects_status ON projects (status, id);

CREATE TABLE materials (
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    product_id   uuid NOT NULL,
    product_name text NOT NULL,
    quantity     bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (project_id, product_id)
);

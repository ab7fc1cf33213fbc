-- Asky's roles: floor staff who ask for medicine, material and assistance,
-- and pharmacy staff who keep the cabinets and fulfil those requests. Each
-- service maps them to its own permissions.
INSERT INTO roles (name, description) VALUES
    ('nurse', 'Asky floor staff: asks pharmacy for medicine, material and assistance'),
    ('pharmacist', 'Asky pharmacy staff: keeps the cabinets, fulfils the floor''s requests');

-- Role names travel in tokens and permission maps, compared as written:
-- identity lowercases what it is given (domain/roles.rs), so the table
-- holds only lowercase dotted names and a hand-inserted `Nurse` is refused.
ALTER TABLE roles ADD CONSTRAINT roles_name_is_lowercase
    CHECK (name ~ '^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*$');

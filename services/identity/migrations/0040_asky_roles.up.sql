-- Asky's roles: floor staff who ask for medicine, material and assistance,
-- and pharmacy staff who keep the cabinets and fulfil those requests. Each
-- service maps them to its own permissions.
INSERT INTO roles (name, description) VALUES
    ('nurse', 'Asky floor staff: asks pharmacy for medicine, material and assistance'),
    ('pharmacist', 'Asky pharmacy staff: keeps the cabinets, fulfils the floor''s requests');

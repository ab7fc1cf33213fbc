-- Reverts 0040: users lose these roles first (the foreign key would refuse
-- the delete otherwise), then the roles go.
DELETE FROM user_roles WHERE role IN ('nurse', 'pharmacist');
DELETE FROM roles WHERE name IN ('nurse', 'pharmacist');

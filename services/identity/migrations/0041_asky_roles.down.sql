-- Reverts 0040: the constraint goes, users lose these roles (the foreign
-- key would refuse the delete otherwise), then the roles go.
ALTER TABLE roles DROP CONSTRAINT roles_name_is_lowercase;
DELETE FROM user_roles WHERE role IN ('nurse', 'pharmacist');
DELETE FROM roles WHERE name IN ('nurse', 'pharmacist');

-- Reverts 0040: the clinic roles, taken from whoever held them first.
DELETE FROM user_roles WHERE role IN ('receptionist', 'doctor');
DELETE FROM roles WHERE name IN ('receptionist', 'doctor');

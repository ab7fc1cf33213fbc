-- Reverts 0043: accounts and users lose the kiosk role, then the role goes.
UPDATE service_accounts SET roles = array_remove(roles, 'totem') WHERE 'totem' = ANY (roles);
DELETE FROM user_roles WHERE role = 'totem';
DELETE FROM roles WHERE name = 'totem';

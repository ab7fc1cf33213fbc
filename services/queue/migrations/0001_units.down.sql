-- Reverts 0001: units, their services and desks.
DROP TABLE desk_services;
DROP TABLE desks;
DROP TABLE services;
DROP TABLE units;

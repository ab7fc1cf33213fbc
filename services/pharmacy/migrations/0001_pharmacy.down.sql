-- Reverts 0001: the append-only triggers go with their tables; the function
-- they call is dropped after them.
DROP TABLE audit_head;
DROP TABLE audit_entries;
DROP TABLE dispense_sources;
DROP TABLE movements;
DROP TABLE pockets;
DROP TABLE dispensers;
DROP VIEW items;
DROP TABLE materials;
DROP TABLE medicines;
DROP FUNCTION refuse_ledger_change();

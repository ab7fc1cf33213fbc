-- Reverts 0001: dependents first; the append-only triggers go with their
-- tables, and the function they call is dropped after them.
DROP TABLE audit_head;
DROP TABLE audit_entries;
DROP TABLE movements;
DROP FUNCTION refuse_pharmacy_log_change();
DROP TABLE pockets;
DROP TABLE dispensers;
DROP TABLE materials;
DROP TABLE medicines;

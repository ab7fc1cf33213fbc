-- Reverts 0001: the append-only triggers go with their table; the function
-- they call is dropped after it.
DROP TABLE ledger_head;
DROP TABLE transactions;
DROP FUNCTION refuse_ledger_change();
DROP TABLE notifications;
DROP TABLE payments;

DROP FUNCTION ledger_append(uuid[], uuid[], text[], bigint[], text[], text[]);
DROP FUNCTION ledger_field(text, text);

-- Reverts 0001: the kit's event tables of this schema. Unpublished outbox
-- rows go with them: drain the relay before reverting.
DROP TABLE inbox;
DROP TABLE outbox;

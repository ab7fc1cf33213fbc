-- Reverts 0003: the panel's calls.
DROP TABLE panel_calls;
ALTER TABLE units DROP COLUMN panel_position;

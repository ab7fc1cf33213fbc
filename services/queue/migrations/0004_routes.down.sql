-- Reverts 0004: routed tickets and their steps go, then the columns.
DELETE FROM panel_calls WHERE ticket_id IN (SELECT id FROM tickets WHERE parent_id IS NOT NULL);
DELETE FROM tickets WHERE parent_id IS NOT NULL;
DELETE FROM ticket_steps WHERE step = 'routed';
ALTER TABLE ticket_steps DROP CONSTRAINT ticket_steps_step_check;
ALTER TABLE ticket_steps ADD CONSTRAINT ticket_steps_step_check CHECK (step IN (
    'issued', 'called', 'recalled', 'started', 'finished', 'no_show', 'cancelled'));
DROP INDEX tickets_routed_once;
DROP INDEX tickets_daily_code;
ALTER TABLE tickets ADD CONSTRAINT tickets_service_id_local_date_code_key
    UNIQUE (service_id, local_date, code);
ALTER TABLE tickets DROP COLUMN to_front;
ALTER TABLE tickets DROP COLUMN cpf;
ALTER TABLE tickets DROP COLUMN parent_id;

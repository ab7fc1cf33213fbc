-- Patient routes and CPFs. A routed ticket keeps the patient's code in
-- another service, so daily codes are unique among totem-issued tickets
-- only; a ticket is routed on at most once.
ALTER TABLE tickets ADD COLUMN parent_id uuid REFERENCES tickets (id) ON DELETE RESTRICT;
-- Eleven digits, check digits verified by the service.
ALTER TABLE tickets ADD COLUMN cpf text CHECK (cpf ~ '^[0-9]{11}$');
-- Routed "to the front": ahead of its whole class (its rank is then below
-- every priority's).
ALTER TABLE tickets ADD COLUMN to_front boolean NOT NULL DEFAULT false;

ALTER TABLE tickets DROP CONSTRAINT tickets_service_id_local_date_code_key;
CREATE UNIQUE INDEX tickets_daily_code ON tickets (service_id, local_date, code)
    WHERE parent_id IS NULL;
CREATE UNIQUE INDEX tickets_routed_once ON tickets (parent_id) WHERE parent_id IS NOT NULL;

ALTER TABLE ticket_steps DROP CONSTRAINT ticket_steps_step_check;
ALTER TABLE ticket_steps ADD CONSTRAINT ticket_steps_step_check CHECK (step IN (
    'issued', 'called', 'recalled', 'started', 'finished', 'no_show', 'cancelled', 'routed'));

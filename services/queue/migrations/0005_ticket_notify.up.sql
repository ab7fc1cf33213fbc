-- Every ticket change tells every replica which unit changed, so their
-- in-memory stats are dropped (kit `hot`). A trigger rather than a call in
-- each store function: no writer can forget it. PostgreSQL folds the
-- notifications of one transaction for the same unit into one.
CREATE FUNCTION notify_ticket_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('malha_queue_tickets', NEW.unit_id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER tickets_notify AFTER INSERT OR UPDATE ON tickets
    FOR EACH ROW EXECUTE FUNCTION notify_ticket_change();

-- A unit renamed changes what its panel shows; a new time zone moves its
-- "today" for the stats.
CREATE FUNCTION notify_unit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('malha_queue_panel', NEW.id::text);
    PERFORM pg_notify('malha_queue_tickets', NEW.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER units_notify AFTER UPDATE ON units
    FOR EACH ROW EXECUTE FUNCTION notify_unit_change();

-- Reverts 0005: the change notifications.
DROP TRIGGER units_notify ON units;
DROP FUNCTION notify_unit_change();
DROP TRIGGER tickets_notify ON tickets;
DROP FUNCTION notify_ticket_change();

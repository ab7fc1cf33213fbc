-- Reverts 0002: tickets, their steps and counters, and the desks' streaks.
DROP TABLE ticket_steps;
DROP TABLE tickets;
DROP TABLE ticket_counters;
ALTER TABLE desks DROP COLUMN preferential_streak;

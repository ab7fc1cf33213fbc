-- The clinic kiosk's role: queue lets it read its unit and issue tickets.
INSERT INTO roles (name, description) VALUES
    ('totem', 'a clinic ticket kiosk (service account): issues tickets');

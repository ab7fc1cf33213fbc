-- The clinic roles queue grants permissions to: reception windows and
-- consulting rooms.
INSERT INTO roles (name, description) VALUES
    ('receptionist', 'clinic reception: issues and calls tickets'),
    ('doctor', 'a clinic doctor: calls and attends patients');

-- Reverts 0001: projects and their materials.
DROP TABLE materials;
DROP TABLE projects;

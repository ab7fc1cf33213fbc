DROP TABLE change_counter;
DROP TABLE request_changes;
DROP TABLE request_items;
DROP TABLE requests;

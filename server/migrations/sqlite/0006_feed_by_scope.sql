-- The change feed of an account that sees only some areas starts from the records in its scope
-- that changed since the device's cursor (`last_seq` is the record's newest change), instead of
-- walking every change since the cursor and dropping those of other areas.
CREATE INDEX records_owner_changed ON records (owner_grid, last_seq);
CREATE INDEX records_creator_changed ON records (created_by, last_seq);

-- The departments a record's case is assigned to now (active lead and co-handlers), as
-- `,code,code,` (empty: none), kept with the row by every write: a department account's scope
-- (`department LIKE '%,code,%'`), whatever the record's place.
ALTER TABLE records ADD COLUMN departments TEXT NOT NULL DEFAULT '';

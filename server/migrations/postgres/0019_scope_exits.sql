-- Where records were before they left someone's scope, so devices holding a copy are told to
-- drop it. A write that moves a record to another owner grid, or takes it from a department,
-- leaves a row naming the grid it left and the departments that handled it (`,code,code,`),
-- at the sequence number of that write. A device whose cursor is older, in an account that
-- read the record then and may not now, is sent a removal (see `server/src/sync.rs`).
CREATE TABLE scope_exits (
    seq BIGINT NOT NULL,
    record_id TEXT NOT NULL,
    grid TEXT,
    departments TEXT,
    PRIMARY KEY (seq, record_id)
);
CREATE INDEX scope_exits_by_grid ON scope_exits (grid, seq);

-- The areas an account lost, with its scope epoch after the change: a device whose cursor
-- carries an older epoch is sent removals for the records in them it may no longer read.
CREATE TABLE area_losses (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    epoch BIGINT NOT NULL,
    area_code TEXT NOT NULL,
    PRIMARY KEY (user_id, epoch, area_code)
);

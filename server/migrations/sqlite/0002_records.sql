-- Records and sync. Each record is an automerge document (sync-core's schema); the
-- server keeps the whole document, a row of its listable fields, and a change log whose `seq`
-- orders every stored change for the devices' cursors. Times are Unix milliseconds here, as in
-- the documents.

-- One row: the last change sequence number handed out. Taking the next one inside the storing
-- transaction orders commits (the row is locked until commit).
CREATE TABLE change_seq (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO change_seq (id, seq) VALUES (1, 0);

CREATE TABLE records (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    channel TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    -- NULL: outside every grid (the unassigned queue) or not decided yet.
    owner_grid TEXT,
    claimed_grid TEXT,
    -- WGS-84, converted from GCJ-02 when the record says so.
    lon REAL,
    lat REAL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    -- Optimistic concurrency between server instances merging the same document.
    version INTEGER NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX records_owner ON records (owner_grid, created_at);
CREATE INDEX records_created ON records (created_at);
CREATE INDEX records_status ON records (status, created_at);

CREATE TABLE record_changes (
    seq INTEGER PRIMARY KEY,
    record_id TEXT NOT NULL REFERENCES records (id),
    hash BLOB NOT NULL,
    -- The device that sent it (`<user id>/<device id>`), or `server`.
    origin TEXT NOT NULL,
    bytes BLOB NOT NULL,
    stored_at INTEGER NOT NULL,
    UNIQUE (record_id, hash)
);
CREATE INDEX record_changes_record ON record_changes (record_id, seq);

-- Photos and files, uploaded in ranges. A blob is complete when `received = size` and its hash
-- was verified.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER,
    received INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0,
    mime_type TEXT,
    updated_at INTEGER NOT NULL
);
CREATE TABLE blob_chunks (
    sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    start_byte INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (sha256, start_byte)
);

-- What an account may read changes when its areas or its role change. Each such change bumps
-- its scope epoch; a device syncing with a cursor from an older epoch is sent its whole scope
-- again, so records that moved into its scope arrive (see `server/src/sync.rs`).
ALTER TABLE users ADD COLUMN scope_epoch INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER user_areas_added AFTER INSERT ON user_areas BEGIN
    UPDATE users SET scope_epoch = scope_epoch + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER user_areas_removed AFTER DELETE ON user_areas BEGIN
    UPDATE users SET scope_epoch = scope_epoch + 1 WHERE id = OLD.user_id;
END;
CREATE TRIGGER user_role_changed AFTER UPDATE OF role ON users WHEN NEW.role <> OLD.role BEGIN
    UPDATE users SET scope_epoch = scope_epoch + 1 WHERE id = NEW.id;
END;

-- Server foundation: the grid map, accounts, roles, area assignments and tokens.
-- Timestamps are Unix seconds (INTEGER) in both backends so the two stores read alike.

-- One row: the grid map's version. Every import bumps it; every server instance compares it with
-- the version of its in-memory index to know when to rebuild.
CREATE TABLE map_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO map_version (id, version) VALUES (1, 0);

-- The area tree: city > county > township > village > grid. Geometry is a GeoJSON Polygon or
-- MultiPolygon in WGS-84; the bounding box columns serve bbox filters without parsing it.
CREATE TABLE areas (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    parent TEXT,
    geometry TEXT NOT NULL,
    min_lon REAL NOT NULL,
    min_lat REAL NOT NULL,
    max_lon REAL NOT NULL,
    max_lat REAL NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX areas_parent ON areas (parent);
CREATE INDEX areas_level ON areas (level);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

-- An assignment of a region covers its whole subtree. Codes are not foreign keys: an account may
-- be bootstrapped before the map that holds its area is imported.
CREATE TABLE user_areas (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    area_code TEXT NOT NULL,
    PRIMARY KEY (user_id, area_code)
);

-- Bearer tokens are stored as SHA-256 hashes; the token itself is only ever in the login response.
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX tokens_user ON tokens (user_id);

-- Records and sync state (documents, changes, cursors, the unassigned queue) are added in their
-- own migration, 0002_records.sql, next to this file.

-- Server foundation: the grid map, accounts, roles, area assignments and tokens.
-- Timestamps are Unix seconds (BIGINT) in both backends so the two stores read alike.

-- One row: the grid map's version. Every import bumps it; every server instance compares it with
-- the version of its in-memory index to know when to rebuild.
CREATE TABLE map_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
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
    min_lon DOUBLE PRECISION NOT NULL,
    min_lat DOUBLE PRECISION NOT NULL,
    max_lon DOUBLE PRECISION NOT NULL,
    max_lat DOUBLE PRECISION NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX areas_parent ON areas (parent);
CREATE INDEX areas_level ON areas (level);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);

-- An assignment of a region covers its whole subtree. Codes are not foreign keys: an account may
-- be bootstrapped before the map that holds its area is imported.
CREATE TABLE user_areas (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    area_code TEXT NOT NULL,
    PRIMARY KEY (user_id, area_code)
);

-- Bearer tokens are stored as SHA-256 hashes; the token itself is only ever in the login response.
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX tokens_user ON tokens (user_id);

-- Records and sync state (documents, changes, cursors, the unassigned queue) are added in their
-- own migration, 0002_records.sql, next to this file.

-- Grid boundary editing: every version of every area, and re-ownership jobs.

-- Every write of an area is a version: the row as written, when it became and stopped being
-- current (Unix milliseconds; `valid_to` NULL while current), and who made it, how and why.
-- Retiring an area writes a version with `retired = 1` (its last geometry kept) and removes
-- the area from `areas`. `version` is the map version of the write, as in `areas`.
CREATE TABLE area_versions (
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    parent TEXT,
    geometry TEXT NOT NULL,
    min_lon REAL NOT NULL,
    min_lat REAL NOT NULL,
    max_lon REAL NOT NULL,
    max_lat REAL NOT NULL,
    updated_at INTEGER NOT NULL,
    retired INTEGER NOT NULL DEFAULT 0,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    operation TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (code, version)
);
CREATE INDEX area_versions_current ON area_versions (code, valid_to);
CREATE INDEX area_versions_time ON area_versions (valid_from);

-- Areas written before versions were kept start their history here.
INSERT INTO area_versions (code, version, name, level, parent, geometry, min_lon, min_lat,
    max_lon, max_lat, updated_at, retired, valid_from, valid_to, operation, actor, reason)
SELECT code, version, name, level, parent, geometry, min_lon, min_lat, max_lon, max_lat,
    updated_at, 0, updated_at * 1000, NULL, 'import', 'import', ''
FROM areas;

-- A boundary edit's re-ownership work, written in the same transaction as the edit, so a
-- server that stops half-way finishes it when it starts again. `boxes` is a JSON array of
-- `[min_lon, min_lat, max_lon, max_lat]`: only records inside them can change owner.
CREATE TABLE reown_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    map_version INTEGER NOT NULL,
    boxes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    examined INTEGER,
    changed INTEGER
);
CREATE INDEX reown_jobs_open ON reown_jobs (finished_at);

-- Records by position, for re-ownership and bbox queries.
CREATE INDEX records_position ON records (lon, lat);

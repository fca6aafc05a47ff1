-- The grid register (网格台账): a grid's households and population, and its people by title
-- (网格长, 网格员, 楼栋长, 村民代表 … as data): `people` is a JSON array of
-- {title, name, phone, username}. One row per area that has one; edited by admins and GIS staff.
CREATE TABLE grid_registers (
    area_code TEXT PRIMARY KEY,
    households BIGINT,
    population BIGINT,
    people TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- A worker's activity in the register: the records they made, by day.
CREATE INDEX records_created_by ON records (created_by, created_at);

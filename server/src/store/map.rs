//! The grid map: areas and the map version, every area's versions ("as of" reads), boundary
//! edits, and the re-ownership jobs they queue.

use crate::domain::AreaRecord;

/// One boundary edit, written in one transaction: the map version goes up by one, every
/// upserted area and every retired one gets a version row, and a re-ownership job is queued.
#[derive(Debug, Clone)]
pub struct AreaEdit {
    /// Areas to create or overwrite (version and `updated_at` are set by the store).
    pub upserts: Vec<AreaRecord>,
    /// Codes of areas to retire.
    pub retire: Vec<String>,
    /// Optimistic concurrency: each code with the version the editor read (`If-Match`), or
    /// `None` when the code must not exist yet. Codes not listed are not checked.
    pub expect: Vec<(String, Option<i64>)>,
    /// `create`, `replace`, `update`, `split`, `merge`, `retire`.
    pub operation: String,
    /// Username of the editor.
    pub actor: String,
    /// Why (free text; may be empty).
    pub reason: String,
    /// Unix milliseconds.
    pub now_ms: i64,
    /// Where records may change owner: `[min_lon, min_lat, max_lon, max_lat]` boxes (WGS-84).
    pub reown_boxes: Vec<[f64; 4]>,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq)]
pub enum EditOutcome {
    /// Written: the new map version and the queued re-ownership job.
    Applied { map_version: i64, job: i64 },
    /// An `expect` did not hold: the code and the version it has now (`None`: absent).
    Stale { code: String, current: Option<i64> },
}

/// One stored version of an area.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaVersion {
    /// The area as written (its `version` is the map version of the write).
    pub area: AreaRecord,
    /// This version retired the area.
    pub retired: bool,
    /// Unix milliseconds it became current.
    pub valid_from: i64,
    /// Unix milliseconds it stopped being current; `None` while current.
    pub valid_to: Option<i64>,
    /// `import`, `create`, `replace`, `update`, `split`, `merge`, `retire`.
    pub operation: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
}

/// A record's position and owner, for re-ownership.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPoint {
    pub id: String,
    pub owner_grid: Option<String>,
    /// WGS-84.
    pub lon: f64,
    pub lat: f64,
}

/// Queued re-ownership work.
#[derive(Debug, Clone, PartialEq)]
pub struct ReownJob {
    pub id: i64,
    pub map_version: i64,
    pub boxes: Vec<[f64; 4]>,
}

/// A grid register's households and population, as an import gives them (`None`: keep what
/// the register says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterCounts {
    pub code: String,
    pub households: Option<i64>,
    pub population: Option<i64>,
}

/// Imported areas as written: the map version, and the re-ownership job queued with them.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaImport {
    pub map_version: i64,
    pub job: i64,
    /// Where owners can change: each written area's box now and, if it existed, before.
    pub boxes: Vec<[f64; 4]>,
}

/// More boxes than this are merged into one (an import of a whole district): examining the
/// records of the box around them all costs less than a query per area.
const MAX_REOWN_BOXES: usize = 64;

/// The boxes to re-own after writing areas: as given, or their union when there are many.
pub(crate) fn reown_boxes(boxes: Vec<[f64; 4]>) -> Vec<[f64; 4]> {
    if boxes.len() <= MAX_REOWN_BOXES {
        return boxes;
    }
    let union = boxes.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |u, b| {
            [
                u[0].min(b[0]),
                u[1].min(b[1]),
                u[2].max(b[2]),
                u[3].max(b[3]),
            ]
        },
    );
    vec![union]
}

/// Boxes as stored (JSON text).
pub(crate) fn boxes_to_text(boxes: &[[f64; 4]]) -> String {
    serde_json::to_string(boxes).unwrap_or_else(|_| "[]".into())
}

/// Boxes from stored JSON text.
pub(crate) fn boxes_from_text(text: &str) -> super::Result<Vec<[f64; 4]>> {
    serde_json::from_str(text)
        .map_err(|e| super::StoreError::Corrupt(format!("re-ownership boxes: {e}")))
}

/// The filter of an area listing: `$1` parent, `$2` level, `$3..$6` a box the area's box meets.
macro_rules! area_filter {
    () => {
        "WHERE ($1 IS NULL OR parent = $1) AND ($2 IS NULL OR level = $2) \
         AND ($3 IS NULL OR (min_lon <= $5 AND max_lon >= $3 AND min_lat <= $6 AND max_lat >= $4))"
    };
}

/// Areas matching an [`AreaFilter`](crate::domain::AreaFilter), in code order.
pub(crate) const LIST_AREAS: &str =
    concat!("SELECT * FROM areas ", area_filter!(), " ORDER BY code");
/// Only their codes.
pub(crate) const LIST_AREA_CODES: &str = concat!(
    "SELECT code, level FROM areas ",
    area_filter!(),
    " ORDER BY code"
);

/// One of a grid's people, by title (网格长, 网格员, 楼栋长, 村民代表 …: titles are data).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridPerson {
    pub title: String,
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    /// Their account, when they have one.
    #[serde(default)]
    pub username: Option<String>,
}

/// A grid's register entries that are data rather than counts: households, population, people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GridRegister {
    pub area_code: String,
    pub households: Option<i64>,
    pub population: Option<i64>,
    pub people: Vec<GridPerson>,
    pub updated_at: i64,
    pub updated_by: String,
}

/// The grid map's queries, for one backend (see `store/mod.rs`).
macro_rules! queries {
    () => {
        use sqlx::Row;

        use super::{AREA_LEVELS, AREAS_BY_CODES, Db, DbRow, Pool, begin_snapshot, text_list};
        use $crate::domain::{AreaFilter, AreaRecord, Level};
        use $crate::store::map::{
            AreaEdit, AreaImport, AreaVersion, EditOutcome, LIST_AREA_CODES, LIST_AREAS,
            RecordPoint, RegisterCounts, ReownJob,
            boxes_from_text, boxes_to_text, reown_boxes,
        };
        use $crate::store::{Result, parse_level};
        use $crate::store::map::GridRegister;

        pub(in crate::store) async fn grid_register(
            pool: &Pool,
            code: &str,
        ) -> Result<Option<GridRegister>> {
            let row = sqlx::query(
                "SELECT area_code, households, population, people, updated_at, updated_by \
                 FROM grid_registers WHERE area_code = $1",
            )
            .bind(code)
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                Ok(GridRegister {
                    area_code: r.try_get(0)?,
                    households: r.try_get(1)?,
                    population: r.try_get(2)?,
                    people: serde_json::from_str(r.try_get(3)?)
                        .map_err(|e| $crate::store::StoreError::Corrupt(e.to_string()))?,
                    updated_at: r.try_get(4)?,
                    updated_by: r.try_get(5)?,
                })
            })
            .transpose()
        }

        pub(in crate::store) async fn activity(
            pool: &Pool,
            username: &str,
            since: i64,
        ) -> Result<(Vec<(i64, i64)>, Option<i64>)> {
            // Days are CST days: (Unix ms + 8 h) / 24 h, the same integer arithmetic in both
            // databases.
            let rows = sqlx::query(
                "SELECT (created_at + 28800000) / 86400000 AS day, COUNT(*) FROM records \
                 WHERE created_by = $1 AND created_at >= $2 GROUP BY day ORDER BY day",
            )
            .bind(username)
            .bind(since)
            .fetch_all(pool)
            .await?;
            let days = rows
                .iter()
                .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)))
                .collect::<Result<Vec<_>>>()?;
            let seen: Option<i64> = sqlx::query(
                "SELECT MAX(t) FROM (SELECT MAX(r.created_at) AS t FROM records r \
                 WHERE r.created_by = $1 UNION ALL SELECT MAX(k.created_at) * 1000 AS t FROM tokens k \
                 JOIN users u ON u.id = k.user_id WHERE u.username = $1) latest",
            )
            .bind(username)
            .fetch_one(pool)
            .await?
            .try_get(0)?;
            Ok((days, seen))
        }

        pub(in crate::store) async fn put_grid_register(
            pool: &Pool,
            register: &GridRegister,
        ) -> Result<()> {
            let people = serde_json::to_string(&register.people)
                .map_err(|e| $crate::store::StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO grid_registers (area_code, households, population, people, \
                 updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (area_code) DO UPDATE SET households = excluded.households, \
                 population = excluded.population, people = excluded.people, \
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )
            .bind(&register.area_code)
            .bind(register.households)
            .bind(register.population)
            .bind(people)
            .bind(register.updated_at)
            .bind(&register.updated_by)
            .execute(pool)
            .await?;
            Ok(())
        }

        fn area_from_row(row: &DbRow) -> Result<AreaRecord> {
            Ok(AreaRecord {
                code: row.try_get("code")?,
                name: row.try_get("name")?,
                level: parse_level(row.try_get::<&str, _>("level")?)?,
                parent: row.try_get("parent")?,
                geometry: row.try_get("geometry")?,
                bbox: [
                    row.try_get("min_lon")?,
                    row.try_get("min_lat")?,
                    row.try_get("max_lon")?,
                    row.try_get("max_lat")?,
                ],
                version: row.try_get("version")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        pub(in crate::store) async fn map_version(pool: &Pool) -> Result<i64> {
            let row = sqlx::query("SELECT version FROM map_version WHERE id = 1")
                .fetch_one(pool)
                .await?;
            Ok(row.try_get(0)?)
        }

        pub(in crate::store) async fn area(pool: &Pool, code: &str) -> Result<Option<AreaRecord>> {
            let row = sqlx::query("SELECT * FROM areas WHERE code = $1")
                .bind(code)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(area_from_row).transpose()
        }

        pub(in crate::store) async fn area_levels(
            pool: &Pool,
            codes: &[String],
        ) -> Result<Vec<(String, Level)>> {
            Ok(area_heads(pool, codes)
                .await?
                .into_iter()
                .map(|(code, level, _)| (code, level))
                .collect())
        }

        pub(in crate::store) async fn area_heads(
            pool: &Pool,
            codes: &[String],
        ) -> Result<Vec<(String, Level, Option<String>)>> {
            let rows = sqlx::query(AREA_LEVELS)
                .bind(text_list(codes))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok((
                        row.try_get(0)?,
                        parse_level(row.try_get::<&str, _>(1)?)?,
                        row.try_get(2)?,
                    ))
                })
                .collect()
        }

        pub(in crate::store) async fn list_areas(
            pool: &Pool,
            filter: &AreaFilter,
        ) -> Result<Vec<AreaRecord>> {
            let rows = bind_area_filter(
                sqlx::query(LIST_AREAS),
                filter,
            )
            .fetch_all(pool)
            .await?;
            rows.iter().map(area_from_row).collect()
        }

        /// The codes and levels [`list_areas`] would list, without their outlines: what a page
        /// of a large layer is cut from.
        pub(in crate::store) async fn list_area_codes(
            pool: &Pool,
            filter: &AreaFilter,
        ) -> Result<Vec<(String, Level)>> {
            let rows = bind_area_filter(sqlx::query(LIST_AREA_CODES), filter)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, parse_level(row.try_get::<&str, _>(1)?)?)))
                .collect()
        }

        /// The areas with these codes, in code order.
        pub(in crate::store) async fn areas_by_codes(
            pool: &Pool,
            codes: &[String],
        ) -> Result<Vec<AreaRecord>> {
            let rows = sqlx::query(AREAS_BY_CODES)
                .bind(text_list(codes))
                .fetch_all(pool)
                .await?;
            rows.iter().map(area_from_row).collect()
        }

        fn bind_area_filter<'q>(
            query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>,
            filter: &'q AreaFilter,
        ) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments> {
            let bbox = filter.bbox;
            query
                .bind(filter.parent.as_deref())
                .bind(filter.level.map(|l| l.as_str()))
                .bind(bbox.map(|b| b[0]))
                .bind(bbox.map(|b| b[1]))
                .bind(bbox.map(|b| b[2]))
                .bind(bbox.map(|b| b[3]))
        }

        /// The map version and every area, read in one snapshot: the two agree.
        pub(in crate::store) async fn map_snapshot(pool: &Pool) -> Result<(i64, Vec<AreaRecord>)> {
            let mut tx = begin_snapshot(pool).await?;
            let version: i64 = sqlx::query("SELECT version FROM map_version WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            let rows = sqlx::query("SELECT * FROM areas ORDER BY code")
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            let areas = rows.iter().map(area_from_row).collect::<Result<Vec<_>>>()?;
            Ok((version, areas))
        }

        /// Who wrote a batch of area versions, how and why.
        pub(in crate::store) struct Provenance<'a> {
            pub operation: &'a str,
            pub actor: &'a str,
            pub reason: &'a str,
            pub now_ms: i64,
        }

        impl<'a> Provenance<'a> {
            /// An import by `actor`.
            fn import(actor: &'a str, now_ms: i64) -> Self {
                Provenance {
                    operation: "import",
                    actor,
                    reason: "",
                    now_ms,
                }
            }
        }

        /// Writes areas at map `version`: the current rows and a version row each, closing the
        /// version each replaces.
        pub(in crate::store) async fn write_areas(
            tx: &mut sqlx::Transaction<'_, Db>,
            areas: &[AreaRecord],
            version: i64,
            by: &Provenance<'_>,
        ) -> Result<Vec<[f64; 4]>> {
            let now = by.now_ms / 1000;
            let mut boxes = Vec::with_capacity(areas.len() * 2);
            for area in areas {
                sqlx::query(
                    "INSERT INTO areas (code, name, level, parent, geometry, min_lon, min_lat, \
                     max_lon, max_lat, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, \
                     parent = excluded.parent, geometry = excluded.geometry, \
                     min_lon = excluded.min_lon, min_lat = excluded.min_lat, \
                     max_lon = excluded.max_lon, max_lat = excluded.max_lat, \
                     version = excluded.version, updated_at = excluded.updated_at",
                )
                .bind(&area.code)
                .bind(&area.name)
                .bind(area.level.as_str())
                .bind(area.parent.as_deref())
                .bind(&area.geometry)
                .bind(area.bbox[0])
                .bind(area.bbox[1])
                .bind(area.bbox[2])
                .bind(area.bbox[3])
                .bind(version)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                boxes.extend(insert_version(tx, area, version, false, by).await?);
                boxes.push(area.bbox);
            }
            Ok(boxes)
        }

        /// Bumps the map version and returns it. Taken first in every map write: the row's
        /// write lock orders imports and edits.
        async fn next_map_version(tx: &mut sqlx::Transaction<'_, Db>) -> Result<i64> {
            Ok(sqlx::query("UPDATE map_version SET version = version + 1 WHERE id = 1 RETURNING version")
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?)
        }

        /// Queues the re-ownership of the records in `boxes` after map `version`.
        async fn queue_reown(
            tx: &mut sqlx::Transaction<'_, Db>,
            version: i64,
            boxes: &[[f64; 4]],
            now_ms: i64,
        ) -> Result<i64> {
            Ok(sqlx::query(
                "INSERT INTO reown_jobs (map_version, boxes, created_at) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(version)
            .bind(boxes_to_text(boxes))
            .bind(now_ms)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?)
        }

        /// Writes areas at the next map version with no re-ownership (`Store::put_areas`, whose
        /// `now` is in seconds).
        pub(in crate::store) async fn put_areas(
            pool: &Pool,
            areas: &[AreaRecord],
            now: i64,
        ) -> Result<i64> {
            let now_ms = now * 1000;
            let mut tx = pool.begin().await?;
            let version = next_map_version(&mut tx).await?;
            let by = Provenance::import("import", now_ms);
            write_areas(&mut tx, areas, version, &by).await?;
            tx.commit().await?;
            Ok(version)
        }

        /// Writes imported areas at the next map version and queues the re-ownership of the
        /// records where they lie now or lay before, in one transaction.
        pub(in crate::store) async fn import_areas(
            pool: &Pool,
            areas: &[AreaRecord],
            registers: &[RegisterCounts],
            actor: &str,
            now_ms: i64,
        ) -> Result<AreaImport> {
            let mut tx = pool.begin().await?;
            let version = next_map_version(&mut tx).await?;
            let by = Provenance::import(actor, now_ms);
            let boxes = reown_boxes(write_areas(&mut tx, areas, version, &by).await?);
            let job = queue_reown(&mut tx, version, &boxes, now_ms).await?;
            // The register counts the features gave; the rest of each register (its people)
            // stays as it was.
            for r in registers {
                sqlx::query(
                    "INSERT INTO grid_registers (area_code, households, population, people, \
                     updated_at, updated_by) VALUES ($1, $2, $3, '[]', $4, $5) \
                     ON CONFLICT (area_code) DO UPDATE SET \
                     households = coalesce(excluded.households, grid_registers.households), \
                     population = coalesce(excluded.population, grid_registers.population), \
                     updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                )
                .bind(&r.code)
                .bind(r.households)
                .bind(r.population)
                .bind(now_ms)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(AreaImport {
                map_version: version,
                job,
                boxes,
            })
        }

        /// Writes an area's version row, closing the current one; returns the box of the version
        /// it closed, if there was one.
        async fn insert_version(
            tx: &mut sqlx::Transaction<'_, Db>,
            area: &AreaRecord,
            version: i64,
            retired: bool,
            by: &Provenance<'_>,
        ) -> Result<Option<[f64; 4]>> {
            let previous = sqlx::query(
                "UPDATE area_versions SET valid_to = $1 WHERE code = $2 AND valid_to IS NULL \
                 RETURNING min_lon, min_lat, max_lon, max_lat",
            )
            .bind(by.now_ms)
            .bind(&area.code)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| -> Result<[f64; 4]> {
                Ok([r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?])
            })
            .transpose()?;
            sqlx::query(
                "INSERT INTO area_versions (code, version, name, level, parent, geometry, min_lon, \
                 min_lat, max_lon, max_lat, updated_at, retired, valid_from, valid_to, operation, actor, \
                 reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $15, $16)",
            )
            .bind(&area.code)
            .bind(version)
            .bind(&area.name)
            .bind(area.level.as_str())
            .bind(area.parent.as_deref())
            .bind(&area.geometry)
            .bind(area.bbox[0])
            .bind(area.bbox[1])
            .bind(area.bbox[2])
            .bind(area.bbox[3])
            .bind(by.now_ms / 1000)
            .bind(i32::from(retired))
            .bind(by.now_ms)
            .bind(by.operation)
            .bind(by.actor)
            .bind(by.reason)
            .execute(&mut **tx)
            .await?;
            Ok(previous)
        }

        pub(in crate::store) async fn edit_areas(pool: &Pool, edit: &AreaEdit) -> Result<EditOutcome> {
            let mut tx = pool.begin().await?;
            let version = next_map_version(&mut tx).await?;
            for (code, expected) in &edit.expect {
                let current: Option<i64> = sqlx::query("SELECT version FROM areas WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.try_get(0))
                    .transpose()?;
                if current != *expected {
                    tx.rollback().await?;
                    return Ok(EditOutcome::Stale {
                        code: code.clone(),
                        current,
                    });
                }
            }
            let by = Provenance {
                operation: &edit.operation,
                actor: &edit.actor,
                reason: &edit.reason,
                now_ms: edit.now_ms,
            };
            write_areas(&mut tx, &edit.upserts, version, &by).await?;
            for code in &edit.retire {
                let row = sqlx::query("SELECT * FROM areas WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else { continue };
                let area = area_from_row(&row)?;
                insert_version(&mut tx, &area, version, true, &by).await?;
                sqlx::query("DELETE FROM areas WHERE code = $1")
                    .bind(code)
                    .execute(&mut *tx)
                    .await?;
            }
            let job = queue_reown(&mut tx, version, &edit.reown_boxes, edit.now_ms).await?;
            tx.commit().await?;
            Ok(EditOutcome::Applied {
                map_version: version,
                job,
            })
        }

        fn version_from_row(row: &DbRow) -> Result<AreaVersion> {
            Ok(AreaVersion {
                area: area_from_row(row)?,
                retired: row.try_get::<i32, _>("retired")? != 0,
                valid_from: row.try_get("valid_from")?,
                valid_to: row.try_get("valid_to")?,
                operation: row.try_get("operation")?,
                actor: row.try_get("actor")?,
                reason: row.try_get("reason")?,
            })
        }

        pub(in crate::store) async fn area_history(pool: &Pool, code: &str) -> Result<Vec<AreaVersion>> {
            let rows = sqlx::query("SELECT * FROM area_versions WHERE code = $1 ORDER BY version")
                .bind(code)
                .fetch_all(pool)
                .await?;
            rows.iter().map(version_from_row).collect()
        }

        pub(in crate::store) async fn areas_as_of(
            pool: &Pool,
            at_ms: i64,
            filter: &AreaFilter,
        ) -> Result<Vec<AreaRecord>> {
            let bbox = filter.bbox;
            let rows = sqlx::query(
                "SELECT * FROM area_versions WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $2) \
                 AND retired = 0 AND ($3 IS NULL OR parent = $4) AND ($5 IS NULL OR level = $6) \
                 AND ($7 IS NULL OR (min_lon <= $8 AND max_lon >= $9 AND min_lat <= $10 AND max_lat >= $11)) \
                 ORDER BY code",
            )
            .bind(at_ms)
            .bind(at_ms)
            .bind(filter.parent.as_deref())
            .bind(filter.parent.as_deref())
            .bind(filter.level.map(|l| l.as_str()))
            .bind(filter.level.map(|l| l.as_str()))
            .bind(bbox.map(|b| b[0]))
            .bind(bbox.map(|b| b[2]))
            .bind(bbox.map(|b| b[0]))
            .bind(bbox.map(|b| b[3]))
            .bind(bbox.map(|b| b[1]))
            .fetch_all(pool)
            .await?;
            rows.iter().map(area_from_row).collect()
        }

        pub(in crate::store) async fn records_in_box(pool: &Pool, bbox: [f64; 4]) -> Result<Vec<RecordPoint>> {
            // One query, no paging: keyset paging by id made the planner sort the whole box for every
            // page (50 pages of a 100,000-record box cost 6 s on SQLite instead of 0.1 s).
            let rows = sqlx::query(
                "SELECT id, owner_grid, lon, lat FROM records \
                 WHERE lon >= $1 AND lon <= $2 AND lat >= $3 AND lat <= $4",
            )
            .bind(bbox[0])
            .bind(bbox[2])
            .bind(bbox[1])
            .bind(bbox[3])
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(RecordPoint {
                        id: r.try_get(0)?,
                        owner_grid: r.try_get(1)?,
                        lon: r.try_get(2)?,
                        lat: r.try_get(3)?,
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn open_reown_jobs(pool: &Pool) -> Result<Vec<ReownJob>> {
            let rows = sqlx::query(
                "SELECT id, map_version, boxes FROM reown_jobs WHERE finished_at IS NULL ORDER BY id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(ReownJob {
                        id: r.try_get(0)?,
                        map_version: r.try_get(1)?,
                        boxes: boxes_from_text(r.try_get::<&str, _>(2)?)?,
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn finish_reown_job(
            pool: &Pool,
            id: i64,
            examined: i64,
            changed: i64,
            now_ms: i64,
        ) -> Result<()> {
            sqlx::query("UPDATE reown_jobs SET finished_at = $1, examined = $2, changed = $3 WHERE id = $4")
                .bind(now_ms)
                .bind(examined)
                .bind(changed)
                .bind(id)
                .execute(pool)
                .await?;
            Ok(())
        }
    };
}

pub(super) use queries;

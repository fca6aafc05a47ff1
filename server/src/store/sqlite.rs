//! The embedded backend: one SQLite file in WAL mode (readers never wait for the writer), and
//! the statements SQLite spells its own way.
//!
//! SQLite has no array parameters: a list is bound as a JSON array and read with `json_each`.
//! A bound `LIMIT` is written `LIMIT CAST($N AS BIGINT)`: SQLite reads a plain `LIMIT $N`'s
//! value while planning, so every new binding expires the cached statement and the next run
//! compiles it again (for the sync feed that was 7 % of the SQLite threads' time under load,
//! BENCHMARKS.md, sync ingest, fifth round); an expression is evaluated at run time instead.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite};

use super::{Result, StoreError};

/// Read-only connections beside the one writer.
const READERS: u32 = 8;

type Db = Sqlite;
type Pool = sqlx::Pool<Sqlite>;
type DbRow = SqliteRow;

/// The SQLite store.
///
/// SQLite admits one writer at a time, and a writer that finds another holding the lock sleeps
/// in SQLite's busy handler (milliseconds at a time), so several connections writing at once
/// are slower than one. Every statement therefore runs on `pool`, a single connection, unless
/// it is a read: reads run on `reader`, connections opened read-only, which in WAL mode read a
/// consistent snapshot without waiting for the writer (on the writer, a read would queue for
/// the connection behind the sync group commit, and hold the commit up while it ran). Only
/// reads inside a write transaction stay on `pool`.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Pool,
    reader: Pool,
}

impl SqliteStore {
    /// Opens the file (creating it), switches to WAL and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            // FULL: a sync acknowledgement promises the phone its changes are stored, so a
            // commit must survive power loss, not only a crashed process.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Reads through a memory map rather than a copy per page read, and a larger page
            // cache (32 MiB, at most, per connection): the sync feed and document reads touch
            // pages all over a growing file.
            .pragma("mmap_size", "268435456")
            .pragma("cache_size", "-32768")
            // Checkpoint the WAL every 10,000 pages (about 40 MiB) instead of every 1,000: the
            // single writer pays for checkpoints inside its commits, and a page written many
            // times between two checkpoints is copied once. The WAL is cut back to 64 MiB after.
            // (BENCHMARKS.md, sync ingest, fourth round: together 1.13× sustained ingest.)
            .pragma("wal_autocheckpoint", "10000")
            .pragma("journal_size_limit", "67108864");
        // An in-memory database exists once per connection, so it must have exactly one,
        // and it serves reads too.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let reader = if in_memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READERS)
                .connect_with(options.read_only(true))
                .await?
        };
        Ok(SqliteStore { pool, reader })
    }

    /// The one connection that writes.
    pub fn writer(&self) -> &Pool {
        &self.pool
    }

    /// The read-only connections (the writer itself for an in-memory database).
    pub fn reader(&self) -> &Pool {
        &self.reader
    }
}

pub(super) async fn ping(pool: &Pool) -> Result<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

// --- the statements SQLite writes its own way ---------------------------------------------------

/// A list parameter: a JSON array, read with `json_each`.
fn text_list(codes: &[String]) -> String {
    serde_json::to_string(codes).unwrap_or_else(|_| "[]".into())
}

/// A token's active account with its areas (a JSON array), scope epoch and the change head.
const TOKEN_OWNER: &str = "SELECT u.id, u.username, u.password_hash, u.role, u.active, \
    u.created_at, u.scope_epoch, \
    (SELECT department FROM user_departments d WHERE d.user_id = u.id) AS department, \
    (SELECT json_group_array(area_code) FROM \
        (SELECT area_code FROM user_areas WHERE user_id = u.id ORDER BY area_code)) AS areas, \
    (SELECT seq FROM change_seq WHERE id = 1) AS head \
    FROM tokens t JOIN users u ON u.id = t.user_id \
    WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.active = 1";

/// The areas column of [`TOKEN_OWNER`].
fn token_areas(row: &DbRow, user_id: i64) -> Result<Vec<String>> {
    serde_json::from_str(row.try_get("areas")?)
        .map_err(|e| StoreError::Corrupt(format!("areas of user {user_id}: {e}")))
}

/// The case rows of a list of record ids (bound as one list).
const CASE_IDS_MATCH: &str = "c.record_id IN (SELECT value FROM json_each($1))";

const AREAS_BY_CODES: &str =
    "SELECT * FROM areas WHERE code IN (SELECT value FROM json_each($1)) ORDER BY code";

const AREA_LEVELS: &str =
    "SELECT code, level, parent FROM areas WHERE code IN (SELECT value FROM json_each($1))";

const RECORD_DOCS: &str =
    "SELECT id, doc, version FROM records WHERE id IN (SELECT value FROM json_each($1))";

const RECORD_DOCS_OLDER_THAN: &str = "SELECT r.id, r.doc, r.version FROM records r \
    WHERE r.id IN (SELECT value FROM json_each($1)) \
    AND EXISTS (SELECT 1 FROM record_changes c WHERE c.record_id = r.id AND c.seq <= $2)";

/// The rows of the `$2` records owned by one of the grids `$1` that changed last, newest first.
const RECENTLY_CHANGED_OWNED: &str = "SELECT id, kind, status, channel, category, title, owner_grid, claimed_grid, \
    lon, lat, created_by, created_at, updated_at, departments, hazard_type, risk_level \
    FROM records WHERE owner_grid IN (SELECT value FROM json_each($1)) \
    ORDER BY updated_at DESC, id DESC LIMIT CAST($2 AS BIGINT)";

/// The changes after `$1` up to `$4`, not from origin `$5`, of the records owned by one of the
/// grids `$2` or created by `$3` that changed after `$1`.
const FEED_IN_AREAS: &str = "SELECT c.seq, c.record_id, c.origin, c.bytes FROM record_changes c \
    WHERE c.record_id IN ( \
        SELECT id FROM records WHERE last_seq > $1 \
            AND owner_grid IN (SELECT value FROM json_each($2)) \
        UNION SELECT id FROM records WHERE last_seq > $1 AND created_by = $3) \
    AND c.seq > $1 AND c.seq <= $4 AND c.origin <> $5 ORDER BY c.seq LIMIT CAST($6 AS BIGINT)";

/// The records that left one of the grids `$3` between the sequence numbers `$1` and `$2`
/// and are not in the scope the grids `$5` and the creator `$4` make now.
const EXITS_FROM_AREAS: &str = "SELECT DISTINCT e.record_id FROM scope_exits e \
    JOIN records r ON r.id = e.record_id \
    WHERE e.seq > $1 AND e.seq <= $2 AND e.grid IN (SELECT value FROM json_each($3)) \
    AND (r.owner_grid IS NULL OR r.owner_grid NOT IN (SELECT value FROM json_each($5))) \
    AND r.created_by <> $4 ORDER BY e.record_id";

/// The records owned by the grids `$1` an account lost that it may not read now (owned
/// outside its grids `$2`, not created by `$3`).
const RECORDS_IN_LOST_AREAS: &str = "SELECT id FROM records \
    WHERE owner_grid IN (SELECT value FROM json_each($1)) AND owner_grid NOT IN (SELECT value FROM json_each($2)) \
    AND created_by <> $3 ORDER BY id";

/// Record rows for a [`RecordQuery`](super::RecordQuery), in the order `list_records` binds.
/// The filter of [`LIST_RECORDS`] and [`COUNT_RECORDS`]: scope ($1 all, $2 grids, $3 creator,
/// $18 department pattern), owners, unassigned, kind, status, channel, creation window, the
/// cursor ($11, $12) and a box ($13..$16).
macro_rules! records_where {
    () => {
        "WHERE ($1 OR r.owner_grid IN (SELECT value FROM json_each($2)) OR r.created_by = $3 \
        OR r.departments LIKE $18 ESCAPE '\\') \
    AND ($4 IS NULL OR r.owner_grid IN (SELECT value FROM json_each($4))) \
    AND (NOT $5 OR r.owner_grid IS NULL) \
    AND ($6 IS NULL OR r.kind = $6) AND ($7 IS NULL OR r.status = $7) \
    AND ($8 IS NULL OR r.channel = $8) \
    AND ($9 IS NULL OR r.created_at >= $9) AND ($10 IS NULL OR r.created_at < $10) \
    AND ($11 IS NULL OR r.created_at < $11 OR (r.created_at = $11 AND r.id < $12)) \
    AND ($13 IS NULL OR (r.lon >= $13 AND r.lat >= $14 AND r.lon <= $15 AND r.lat <= $16))"
    };
}

const LIST_RECORDS: &str = concat!(
    "SELECT id, kind, status, channel, category, title, owner_grid, claimed_grid, lon, lat, \
    created_by, created_at, updated_at, departments, hazard_type, risk_level FROM records r ",
    records_where!(),
    " ORDER BY r.created_at DESC, r.id DESC LIMIT CAST($17 AS BIGINT)"
);

/// How many rows [`LIST_RECORDS`] matches without its cursor and page (at most $17).
const COUNT_RECORDS: &str = concat!(
    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM records r ",
    records_where!(),
    " LIMIT CAST($17 AS BIGINT)) matched"
);

/// A read transaction: in WAL mode it sees one snapshot of the file.
async fn begin_snapshot(pool: &Pool) -> Result<sqlx::Transaction<'static, Db>> {
    Ok(pool.begin().await?)
}

// --- the shared queries, compiled for SQLite ------------------------------------------------

shared_queries!();

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AreaFilter;
    use crate::store::Store;

    /// A file store in a fresh directory (kept alive by the returned guard).
    async fn file_store() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("gridsync.db").display());
        (SqliteStore::connect(&url).await.expect("connect"), dir)
    }

    /// Runs `read` with the one writer connection held in a write transaction, as the group
    /// commit holds it, and fails if the read waited for the writer (the pool would make it
    /// wait for the connection, up to its 30 s acquire timeout).
    async fn reads_beside_the_writer<T: std::fmt::Debug>(
        store: &SqliteStore,
        what: &str,
        read: impl std::future::Future<Output = Result<T>>,
    ) {
        let mut writer = store.writer().begin().await.unwrap();
        sqlx::query("UPDATE change_seq SET seq = seq WHERE id = 1")
            .execute(&mut *writer)
            .await
            .unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(5), read).await;
        assert!(
            matches!(outcome, Ok(Ok(_))),
            "{what} waited for the writer, or failed: {outcome:?}"
        );
        writer.rollback().await.unwrap();
    }

    #[tokio::test]
    async fn the_map_version_is_read_while_the_writer_holds_a_transaction() {
        let (store, _dir) = file_store().await;
        // Every sync request checks the map version.
        reads_beside_the_writer(&store, "map_version", store.map_version()).await;
    }

    /// A dispatcher's pages, a photo download, a monthly report or the grid map's reload must
    /// not queue behind the sync group commit (nor hold up the commit while they read).
    #[tokio::test]
    async fn staff_and_report_reads_run_while_the_writer_holds_a_transaction() {
        let (store, _dir) = file_store().await;
        let s = &store;
        let codes = vec!["22030200100101".to_string()];
        reads_beside_the_writer(s, "list_users", s.list_users()).await;
        reads_beside_the_writer(s, "area", s.area("22030200100101")).await;
        reads_beside_the_writer(s, "area_levels", s.area_levels(&codes)).await;
        let all = AreaFilter::default();
        reads_beside_the_writer(s, "list_areas", s.list_areas(&all)).await;
        reads_beside_the_writer(s, "map_snapshot", s.map_snapshot()).await;
        reads_beside_the_writer(s, "area_history", s.area_history("x")).await;
        reads_beside_the_writer(s, "areas_as_of", s.areas_as_of(0, &all)).await;
        reads_beside_the_writer(s, "open_reown_jobs", s.open_reown_jobs()).await;
        reads_beside_the_writer(s, "blob_read", s.blob_read("00", 0, 1)).await;
        reads_beside_the_writer(s, "calendar_days", s.calendar_days(None)).await;
        reads_beside_the_writer(s, "deadline_classes", s.deadline_classes()).await;
        reads_beside_the_writer(s, "departments", s.departments()).await;
        reads_beside_the_writer(s, "dispatch_rules", s.dispatch_rules()).await;
        reads_beside_the_writer(s, "user_department", s.user_department(1)).await;
        reads_beside_the_writer(s, "case_row", s.case_row("x")).await;
        reads_beside_the_writer(s, "cases_due", s.cases_due(0)).await;
        reads_beside_the_writer(s, "cases_between", s.cases_between(0, 1)).await;
        let complaints = s.complaints_created_between(0, 1);
        reads_beside_the_writer(s, "complaints_created_between", complaints).await;
        reads_beside_the_writer(s, "setting", s.setting("x")).await;
        reads_beside_the_writer(s, "notices", s.notices(None)).await;
        let issued = s.notices_issued_between(0, 1);
        reads_beside_the_writer(s, "notices_issued_between", issued).await;
    }

    /// Every file whose SQL runs on SQLite: this backend's own and the shared queries.
    const SOURCES: [(&str, &str); 6] = [
        ("sqlite.rs", include_str!("sqlite.rs")),
        ("accounts.rs", include_str!("accounts.rs")),
        ("blobs.rs", include_str!("blobs.rs")),
        ("map.rs", include_str!("map.rs")),
        ("records.rs", include_str!("records.rs")),
        ("workflow.rs", include_str!("workflow.rs")),
    ];

    #[test]
    fn no_sqlite_query_binds_a_plain_limit() {
        // Built here so that this test's own source does not match.
        let plain = [["LIMIT", " ?"].concat(), ["LIMIT", " $"].concat()];
        for (file, source) in SOURCES {
            for (n, line) in source.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                assert!(
                    !plain.iter().any(|p| code.contains(p.as_str())),
                    "{file}:{}: write a bound LIMIT as `LIMIT CAST($N AS BIGINT)`, or SQLite \
                     compiles the statement again on every run",
                    n + 1
                );
            }
        }
    }
}

//! The embedded backend: one SQLite file in WAL mode (readers never wait for the writer).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{
    AreaEdit, AreaImport, AreaVersion, BlobState, CaseRow, CommitOutcome, Department, DispatchRule,
    EditOutcome, FeedItem, Notice, RecordCommit, RecordPoint, RecordQuery, RecordRow, RecordScope,
    ReownJob, Result, Store, StoreError, StoredDoc, TokenOwner, WorkflowOutcome,
    is_unique_violation, parse_level, parse_role,
};
use crate::domain::{AreaFilter, AreaRecord, Level, NewUser, User, UserUpdate};
use crate::workflow::calendar::{CalendarDay, DeadlineClass};

/// Read-only connections beside the one writer.
const READERS: u32 = 8;

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
    pool: SqlitePool,
    reader: SqlitePool,
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

    /// The connection pool, for the sync issue's queries and for tests.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn areas_of(&self, user_ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
        let mut map: HashMap<i64, Vec<String>> = HashMap::new();
        if user_ids.len() == 1 {
            let rows = sqlx::query(
                "SELECT user_id, area_code FROM user_areas WHERE user_id = ? ORDER BY area_code",
            )
            .bind(user_ids[0])
            .fetch_all(&self.reader)
            .await?;
            for row in rows {
                map.entry(row.try_get(0)?)
                    .or_default()
                    .push(row.try_get(1)?);
            }
        } else if !user_ids.is_empty() {
            let rows = sqlx::query(
                "SELECT user_id, area_code FROM user_areas ORDER BY user_id, area_code",
            )
            .fetch_all(&self.reader)
            .await?;
            for row in rows {
                map.entry(row.try_get(0)?)
                    .or_default()
                    .push(row.try_get(1)?);
            }
        }
        Ok(map)
    }

    async fn with_areas(&self, row: Option<SqliteRow>) -> Result<Option<User>> {
        let Some(row) = row else { return Ok(None) };
        let mut user = user_from_row(&row)?;
        user.areas = self
            .areas_of(&[user.id])
            .await?
            .remove(&user.id)
            .unwrap_or_default();
        Ok(Some(user))
    }

    async fn fetch_user(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT id, username, password_hash, role, active, created_at FROM users \
             WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&self.reader)
        .await?;
        self.with_areas(row).await
    }
}

fn user_from_row(row: &SqliteRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        role: parse_role(row.try_get::<&str, _>("role")?)?,
        active: row.try_get("active")?,
        areas: Vec::new(),
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn area_from_row(row: &SqliteRow) -> Result<AreaRecord> {
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

async fn replace_areas(
    tx: &mut Transaction<'_, Sqlite>,
    user_id: i64,
    areas: &[String],
) -> Result<()> {
    sqlx::query("DELETE FROM user_areas WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    for code in areas {
        sqlx::query("INSERT OR IGNORE INTO user_areas (user_id, area_code) VALUES (?, ?)")
            .bind(user_id)
            .bind(code)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_user(&self, user: &NewUser) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (username, password_hash, role, active, created_at) \
             VALUES (?, ?, ?, 1, ?) RETURNING id",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(user.created_at)
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get(0)?,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("user `{}`", user.username)));
            }
            Err(e) => return Err(e.into()),
        };
        replace_areas(&mut tx, id, &user.areas).await?;
        tx.commit().await?;
        self.fetch_user(&user.username)
            .await?
            .ok_or_else(|| StoreError::Corrupt("created user vanished".into()))
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        self.fetch_user(username).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT id, username, password_hash, role, active, created_at FROM users \
             ORDER BY username",
        )
        .fetch_all(&self.reader)
        .await?;
        let mut users = rows.iter().map(user_from_row).collect::<Result<Vec<_>>>()?;
        let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
        let mut areas = self.areas_of(&ids).await?;
        for user in &mut users {
            user.areas = areas.remove(&user.id).unwrap_or_default();
        }
        Ok(users)
    }

    async fn update_user(&self, username: &str, update: &UserUpdate) -> Result<Option<User>> {
        let result = sqlx::query(
            "UPDATE users SET role = COALESCE(?, role), password_hash = COALESCE(?, password_hash), \
             active = COALESCE(?, active) WHERE username = ?",
        )
        .bind(update.role.map(|r| r.as_str()))
        .bind(update.password_hash.as_deref())
        .bind(update.active)
        .bind(username)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Ok(None);
        }
        self.fetch_user(username).await
    }

    async fn set_user_areas(&self, username: &str, areas: &[String]) -> Result<Option<User>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT id FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        replace_areas(&mut tx, row.try_get(0)?, areas).await?;
        tx.commit().await?;
        self.fetch_user(username).await
    }

    async fn insert_token(
        &self,
        token_hash: &str,
        user_id: i64,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO tokens (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(created_at)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn token_owner(&self, token_hash: &str, now: i64) -> Result<Option<TokenOwner>> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.password_hash, u.role, u.active, u.created_at, \
                 u.scope_epoch, \
                 (SELECT json_group_array(area_code) FROM \
                     (SELECT area_code FROM user_areas WHERE user_id = u.id ORDER BY area_code)) \
                     AS areas, \
                 (SELECT seq FROM change_seq WHERE id = 1) AS head \
             FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = ? AND t.revoked_at IS NULL AND t.expires_at > ? AND u.active = 1",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut user = user_from_row(&row)?;
        user.areas = serde_json::from_str(row.try_get("areas")?)
            .map_err(|e| StoreError::Corrupt(format!("areas of user {}: {e}", user.id)))?;
        Ok(Some(TokenOwner {
            user,
            scope_epoch: row.try_get("scope_epoch")?,
            change_head: row.try_get("head")?,
        }))
    }

    async fn revoke_token(&self, token_hash: &str, now: i64) -> Result<bool> {
        let result = sqlx::query(
            "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn revoke_user_tokens(&self, user_id: i64, now: i64) -> Result<u64> {
        let result = sqlx::query(
            "UPDATE tokens SET revoked_at = ? \
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(now)
        .bind(user_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn map_version(&self) -> Result<i64> {
        // Read on a reader: a sync request checks it (at most once per `map_check_ms`), and on
        // the writer it would queue behind, and hold up, the group commit.
        let row = sqlx::query("SELECT version FROM map_version WHERE id = 1")
            .fetch_one(&self.reader)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn put_areas(&self, areas: &[AreaRecord], now: i64) -> Result<i64> {
        super::gis::sqlite::put_areas(&self.pool, areas, now * 1000).await
    }

    async fn import_areas(
        &self,
        areas: &[AreaRecord],
        actor: &str,
        now_ms: i64,
    ) -> Result<AreaImport> {
        super::gis::sqlite::import_areas(&self.pool, areas, actor, now_ms).await
    }

    async fn area(&self, code: &str) -> Result<Option<AreaRecord>> {
        let row = sqlx::query("SELECT * FROM areas WHERE code = ?")
            .bind(code)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(area_from_row).transpose()
    }

    async fn area_levels(&self, codes: &[String]) -> Result<Vec<(String, Level)>> {
        let mut found = Vec::new();
        for code in codes {
            let row = sqlx::query("SELECT level FROM areas WHERE code = ?")
                .bind(code)
                .fetch_optional(&self.reader)
                .await?;
            if let Some(row) = row {
                found.push((code.clone(), parse_level(row.try_get::<&str, _>(0)?)?));
            }
        }
        Ok(found)
    }

    async fn list_areas(&self, filter: &AreaFilter) -> Result<Vec<AreaRecord>> {
        let bbox = filter.bbox;
        let rows = sqlx::query(
            "SELECT * FROM areas WHERE (?1 IS NULL OR parent = ?1) AND (?2 IS NULL OR level = ?2) \
             AND (?3 IS NULL OR (min_lon <= ?5 AND max_lon >= ?3 AND min_lat <= ?6 AND max_lat >= ?4)) \
             ORDER BY code",
        )
        .bind(filter.parent.as_deref())
        .bind(filter.level.map(|l| l.as_str()))
        .bind(bbox.map(|b| b[0]))
        .bind(bbox.map(|b| b[1]))
        .bind(bbox.map(|b| b[2]))
        .bind(bbox.map(|b| b[3]))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(area_from_row).collect()
    }

    async fn map_snapshot(&self) -> Result<(i64, Vec<AreaRecord>)> {
        // A read transaction sees one WAL snapshot: the version and the areas agree.
        let mut tx = self.reader.begin().await?;
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

    async fn record_doc(&self, id: &str) -> Result<Option<StoredDoc>> {
        super::sqlite_records::record_doc(&self.reader, id).await
    }

    async fn record_docs(&self, ids: &[String]) -> Result<Vec<(String, StoredDoc)>> {
        super::sqlite_records::record_docs(&self.reader, ids).await
    }

    async fn record_docs_older_than(
        &self,
        ids: &[String],
        seq: i64,
    ) -> Result<Vec<(String, StoredDoc)>> {
        super::sqlite_records::record_docs_older_than(&self.reader, ids, seq).await
    }

    async fn commit_records(&self, commits: &[RecordCommit]) -> Result<Vec<CommitOutcome>> {
        super::record_writes::sqlite::commit_records(&self.pool, commits).await
    }

    async fn change_head(&self) -> Result<i64> {
        super::sqlite_records::change_head(&self.reader).await
    }

    async fn change_feed(
        &self,
        after: i64,
        upto: i64,
        exclude_origin: &str,
        scope: &RecordScope,
        limit: i64,
    ) -> Result<Vec<FeedItem>> {
        super::sqlite_records::change_feed(&self.reader, after, upto, exclude_origin, scope, limit)
            .await
    }

    async fn list_records(&self, query: &RecordQuery) -> Result<Vec<RecordRow>> {
        super::sqlite_records::list_records(&self.reader, query).await
    }

    async fn blob_state(&self, sha256: &str) -> Result<Option<BlobState>> {
        super::sqlite_records::blob_state(&self.reader, sha256).await
    }

    async fn blob_append(
        &self,
        sha256: &str,
        size: i64,
        start: i64,
        bytes: &[u8],
        mime_type: Option<&str>,
        now: i64,
    ) -> Result<Option<BlobState>> {
        super::sqlite_records::blob_append(&self.pool, sha256, size, start, bytes, mime_type, now)
            .await
    }

    async fn blob_read(&self, sha256: &str, start: i64, len: i64) -> Result<Vec<u8>> {
        super::sqlite_records::blob_read(&self.reader, sha256, start, len).await
    }

    async fn blob_finish(&self, sha256: &str, verified: bool) -> Result<()> {
        super::sqlite_records::blob_finish(&self.pool, sha256, verified).await
    }

    async fn edit_areas(&self, edit: &AreaEdit) -> Result<EditOutcome> {
        super::gis::sqlite::edit_areas(&self.pool, edit).await
    }

    async fn area_history(&self, code: &str) -> Result<Vec<AreaVersion>> {
        super::gis::sqlite::area_history(&self.reader, code).await
    }

    async fn areas_as_of(&self, at_ms: i64, filter: &AreaFilter) -> Result<Vec<AreaRecord>> {
        super::gis::sqlite::areas_as_of(&self.reader, at_ms, filter).await
    }

    async fn records_in_box(&self, bbox: [f64; 4]) -> Result<Vec<RecordPoint>> {
        super::gis::sqlite::records_in_box(&self.reader, bbox).await
    }

    async fn open_reown_jobs(&self) -> Result<Vec<ReownJob>> {
        super::gis::sqlite::open_reown_jobs(&self.reader).await
    }

    async fn finish_reown_job(
        &self,
        id: i64,
        examined: i64,
        changed: i64,
        now_ms: i64,
    ) -> Result<()> {
        super::gis::sqlite::finish_reown_job(&self.pool, id, examined, changed, now_ms).await
    }

    // --- Workflow (issue 6) ---------------------------------------------------------------

    async fn calendar_days(&self, year: Option<i32>) -> Result<Vec<CalendarDay>> {
        super::workflow::sqlite::calendar_days(&self.reader, year).await
    }

    async fn put_calendar_year(&self, year: i32, days: &[CalendarDay]) -> Result<()> {
        super::workflow::sqlite::put_calendar_year(&self.pool, year, days).await
    }

    async fn deadline_classes(&self) -> Result<Vec<DeadlineClass>> {
        super::workflow::sqlite::deadline_classes(&self.reader).await
    }

    async fn put_deadline_class(&self, class: &DeadlineClass) -> Result<()> {
        super::workflow::sqlite::put_deadline_class(&self.pool, class).await
    }

    async fn departments(&self) -> Result<Vec<Department>> {
        super::workflow::sqlite::departments(&self.reader).await
    }

    async fn put_department(&self, department: &Department, now: i64) -> Result<()> {
        super::workflow::sqlite::put_department(&self.pool, department, now).await
    }

    async fn dispatch_rules(&self) -> Result<Vec<DispatchRule>> {
        super::workflow::sqlite::dispatch_rules(&self.reader).await
    }

    async fn put_dispatch_rule(&self, rule: &DispatchRule) -> Result<()> {
        super::workflow::sqlite::put_dispatch_rule(&self.pool, rule).await
    }

    async fn delete_dispatch_rule(&self, category: &str, area: &str) -> Result<bool> {
        super::workflow::sqlite::delete_dispatch_rule(&self.pool, category, area).await
    }

    async fn set_user_department(&self, user_id: i64, department: Option<&str>) -> Result<()> {
        super::workflow::sqlite::set_user_department(&self.pool, user_id, department).await
    }

    async fn user_department(&self, user_id: i64) -> Result<Option<String>> {
        super::workflow::sqlite::user_department(&self.reader, user_id).await
    }

    async fn case_row(&self, record_id: &str) -> Result<Option<CaseRow>> {
        super::workflow::sqlite::case_row(&self.reader, record_id).await
    }

    async fn cases_due(&self, now: i64) -> Result<Vec<CaseRow>> {
        super::workflow::sqlite::cases_due(&self.reader, now).await
    }

    async fn cases_between(&self, from: i64, to: i64) -> Result<Vec<CaseRow>> {
        super::workflow::sqlite::cases_between(&self.reader, from, to).await
    }

    async fn complaints_created_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, String, String, String, Option<String>)>> {
        super::workflow::sqlite::complaints_created_between(&self.reader, from, to).await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        super::workflow::sqlite::setting(&self.reader, key).await
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        super::workflow::sqlite::put_setting(&self.pool, key, value).await
    }

    async fn notices(&self, record_id: Option<&str>) -> Result<Vec<Notice>> {
        super::workflow::sqlite::notices(&self.reader, record_id).await
    }

    async fn commit_workflow(
        &self,
        commit: &RecordCommit,
        case: &CaseRow,
        notices: &[Notice],
    ) -> Result<WorkflowOutcome> {
        super::workflow::sqlite::commit_workflow(&self.pool, commit, case, notices).await
    }

    async fn take_lease(&self, name: &str, holder: &str, now: i64, ttl_ms: i64) -> Result<bool> {
        super::workflow::sqlite::take_lease(&self.pool, name, holder, now, ttl_ms).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut writer = store.pool().begin().await.unwrap();
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
    }
}

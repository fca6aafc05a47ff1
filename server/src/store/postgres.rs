//! The scale-out backend: PostgreSQL shared by any number of server instances.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::{
    AreaEdit, AreaImport, AreaVersion, BlobState, CaseRow, CommitOutcome, Department, DispatchRule,
    EditOutcome, FeedItem, Notice, RecordCommit, RecordPoint, RecordQuery, RecordRow, RecordScope,
    ReownJob, Result, Store, StoreError, StoredDoc, TokenOwner, WorkflowOutcome,
    is_unique_violation, parse_level, parse_role,
};
use crate::domain::{AreaFilter, AreaRecord, Level, NewUser, User, UserUpdate};
use crate::workflow::calendar::{CalendarDay, DeadlineClass};

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects and applies the migrations (sqlx takes an advisory lock, so instances starting
    /// together migrate once).
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }

    /// The connection pool, for the sync issue's queries and for tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn areas_of(&self, user_ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
        let mut map: HashMap<i64, Vec<String>> = HashMap::new();
        if user_ids.is_empty() {
            return Ok(map);
        }
        let rows = sqlx::query(
            "SELECT user_id, area_code FROM user_areas WHERE user_id = ANY($1) \
             ORDER BY user_id, area_code",
        )
        .bind(user_ids)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            map.entry(row.try_get(0)?)
                .or_default()
                .push(row.try_get(1)?);
        }
        Ok(map)
    }

    async fn with_areas(&self, row: Option<PgRow>) -> Result<Option<User>> {
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
             WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        self.with_areas(row).await
    }
}

fn user_from_row(row: &PgRow) -> Result<User> {
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

pub(super) fn area_from_row(row: &PgRow) -> Result<AreaRecord> {
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
    tx: &mut Transaction<'_, Postgres>,
    user_id: i64,
    areas: &[String],
) -> Result<()> {
    sqlx::query("DELETE FROM user_areas WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    for code in areas {
        sqlx::query(
            "INSERT INTO user_areas (user_id, area_code) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(code)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_user(&self, user: &NewUser) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (username, password_hash, role, active, created_at) \
             VALUES ($1, $2, $3, TRUE, $4) RETURNING id",
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
        .fetch_all(&self.pool)
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
            "UPDATE users SET role = COALESCE($1, role), \
             password_hash = COALESCE($2, password_hash), active = COALESCE($3, active) \
             WHERE username = $4",
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
        let row = sqlx::query("SELECT id FROM users WHERE username = $1 FOR UPDATE")
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
            "INSERT INTO tokens (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
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
                 ARRAY(SELECT area_code FROM user_areas WHERE user_id = u.id ORDER BY area_code) \
                     AS areas, \
                 (SELECT seq FROM change_seq WHERE id = 1) AS head \
             FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.active",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut user = user_from_row(&row)?;
        user.areas = row.try_get("areas")?;
        Ok(Some(TokenOwner {
            user,
            scope_epoch: row.try_get("scope_epoch")?,
            change_head: row.try_get("head")?,
        }))
    }

    async fn revoke_token(&self, token_hash: &str, now: i64) -> Result<bool> {
        let result = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn revoke_user_tokens(&self, user_id: i64, now: i64) -> Result<u64> {
        let result = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 \
             WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn map_version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT version FROM map_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn put_areas(&self, areas: &[AreaRecord], now: i64) -> Result<i64> {
        super::gis::postgres::put_areas(&self.pool, areas, now * 1000).await
    }

    async fn import_areas(
        &self,
        areas: &[AreaRecord],
        actor: &str,
        now_ms: i64,
    ) -> Result<AreaImport> {
        super::gis::postgres::import_areas(&self.pool, areas, actor, now_ms).await
    }

    async fn area(&self, code: &str) -> Result<Option<AreaRecord>> {
        let row = sqlx::query("SELECT * FROM areas WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(area_from_row).transpose()
    }

    async fn area_levels(&self, codes: &[String]) -> Result<Vec<(String, Level)>> {
        let rows = sqlx::query("SELECT code, level FROM areas WHERE code = ANY($1)")
            .bind(codes)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, parse_level(row.try_get::<&str, _>(1)?)?)))
            .collect()
    }

    async fn list_areas(&self, filter: &AreaFilter) -> Result<Vec<AreaRecord>> {
        let bbox = filter.bbox;
        let rows = sqlx::query(
            "SELECT * FROM areas WHERE ($1::text IS NULL OR parent = $1) \
             AND ($2::text IS NULL OR level = $2) \
             AND ($3::float8 IS NULL OR (min_lon <= $5::float8 AND max_lon >= $3 \
                  AND min_lat <= $6::float8 AND max_lat >= $4::float8)) \
             ORDER BY code",
        )
        .bind(filter.parent.as_deref())
        .bind(filter.level.map(|l| l.as_str()))
        .bind(bbox.map(|b| b[0]))
        .bind(bbox.map(|b| b[1]))
        .bind(bbox.map(|b| b[2]))
        .bind(bbox.map(|b| b[3]))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(area_from_row).collect()
    }

    async fn map_snapshot(&self) -> Result<(i64, Vec<AreaRecord>)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
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
        super::postgres_records::record_doc(&self.pool, id).await
    }

    async fn record_docs(&self, ids: &[String]) -> Result<Vec<(String, StoredDoc)>> {
        super::postgres_records::record_docs(&self.pool, ids).await
    }

    async fn record_docs_older_than(
        &self,
        ids: &[String],
        seq: i64,
    ) -> Result<Vec<(String, StoredDoc)>> {
        super::postgres_records::record_docs_older_than(&self.pool, ids, seq).await
    }

    async fn commit_records(&self, commits: &[RecordCommit]) -> Result<Vec<CommitOutcome>> {
        super::record_writes::postgres::commit_records(&self.pool, commits).await
    }

    async fn change_head(&self) -> Result<i64> {
        super::postgres_records::change_head(&self.pool).await
    }

    async fn change_feed(
        &self,
        after: i64,
        upto: i64,
        exclude_origin: &str,
        scope: &RecordScope,
        limit: i64,
    ) -> Result<Vec<FeedItem>> {
        super::postgres_records::change_feed(&self.pool, after, upto, exclude_origin, scope, limit)
            .await
    }

    async fn list_records(&self, query: &RecordQuery) -> Result<Vec<RecordRow>> {
        super::postgres_records::list_records(&self.pool, query).await
    }

    async fn blob_state(&self, sha256: &str) -> Result<Option<BlobState>> {
        super::postgres_records::blob_state(&self.pool, sha256).await
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
        super::postgres_records::blob_append(&self.pool, sha256, size, start, bytes, mime_type, now)
            .await
    }

    async fn blob_read(&self, sha256: &str, start: i64, len: i64) -> Result<Vec<u8>> {
        super::postgres_records::blob_read(&self.pool, sha256, start, len).await
    }

    async fn blob_finish(&self, sha256: &str, verified: bool) -> Result<()> {
        super::postgres_records::blob_finish(&self.pool, sha256, verified).await
    }

    async fn edit_areas(&self, edit: &AreaEdit) -> Result<EditOutcome> {
        super::gis::postgres::edit_areas(&self.pool, edit).await
    }

    async fn area_history(&self, code: &str) -> Result<Vec<AreaVersion>> {
        super::gis::postgres::area_history(&self.pool, code).await
    }

    async fn areas_as_of(&self, at_ms: i64, filter: &AreaFilter) -> Result<Vec<AreaRecord>> {
        super::gis::postgres::areas_as_of(&self.pool, at_ms, filter).await
    }

    async fn records_in_box(&self, bbox: [f64; 4]) -> Result<Vec<RecordPoint>> {
        super::gis::postgres::records_in_box(&self.pool, bbox).await
    }

    async fn open_reown_jobs(&self) -> Result<Vec<ReownJob>> {
        super::gis::postgres::open_reown_jobs(&self.pool).await
    }

    async fn finish_reown_job(
        &self,
        id: i64,
        examined: i64,
        changed: i64,
        now_ms: i64,
    ) -> Result<()> {
        super::gis::postgres::finish_reown_job(&self.pool, id, examined, changed, now_ms).await
    }

    // --- Workflow (issue 6) ---------------------------------------------------------------

    async fn calendar_days(&self, year: Option<i32>) -> Result<Vec<CalendarDay>> {
        super::workflow::postgres::calendar_days(&self.pool, year).await
    }

    async fn put_calendar_year(&self, year: i32, days: &[CalendarDay]) -> Result<()> {
        super::workflow::postgres::put_calendar_year(&self.pool, year, days).await
    }

    async fn deadline_classes(&self) -> Result<Vec<DeadlineClass>> {
        super::workflow::postgres::deadline_classes(&self.pool).await
    }

    async fn put_deadline_class(&self, class: &DeadlineClass) -> Result<()> {
        super::workflow::postgres::put_deadline_class(&self.pool, class).await
    }

    async fn departments(&self) -> Result<Vec<Department>> {
        super::workflow::postgres::departments(&self.pool).await
    }

    async fn put_department(&self, department: &Department, now: i64) -> Result<()> {
        super::workflow::postgres::put_department(&self.pool, department, now).await
    }

    async fn dispatch_rules(&self) -> Result<Vec<DispatchRule>> {
        super::workflow::postgres::dispatch_rules(&self.pool).await
    }

    async fn put_dispatch_rule(&self, rule: &DispatchRule) -> Result<()> {
        super::workflow::postgres::put_dispatch_rule(&self.pool, rule).await
    }

    async fn delete_dispatch_rule(&self, category: &str, area: &str) -> Result<bool> {
        super::workflow::postgres::delete_dispatch_rule(&self.pool, category, area).await
    }

    async fn set_user_department(&self, user_id: i64, department: Option<&str>) -> Result<()> {
        super::workflow::postgres::set_user_department(&self.pool, user_id, department).await
    }

    async fn user_department(&self, user_id: i64) -> Result<Option<String>> {
        super::workflow::postgres::user_department(&self.pool, user_id).await
    }

    async fn case_row(&self, record_id: &str) -> Result<Option<CaseRow>> {
        super::workflow::postgres::case_row(&self.pool, record_id).await
    }

    async fn cases_due(&self, now: i64) -> Result<Vec<CaseRow>> {
        super::workflow::postgres::cases_due(&self.pool, now).await
    }

    async fn cases_between(&self, from: i64, to: i64) -> Result<Vec<CaseRow>> {
        super::workflow::postgres::cases_between(&self.pool, from, to).await
    }

    async fn complaints_created_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, String, String, String, Option<String>)>> {
        super::workflow::postgres::complaints_created_between(&self.pool, from, to).await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        super::workflow::postgres::setting(&self.pool, key).await
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        super::workflow::postgres::put_setting(&self.pool, key, value).await
    }

    async fn notices(&self, record_id: Option<&str>) -> Result<Vec<Notice>> {
        super::workflow::postgres::notices(&self.pool, record_id).await
    }

    async fn commit_workflow(
        &self,
        commit: &RecordCommit,
        case: &CaseRow,
        notices: &[Notice],
    ) -> Result<WorkflowOutcome> {
        super::workflow::postgres::commit_workflow(&self.pool, commit, case, notices).await
    }

    async fn take_lease(&self, name: &str, holder: &str, now: i64, ttl_ms: i64) -> Result<bool> {
        super::workflow::postgres::take_lease(&self.pool, name, holder, now, ttl_ms).await
    }
}

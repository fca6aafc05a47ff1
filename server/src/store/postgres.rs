//! The scale-out backend: PostgreSQL shared by any number of server instances, and the
//! statements PostgreSQL spells its own way (array parameters, `ARRAY(…)`, snapshot isolation).

use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{Postgres, Row};

use super::Result;

type Db = Postgres;
type Pool = sqlx::Pool<Postgres>;
type DbRow = PgRow;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: Pool,
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

    /// The pool, for writes.
    pub fn writer(&self) -> &Pool {
        &self.pool
    }

    /// The pool, for reads (the same one: PostgreSQL readers never wait for writers).
    pub fn reader(&self) -> &Pool {
        &self.pool
    }
}

pub(super) async fn ping(pool: &Pool) -> Result<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

// --- the statements PostgreSQL writes its own way -----------------------------------------------

/// A list parameter: a `text[]`.
fn text_list(codes: &[String]) -> &[String] {
    codes
}

/// A token's active account with its areas (an array), scope epoch and the change head.
const TOKEN_OWNER: &str = "SELECT u.id, u.username, u.password_hash, u.role, u.active, \
    u.created_at, u.scope_epoch, \
    (SELECT department FROM user_departments d WHERE d.user_id = u.id) AS department, \
    ARRAY(SELECT area_code FROM user_areas WHERE user_id = u.id ORDER BY area_code) AS areas, \
    (SELECT seq FROM change_seq WHERE id = 1) AS head \
    FROM tokens t JOIN users u ON u.id = t.user_id \
    WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.active";

/// The areas column of [`TOKEN_OWNER`].
fn token_areas(row: &DbRow, _user_id: i64) -> Result<Vec<String>> {
    Ok(row.try_get("areas")?)
}

/// The case rows of a list of record ids (bound as one list).
const CASE_IDS_MATCH: &str = "c.record_id = ANY($1)";

const AREAS_BY_CODES: &str = "SELECT * FROM areas WHERE code = ANY($1) ORDER BY code";

const AREA_LEVELS: &str = "SELECT code, level, parent FROM areas WHERE code = ANY($1)";

const RECORD_DOCS: &str = "SELECT id, doc, version FROM records WHERE id = ANY($1)";

const RECORD_DOCS_OLDER_THAN: &str = "SELECT r.id, r.doc, r.version FROM records r \
    WHERE r.id = ANY($1) \
    AND EXISTS (SELECT 1 FROM record_changes c WHERE c.record_id = r.id AND c.seq <= $2)";

/// The rows of the `$2` records owned by one of the grids `$1` that changed last, newest first.
const RECENTLY_CHANGED_OWNED: &str = "SELECT id, kind, status, channel, category, title, owner_grid, claimed_grid, \
    lon, lat, created_by, created_at, updated_at, departments, hazard_type, risk_level \
    FROM records WHERE owner_grid = ANY($1) ORDER BY updated_at DESC, id DESC LIMIT $2";

/// The changes after `$1` up to `$4`, not from origin `$5`, of the records owned by one of the
/// grids `$2` or created by `$3` that changed after `$1`.
const FEED_IN_AREAS: &str = "SELECT c.seq, c.record_id, c.origin, c.bytes FROM record_changes c \
    WHERE c.record_id IN ( \
        SELECT id FROM records WHERE last_seq > $1 AND owner_grid = ANY($2) \
        UNION SELECT id FROM records WHERE last_seq > $1 AND created_by = $3) \
    AND c.seq > $1 AND c.seq <= $4 AND c.origin <> $5 ORDER BY c.seq LIMIT $6";

/// The records that left one of the grids `$3` between the sequence numbers `$1` and `$2`
/// and are not in the scope the grids `$5` and the creator `$4` make now.
const EXITS_FROM_AREAS: &str = "SELECT DISTINCT e.record_id FROM scope_exits e \
    JOIN records r ON r.id = e.record_id \
    WHERE e.seq > $1 AND e.seq <= $2 AND e.grid = ANY($3) \
    AND (r.owner_grid IS NULL OR r.owner_grid <> ALL($5)) \
    AND r.created_by <> $4 ORDER BY e.record_id";

/// The records owned by the grids `$1` an account lost that it may not read now (owned
/// outside its grids `$2`, not created by `$3`).
const RECORDS_IN_LOST_AREAS: &str = "SELECT id FROM records \
    WHERE owner_grid = ANY($1) AND owner_grid <> ALL($2) \
    AND created_by <> $3 ORDER BY id";

/// Record rows for a [`RecordQuery`](super::RecordQuery), in the order `list_records` binds.
/// The filter of [`LIST_RECORDS`] and [`COUNT_RECORDS`]: scope ($1 all, $2 grids, $3 creator,
/// $18 department pattern), owners, unassigned, kind, status, channel, creation window, the
/// cursor ($11, $12) and a box ($13..$16).
macro_rules! records_where {
    () => {
        "WHERE ($1 OR r.owner_grid = ANY($2) OR r.created_by = $3 \
        OR r.departments LIKE $18 ESCAPE '\\') \
    AND ($4 IS NULL OR r.owner_grid = ANY($4)) \
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
    " ORDER BY r.created_at DESC, r.id DESC LIMIT $17"
);

/// How many rows [`LIST_RECORDS`] matches without its cursor and page (at most $17).
const COUNT_RECORDS: &str = concat!(
    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM records r ",
    records_where!(),
    " LIMIT $17) matched"
);

/// A read-only transaction at repeatable read: its statements see one snapshot.
async fn begin_snapshot(pool: &Pool) -> Result<sqlx::Transaction<'static, Db>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

// --- the shared queries, compiled for PostgreSQL --------------------------------------------

shared_queries!();

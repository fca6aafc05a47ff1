//! Records, the change log and blobs on SQLite (issue 4). Called from `sqlite.rs`'s `Store`
//! implementation; the PostgreSQL twin is `postgres_records.rs`.
//! Writing documents, rows and change-log entries is in `record_writes.rs`, shared by both.
//!
//! A bound `LIMIT` is written `LIMIT CAST(? AS INTEGER)`. SQLite reads a plain `LIMIT ?`'s
//! value while planning, so every new binding expires the cached statement and the next run
//! compiles it again: for the sync feed that was 7 % of the SQLite threads' time under load
//! (BENCHMARKS.md, sync ingest, fifth round). An expression is evaluated at run time instead.

use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteRow};

use super::Result;
use super::records::{BlobState, FeedItem, RecordQuery, RecordRow, RecordScope, StoredDoc};

pub(super) async fn record_doc(pool: &SqlitePool, id: &str) -> Result<Option<StoredDoc>> {
    let row = sqlx::query("SELECT doc, version FROM records WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| StoredDoc {
        doc: r.get(0),
        version: r.get(1),
    }))
}

pub(super) async fn record_docs(
    pool: &SqlitePool,
    ids: &[String],
) -> Result<Vec<(String, StoredDoc)>> {
    let rows = sqlx::query(
        "SELECT id, doc, version FROM records WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(json_list(ids))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(stored_doc).collect())
}

/// An `(id, doc, version)` row.
fn stored_doc(r: sqlx::sqlite::SqliteRow) -> (String, StoredDoc) {
    (
        r.get(0),
        StoredDoc {
            doc: r.get(1),
            version: r.get(2),
        },
    )
}

pub(super) async fn record_docs_older_than(
    pool: &SqlitePool,
    ids: &[String],
    seq: i64,
) -> Result<Vec<(String, StoredDoc)>> {
    let rows = sqlx::query(
        "SELECT r.id, r.doc, r.version FROM records r \
         WHERE r.id IN (SELECT value FROM json_each(?1)) \
         AND EXISTS (SELECT 1 FROM record_changes c WHERE c.record_id = r.id AND c.seq <= ?2)",
    )
    .bind(json_list(ids))
    .bind(seq)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(stored_doc).collect())
}

pub(super) async fn change_head(pool: &SqlitePool) -> Result<i64> {
    Ok(sqlx::query("SELECT seq FROM change_seq WHERE id = 1")
        .fetch_one(pool)
        .await?
        .get(0))
}

pub(super) async fn change_feed(
    pool: &SqlitePool,
    after: i64,
    upto: i64,
    exclude_origin: &str,
    scope: &RecordScope,
    limit: i64,
) -> Result<Vec<FeedItem>> {
    let rows = match scope {
        // Everything is in scope: walk the log from the cursor.
        RecordScope::All => {
            sqlx::query(
                "SELECT seq, record_id, origin, bytes FROM record_changes \
                 WHERE seq > ? AND seq <= ? AND origin <> ? ORDER BY seq LIMIT CAST(? AS INTEGER)",
            )
            .bind(after)
            .bind(upto)
            .bind(exclude_origin)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        // Only the records in scope that changed since the cursor, found through their
        // owner or creator and `last_seq`, then their changes since the cursor.
        RecordScope::Areas { codes, creator } => {
            sqlx::query(
                "SELECT c.seq, c.record_id, c.origin, c.bytes FROM record_changes c \
                 WHERE c.record_id IN ( \
                     SELECT id FROM records WHERE last_seq > ?1 \
                         AND owner_grid IN (SELECT value FROM json_each(?2)) \
                     UNION SELECT id FROM records WHERE last_seq > ?1 AND created_by = ?3) \
                 AND c.seq > ?1 AND c.seq <= ?4 AND c.origin <> ?5 ORDER BY c.seq LIMIT CAST(?6 AS INTEGER)",
            )
            .bind(after)
            .bind(json_list(codes))
            .bind(creator)
            .bind(upto)
            .bind(exclude_origin)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|r| FeedItem {
            seq: r.get(0),
            record_id: r.get(1),
            origin: r.get(2),
            bytes: r.get(3),
        })
        .collect())
}

pub(super) async fn list_records(pool: &SqlitePool, q: &RecordQuery) -> Result<Vec<RecordRow>> {
    let (all, codes, creator) = q.scope.parts();
    let codes = json_list(codes);
    let owners = q.owners.as_deref().map(json_list);
    let (after_at, after_id) = match &q.after {
        Some((at, id)) => (Some(*at), Some(id.as_str())),
        None => (None, None),
    };
    let rows = sqlx::query(
        "SELECT id, kind, status, channel, category, title, owner_grid, claimed_grid, lon, lat, \
         created_by, created_at, updated_at FROM records r \
         WHERE (? OR r.owner_grid IN (SELECT value FROM json_each(?)) OR r.created_by = ?) \
         AND (? IS NULL OR r.owner_grid IN (SELECT value FROM json_each(?))) \
         AND (? = 0 OR r.owner_grid IS NULL) \
         AND (? IS NULL OR r.kind = ?) AND (? IS NULL OR r.status = ?) \
         AND (? IS NULL OR r.channel = ?) \
         AND (? IS NULL OR r.created_at >= ?) AND (? IS NULL OR r.created_at < ?) \
         AND (? IS NULL OR r.created_at < ? OR (r.created_at = ? AND r.id < ?)) \
         AND (? IS NULL OR (r.lon >= ? AND r.lat >= ? AND r.lon <= ? AND r.lat <= ?)) \
         ORDER BY r.created_at DESC, r.id DESC LIMIT CAST(? AS INTEGER)",
    )
    .bind(all)
    .bind(codes)
    .bind(creator)
    .bind(owners.as_deref())
    .bind(owners.as_deref())
    .bind(q.unassigned)
    .bind(q.kind.as_deref())
    .bind(q.kind.as_deref())
    .bind(q.status.as_deref())
    .bind(q.status.as_deref())
    .bind(q.channel.as_deref())
    .bind(q.channel.as_deref())
    .bind(q.created_from)
    .bind(q.created_from)
    .bind(q.created_to)
    .bind(q.created_to)
    .bind(after_at)
    .bind(after_at)
    .bind(after_at)
    .bind(after_id)
    .bind(q.bbox.map(|b| b[0]))
    .bind(q.bbox.map(|b| b[0]))
    .bind(q.bbox.map(|b| b[1]))
    .bind(q.bbox.map(|b| b[2]))
    .bind(q.bbox.map(|b| b[3]))
    .bind(q.limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(record_row).collect())
}

/// A list of codes as the JSON array `json_each` reads: SQLite has no array parameters.
fn json_list(codes: &[String]) -> String {
    serde_json::to_string(codes).unwrap_or_else(|_| "[]".into())
}

fn record_row(r: &SqliteRow) -> RecordRow {
    RecordRow {
        id: r.get("id"),
        kind: r.get("kind"),
        status: r.get("status"),
        channel: r.get("channel"),
        category: r.get("category"),
        title: r.get("title"),
        owner_grid: r.get("owner_grid"),
        claimed_grid: r.get("claimed_grid"),
        lon: r.get("lon"),
        lat: r.get("lat"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

pub(super) async fn blob_state(pool: &SqlitePool, sha256: &str) -> Result<Option<BlobState>> {
    let row = sqlx::query(
        "SELECT sha256, size, received, complete, mime_type FROM blobs WHERE sha256 = ?",
    )
    .bind(sha256)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| BlobState {
        sha256: r.get(0),
        size: r.get(1),
        received: r.get(2),
        complete: r.get(3),
        mime_type: r.get(4),
    }))
}

/// Appends bytes at `start`, which must equal what the server holds; returns the new state, or
/// `None` when `start` does not match (the caller answers with the real offset).
pub(super) async fn blob_append(
    pool: &SqlitePool,
    sha256: &str,
    size: i64,
    start: i64,
    bytes: &[u8],
    mime_type: Option<&str>,
    now: i64,
) -> Result<Option<BlobState>> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO blobs (sha256, size, received, complete, mime_type, updated_at) \
         VALUES (?, ?, 0, 0, ?, ?) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(sha256)
    .bind(size)
    .bind(mime_type)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let updated = sqlx::query(
        "UPDATE blobs SET received = received + ?, updated_at = ? \
         WHERE sha256 = ? AND received = ? AND size = ? AND complete = 0 AND received + ? <= size",
    )
    .bind(bytes.len() as i64)
    .bind(now)
    .bind(sha256)
    .bind(start)
    .bind(size)
    .bind(bytes.len() as i64)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    sqlx::query("INSERT INTO blob_chunks (sha256, start_byte, bytes) VALUES (?, ?, ?)")
        .bind(sha256)
        .bind(start)
        .bind(bytes)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    blob_state(pool, sha256).await
}

/// The bytes of a blob from `start`, at most `len`, assembled from its chunks.
pub(super) async fn blob_read(
    pool: &SqlitePool,
    sha256: &str,
    start: i64,
    len: i64,
) -> Result<Vec<u8>> {
    let rows = sqlx::query(
        "SELECT start_byte, bytes FROM blob_chunks WHERE sha256 = ? AND start_byte < ? \
         AND start_byte + length(bytes) > ? ORDER BY start_byte",
    )
    .bind(sha256)
    .bind(start + len)
    .bind(start)
    .fetch_all(pool)
    .await?;
    Ok(super::records::assemble(
        rows.iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<Vec<u8>, _>(1))),
        start,
        len,
    ))
}

/// Marks a blob complete (after its hash was verified) or, when `verified` is false, forgets
/// it so the device uploads it again.
pub(super) async fn blob_finish(pool: &SqlitePool, sha256: &str, verified: bool) -> Result<()> {
    let mut tx = pool.begin().await?;
    if verified {
        sqlx::query("UPDATE blobs SET complete = 1 WHERE sha256 = ?")
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("DELETE FROM blob_chunks WHERE sha256 = ?")
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM blobs WHERE sha256 = ?")
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every file whose SQL runs on SQLite: this backend's and the queries shared by both.
    const SOURCES: [(&str, &str); 5] = [
        ("sqlite.rs", include_str!("sqlite.rs")),
        ("sqlite_records.rs", include_str!("sqlite_records.rs")),
        ("record_writes.rs", include_str!("record_writes.rs")),
        ("gis.rs", include_str!("gis.rs")),
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
                    "{file}:{}: write a bound LIMIT as `LIMIT CAST(? AS INTEGER)`, or SQLite \
                     compiles the statement again on every run",
                    n + 1
                );
            }
        }
    }
}

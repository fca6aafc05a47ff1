//! Photos and other attachments: content-addressed blobs, received in resumable ranges.

/// How much of a blob the server holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobState {
    pub sha256: String,
    pub size: i64,
    pub received: i64,
    pub complete: bool,
    /// What its first bytes are (sniffed by the server, never taken from the client).
    pub mime_type: Option<String>,
    /// The account that sent its first bytes.
    pub uploaded_by: Option<String>,
}

/// One range of a blob to append.
#[derive(Debug, Clone, Copy)]
pub struct BlobAppend<'a> {
    pub sha256: &'a str,
    /// The whole blob's size.
    pub size: i64,
    /// Where the range starts: what the server must hold already.
    pub start: i64,
    pub bytes: &'a [u8],
    /// The sniffed type, given with the first range.
    pub mime_type: Option<&'a str>,
    /// The account sending it.
    pub uploaded_by: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// The bytes `[start, start + len)` of a blob from its chunks `(start, bytes)`, sorted by start.
pub(crate) fn assemble(
    chunks: impl Iterator<Item = (i64, Vec<u8>)>,
    start: i64,
    len: i64,
) -> Vec<u8> {
    let end = start + len;
    let mut out = Vec::with_capacity(len.max(0) as usize);
    for (chunk_start, bytes) in chunks {
        let chunk_end = chunk_start + bytes.len() as i64;
        let from = start.max(chunk_start);
        let to = end.min(chunk_end);
        if from < to {
            out.extend_from_slice(
                &bytes[(from - chunk_start) as usize..(to - chunk_start) as usize],
            );
        }
    }
    out
}

/// The blob queries, for one backend (see `store/mod.rs`).
macro_rules! queries {
    () => {
        use sqlx::Row;

        use super::Pool;
        use $crate::store::Result;
        use $crate::store::blobs::{BlobAppend, BlobState, assemble};

        pub(in crate::store) async fn blob_state(
            pool: &Pool,
            sha256: &str,
        ) -> Result<Option<BlobState>> {
            let row = sqlx::query(
                "SELECT sha256, size, received, complete, mime_type, uploaded_by FROM blobs \
                 WHERE sha256 = $1",
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
                uploaded_by: r.get(5),
            }))
        }

        /// Appends bytes at `start`, which must equal what the server holds; returns the new
        /// state, or `None` when `start` does not match (the caller answers with the real
        /// offset).
        pub(in crate::store) async fn blob_append(
            pool: &Pool,
            append: &BlobAppend<'_>,
        ) -> Result<Option<BlobState>> {
            let BlobAppend {
                sha256,
                size,
                start,
                bytes,
                mime_type,
                uploaded_by,
                now,
            } = *append;
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO blobs (sha256, size, received, complete, mime_type, updated_at, \
                 uploaded_by) VALUES ($1, $2, 0, FALSE, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(sha256)
            .bind(size)
            .bind(mime_type)
            .bind(now)
            .bind(uploaded_by)
            .execute(&mut *tx)
            .await?;
            let updated = sqlx::query(
                "UPDATE blobs SET received = received + $1, updated_at = $2 \
                 WHERE sha256 = $3 AND received = $4 AND size = $5 AND complete = FALSE \
                 AND received + $1 <= size",
            )
            .bind(bytes.len() as i64)
            .bind(now)
            .bind(sha256)
            .bind(start)
            .bind(size)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            sqlx::query("INSERT INTO blob_chunks (sha256, start_byte, bytes) VALUES ($1, $2, $3)")
                .bind(sha256)
                .bind(start)
                .bind(bytes)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            blob_state(pool, sha256).await
        }

        /// Bytes of the blobs an account uploaded that no record references yet.
        pub(in crate::store) async fn unreferenced_upload_bytes(
            pool: &Pool,
            username: &str,
        ) -> Result<i64> {
            let row = sqlx::query(
                "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b \
                 WHERE b.uploaded_by = $1 AND NOT EXISTS \
                 (SELECT 1 FROM record_attachments a WHERE a.sha256 = b.sha256)",
            )
            .bind(username)
            .fetch_one(pool)
            .await?;
            Ok(row.get(0))
        }

        /// The bytes of a blob from `start`, at most `len`, assembled from its chunks.
        pub(in crate::store) async fn blob_read(
            pool: &Pool,
            sha256: &str,
            start: i64,
            len: i64,
        ) -> Result<Vec<u8>> {
            let rows = sqlx::query(
                "SELECT start_byte, bytes FROM blob_chunks WHERE sha256 = $1 AND start_byte < $2 \
                 AND start_byte + length(bytes) > $3 ORDER BY start_byte",
            )
            .bind(sha256)
            .bind(start + len)
            .bind(start)
            .fetch_all(pool)
            .await?;
            Ok(assemble(
                rows.iter()
                    .map(|r| (r.get::<i64, _>(0), r.get::<Vec<u8>, _>(1))),
                start,
                len,
            ))
        }

        /// Marks a blob complete (after its hash was verified) or, when `verified` is false,
        /// forgets it so the device uploads it again.
        pub(in crate::store) async fn blob_finish(
            pool: &Pool,
            sha256: &str,
            verified: bool,
        ) -> Result<()> {
            let mut tx = pool.begin().await?;
            if verified {
                sqlx::query("UPDATE blobs SET complete = TRUE WHERE sha256 = $1")
                    .bind(sha256)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query("DELETE FROM blob_chunks WHERE sha256 = $1")
                    .bind(sha256)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM blobs WHERE sha256 = $1")
                    .bind(sha256)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }
    };
}

pub(super) use queries;

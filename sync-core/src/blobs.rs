//! Photos and files: attached to a record by content hash, kept in the store until the server
//! holds every byte, and uploaded in ranges so a link that breaks at 90 % resumes at 90 %.
//!
//! The upload itself is the caller's: ask [`Store::next_upload`] what to send, read those bytes
//! with [`Store::read_upload`], send them (`PUT /api/v1/blobs/{sha256}` with `Content-Range`),
//! and report what the server holds with [`Store::set_uploaded`] (from the PUT's answer, or from
//! a `HEAD` after a broken link).

use rusqlite::{MAIN_DB, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::edit::push_event;
use crate::error::{Error, Result, SchemaError};
use crate::schema::{Attachment, RecordId};
use crate::store::{Store, update_in};

/// The largest attachment accepted, in bytes.
pub const MAX_BLOB_BYTES: u64 = 64 << 20;

/// The next range of a blob to send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UploadChunk {
    pub sha256: String,
    pub mime_type: String,
    /// First byte to send.
    pub offset: u64,
    /// How many bytes to send.
    pub len: u64,
    /// The blob's whole size.
    pub total: u64,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl Store {
    /// Attaches a photo or file to a record: stores the bytes for upload, adds the attachment
    /// (keyed by its sha256) and a `photo` timeline event, all in one transaction.
    pub fn attach(
        &mut self,
        id: &RecordId,
        bytes: &[u8],
        mime_type: &str,
        caption: Option<&str>,
    ) -> Result<Attachment> {
        if bytes.is_empty() || bytes.len() as u64 > MAX_BLOB_BYTES {
            return Err(SchemaError::OutOfRange {
                field: "attachment.size",
                value: bytes.len() as f64,
            }
            .into());
        }
        if mime_type.is_empty() || !mime_type.contains('/') {
            return Err(SchemaError::MissingField("attachment.mime_type").into());
        }
        let attachment = Attachment {
            sha256: sha256_hex(bytes),
            mime_type: mime_type.to_string(),
            size: bytes.len() as u64,
            caption: caption.map(str::to_string),
        };
        let (actor, writer) = (self.actor().clone(), self.writer().clone());
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO blobs (sha256, mime_type, size, bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (sha256) DO NOTHING",
            params![attachment.sha256, mime_type, bytes.len() as i64, bytes, crate::now_ms()],
        )?;
        let added = attachment.clone();
        update_in(&tx, &actor, &writer, id, |r| {
            if !r.attachments.contains_key(&added.sha256) {
                r.attachments.insert(added.sha256.clone(), added.clone());
                push_event(r, &writer.user, "photo", &added.sha256);
            }
            Ok(())
        })?;
        tx.commit()?;
        Ok(attachment)
    }

    /// The next range to upload, at most `max_len` bytes, or `None` when the server holds every
    /// blob. Oldest blob first.
    pub fn next_upload(&self, max_len: u64) -> Result<Option<UploadChunk>> {
        let row = self
            .conn
            .query_row(
                "SELECT sha256, mime_type, size, uploaded FROM blobs WHERE uploaded < size
                 ORDER BY created_at, id LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(|(sha256, mime_type, size, uploaded)| {
            let (size, uploaded) = (size as u64, uploaded as u64);
            UploadChunk {
                sha256,
                mime_type,
                offset: uploaded,
                len: (size - uploaded).min(max_len.max(1)),
                total: size,
            }
        }))
    }

    /// The bytes of `chunk`, read from the store without loading the whole blob.
    pub fn read_upload(&self, chunk: &UploadChunk) -> Result<Vec<u8>> {
        let rowid: i64 = self
            .conn
            .query_row(
                "SELECT id FROM blobs WHERE sha256 = ?1",
                params![chunk.sha256],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::BlobNotFound(chunk.sha256.clone()))?;
        let blob = self
            .conn
            .blob_open(MAIN_DB, c"blobs", c"bytes", rowid, true)?;
        let end = chunk
            .offset
            .saturating_add(chunk.len)
            .min(blob.len() as u64);
        if chunk.offset > end {
            return Ok(Vec::new());
        }
        let mut out = vec![0u8; (end - chunk.offset) as usize];
        blob.read_at_exact(&mut out, chunk.offset as usize)?;
        Ok(out)
    }

    /// Records how many bytes of a blob the server holds (after a PUT, or from a HEAD after a
    /// broken link). The server is the truth: this may move the offset back as well as forward.
    pub fn set_uploaded(&mut self, sha256: &str, server_holds: u64) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE blobs SET uploaded = min(?2, size) WHERE sha256 = ?1",
            params![sha256, server_holds as i64],
        )?;
        if n == 0 {
            return Err(Error::BlobNotFound(sha256.to_string()));
        }
        Ok(())
    }

    /// How many blobs still have bytes to upload.
    pub fn pending_blobs(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM blobs WHERE uploaded < size",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordBuilder;

    #[test]
    fn a_broken_upload_resumes_from_what_the_server_holds() {
        let mut store = Store::open_in_memory("wang", "p").unwrap();
        let id = store
            .create(&RecordBuilder::complaint("Pothole", store.writer()).build())
            .unwrap();
        let photo: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let attachment = store
            .attach(&id, &photo, "image/jpeg", Some("north side"))
            .unwrap();
        assert_eq!(attachment.sha256, sha256_hex(&photo));
        assert!(
            store
                .get(&id)
                .unwrap()
                .attachments
                .contains_key(&attachment.sha256)
        );

        let mut received = Vec::new();
        let first = store.next_upload(4096).unwrap().unwrap();
        assert_eq!((first.offset, first.len, first.total), (0, 4096, 10_000));
        received.extend(store.read_upload(&first).unwrap());
        // The link broke after the server stored 3,000 of those bytes; HEAD says so.
        received.truncate(3000);
        store.set_uploaded(&attachment.sha256, 3000).unwrap();
        while let Some(chunk) = store.next_upload(4096).unwrap() {
            assert_eq!(chunk.offset as usize, received.len());
            received.extend(store.read_upload(&chunk).unwrap());
            store
                .set_uploaded(&chunk.sha256, chunk.offset + chunk.len)
                .unwrap();
        }
        assert_eq!(received, photo);
        assert_eq!(store.pending_blobs().unwrap(), 0);
    }

    #[test]
    fn an_empty_attachment_is_refused_and_changes_nothing() {
        let mut store = Store::open_in_memory("wang", "p").unwrap();
        let id = store
            .create(&RecordBuilder::complaint("Pothole", store.writer()).build())
            .unwrap();
        assert!(store.attach(&id, &[], "image/jpeg", None).is_err());
        assert!(store.get(&id).unwrap().attachments.is_empty());
        assert_eq!(store.pending_blobs().unwrap(), 0);
    }
}

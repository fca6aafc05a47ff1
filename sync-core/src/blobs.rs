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

/// Where a photo of a record is on its way to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadPhase {
    /// The server holds every byte.
    Uploaded,
    /// The server holds some bytes; the rest are queued.
    Uploading,
    /// Waiting in the queue; nothing sent yet.
    Queued,
    /// The app paused it.
    Paused,
    /// Attached on another device; this one never held its bytes.
    Elsewhere,
}

/// One photo's upload state ([`Store::upload_states`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UploadState {
    pub sha256: String,
    pub state: UploadPhase,
    /// Bytes the server holds, as far as this device knows.
    pub uploaded: u64,
    pub size: u64,
    /// Its place in the queue (higher goes first).
    pub priority: i64,
}

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
        tx.execute(
            "INSERT OR IGNORE INTO blob_records (sha256, record_id) VALUES (?1, ?2)",
            params![attachment.sha256, id.as_bytes()],
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
    /// blob the app has not paused. Highest priority first, then oldest.
    pub fn next_upload(&self, max_len: u64) -> Result<Option<UploadChunk>> {
        let row = self
            .conn
            .query_row(
                "SELECT sha256, mime_type, size, uploaded FROM blobs
                 WHERE uploaded < size AND paused = 0
                 ORDER BY priority DESC, created_at, id LIMIT 1",
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

    /// Sets a queued blob's priority (higher goes first; 0 is the default) and whether it is
    /// paused (a paused blob is not offered by [`Store::next_upload`] until resumed).
    pub fn set_upload_order(&mut self, sha256: &str, priority: i64, paused: bool) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE blobs SET priority = ?2, paused = ?3 WHERE sha256 = ?1",
            params![sha256, priority, paused],
        )?;
        if n == 0 {
            return Err(Error::BlobNotFound(sha256.to_string()));
        }
        Ok(())
    }

    /// Drops a photo the server does not hold whole yet, because the worker decided not to
    /// send it (the wrong picture, a long video over 2G): it leaves the record, with a
    /// `photo_dropped` timeline event, and its bytes leave the upload queue, in one
    /// transaction (unless the same photo is attached to another record, which still sends
    /// it). A photo whose bytes this store never held (attached on another device) is
    /// `BlobNotFound`; one the server holds whole is `AlreadyUploaded` and stays.
    pub fn drop_photo(&mut self, id: &RecordId, sha256: &str) -> Result<()> {
        let (actor, writer) = (self.actor().clone(), self.writer().clone());
        let tx = self.conn.transaction()?;
        let held: Option<(i64, i64)> = tx
            .query_row(
                "SELECT size, uploaded FROM blobs WHERE sha256 = ?1",
                params![sha256],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match held {
            None => return Err(Error::BlobNotFound(sha256.to_string())),
            Some((size, uploaded)) if uploaded >= size => {
                return Err(Error::AlreadyUploaded(sha256.to_string()));
            }
            Some(_) => {}
        }
        update_in(&tx, &actor, &writer, id, |r| {
            if r.attachments.remove(sha256).is_none() {
                return Err(Error::BlobNotFound(sha256.to_string()));
            }
            push_event(r, &writer.user, "photo_dropped", sha256);
            Ok(())
        })?;
        tx.execute(
            "DELETE FROM blob_records WHERE sha256 = ?1 AND record_id = ?2",
            params![sha256, id.as_bytes()],
        )?;
        // The same photo attached to another record stays queued for that one.
        tx.execute(
            "DELETE FROM blobs WHERE sha256 = ?1
             AND NOT EXISTS (SELECT 1 FROM blob_records WHERE sha256 = ?1)",
            params![sha256],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The upload state of each photo of a record, by sha256: `uploaded` (the server holds it
    /// all), `uploading` (part of it), `queued`, `paused`, or `elsewhere` (attached on another
    /// device: this one never held its bytes).
    pub fn upload_states(&self, id: &RecordId) -> Result<Vec<UploadState>> {
        let record = self.get(id)?;
        let mut stmt = self
            .conn
            .prepare("SELECT size, uploaded, paused, priority FROM blobs WHERE sha256 = ?1")?;
        let mut out = Vec::with_capacity(record.attachments.len());
        for (sha256, attachment) in &record.attachments {
            let row = stmt
                .query_row(params![sha256], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()?;
            let (state, uploaded, priority) = match row {
                None => (UploadPhase::Elsewhere, attachment.size, 0),
                Some((size, uploaded, _, priority)) if uploaded >= size => {
                    (UploadPhase::Uploaded, uploaded as u64, priority)
                }
                Some((_, uploaded, true, priority)) => {
                    (UploadPhase::Paused, uploaded as u64, priority)
                }
                Some((_, 0, false, priority)) => (UploadPhase::Queued, 0, priority),
                Some((_, uploaded, false, priority)) => {
                    (UploadPhase::Uploading, uploaded as u64, priority)
                }
            };
            out.push(UploadState {
                sha256: sha256.clone(),
                state,
                uploaded,
                size: attachment.size,
                priority,
            });
        }
        Ok(out)
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
    fn a_photo_dropped_from_one_record_stays_queued_for_another_that_holds_it_too() {
        let mut store = Store::open_in_memory("wang", "p").unwrap();
        let complaint = store
            .create(&RecordBuilder::complaint("Pothole", store.writer()).build())
            .unwrap();
        let hazard = store
            .create(&RecordBuilder::complaint("Open manhole", store.writer()).build())
            .unwrap();
        let photo = store
            .attach(&complaint, &[9; 10], "image/jpeg", None)
            .unwrap();
        store.attach(&hazard, &[9; 10], "image/jpeg", None).unwrap();

        store.drop_photo(&complaint, &photo.sha256).unwrap();

        assert!(
            !store
                .get(&complaint)
                .unwrap()
                .attachments
                .contains_key(&photo.sha256)
        );
        assert_eq!(store.pending_blobs().unwrap(), 1);
        let next = store.next_upload(1024).unwrap().expect("still queued");
        assert_eq!(next.sha256, photo.sha256);
        assert_eq!(
            store.upload_states(&hazard).unwrap()[0].state,
            UploadPhase::Queued
        );

        store.drop_photo(&hazard, &photo.sha256).unwrap();

        assert_eq!(store.pending_blobs().unwrap(), 0);
        assert!(store.next_upload(1024).unwrap().is_none());
    }

    #[test]
    fn a_photo_not_yet_on_the_server_is_dropped_from_record_and_queue_and_one_sent_stays() {
        let mut store = Store::open_in_memory("wang", "p").unwrap();
        let id = store
            .create(&RecordBuilder::complaint("Pothole", store.writer()).build())
            .unwrap();
        let wrong = store.attach(&id, &[1, 2, 3], "image/jpeg", None).unwrap();
        let sent = store
            .attach(&id, &[4, 5, 6, 7], "image/jpeg", None)
            .unwrap();
        store.set_uploaded(&sent.sha256, 4).unwrap();

        store.drop_photo(&id, &wrong.sha256).unwrap();

        let record = store.get(&id).unwrap();
        assert_eq!(
            record.attachments.keys().collect::<Vec<_>>(),
            vec![&sent.sha256]
        );
        let last = record.timeline.last().unwrap();
        assert_eq!(
            (last.kind.as_str(), &last.note),
            ("photo_dropped", &wrong.sha256)
        );
        assert_eq!(store.pending_blobs().unwrap(), 0);
        assert!(store.next_upload(1024).unwrap().is_none());
        assert!(matches!(
            store.drop_photo(&id, &wrong.sha256),
            Err(Error::BlobNotFound(_))
        ));
        assert!(matches!(
            store.drop_photo(&id, &sent.sha256),
            Err(Error::AlreadyUploaded(_))
        ));
        assert!(
            store
                .get(&id)
                .unwrap()
                .attachments
                .contains_key(&sent.sha256)
        );
    }

    #[test]
    fn the_app_orders_and_pauses_the_photo_queue_and_each_photo_says_where_it_stands() {
        let mut store = Store::open_in_memory("wang", "p").unwrap();
        let id = store
            .create(&RecordBuilder::complaint("Pothole", store.writer()).build())
            .unwrap();
        let photo = |seed: u8| -> Vec<u8> { (0..1000u32).map(|i| (i as u8) ^ seed).collect() };
        let first = store.attach(&id, &photo(1), "image/jpeg", None).unwrap();
        let second = store.attach(&id, &photo(2), "image/jpeg", None).unwrap();
        let third = store.attach(&id, &photo(3), "image/jpeg", None).unwrap();

        // The third goes first (its priority), then the second; the first waits, paused.
        store.set_upload_order(&third.sha256, 5, false).unwrap();
        store.set_upload_order(&first.sha256, 0, true).unwrap();
        assert_eq!(
            store.next_upload(400).unwrap().unwrap().sha256,
            third.sha256
        );
        store.set_uploaded(&third.sha256, 1000).unwrap();
        let next = store.next_upload(400).unwrap().unwrap();
        assert_eq!(next.sha256, second.sha256);
        store.set_uploaded(&second.sha256, 400).unwrap();

        let states: std::collections::HashMap<String, (UploadPhase, u64)> = store
            .upload_states(&id)
            .unwrap()
            .into_iter()
            .map(|s| (s.sha256, (s.state, s.uploaded)))
            .collect();
        assert_eq!(states[&third.sha256], (UploadPhase::Uploaded, 1000));
        assert_eq!(states[&second.sha256], (UploadPhase::Uploading, 400));
        assert_eq!(states[&first.sha256], (UploadPhase::Paused, 0));
        let status = store.sync_status().unwrap();
        assert_eq!(
            (
                status.pending_photos,
                status.pending_photo_bytes,
                status.paused_photos
            ),
            (1, 600, 1)
        );

        store.set_uploaded(&second.sha256, 1000).unwrap();
        assert!(
            store.next_upload(400).unwrap().is_none(),
            "the paused one waits"
        );
        store.set_upload_order(&first.sha256, 0, false).unwrap();
        assert_eq!(
            store.next_upload(400).unwrap().unwrap().sha256,
            first.sha256
        );
        assert!(matches!(
            store.set_upload_order(&"0".repeat(64), 1, false),
            Err(Error::BlobNotFound(_))
        ));
    }

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

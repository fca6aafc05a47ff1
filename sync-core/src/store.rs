//! The phone's durable store: one SQLite file in WAL mode.
//!
//! Tables (see `MIGRATIONS`):
//! - `doc_chunks`: each document as a sequence of automerge chunks. A new record is its one
//!   change; a local change appends one small chunk (the change alone); after [`COMPACT_AFTER`]
//!   chunks the document is rewritten as one compact save. Loading concatenates the chunks.
//! - `records`: one materialized row per record (kind, status, grid, times, title) for listing
//!   without loading documents, plus that document's sync state: what the server has
//!   acknowledged (`acked_heads`), a counter of local changes (`local_counter`) against the
//!   counter the server acknowledged (`acked_counter`), and what the last request sent.
//! - `meta`: the store's actor id, account, device, and the server cursor.
//! - `blobs`: attached photos and files with how many bytes the server holds (resumable upload);
//!   `blob_records`: which records hold each (one photo may be attached to several).
//! - `rejected`: local copies of documents whose changes the server refused, kept for the user
//!   to see and redo.
//! - `contacts_pending`: complainants' contact details sealed for the server, until it
//!   acknowledges them; never the plaintext ([`crate::contact`]).
//!
//! Every write is one SQLite transaction, committed with `synchronous=FULL`: a kill at any moment
//! leaves either the whole write or none of it. Documents are loaded on demand and never cached,
//! so memory does not grow with the number of records.

use std::path::Path;

use automerge::{ActorId, ChangeHash};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::contact::{Contact, ContactKey};
use crate::document::{RecordDoc, Writer, new_actor, now_ms};
use crate::error::{Error, Result, SchemaError};
use crate::field::{FieldStep, Task};
use crate::schema::{Kind, Record, RecordId, Status};

/// After this many incremental chunks a document is rewritten as one compact save.
pub const COMPACT_AFTER: i64 = 64;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE doc_chunks (
    doc_id BLOB NOT NULL,
    seq    INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;

CREATE TABLE records (
    id            BLOB PRIMARY KEY,
    kind          TEXT NOT NULL,
    status        TEXT NOT NULL,
    grid          TEXT,
    owner_grid    TEXT,
    claimed_grid  TEXT,
    category      TEXT NOT NULL,
    channel       TEXT NOT NULL,
    title         TEXT NOT NULL,
    lon           REAL,
    lat           REAL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    local_counter INTEGER NOT NULL DEFAULT 0,
    acked_counter INTEGER NOT NULL DEFAULT 0,
    acked_heads   BLOB NOT NULL DEFAULT x'',
    sent_request  INTEGER,
    sent_counter  INTEGER,
    sent_heads    BLOB
);
CREATE INDEX records_by_grid ON records (grid, updated_at);
CREATE INDEX records_by_kind_status ON records (kind, status, updated_at);
CREATE INDEX records_by_updated ON records (updated_at);
CREATE INDEX records_unacked ON records (updated_at) WHERE local_counter > acked_counter;

-- Documents that received changes whose dependencies this device never saw.
CREATE TABLE history_needed (
    doc_id BLOB PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE rejected (
    id       INTEGER PRIMARY KEY,
    doc_id   BLOB NOT NULL,
    at       INTEGER NOT NULL,
    code     TEXT NOT NULL,
    reason   TEXT NOT NULL,
    bytes    BLOB NOT NULL
);
"#,
    r#"
-- Photos and files waiting to upload, and how much of each the server confirmed holding.
CREATE TABLE blobs (
    id         INTEGER PRIMARY KEY,
    sha256     TEXT NOT NULL UNIQUE,
    mime_type  TEXT NOT NULL,
    size       INTEGER NOT NULL,
    bytes      BLOB NOT NULL,
    uploaded   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX blobs_pending ON blobs (created_at) WHERE uploaded < size;
"#,
    r#"
-- Complainants' contact details sealed for the server, kept until it acknowledges them. The
-- server's contact key they are sealed with is pinned in meta (`contact_key`).
CREATE TABLE contacts_pending (
    record_id    BLOB PRIMARY KEY,
    sealed       BLOB NOT NULL,
    sent_request INTEGER
) WITHOUT ROWID;
"#,
    r#"
-- What a record waits for from this store's worker (`amend`, `reinspect`), kept with the row
-- so "needs my action" is listed without loading documents. Filled for existing rows when the
-- store opens after this migration.
ALTER TABLE records ADD COLUMN task TEXT;
CREATE INDEX records_by_task ON records (updated_at) WHERE task IS NOT NULL;
"#,
    r#"
-- The app's hold on the photo queue: a higher priority goes first, a paused photo waits.
ALTER TABLE blobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
DROP INDEX blobs_pending;
CREATE INDEX blobs_queue ON blobs (priority DESC, created_at) WHERE uploaded < size;
"#,
    r#"
-- Which records hold each stored blob. A blob is stored once by its content, and the same photo
-- may be attached to several records: dropping it from one keeps it queued for the others.
-- Filled for existing blobs when the store opens after this migration.
CREATE TABLE blob_records (
    sha256    TEXT NOT NULL,
    record_id BLOB NOT NULL,
    PRIMARY KEY (sha256, record_id)
) WITHOUT ROWID;
"#,
];

/// The migration that added each row's task (its number, counting from 1).
const TASK_MIGRATION: i64 = 4;

/// The migration that added which records hold each blob.
const BLOB_RECORDS_MIGRATION: i64 = 6;

/// What a store from before some migrations works out from its documents when it opens, in
/// one pass over them: each row's `task` (for `worker`), and which records hold each stored
/// blob.
fn fill_from_documents(
    tx: &Transaction<'_>,
    worker: &str,
    tasks: bool,
    blob_records: bool,
) -> Result<()> {
    if !tasks && !blob_records {
        return Ok(());
    }
    let ids: Vec<Vec<u8>> = tx
        .prepare("SELECT id FROM records")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in ids {
        let id = uuid_from_blob(&id);
        let Some(doc) = load_doc(tx, &id)? else {
            continue;
        };
        let Ok(record) = doc.record() else {
            continue;
        };
        if tasks {
            tx.execute(
                "UPDATE records SET task = ?2 WHERE id = ?1",
                params![id.as_bytes(), record.task_for(worker).map(Task::as_str)],
            )?;
        }
        if blob_records {
            for sha256 in record.attachments.keys() {
                tx.execute(
                    "INSERT OR IGNORE INTO blob_records (sha256, record_id)
                     SELECT sha256, ?2 FROM blobs WHERE sha256 = ?1",
                    params![sha256, id.as_bytes()],
                )?;
            }
        }
    }
    Ok(())
}

/// A record's row in the listing, read without loading its document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordSummary {
    pub id: RecordId,
    pub kind: String,
    pub status: String,
    /// The owner grid when the server has decided, otherwise the device's claimed grid.
    pub grid: Option<String>,
    pub owner_grid: Option<String>,
    pub category: String,
    pub title: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Local changes the server has not acknowledged yet.
    pub pending_upload: bool,
    /// What the record waits for from this store's worker ([`Record::task_for`]): it needs
    /// their action.
    pub task: Option<Task>,
}

/// Which records to list. Empty fields do not filter.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListFilter {
    pub grid: Option<String>,
    pub kind: Option<Kind>,
    pub status: Option<Status>,
    /// Only records changed at or after this time (milliseconds since the Unix epoch).
    pub changed_since: Option<i64>,
    /// Only records that wait for this store's worker (`true`), or only those that do not.
    pub needs_action: Option<bool>,
    /// At most this many rows (default 100, at most 10,000).
    pub limit: Option<u32>,
}

/// Where a store stands with the server ([`Store::sync_status`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncStatus {
    /// Records with local changes the server has not acknowledged.
    pub pending_records: u64,
    /// Complainants' contact details waiting for the server.
    pub pending_contacts: u64,
    /// Documents whose missing history the next request asks for.
    pub history_requests: u64,
    /// Photos with bytes still to upload (not paused), and how many bytes.
    pub pending_photos: u64,
    pub pending_photo_bytes: u64,
    /// Photos the app paused.
    pub paused_photos: u64,
    /// Uploads the server refused, kept in the rejected list.
    pub rejected: u64,
    /// When the last response was applied (milliseconds since the Unix epoch), if ever.
    pub last_sync_at: Option<i64>,
    /// The last response said the server has more for this device.
    pub server_has_more: bool,
    /// Records, contact details or history requests wait to go up.
    pub local_has_more: bool,
    /// Nothing waits either way, photos included: as of the last exchange, this device has
    /// everything and the server has everything of this device's.
    pub up_to_date: bool,
    /// The server cursor.
    pub cursor: u64,
}

/// A document the server refused, kept on the device.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RejectedCopy {
    pub id: RecordId,
    pub at: i64,
    pub code: String,
    pub reason: String,
}

/// The phone's store.
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
    actor: ActorId,
    writer: Writer,
}

impl Store {
    /// Opens (creating and migrating if needed) the store at `path` for `account` on `device`.
    /// A store belongs to one account: opening it for another is an error, so one person's
    /// records never leak into another's session on a shared phone.
    pub fn open(path: impl AsRef<Path>, account: &str, device: &str) -> Result<Store> {
        let conn = Connection::open(path)?;
        Self::init(conn, account, device)
    }

    /// A store that lives in memory only, for tests and tools.
    pub fn open_in_memory(account: &str, device: &str) -> Result<Store> {
        Self::init(Connection::open_in_memory()?, account, device)
    }

    fn init(mut conn: Connection, account: &str, device: &str) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let tx = conn.transaction()?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        let actor = match get_meta(&tx, "actor")? {
            Some(bytes) => ActorId::from(bytes),
            None => {
                let actor = new_actor();
                set_meta(&tx, "actor", actor.to_bytes())?;
                actor
            }
        };
        match get_meta(&tx, "account")? {
            Some(stored) if stored != account.as_bytes() => {
                return Err(Error::WrongAccount {
                    stored: String::from_utf8_lossy(&stored).into_owned(),
                    requested: account.to_string(),
                });
            }
            Some(_) => {}
            None => set_meta(&tx, "account", account.as_bytes())?,
        }
        set_meta(&tx, "device", device.as_bytes())?;
        fill_from_documents(
            &tx,
            account,
            version < TASK_MIGRATION,
            version < BLOB_RECORDS_MIGRATION,
        )?;
        tx.commit()?;
        Ok(Store {
            conn,
            actor,
            writer: Writer::new(account, device),
        })
    }

    /// Who this store writes as.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// This store's automerge actor.
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    /// Saves a new record. It must be valid and its id new; a record that says its complainant
    /// left contact details is made with [`Store::create_with_contact`].
    pub fn create(&mut self, record: &Record) -> Result<RecordId> {
        self.create_with_contact(record, None)
    }

    /// Pins the server's contact key, as the login answer gives it. The first key is kept; a
    /// different one later is refused ([`Error::ContactKeyChanged`]): details sealed for a key
    /// the device did not expect could be read by whoever holds it.
    pub fn pin_contact_key(&mut self, key: &[u8]) -> Result<ContactKey> {
        let offered = ContactKey::from_bytes(key)?;
        let tx = self.conn.transaction()?;
        match get_meta(&tx, "contact_key")? {
            Some(pinned) if pinned != key => {
                let pinned = ContactKey::from_bytes(&pinned)?;
                return Err(Error::ContactKeyChanged {
                    pinned: pinned.id(),
                    offered: offered.id(),
                });
            }
            Some(_) => {}
            None => set_meta(&tx, "contact_key", key)?,
        }
        tx.commit()?;
        Ok(offered)
    }

    /// The server's pinned contact key, if a login gave one.
    pub fn contact_key(&self) -> Result<Option<ContactKey>> {
        Ok(match get_meta(&self.conn, "contact_key")? {
            Some(bytes) => Some(ContactKey::from_bytes(&bytes)?),
            None => None,
        })
    }

    /// Saves a new record with its complainant's contact details, which are sealed for the
    /// server with the pinned key ([`Error::NoContactKey`] before a login gave one) and kept
    /// beside the document until the server acknowledges them. The record must say so
    /// (`complainant.has_contact`), as [`NewComplainant::split`](crate::NewComplainant) makes
    /// it.
    pub fn create_with_contact(
        &mut self,
        record: &Record,
        contact: Option<&Contact>,
    ) -> Result<RecordId> {
        let has_contact = record.complainant.as_ref().is_some_and(|c| c.has_contact);
        let sealed = match contact {
            Some(_) if !has_contact => {
                return Err(SchemaError::Inconsistent(
                    "contact details for a record whose complainant left none",
                )
                .into());
            }
            None if has_contact => {
                return Err(SchemaError::Inconsistent(
                    "the complainant's contact details are missing",
                )
                .into());
            }
            Some(contact) => {
                let key = self.contact_key()?.ok_or(Error::NoContactKey)?;
                Some(key.seal(record.id, contact)?)
            }
            None => None,
        };
        let mut doc = RecordDoc::create(record, self.actor.clone(), &self.writer)?;
        let tx = self.conn.transaction()?;
        if row_exists(&tx, &record.id)? {
            return Err(Error::AlreadyExists(record.id));
        }
        if let Some(sealed) = sealed {
            tx.execute(
                "INSERT INTO contacts_pending (record_id, sealed) VALUES (?1, ?2)",
                params![record.id.as_bytes(), sealed.sealed],
            )?;
        }
        insert_chunk(&tx, &record.id, 0, &doc.changes())?;
        upsert_row(&tx, record, &self.writer.user)?;
        tx.execute(
            "UPDATE records SET local_counter = local_counter + 1 WHERE id = ?1",
            params![record.id.as_bytes()],
        )?;
        tx.commit()?;
        Ok(record.id)
    }

    /// Changes a record through `edit`, saving the difference as one change. Returns whether
    /// anything changed. An edit that would make the record invalid changes nothing.
    pub fn update(
        &mut self,
        id: &RecordId,
        edit: impl FnOnce(&mut Record) -> Result<()>,
    ) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let changed = update_in(&tx, &self.actor, &self.writer, id, edit)?;
        tx.commit()?;
        Ok(changed)
    }

    /// Appends a note to a record's timeline.
    pub fn add_note(&mut self, id: &RecordId, note: &str) -> Result<()> {
        let user = self.writer.user.clone();
        self.update(id, |r| {
            crate::edit::push_event(r, &user, "note", note);
            Ok(())
        })?;
        Ok(())
    }

    /// Takes a field step on a record, offline: appends the step's event, in this store's
    /// account's name, for the server to act on at the next sync ([`crate::field`]). Refused
    /// with [`Error::NotWaiting`] unless the record waits for the step's task from this
    /// account. `note` says what was amended or found on site.
    pub fn take_step(&mut self, id: &RecordId, step: FieldStep, note: &str) -> Result<()> {
        let user = self.writer.user.clone();
        self.update(id, |r| {
            if r.task_for(&user) != Some(step.task()) {
                return Err(Error::NotWaiting {
                    id: r.id,
                    step: step.as_str(),
                });
            }
            crate::edit::push_event(r, &user, step.kind(), note);
            Ok(())
        })?;
        Ok(())
    }

    /// Applies a JSON field patch (see [`RecordPatch`](crate::RecordPatch)).
    pub fn patch(&mut self, id: &RecordId, patch: crate::RecordPatch) -> Result<bool> {
        self.update(id, |r| Ok(patch.apply(r)?))
    }

    /// One record, read from its document.
    pub fn get(&self, id: &RecordId) -> Result<Record> {
        self.load(id)?.ok_or(Error::NotFound(*id))?.record()
    }

    /// One record's document, loaded from its chunks.
    pub fn load(&self, id: &RecordId) -> Result<Option<RecordDoc>> {
        load_doc(&self.conn, id)
    }

    /// Records matching `filter`, most recently changed first, from the materialized rows alone.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<RecordSummary>> {
        let limit = i64::from(filter.limit.unwrap_or(100).min(10_000));
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, status, grid, owner_grid, category, title, lon, lat, created_at,
                    updated_at, local_counter > acked_counter, task
             FROM records
             WHERE (?1 IS NULL OR grid = ?1)
               AND (?2 IS NULL OR kind = ?2)
               AND (?3 IS NULL OR status = ?3)
               AND (?4 IS NULL OR updated_at >= ?4)
               AND (?6 IS NULL OR (task IS NOT NULL) = ?6)
             ORDER BY updated_at DESC, id
             LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![
                filter.grid,
                filter.kind.map(Kind::as_str),
                filter.status.map(Status::as_str),
                filter.changed_since,
                limit,
                filter.needs_action,
            ],
            |r| {
                let id: Vec<u8> = r.get(0)?;
                Ok(RecordSummary {
                    id: uuid_from_blob(&id),
                    kind: r.get(1)?,
                    status: r.get(2)?,
                    grid: r.get(3)?,
                    owner_grid: r.get(4)?,
                    category: r.get(5)?,
                    title: r.get(6)?,
                    lon: r.get(7)?,
                    lat: r.get(8)?,
                    created_at: r.get(9)?,
                    updated_at: r.get(10)?,
                    pending_upload: r.get(11)?,
                    task: r
                        .get::<_, Option<String>>(12)?
                        .as_deref()
                        .and_then(Task::parse),
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many records the store holds.
    pub fn count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM records", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// How many records have local changes the server has not acknowledged.
    pub fn pending_uploads(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM records WHERE local_counter > acked_counter",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// How many complainants' contact details wait for the server's acknowledgement.
    pub fn pending_contacts(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM contacts_pending", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    /// Copies of documents the server refused.
    pub fn rejected(&self) -> Result<Vec<RejectedCopy>> {
        let mut stmt = self
            .conn
            .prepare("SELECT doc_id, at, code, reason FROM rejected ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            let id: Vec<u8> = r.get(0)?;
            Ok(RejectedCopy {
                id: uuid_from_blob(&id),
                at: r.get(1)?,
                code: r.get(2)?,
                reason: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Where the store stands with the server: what waits to go up, what the server said it
    /// still has, and when the last exchange succeeded. Cheap: counts over indexed rows.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        let count = |sql: &str| -> Result<u64> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        let (photos, photo_bytes, paused): (i64, i64, i64) = self.conn.query_row(
            "SELECT count(*) FILTER (WHERE paused = 0),
                    coalesce(sum(size - uploaded) FILTER (WHERE paused = 0), 0),
                    count(*) FILTER (WHERE paused <> 0)
             FROM blobs WHERE uploaded < size",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let pending_records = self.pending_uploads()?;
        let pending_contacts = self.pending_contacts()?;
        let history_requests = count("SELECT count(*) FROM history_needed")?;
        let server_has_more = get_meta(&self.conn, "server_more")?.is_some_and(|b| b == [1]);
        let local_has_more = pending_records + pending_contacts + history_requests > 0;
        Ok(SyncStatus {
            pending_records,
            pending_contacts,
            history_requests,
            pending_photos: photos as u64,
            pending_photo_bytes: photo_bytes as u64,
            paused_photos: paused as u64,
            rejected: count("SELECT count(*) FROM rejected")?,
            last_sync_at: get_meta(&self.conn, "last_sync_at")?.map(|b| decode_u64(&b) as i64),
            server_has_more,
            local_has_more,
            up_to_date: !server_has_more && !local_has_more && photos == 0,
            cursor: self.cursor()?,
        })
    }

    /// The server cursor: every change in this device's scope up to it is in the store.
    pub fn cursor(&self) -> Result<u64> {
        Ok(get_meta(&self.conn, "cursor")?
            .map(|b| decode_u64(&b))
            .unwrap_or(0))
    }
}

// ---- helpers shared with the sync client -------------------------------------------------------

pub(crate) fn get_meta(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
            r.get(0)
        })
        .optional()?)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: impl AsRef<[u8]>) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value.as_ref()],
    )?;
    Ok(())
}

pub(crate) fn decode_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(a)
}

pub(crate) fn uuid_from_blob(b: &[u8]) -> RecordId {
    let mut a = [0u8; 16];
    let n = b.len().min(16);
    a[..n].copy_from_slice(&b[..n]);
    uuid::Uuid::from_bytes(a)
}

pub(crate) fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(heads.len() * 32);
    for h in heads {
        out.extend_from_slice(&h.0);
    }
    out
}

pub(crate) fn decode_heads(b: &[u8]) -> Vec<ChangeHash> {
    b.chunks_exact(32)
        .map(|c| {
            let mut a = [0u8; 32];
            a.copy_from_slice(c);
            ChangeHash(a)
        })
        .collect()
}

pub(crate) fn row_exists(conn: &Connection, id: &RecordId) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM records WHERE id = ?1",
            params![id.as_bytes()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub(crate) fn load_doc(conn: &Connection, id: &RecordId) -> Result<Option<RecordDoc>> {
    let (all, _) = doc_chunks(conn, id)?;
    if all.is_empty() {
        return Ok(None);
    }
    Ok(Some(RecordDoc::load(&all)?))
}

/// A document's stored chunks, concatenated in order (empty: no such document), and how many
/// there are. The first chunk holds the document from its beginning (a new document's one change,
/// or a compact save); the rest are changes after it.
pub(crate) fn doc_chunks(conn: &Connection, id: &RecordId) -> Result<(Vec<u8>, usize)> {
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM doc_chunks WHERE doc_id = ?1 ORDER BY seq")?;
    let mut rows = stmt.query(params![id.as_bytes()])?;
    let (mut all, mut count) = (Vec::new(), 0);
    while let Some(row) = rows.next()? {
        let chunk: Vec<u8> = row.get(0)?;
        all.extend_from_slice(&chunk);
        count += 1;
    }
    Ok((all, count))
}

/// Changes a record inside `tx`: loads its document, applies `edit`, appends the change and
/// refreshes its row. Returns whether anything changed.
pub(crate) fn update_in(
    tx: &Transaction<'_>,
    actor: &ActorId,
    writer: &Writer,
    id: &RecordId,
    edit: impl FnOnce(&mut Record) -> Result<()>,
) -> Result<bool> {
    let mut doc = load_doc(tx, id)?.ok_or(Error::NotFound(*id))?;
    doc.set_actor(actor.clone());
    let before = doc.heads();
    let Some(record) = doc.update(writer, edit)? else {
        return Ok(false);
    };
    let chunk = doc.save_after(&before);
    append_chunk(tx, id, &mut doc, &chunk)?;
    upsert_row(tx, &record, &writer.user)?;
    tx.execute(
        "UPDATE records SET local_counter = local_counter + 1 WHERE id = ?1",
        params![id.as_bytes()],
    )?;
    Ok(true)
}

fn insert_chunk(tx: &Transaction<'_>, id: &RecordId, seq: i64, bytes: &[u8]) -> Result<()> {
    tx.execute(
        "INSERT INTO doc_chunks (doc_id, seq, bytes) VALUES (?1, ?2, ?3)",
        params![id.as_bytes(), seq, bytes],
    )?;
    Ok(())
}

/// Appends `chunk` to the document's chunks, or rewrites the document as one compact save when
/// it has gathered enough chunks.
pub(crate) fn append_chunk(
    tx: &Transaction<'_>,
    id: &RecordId,
    doc: &mut RecordDoc,
    chunk: &[u8],
) -> Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let (count, last): (i64, i64) = tx.query_row(
        "SELECT count(*), coalesce(max(seq), -1) FROM doc_chunks WHERE doc_id = ?1",
        params![id.as_bytes()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if count >= COMPACT_AFTER {
        replace_doc(tx, id, doc)
    } else {
        insert_chunk(tx, id, last + 1, chunk)
    }
}

/// Replaces all of a document's chunks with one compact save.
pub(crate) fn replace_doc(tx: &Transaction<'_>, id: &RecordId, doc: &mut RecordDoc) -> Result<()> {
    tx.execute(
        "DELETE FROM doc_chunks WHERE doc_id = ?1",
        params![id.as_bytes()],
    )?;
    insert_chunk(tx, id, 0, &doc.save())
}

/// Writes the materialized row for `record`, creating it if needed; `worker` is the store's
/// account, whose task the row keeps.
pub(crate) fn upsert_row(tx: &Transaction<'_>, record: &Record, worker: &str) -> Result<()> {
    let owner = record.owner_grid.as_ref().and_then(|o| o.code.clone());
    let grid = owner.clone().or_else(|| record.claimed_grid.clone());
    let (lon, lat) = record
        .location
        .as_ref()
        .map(|l| (Some(l.lon), Some(l.lat)))
        .unwrap_or((None, None));
    tx.execute(
        "INSERT INTO records (id, kind, status, grid, owner_grid, claimed_grid, category, channel,
                              title, lon, lat, created_at, updated_at, task)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (id) DO UPDATE SET
             kind = excluded.kind, status = excluded.status, grid = excluded.grid,
             owner_grid = excluded.owner_grid, claimed_grid = excluded.claimed_grid,
             category = excluded.category, channel = excluded.channel, title = excluded.title,
             lon = excluded.lon, lat = excluded.lat, updated_at = excluded.updated_at,
             task = excluded.task",
        params![
            record.id.as_bytes(),
            record.kind.as_str(),
            record.workflow.status.as_str(),
            grid,
            owner,
            record.claimed_grid,
            record.category,
            record.channel.as_str(),
            record.title,
            lon,
            lat,
            record.created_at,
            now_ms(),
            record.task_for(worker).map(Task::as_str),
        ],
    )?;
    Ok(())
}

//! One record as one automerge document, with typed access.
//!
//! Every write follows the same path: hydrate the current [`Record`], let the caller change the
//! Rust value, validate it, and reconcile it back. autosurgeon's reconcile writes only what
//! differs, so two devices changing different fields never conflict, and text fields splice only
//! the characters that changed.

use automerge::{ActorId, AutoCommit, ChangeHash, transaction::CommitOptions};

use crate::error::{Result, SchemaError};
use crate::schema::{Record, RecordId};

/// Who is writing: recorded in each change's message so the history can say who changed what
/// from which device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Writer {
    pub user: String,
    pub device: String,
}

impl Writer {
    pub fn new(user: impl Into<String>, device: impl Into<String>) -> Self {
        Writer {
            user: user.into(),
            device: device.into(),
        }
    }

    fn commit_options(&self, now_ms: i64) -> CommitOptions {
        // A two-element JSON array: short (it travels in every change) and unambiguous.
        let message = serde_json::json!([self.user, self.device]).to_string();
        CommitOptions::default()
            .with_message(message)
            .with_time(now_ms / 1000) // automerge's convention: seconds
    }

    /// Parses a change message written by [`Writer`]; `None` for changes made elsewhere.
    pub fn from_change_message(message: &str) -> Option<Writer> {
        let (user, device): (String, String) = serde_json::from_str(message).ok()?;
        Some(Writer { user, device })
    }
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A record document. A clone keeps the actor: write to one copy only, or give the other its
/// own actor ([`RecordDoc::set_actor`]; [`RecordDoc::fork`] does both).
#[derive(Debug, Clone)]
pub struct RecordDoc {
    doc: AutoCommit,
}

impl RecordDoc {
    /// Creates the document for a new, valid record.
    pub fn create(record: &Record, actor: ActorId, writer: &Writer) -> Result<Self> {
        record.validate()?;
        let mut doc = AutoCommit::new().with_actor(actor);
        autosurgeon::reconcile(&mut doc, record)?;
        doc.commit_with(writer.commit_options(now_ms()));
        Ok(RecordDoc { doc })
    }

    /// Loads a document from saved bytes (a full save, or a save followed by incremental chunks).
    pub fn load(bytes: &[u8]) -> Result<Self> {
        Ok(RecordDoc {
            doc: AutoCommit::load(bytes)?,
        })
    }

    /// An empty document, to receive changes into.
    pub fn empty(actor: ActorId) -> Self {
        RecordDoc {
            doc: AutoCommit::new().with_actor(actor),
        }
    }

    /// Sets the actor for the next local change.
    pub fn set_actor(&mut self, actor: ActorId) {
        self.doc.set_actor(actor);
    }

    /// The record, read from the document and checked against the schema's structure (not its
    /// size limits, which bound writes: a merge of concurrent appends may pass one and must
    /// stay readable).
    pub fn record(&self) -> Result<Record> {
        let record: Record = autosurgeon::hydrate(&self.doc)?;
        record.validate_structure()?;
        Ok(record)
    }

    /// The record's id as the document states it, without full validation.
    pub fn id(&self) -> Result<RecordId> {
        let text: String = autosurgeon::hydrate_prop(&self.doc, automerge::ROOT, "id")?;
        uuid::Uuid::parse_str(&text)
            .map_err(|_| SchemaError::Shape(format!("id {text:?} is not a UUID")).into())
    }

    /// Changes the record through `edit` and commits the difference as one change. A change
    /// that would leave the record invalid is refused and leaves the document as it was.
    /// Returns the record as it now is (so callers need not read it back), or `None` when
    /// `edit` changed nothing.
    pub fn update(
        &mut self,
        writer: &Writer,
        edit: impl FnOnce(&mut Record) -> Result<()>,
    ) -> Result<Option<Record>> {
        let before = self.record()?;
        self.update_from(&before, writer, edit)
    }

    /// [`RecordDoc::update`] for a caller that already holds the document's current record
    /// (`before`, as [`RecordDoc::record`] returned it since the last change), which saves
    /// reading it from the document again. Only the fields `edit` changed are written.
    pub fn update_from(
        &mut self,
        before: &Record,
        writer: &Writer,
        edit: impl FnOnce(&mut Record) -> Result<()>,
    ) -> Result<Option<Record>> {
        let mut after = before.clone();
        edit(&mut after)?;
        if after.id != before.id {
            return Err(SchemaError::Inconsistent("a record's id never changes").into());
        }
        after.validate_structure()?;
        after.check_limits(Some(before))?;
        if after == *before {
            return Ok(None);
        }
        if let Err(e) = crate::schema::reconcile_changes(&mut self.doc, before, &after) {
            self.doc.rollback();
            return Err(e.into());
        }
        Ok(self
            .doc
            .commit_with(writer.commit_options(now_ms()))
            .map(|_| after))
    }

    /// The document's current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The whole document, compressed.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The changes not covered by `heads`, as change chunks that [`RecordDoc::merge_bytes`] or
    /// automerge's `loadIncremental` accepts. With no heads this is the whole document in its
    /// compact saved form.
    pub fn save_after(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        if heads.is_empty() {
            self.doc.save()
        } else {
            self.doc.save_after(heads)
        }
    }

    /// Every change of the document as its own chunk (DEFLATE-compressed when over 256 bytes,
    /// as automerge does), concatenated; loads like a save. For a new document, one change,
    /// this is the change automerge encoded when it committed, compressed: cheaper than
    /// [`RecordDoc::save`], which encodes the document again, and cheaper to load (no change to
    /// rebuild to hash it).
    pub fn changes(&mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for change in self.doc.get_changes(&[]) {
            bytes.extend_from_slice(&change.clone().bytes());
        }
        bytes
    }

    /// Merges saved bytes or change chunks into the document. Changes it already holds are
    /// ignored, so merging the same bytes twice changes nothing.
    pub fn merge_bytes(&mut self, bytes: &[u8]) -> Result<usize> {
        Ok(self.doc.load_incremental(bytes)?)
    }

    /// Changes that arrived but wait for dependencies this document does not have.
    pub fn missing_deps(&mut self) -> Vec<ChangeHash> {
        self.doc.get_missing_deps(&[])
    }

    /// The underlying automerge document.
    pub fn as_automerge(&self) -> &AutoCommit {
        &self.doc
    }

    /// Mutable access to the underlying automerge document.
    pub fn automerge(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// A copy of this document with its own actor.
    pub fn fork(&mut self) -> Self {
        RecordDoc {
            doc: self.doc.fork(),
        }
    }
}

/// A random actor id, for a new store or a server process. Each writer that may write
/// concurrently must have its own.
pub fn new_actor() -> ActorId {
    ActorId::from(uuid::Uuid::new_v4().as_bytes().as_slice())
}

//! The server side of a sync round trip, sans-IO.
//!
//! The server crate owns storage and HTTP; this module owns the decisions, so every server
//! (the real one, the in-memory [`MemoryServer`] used by tests and benchmarks) behaves alike:
//!
//! 1. decode the request ([`SyncRequest::decode`]);
//! 2. for each upload, [`merge_upload`] merges it into the server's copy and checks the result
//!    against the writer's [`Authority`]; the caller stores accepted changes, each with a new
//!    sequence number, in one transaction per document;
//! 3. build the response with a [`ResponseBuilder`]: acknowledgements, resets for refused
//!    documents, answers to history requests, then the change feed since the device's cursor in
//!    its scope (excluding the device's own changes), in sequence order, until the byte budget.

use crate::contact::{Contact, ContactKey, ContactSecret};
use std::collections::BTreeMap;

use automerge::{ActorId, ChangeHash};

use crate::client::MISSING_HISTORY;
use crate::document::{RecordDoc, Writer, new_actor};
use crate::error::WireError;
use crate::protocol::{
    Ack, DocPayload, DocUpdate, Need, RESPONSE_OVERHEAD, SyncRequest, SyncResponse, UpdateMode,
    Verdict,
};
use crate::schema::{Record, RecordId};

/// Why the server refused one document's changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Stable and machine-readable, e.g. `forbidden_field`, `invalid_record`.
    pub code: String,
    /// For people.
    pub reason: String,
}

impl Rejection {
    pub fn new(code: impl Into<String>, reason: impl Into<String>) -> Self {
        Rejection {
            code: code.into(),
            reason: reason.into(),
        }
    }
}

/// What one account may do, supplied by the server for each request.
pub trait Authority {
    /// Whether the writer may turn `before` (the server's record, `None` when new) into `after`
    /// (the merged record).
    fn check_write(&self, before: Option<&Record>, after: &Record) -> Result<(), Rejection>;
    /// Whether the writer may read `record`.
    fn in_scope(&self, record: &Record) -> bool;
}

/// The outcome of merging one upload.
#[derive(Debug)]
pub enum Merged {
    /// Every change was already held: a retried request. Acknowledge, store nothing.
    Unchanged,
    /// The merged document and the changes that are new to the server, in causal order.
    Accepted(Box<Accepted>),
    /// Nothing of the upload may be stored.
    Rejected(Rejection),
}

/// An accepted upload: the merged document and what is new to the server.
#[derive(Debug)]
pub struct Accepted {
    pub doc: RecordDoc,
    pub record: Record,
    /// The server had never seen this document.
    pub created: bool,
    /// What is new to the server, in causal order, as chunks [`RecordDoc::merge_bytes`]
    /// accepts, each with the hash of the last change it holds. For a created document this is
    /// the upload as it came, one chunk (it loaded strictly, whole, so it can be stored and
    /// passed on as it is, without encoding it again); otherwise each new change.
    pub new: Vec<(ChangeHash, Vec<u8>)>,
    /// Fields the upload set concurrently with a value the server held: one per value not
    /// shown (the upload's or the server's).
    pub conflicts: Vec<crate::Conflict>,
}

/// Merges an upload into the server's copy (`current`, `None` if the server has never seen the
/// document) and checks the result. Pure: the caller stores what is accepted.
///
/// A document the server has never seen must load on its own and whole (a save, or its changes
/// from the first): changes that depend on history the server lacks are refused as
/// [`MISSING_HISTORY`], so the device sends the whole document next; bytes that do not parse, or
/// trailing garbage, as `corrupt_document`.
pub fn merge_upload(
    current: Option<RecordDoc>,
    upload: &DocPayload,
    actor: ActorId,
    authority: &dyn Authority,
) -> Merged {
    let Some(mut doc) = current else {
        let mut doc = match RecordDoc::load(&upload.bytes) {
            Ok(doc) => doc,
            // Changes whose earlier history the server does not hold: the device believes the
            // server has the document (a server restored from a backup older than the
            // device's last sync), and must send it whole.
            Err(crate::Error::Automerge(e))
                if matches!(*e, automerge::AutomergeError::MissingDeps) =>
            {
                return Merged::Rejected(missing_history());
            }
            Err(e) => return Merged::Rejected(Rejection::new("corrupt_document", error_chain(&e))),
        };
        doc.set_actor(actor);
        if !doc.missing_deps().is_empty() {
            return Merged::Rejected(missing_history());
        }
        let heads = doc.heads();
        let Some(last) = heads.first().copied() else {
            return Merged::Rejected(Rejection::new("invalid_record", "the document is empty"));
        };
        return match checked(&doc, None, upload, authority) {
            Ok(record) => Merged::Accepted(Box::new(Accepted {
                doc,
                record,
                created: true,
                new: vec![(last, upload.bytes.clone())],
                conflicts: Vec::new(),
            })),
            Err(rejection) => Merged::Rejected(rejection),
        };
    };
    doc.set_actor(actor);
    let before = match doc.record() {
        Ok(record) => record,
        Err(e) => {
            return Merged::Rejected(Rejection::new("server_document_invalid", error_chain(&e)));
        }
    };
    let old_heads = doc.heads();
    if let Err(e) = doc.merge_bytes(&upload.bytes) {
        return Merged::Rejected(Rejection::new("corrupt_document", error_chain(&e)));
    }
    if !doc.missing_deps().is_empty() {
        return Merged::Rejected(missing_history());
    }
    if doc.heads() == old_heads {
        return Merged::Unchanged;
    }
    match checked(&doc, Some(&before), upload, authority) {
        Ok(record) => {
            let new = doc
                .automerge()
                .get_changes(&old_heads)
                .iter()
                .map(|c| (c.hash(), c.raw_bytes().to_vec()))
                .collect();
            let open_after = doc.open_conflicts();
            let conflicts = if open_after.is_empty() {
                Vec::new()
            } else {
                let open_before = doc.open_conflicts_at(&old_heads);
                doc.new_conflicts(upload.id, &open_before, &open_after)
            };
            Merged::Accepted(Box::new(Accepted {
                doc,
                record,
                created: false,
                new,
                conflicts,
            }))
        }
        Err(rejection) => Merged::Rejected(rejection),
    }
}

fn missing_history() -> Rejection {
    Rejection::new(
        MISSING_HISTORY,
        "the changes depend on history the server does not hold; send the whole document",
    )
}

/// The merged record, if it is valid, is the upload's, and the writer may make it.
fn checked(
    doc: &RecordDoc,
    before: Option<&Record>,
    upload: &DocPayload,
    authority: &dyn Authority,
) -> Result<Record, Rejection> {
    let record = doc
        .record()
        .map_err(|e| Rejection::new(e.code(), error_chain(&e)))?;
    record
        .check_limits(before)
        .map_err(|e| Rejection::new(e.code(), e.to_string()))?;
    if record.id != upload.id {
        return Err(Rejection::new(
            "id_mismatch",
            format!(
                "the document says it is record {}, not {}",
                record.id, upload.id
            ),
        ));
    }
    authority.check_write(before, &record)?;
    Ok(record)
}

/// The answer to a device's history request: everything after the heads it has that the server
/// knows (heads the server does not know are the device's own unsent changes and are ignored).
pub fn answer_need(doc: &mut RecordDoc, need: &Need) -> DocUpdate {
    let known: Vec<ChangeHash> = need
        .heads
        .iter()
        .copied()
        .filter(|h| doc.automerge().get_change_by_hash(h).is_some())
        .collect();
    DocUpdate {
        id: need.id,
        mode: UpdateMode::Merge,
        bytes: doc.save_after(&known),
    }
}

/// An error and its causes on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Builds a response within the device's byte budget.
#[derive(Debug)]
pub struct ResponseBuilder {
    response: SyncResponse,
    budget: usize,
    used: usize,
    index: BTreeMap<RecordId, usize>,
}

impl ResponseBuilder {
    /// Starts the response to `request`, capping its size at the smaller of the device's budget
    /// and the server's own `max_budget`.
    pub fn new(request: &SyncRequest, max_budget: usize) -> Self {
        let budget = usize::try_from(request.response_budget)
            .unwrap_or(usize::MAX)
            .min(max_budget);
        ResponseBuilder {
            response: SyncResponse {
                request_id: request.request_id,
                base_cursor: request.cursor,
                next_cursor: request.cursor,
                ..SyncResponse::default()
            },
            budget,
            used: RESPONSE_OVERHEAD,
            index: BTreeMap::new(),
        }
    }

    /// Records the verdict on an upload. Always included.
    pub fn ack(&mut self, id: RecordId, verdict: Verdict) {
        self.used += 18
            + match &verdict {
                Verdict::Accepted => 0,
                Verdict::Rejected { code, reason } => code.len() + reason.len() + 4,
            };
        self.response.acks.push(Ack { id, verdict });
    }

    /// Records the verdict on sealed contact details. Always included.
    pub fn ack_contact(&mut self, id: RecordId, verdict: Verdict) {
        self.used += 18
            + match &verdict {
                Verdict::Accepted => 0,
                Verdict::Rejected { code, reason } => code.len() + reason.len() + 4,
            };
        self.response.contact_acks.push(Ack { id, verdict });
    }

    /// Tells the device to drop its copy of a record it may no longer read. Always included.
    pub fn remove(&mut self, id: RecordId, code: &str) {
        let removal = crate::protocol::Removal {
            id,
            code: code.to_string(),
        };
        self.used += removal.encoded_len();
        self.response.removals.push(removal);
    }

    /// Tells the device to replace its copy with the server's (empty: the server has none).
    /// Always included.
    pub fn reset(&mut self, id: RecordId, bytes: Vec<u8>) {
        self.push_whole(DocUpdate {
            id,
            mode: UpdateMode::Reset,
            bytes,
        });
    }

    /// Adds a whole update (an answer to a history request, or a document that moved into the
    /// device's scope). Always included. A whole document to merge replaces the feed changes
    /// this response already carries for it: it holds them.
    pub fn push_whole(&mut self, update: DocUpdate) {
        if let Some(&i) = self.index.get(&update.id) {
            let existing = &mut self.response.updates[i];
            if existing.mode == UpdateMode::Merge && update.mode == UpdateMode::Merge {
                self.used = self.used - existing.encoded_len() + update.encoded_len();
                *existing = update;
                return;
            }
        }
        self.used += update.encoded_len();
        self.index.insert(update.id, self.response.updates.len());
        self.response.updates.push(update);
    }

    /// Adds a whole document to merge as part of the feed (a record that moved into the
    /// device's scope, whose earlier history it never received), if it fits the budget, as
    /// [`ResponseBuilder::push_change`] does: the feed's first content always fits.
    pub fn push_whole_in_feed(&mut self, update: DocUpdate) -> bool {
        let replaced = self
            .index
            .get(&update.id)
            .map(|&i| &self.response.updates[i])
            .filter(|existing| existing.mode == UpdateMode::Merge)
            .map_or(0, DocUpdate::encoded_len);
        let cost = update.encoded_len().saturating_sub(replaced);
        if self.used + cost > self.budget && self.has_feed_content() {
            return false;
        }
        self.push_whole(update);
        true
    }

    /// Adds one change of the feed, if it fits the budget. The first change always fits, so a
    /// change larger than the budget cannot stall a device forever.
    pub fn push_change(&mut self, id: RecordId, change: &[u8]) -> bool {
        let existing = self.index.get(&id).copied();
        let cost = match existing {
            Some(_) => change.len() + 2,
            None => 16 + 1 + 3 + change.len(),
        };
        if self.used + cost > self.budget && self.has_feed_content() {
            return false;
        }
        self.used += cost;
        match existing {
            Some(i) if self.response.updates[i].mode == UpdateMode::Merge => {
                self.response.updates[i].bytes.extend_from_slice(change)
            }
            _ => {
                self.index.insert(id, self.response.updates.len());
                self.response.updates.push(DocUpdate {
                    id,
                    mode: UpdateMode::Merge,
                    bytes: change.to_vec(),
                });
            }
        }
        true
    }

    fn has_feed_content(&self) -> bool {
        !self.response.updates.is_empty()
    }

    /// Finishes the response: the device's cursor moves to `next_cursor`, and `more` says
    /// whether changes beyond it wait.
    pub fn finish(mut self, next_cursor: u64, more: bool) -> SyncResponse {
        self.response.next_cursor = next_cursor.max(self.response.base_cursor);
        self.response.more = more;
        self.response
    }
}

/// One change in the server's log.
#[derive(Debug, Clone)]
struct LogEntry {
    seq: u64,
    id: RecordId,
    origin: String,
    bytes: Vec<u8>,
}

/// A complete sync server in memory: the reference for the real server, and the peer for tests
/// and benchmarks. It keeps documents, a change log with sequence numbers, and which device each
/// change came from.
#[derive(Debug, Clone)]
pub struct MemoryServer {
    actor: ActorId,
    docs: BTreeMap<RecordId, RecordDoc>,
    log: Vec<LogEntry>,
    max_response: usize,
    contact_secret: ContactSecret,
    /// Complainants' contact details, sealed as they came.
    contacts: BTreeMap<RecordId, Vec<u8>>,
}

impl Default for MemoryServer {
    fn default() -> Self {
        Self::new()
    }
}

/// The origin recorded for the server's own changes.
pub const SERVER_ORIGIN: &str = "server";

impl MemoryServer {
    pub fn new() -> Self {
        MemoryServer {
            actor: new_actor(),
            docs: BTreeMap::new(),
            log: Vec::new(),
            max_response: 4 << 20,
            contact_secret: ContactSecret::generate(),
            contacts: BTreeMap::new(),
        }
    }

    /// The key devices seal contact details with.
    pub fn contact_key(&self) -> ContactKey {
        self.contact_secret.public()
    }

    /// A record's complainant's contact details, opened.
    pub fn contact(&self, id: &RecordId) -> Option<Contact> {
        let sealed = self.contacts.get(id)?;
        self.contact_secret.open(*id, sealed).ok()
    }

    /// Handles one request from `device`, answering within its budget. `decide` is the server's
    /// own say after an accepted upload (for example the owner grid); it edits the record and
    /// the edit is stored as the server's change.
    pub fn handle(
        &mut self,
        device: &str,
        request: &[u8],
        authority: &dyn Authority,
        decide: &dyn Fn(&mut Record),
    ) -> Result<Vec<u8>, WireError> {
        let request = SyncRequest::decode(request)?;
        let mut builder = ResponseBuilder::new(&request, self.max_response);
        for upload in &request.uploads {
            let current = self.docs.get_mut(&upload.id).map(|d| d.fork());
            match merge_upload(current, upload, self.actor.clone(), authority) {
                Merged::Unchanged => builder.ack(upload.id, Verdict::Accepted),
                Merged::Accepted(accepted) => {
                    let Accepted {
                        mut doc,
                        record,
                        new,
                        ..
                    } = *accepted;
                    for (_, bytes) in new {
                        self.append_log(upload.id, device, bytes);
                    }
                    let before = doc.heads();
                    let server = Writer::new(SERVER_ORIGIN, SERVER_ORIGIN);
                    if doc
                        .update_from(&record, &server, |r| {
                            decide(r);
                            Ok(())
                        })
                        .ok()
                        .flatten()
                        .is_some()
                    {
                        for change in doc.automerge().get_changes(&before) {
                            self.append_log(upload.id, SERVER_ORIGIN, change.raw_bytes().to_vec());
                        }
                    }
                    self.docs.insert(upload.id, doc);
                    builder.ack(upload.id, Verdict::Accepted);
                }
                Merged::Rejected(rejection) => {
                    let reset = rejection.code != MISSING_HISTORY;
                    builder.ack(
                        upload.id,
                        Verdict::Rejected {
                            code: rejection.code,
                            reason: rejection.reason,
                        },
                    );
                    if reset {
                        let bytes = self
                            .docs
                            .get_mut(&upload.id)
                            .map(|d| d.save())
                            .unwrap_or_default();
                        builder.reset(upload.id, bytes);
                    }
                }
            }
        }
        for contact in &request.contacts {
            let verdict = if !self.docs.contains_key(&contact.id) {
                Verdict::Rejected {
                    code: crate::client::RECORD_NOT_STORED.into(),
                    reason: "the record is not stored".into(),
                }
            } else {
                match self.contact_secret.open(contact.id, &contact.sealed) {
                    Ok(_) => {
                        self.contacts.insert(contact.id, contact.sealed.clone());
                        Verdict::Accepted
                    }
                    Err(e) => Verdict::Rejected {
                        code: e.code().into(),
                        reason: e.to_string(),
                    },
                }
            };
            builder.ack_contact(contact.id, verdict);
        }
        for need in &request.needs {
            if let Some(doc) = self.docs.get_mut(&need.id) {
                let in_scope = doc
                    .record()
                    .map(|r| authority.in_scope(&r))
                    .unwrap_or(false);
                if in_scope {
                    builder.push_whole(answer_need(doc, need));
                }
            }
        }
        let head = self.log.last().map(|e| e.seq).unwrap_or(0);
        let mut next = head;
        let mut more = false;
        let start = self.log.partition_point(|e| e.seq <= request.cursor);
        let mut scope_cache: BTreeMap<RecordId, bool> = BTreeMap::new();
        for entry in &self.log[start..] {
            if entry.origin == device {
                continue;
            }
            let in_scope = *scope_cache.entry(entry.id).or_insert_with(|| {
                self.docs
                    .get(&entry.id)
                    .and_then(|d| d.record().ok())
                    .is_some_and(|r| authority.in_scope(&r))
            });
            if !in_scope {
                continue;
            }
            if !builder.push_change(entry.id, &entry.bytes) {
                next = entry.seq - 1;
                more = true;
                break;
            }
        }
        Ok(builder.finish(next, more).encode())
    }

    fn append_log(&mut self, id: RecordId, origin: &str, bytes: Vec<u8>) {
        let seq = self.log.last().map(|e| e.seq).unwrap_or(0) + 1;
        self.log.push(LogEntry {
            seq,
            id,
            origin: origin.to_string(),
            bytes,
        });
    }

    /// A staff member's edit made on the server (a dispatcher setting a deadline), stored as
    /// the server's change and sent to devices on their next sync.
    pub fn edit(
        &mut self,
        id: &RecordId,
        writer: &Writer,
        edit: impl FnOnce(&mut Record) -> crate::Result<()>,
    ) -> crate::Result<bool> {
        let doc = self.docs.get_mut(id).ok_or(crate::Error::NotFound(*id))?;
        doc.set_actor(self.actor.clone());
        let before = doc.heads();
        if doc.update(writer, edit)?.is_none() {
            return Ok(false);
        }
        let changes: Vec<Vec<u8>> = doc
            .automerge()
            .get_changes(&before)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        for bytes in changes {
            self.append_log(*id, SERVER_ORIGIN, bytes);
        }
        Ok(true)
    }

    /// The server's copy of a record.
    pub fn record(&self, id: &RecordId) -> Option<Record> {
        self.docs.get(id).and_then(|d| d.record().ok())
    }

    /// The server's document for a record.
    pub fn doc_mut(&mut self, id: &RecordId) -> Option<&mut RecordDoc> {
        self.docs.get_mut(id)
    }

    /// Every record id the server holds.
    pub fn ids(&self) -> Vec<RecordId> {
        self.docs.keys().copied().collect()
    }

    /// The highest sequence number in the log.
    pub fn head_seq(&self) -> u64 {
        self.log.last().map(|e| e.seq).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::DocPayload;

    struct AllowAll;
    impl Authority for AllowAll {
        fn check_write(&self, _: Option<&Record>, _: &Record) -> Result<(), Rejection> {
            Ok(())
        }
        fn in_scope(&self, _: &Record) -> bool {
            true
        }
    }

    fn request() -> SyncRequest {
        SyncRequest {
            response_budget: 1 << 20,
            ..SyncRequest::default()
        }
    }

    #[test]
    fn a_whole_document_replaces_the_feed_changes_already_in_the_response() {
        let id = uuid::Uuid::now_v7();
        let mut builder = ResponseBuilder::new(&request(), 1 << 20);
        assert!(builder.push_change(id, b"change"));
        let whole = DocUpdate {
            id,
            mode: UpdateMode::Merge,
            bytes: b"the whole document".to_vec(),
        };
        builder.push_whole(whole.clone());
        assert!(builder.push_change(id, b"later"));

        let response = builder.finish(0, false);

        assert_eq!(response.updates.len(), 1);
        assert_eq!(response.updates[0].bytes, b"the whole documentlater");
    }

    #[test]
    fn a_whole_document_in_the_feed_fits_first_and_otherwise_only_within_the_budget() {
        let small = SyncRequest {
            response_budget: 400,
            ..SyncRequest::default()
        };
        let whole = |len: usize| DocUpdate {
            id: uuid::Uuid::now_v7(),
            mode: UpdateMode::Merge,
            bytes: vec![7; len],
        };
        let mut builder = ResponseBuilder::new(&small, 1 << 20);
        assert!(
            builder.push_whole_in_feed(whole(1000)),
            "the first always fits"
        );
        assert!(
            !builder.push_whole_in_feed(whole(10)),
            "the budget is spent"
        );

        let mut builder = ResponseBuilder::new(&small, 1 << 20);
        assert!(builder.push_whole_in_feed(whole(100)));
        assert!(builder.push_whole_in_feed(whole(100)));
        assert!(!builder.push_whole_in_feed(whole(100)));
        assert_eq!(builder.finish(0, true).updates.len(), 2);
    }

    #[test]
    fn a_whole_document_never_replaces_a_reset_of_the_same_document() {
        let id = uuid::Uuid::now_v7();
        let mut builder = ResponseBuilder::new(&request(), 1 << 20);
        builder.reset(id, b"the server's copy".to_vec());
        builder.push_whole(DocUpdate {
            id,
            mode: UpdateMode::Merge,
            bytes: b"the whole document".to_vec(),
        });

        let response = builder.finish(0, false);

        assert_eq!(response.updates.len(), 2);
        assert_eq!(response.updates[0].mode, UpdateMode::Reset);
        assert_eq!(response.updates[0].bytes, b"the server's copy");
        assert_eq!(response.updates[1].bytes, b"the whole document");
    }

    #[test]
    fn garbage_document_bytes_are_rejected_not_stored() {
        let upload = DocPayload {
            id: uuid::Uuid::now_v7(),
            bytes: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3],
        };
        let merged = merge_upload(None, &upload, new_actor(), &AllowAll);
        assert!(matches!(merged, Merged::Rejected(r) if r.code == "corrupt_document"));
    }
}

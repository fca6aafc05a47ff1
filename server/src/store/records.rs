//! The record and sync tables' types, shared by both backends.

/// The listable fields of a record, derived from its document on every commit.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub channel: String,
    pub category: String,
    pub title: String,
    /// `None`: outside every grid, or no location (the unassigned queue).
    pub owner_grid: Option<String>,
    pub claimed_grid: Option<String>,
    /// WGS-84.
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// A change to store, with the device it came from (`<user id>/<device>`) or `server`.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub hash: Vec<u8>,
    pub origin: String,
    pub bytes: Vec<u8>,
}

/// One document write: the whole document, its row, and its new changes, stored together.
#[derive(Debug, Clone)]
pub struct RecordCommit {
    pub row: RecordRow,
    pub doc: Vec<u8>,
    /// The version the document was read at; `None` to create it.
    pub expected_version: Option<i64>,
    pub changes: Vec<NewChange>,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Stored; the document's new version and its changes' last sequence number.
    Stored { version: i64, last_seq: i64 },
    /// Someone else wrote the document since it was read (or created it first): read, merge and
    /// try again.
    Conflict,
}

/// A stored document and the version it was read at.
#[derive(Debug, Clone)]
pub struct StoredDoc {
    pub doc: Vec<u8>,
    pub version: i64,
}

/// One change of the feed.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub seq: i64,
    pub record_id: String,
    /// Who sent the change (`<user id>/<device>`, or one of the server's origins).
    pub origin: String,
    pub bytes: Vec<u8>,
}

/// Which records an account reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordScope {
    /// Every record, the unassigned queue included.
    All,
    /// Records owned by one of these grids (or regions), and those the account created.
    Areas { codes: Vec<String>, creator: String },
}

impl RecordScope {
    /// `(everything, area codes, creator)` for binding into a query.
    pub(crate) fn parts(&self) -> (bool, &[String], &str) {
        match self {
            RecordScope::All => (true, &[], ""),
            RecordScope::Areas { codes, creator } => (false, codes.as_slice(), creator.as_str()),
        }
    }
}

/// A records listing query. Paging is by `(created_at, id)` descending.
#[derive(Debug, Clone)]
pub struct RecordQuery {
    pub scope: RecordScope,
    /// Only records owned by one of these codes (already expanded to a subtree); `None`: any.
    pub owners: Option<Vec<String>>,
    /// Only the unassigned queue.
    pub unassigned: bool,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub channel: Option<String>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// Only located records inside `[min_lon, min_lat, max_lon, max_lat]` (WGS-84).
    pub bbox: Option<[f64; 4]>,
    /// Continue after this `(created_at, id)`.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// How much of a blob the server holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobState {
    pub sha256: String,
    pub size: i64,
    pub received: i64,
    pub complete: bool,
    pub mime_type: Option<String>,
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

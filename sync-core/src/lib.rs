//! # gridsync sync-core
//!
//! The offline heart of gridsync: the record schema, the phone's durable store and one-round-trip
//! multi-document sync. No HTTP, no async runtime: the caller moves bytes.
//!
//! ## The data model
//! Each complaint or risk inspection is one automerge document holding one [`Record`]. Records
//! are made offline with a UUID v7 id. Typed access goes through autosurgeon: hydrate a
//! [`Record`], change it, reconcile it back; only the difference becomes a change.
//!
//! ## How conflicts resolve
//! Every field has a merge rule, listed in [`schema`]'s documentation: single values are
//! registers with a deterministic winner, free text merges character by character, the
//! timeline is append-only, attachments are an add-wins set.
//!
//! ## Sync
//! A device calls [`Store::prepare_sync`], sends the bytes, and calls [`Store::apply_sync`] on
//! the answer. The server side lives in [`server`]: [`merge_upload`] checks each document
//! against an [`Authority`], and a [`ResponseBuilder`] packs acknowledgements and the change
//! feed. The wire format is in `PROTOCOL.md`.
//!
//! ```
//! use sync_core::{Authority, MemoryServer, Record, Rejection, Store, RecordBuilder};
//!
//! struct Everyone;
//! impl Authority for Everyone {
//!     fn check_write(&self, _: Option<&Record>, _: &Record) -> Result<(), Rejection> { Ok(()) }
//!     fn in_scope(&self, _: &Record) -> bool { true }
//! }
//!
//! let mut server = MemoryServer::new();
//! let mut phone_a = Store::open_in_memory("wang", "phone-a").unwrap();
//! let mut phone_b = Store::open_in_memory("li", "phone-b").unwrap();
//!
//! // Offline on phone A.
//! let record = RecordBuilder::complaint("Streetlight out", phone_a.writer()).build();
//! let id = phone_a.create(&record).unwrap();
//!
//! // Back online: one round trip each.
//! let request = phone_a.prepare_sync(16 * 1024).unwrap();
//! let response = server.handle("phone-a", &request.bytes, &Everyone, &|_| {}).unwrap();
//! phone_a.apply_sync(&response).unwrap();
//!
//! let request = phone_b.prepare_sync(16 * 1024).unwrap();
//! let response = server.handle("phone-b", &request.bytes, &Everyone, &|_| {}).unwrap();
//! let report = phone_b.apply_sync(&response).unwrap();
//! assert_eq!(report.changed, vec![id]);
//! assert_eq!(phone_b.get(&id).unwrap().title, "Streetlight out");
//! ```
#![forbid(unsafe_code)]

mod blobs;
mod builder;
mod client;
mod conflict;
pub mod contact;
mod diff;
mod document;
mod edit;
mod error;
pub mod field;
mod history;
mod protocol;
pub mod schema;
pub mod server;
mod store;

pub use blobs::{MAX_BLOB_BYTES, UploadChunk, UploadPhase, UploadState, sha256_hex};
pub use builder::{NewComplainant, NewRecord, RecordBuilder};
pub use client::{
    LeftScope, MISSING_HISTORY, OUT_OF_SCOPE, PreparedRequest, RECORD_NOT_STORED, RejectedUpload,
    SyncReport,
};
pub use conflict::{Conflict, OpenConflict};
pub use contact::{Contact, ContactKey, ContactSecret, OpenError, SealedContact};
pub use diff::{Field, changed_fields};
pub use document::{RecordDoc, Writer, new_actor, now_ms};
pub use edit::{RecordPatch, push_event};
pub use error::{Error, Result, SchemaError, WireError};
pub use field::{FieldStep, Task};
pub use history::HistoryEntry;
pub use protocol::{
    Ack, DocPayload, DocUpdate, MAGIC, Need, PROTOCOL_VERSION, Removal, SyncRequest, SyncResponse,
    UpdateMode, Verdict, removal,
};
pub use schema::{
    Assignment, AssignmentRole, Attachment, Author, Channel, Complainant, ComplainantType, Crs,
    Evaluation, Event, HandlingResult, Inspection, Kind, Location, Outcome, OwnerGrid, Rating,
    Record, RecordId, Reply, RiskLevel, SCHEMA_VERSION, Status, Workflow, is_sha256_hex,
    new_record_id,
};
pub use server::{
    Accepted, Authority, MemoryServer, Merged, Rejection, ResponseBuilder, answer_need,
    merge_upload,
};
pub use store::{ListFilter, RecordSummary, RejectedCopy, Store, SyncStatus};

/// Re-exported so callers can name automerge types without a second dependency that might not
/// match this crate's version.
pub use automerge;

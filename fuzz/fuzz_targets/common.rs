//! What the targets share: a permissive authority, an owner decision, and a stored record.
#![allow(dead_code)]

use sync_core::{
    Authority, DocPayload, MemoryServer, OwnerGrid, Record, RecordBuilder, RecordDoc, Rejection,
    SyncRequest, Writer, new_actor,
};

/// Accepts every valid write and reads everything: the fuzzer reaches the merge and the
/// schema checks, not the role rules.
pub struct Anyone;

impl Authority for Anyone {
    fn check_write(&self, _: Option<&Record>, _: &Record) -> Result<(), Rejection> {
        Ok(())
    }
    fn in_scope(&self, _: &Record) -> bool {
        true
    }
}

pub fn decide(record: &mut Record) {
    record.owner_grid = Some(OwnerGrid {
        code: Some("G-1".into()),
        boundary_version: 1,
        decided_at: 1,
    });
}

/// A complaint's document, as a phone makes it.
pub fn seed_doc() -> RecordDoc {
    let writer = Writer::new("wang", "phone-1");
    let record = RecordBuilder::complaint("Broken lamp", &writer)
        .description("the lamp post by gate 3 is dark")
        .category("municipal.lighting")
        .build();
    RecordDoc::create(&record, new_actor(), &writer).expect("a valid record")
}

thread_local! {
    static SEEDED: (MemoryServer, sync_core::RecordId, RecordDoc) = build_seeded_server();
    static SEED_DOC: RecordDoc = seed_doc();
}

/// A server holding one record, its id and document: a fresh copy of one built once, so every
/// run starts from the same state.
pub fn seeded_server() -> (MemoryServer, sync_core::RecordId, RecordDoc) {
    SEEDED.with(|s| s.clone())
}

/// [`seed_doc`], a copy of one made once.
pub fn seed_doc_copy() -> RecordDoc {
    SEED_DOC.with(RecordDoc::clone)
}

fn build_seeded_server() -> (MemoryServer, sync_core::RecordId, RecordDoc) {
    let mut server = MemoryServer::new();
    let mut doc = seed_doc();
    let id = doc.id().expect("an id");
    let request = SyncRequest {
        request_id: 1,
        response_budget: 1 << 20,
        uploads: vec![DocPayload {
            id,
            bytes: doc.changes(),
        }],
        ..SyncRequest::default()
    };
    server
        .handle("seed", &request.encode(), &Anyone, &decide)
        .expect("the seed is stored");
    (server, id, doc)
}

//! Arbitrary bytes as an uploaded automerge document, for a record the server has never seen
//! and for one it holds: compressed columns that inflate far past their size, deep nesting,
//! cycles of dependencies, documents that are not records. The merge answers accepted,
//! unchanged or rejected, and never panics; an accepted one is a valid record.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sync_core::{DocPayload, Merged, RecordDoc, merge_upload, new_actor};

fuzz_target!(|data: &[u8]| {
    let seed = common::seed_doc_copy();
    let id = seed.id().expect("an id");
    let upload = DocPayload {
        id,
        bytes: data.to_vec(),
    };
    for current in [None, Some(seed)] {
        if let Merged::Accepted(accepted) =
            merge_upload(current, &upload, new_actor(), &common::Anyone)
        {
            accepted
                .record
                .validate()
                .expect("an accepted record is valid");
        }
    }
    if let Ok(doc) = RecordDoc::load(data) {
        let _ = doc.record();
    }
});

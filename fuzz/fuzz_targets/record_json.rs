//! Arbitrary text as the JSON a client sends for a new record (the C ABI's `gs_record_create`,
//! the staff API's `POST /api/v1/records`) and as a field patch: parsing never panics, and a
//! record that parses and passes validation is stored and read back as itself.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sync_core::{NewRecord, RecordDoc, RecordPatch, Writer, new_actor};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let writer = Writer::new("wang", "phone-1");
    if let Ok(new) = serde_json::from_str::<NewRecord>(text)
        && let Ok((record, _contact)) = new.into_parts(&writer)
        && let Ok(mut doc) = RecordDoc::create(&record, new_actor(), &writer)
    {
        let back = doc.record().expect("a stored record reads back");
        assert_eq!(back, record);
        let _ = RecordDoc::load(&doc.save()).expect("a saved record loads");
    }
    if let Ok(patch) = serde_json::from_str::<RecordPatch>(text) {
        let mut doc = common::seed_doc_copy();
        let _ = doc.update(&writer, |r| Ok(patch.apply(r)?));
        doc.record()
            .expect("a patch refused or applied leaves a valid record");
    }
});

//! Writes the seed corpora of the fuzz targets in `fuzz/` from real messages: a phone's
//! requests and a server's responses, record documents as phones send them, and the JSON of
//! new records and patches.
//!
//! `cargo run -p gridsync-sync-core --example fuzz_seeds -- fuzz/corpus`

use std::path::{Path, PathBuf};

use sync_core::{
    Authority, Location, MemoryServer, OwnerGrid, Record, RecordBuilder, Rejection, Store,
    SyncResponse, Writer,
};

struct Anyone;
impl Authority for Anyone {
    fn check_write(&self, _: Option<&Record>, _: &Record) -> Result<(), Rejection> {
        Ok(())
    }
    fn in_scope(&self, _: &Record) -> bool {
        true
    }
}

fn decide(record: &mut Record) {
    record.owner_grid = Some(OwnerGrid {
        code: Some("G-1".into()),
        boundary_version: 1,
        decided_at: 1,
    });
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("seed file");
}

fn main() {
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("fuzz/corpus"));
    let mut server = MemoryServer::new();
    let mut phone = Store::open_in_memory("wang", "phone-1").expect("store");
    let record = RecordBuilder::complaint("Broken lamp", phone.writer())
        .description("the lamp post by gate 3 is dark")
        .category("municipal.lighting")
        .location(Location {
            lon: 124.35,
            lat: 43.17,
            accuracy_m: Some(5.0),
            crs: sync_core::Crs::Wgs84,
        })
        .build();
    let id = phone.create(&record).expect("create");
    phone
        .attach(
            &id,
            &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
            "image/jpeg",
            Some("gate 3"),
        )
        .expect("photo");
    phone.add_note(&id, "taped off").expect("note");

    let mut exchange = |phone: &mut Store, round: usize| {
        let request = phone.prepare_sync(64 * 1024).expect("prepare");
        write(
            &out,
            "sync_frames",
            &format!("request-{round}"),
            &request.bytes,
        );
        let response = server
            .handle("phone-1", &request.bytes, &Anyone, &decide)
            .expect("handle");
        write(&out, "sync_frames", &format!("response-{round}"), &response);
        phone.apply_sync(&response).expect("apply");
    };
    exchange(&mut phone, 1);
    phone
        .update(&id, |r| {
            r.category = "municipal.roads".into();
            Ok(())
        })
        .expect("edit");
    exchange(&mut phone, 2);
    exchange(&mut phone, 3);
    let removal = SyncResponse {
        request_id: 4,
        base_cursor: 3,
        next_cursor: 5,
        removals: vec![sync_core::Removal {
            id,
            code: sync_core::removal::MOVED_AWAY.into(),
        }],
        ..SyncResponse::default()
    };
    write(&out, "sync_frames", "response-removal", &removal.encode());

    let writer = Writer::new("wang", "phone-1");
    let mut doc =
        sync_core::RecordDoc::create(&record, sync_core::new_actor(), &writer).expect("document");
    write(
        &out,
        "automerge_upload",
        "new-record-change",
        &doc.changes(),
    );
    write(&out, "automerge_upload", "new-record-save", &doc.save());
    let heads = doc.heads();
    doc.update(&writer, |r| {
        r.title = "Broken lamp at gate 3".into();
        Ok(())
    })
    .expect("edit");
    write(
        &out,
        "automerge_upload",
        "edit-after-heads",
        &doc.save_after(&heads),
    );
    write(&out, "automerge_upload", "edited-save", &doc.save());

    for (i, seed) in [&b"\x00\x01\x02\x03"[..], &[7u8; 64][..], &[0xA5; 300][..]]
        .into_iter()
        .enumerate()
    {
        write(&out, "sync_handler", &format!("bytes-{i}"), seed);
    }

    let new = serde_json::json!({
        "kind": "complaint", "title": "Broken railing", "description": "on the bridge",
        "category": "public_facilities", "claimed_grid": "G-03",
        "location": { "lon": 121.47, "lat": 31.23, "accuracy_m": 8.0, "crs": "gcj02" },
        "complainant": { "anonymous": false, "kind": "person", "name": "张三", "phone": "13912345678" }
    });
    write(
        &out,
        "record_json",
        "new-complaint",
        new.to_string().as_bytes(),
    );
    let inspection = serde_json::json!({
        "kind": "risk_inspection", "title": "Gas cylinder by the stove", "category": "safety.gas",
        "inspection": { "hazard_type": "gas", "risk_level": "major", "findings": "no valve",
            "rectification": "", "follow_up_due": 1767225600000i64 }
    });
    write(
        &out,
        "record_json",
        "new-inspection",
        inspection.to_string().as_bytes(),
    );
    write(
        &out,
        "record_json",
        "patch",
        br#"{"title":"new title","description":"moved","category":"municipal"}"#,
    );
    println!("seeds written under {}", out.display());
}

//! Interoperability with the official JavaScript automerge (`@automerge/automerge`, installed by
//! `npm ci --prefix tests/interop`): `tests/interop/roundtrip.mjs` reads a document sync-core
//! saved, prints it, changes it the way a web client would and saves it; the change must merge
//! with a concurrent Rust change into a record that still validates.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sync_core::{
    Attachment, Complainant, ComplainantType, Crs, Event, Location, Record, RecordBuilder,
    RecordDoc, RiskLevel, Writer, new_actor, new_record_id, now_ms,
};

/// What roundtrip.mjs appends to the description (and to a risk inspection's findings).
const CHECKED_SUFFIX: &str = " (checked)";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Runs roundtrip.mjs on a saved document. Returns what it printed and the document it saved.
fn roundtrip_through_javascript(saved: &[u8]) -> (Value, Vec<u8>) {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/@automerge/automerge/package.json")
            .is_file(),
        "the JavaScript automerge is not installed in {}: run `npm ci --prefix tests/interop` \
         (Node.js 20 or later) before these tests",
        dir.join("node_modules").display()
    );
    let files = tempfile::tempdir().unwrap();
    let input = files.path().join("from-rust.automerge");
    let output = files.path().join("from-javascript.automerge");
    std::fs::write(&input, saved).unwrap();

    let run = Command::new("node")
        .arg(dir.join("roundtrip.mjs"))
        .arg(&input)
        .arg(&output)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node.js 20 or later must be on PATH): {e}"));
    assert!(
        run.status.success(),
        "roundtrip.mjs failed ({}):\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let printed = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "roundtrip.mjs printed something other than JSON ({e}):\n{}",
            String::from_utf8_lossy(&run.stdout)
        )
    });
    (printed, std::fs::read(&output).unwrap())
}

/// A note a phone adds while the web client is editing.
fn phone_note(writer: &Writer) -> Event {
    Event {
        id: new_record_id().to_string(),
        actor: writer.user.clone(),
        at: now_ms(),
        kind: "note".to_string(),
        note: "water level rising".to_string(),
    }
}

#[test]
fn a_record_saved_by_sync_core_reads_the_same_in_javascript_and_merges_back() {
    // Arrange: a complaint using every kind of field: merging text with characters outside
    // ASCII (one outside the Basic Multilingual Plane, two UTF-16 code units in JavaScript),
    // floats, a nested register, the attachment set, the timeline.
    let writer = Writer::new("wang", "phone-1");
    let mut record = RecordBuilder::complaint("积水 on Jiefang Road", &writer)
        .description("Water 20 cm deep outside building 3, 解放路 🚰")
        .category("drainage")
        .claimed_grid("G-0101")
        .location(Location {
            lon: 124.3512,
            lat: 43.1707,
            accuracy_m: Some(6.5),
            crs: Crs::Gcj02,
        })
        .complainant(Complainant {
            anonymous: false,
            kind: ComplainantType::Person,
            has_contact: true,
        })
        .build();
    let sha = "3f".repeat(32);
    record.attachments.insert(
        sha.clone(),
        Attachment {
            sha256: sha,
            mime_type: "image/jpeg".to_string(),
            size: 183_204,
            caption: Some("north side".to_string()),
        },
    );
    let mut phone = RecordDoc::create(&record, new_actor(), &writer).unwrap();

    // Act
    let (printed, from_javascript) = roundtrip_through_javascript(&phone.save());
    let note = phone_note(&writer);
    phone
        .update(&writer, |r| {
            r.title = "积水 on Jiefang Road, north side".to_string();
            r.timeline.push(note.clone());
            Ok(())
        })
        .unwrap();
    let merged_ops = phone.merge_bytes(&from_javascript).unwrap();

    // Assert: JavaScript read every field as Rust wrote it.
    let read = &printed["read"];
    assert_eq!(read["id"], record.id.to_string());
    assert_eq!(read["kind"], "complaint");
    assert_eq!(read["title"], record.title);
    assert_eq!(read["description"], record.description);
    assert_eq!(read["location"]["lon"], 124.3512);
    assert_eq!(read["location"]["lat"], 43.1707);
    assert_eq!(read["workflow"]["status"], "received");
    assert_eq!(read["timeline"].as_array().map(Vec::len), Some(1));
    assert_eq!(*read, serde_json::to_value(&record).unwrap());

    // Assert: the JavaScript change merged with the phone's, and the record still validates.
    assert!(merged_ops > 0, "the JavaScript change did not merge");
    let merged = phone.record().unwrap();
    assert_eq!(merged.title, "积水 on Jiefang Road, north side");
    assert_eq!(
        merged.description,
        format!("{}{CHECKED_SUFFIX}", record.description)
    );
    assert_eq!(merged.category, printed["category"]);
    let javascript_event: Event = serde_json::from_value(printed["added_event"].clone()).unwrap();
    assert_eq!(merged.timeline.len(), 3);
    assert_eq!(merged.timeline[0], record.timeline[0]);
    assert!(merged.timeline.contains(&note), "the phone's note is gone");
    assert!(
        merged.timeline.contains(&javascript_event),
        "the JavaScript event is missing or changed: {:?}",
        merged.timeline
    );
    // JavaScript wrote a whole number where Rust writes a float; it reads back as that number.
    let mut location = record.location.clone().unwrap();
    location.accuracy_m = printed["accuracy_m"].as_f64();
    assert_eq!(merged.location.as_ref(), Some(&location));
    assert_eq!(
        (&merged.attachments, &merged.complainant),
        (&record.attachments, &record.complainant)
    );
    assert_eq!(
        RecordDoc::load(&phone.save()).unwrap().record().unwrap(),
        merged
    );
}

#[test]
fn a_risk_inspections_findings_edited_in_javascript_and_on_a_phone_keep_both_edits() {
    // Arrange
    let writer = Writer::new("wang", "phone-1");
    let mut record: Record =
        RecordBuilder::risk_inspection("Loose manhole cover", "road", RiskLevel::High, &writer)
            .location(Location {
                lon: 124.35,
                lat: 43.17,
                accuracy_m: None,
                crs: Crs::Wgs84,
            })
            .build();
    let inspection = record.inspection.as_mut().unwrap();
    inspection.findings = "Cover rocks when cars pass".to_string();
    inspection.rectification = "Road office to reseat the frame".to_string();
    inspection.follow_up_due = Some(1_767_225_600_000);
    let mut phone = RecordDoc::create(&record, new_actor(), &writer).unwrap();

    // Act: JavaScript appends to the findings while the phone inserts at their start.
    let (printed, from_javascript) = roundtrip_through_javascript(&phone.save());
    phone
        .update(&writer, |r| {
            let findings = &mut r.inspection.as_mut().unwrap().findings;
            findings.insert_str(0, "North lane: ");
            Ok(())
        })
        .unwrap();
    phone.merge_bytes(&from_javascript).unwrap();

    // Assert
    assert_eq!(printed["read"], serde_json::to_value(&record).unwrap());
    let merged = phone.record().unwrap();
    let inspection = merged.inspection.as_ref().unwrap();
    assert_eq!(
        inspection.findings,
        format!("North lane: Cover rocks when cars pass{CHECKED_SUFFIX}")
    );
    assert_eq!(inspection.follow_up_due, Some(1_767_225_600_000));
    assert_eq!(merged.description, CHECKED_SUFFIX);
    assert_eq!(merged.timeline.len(), 2);
}

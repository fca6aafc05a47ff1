//! The record schema, the store and the sync protocol, exercised the way phones and the server
//! use them.

use sync_core::{
    Assignment, AssignmentRole, Attachment, Authority, Crs, Error, Event, Kind, ListFilter,
    Location, MemoryServer, OwnerGrid, Record, RecordBuilder, RecordDoc, Rejection, RiskLevel,
    SchemaError, Status, Store, Writer, new_actor, new_record_id, now_ms,
};

const BUDGET: usize = 64 * 1024;

/// A grid worker: may create and edit content, never the workflow or the owner grid.
struct GridWorker;
impl Authority for GridWorker {
    fn check_write(&self, before: Option<&Record>, after: &Record) -> Result<(), Rejection> {
        let (owner, workflow) = match before {
            Some(b) => (b.owner_grid.clone(), b.workflow.clone()),
            None => (None, sync_core::Workflow::default()),
        };
        if after.owner_grid != owner {
            return Err(Rejection::new(
                "forbidden_field",
                "a grid worker cannot set owner_grid",
            ));
        }
        if after.workflow != workflow {
            return Err(Rejection::new(
                "forbidden_field",
                "a grid worker cannot change the workflow",
            ));
        }
        Ok(())
    }
    fn in_scope(&self, _: &Record) -> bool {
        true
    }
}

/// Sees only records whose owner grid is in its list.
struct GridScope(&'static [&'static str]);
impl Authority for GridScope {
    fn check_write(&self, before: Option<&Record>, after: &Record) -> Result<(), Rejection> {
        GridWorker.check_write(before, after)
    }
    fn in_scope(&self, record: &Record) -> bool {
        record
            .owner_grid
            .as_ref()
            .and_then(|o| o.code.as_deref())
            .is_some_and(|code| self.0.contains(&code))
    }
}

fn owner_by_longitude(record: &mut Record) {
    if let Some(loc) = &record.location {
        let code = if loc.lon < 124.35 { "G-WEST" } else { "G-EAST" };
        record.owner_grid = Some(OwnerGrid {
            code: Some(code.into()),
            boundary_version: 1,
            decided_at: 1,
        });
    }
}

fn phone(name: &str) -> Store {
    Store::open_in_memory(&format!("user-{name}"), name).unwrap()
}

fn complaint(store: &Store, title: &str, lon: f64) -> Record {
    RecordBuilder::complaint(title, store.writer())
        .description("water leaking from the roof of building 3")
        .category("housing")
        .location(Location {
            lon,
            lat: 43.17,
            accuracy_m: Some(8.0),
            crs: Crs::Wgs84,
        })
        .build()
}

fn sync(
    store: &mut Store,
    server: &mut MemoryServer,
    authority: &dyn Authority,
) -> sync_core::SyncReport {
    let device = store.writer().device.clone();
    let request = store.prepare_sync(BUDGET).unwrap();
    let response = server
        .handle(&device, &request.bytes, authority, &owner_by_longitude)
        .unwrap();
    store.apply_sync(&response).unwrap()
}

#[test]
fn a_record_round_trips_through_its_document() {
    let writer = Writer::new("wang", "phone-1");
    let record =
        RecordBuilder::risk_inspection("Loose manhole cover", "road", RiskLevel::High, &writer)
            .location(Location {
                lon: 124.35,
                lat: 43.17,
                accuracy_m: None,
                crs: Crs::Gcj02,
            })
            .build();
    let mut doc = RecordDoc::create(&record, new_actor(), &writer).unwrap();
    let loaded = RecordDoc::load(&doc.save()).unwrap();
    assert_eq!(loaded.record().unwrap(), record);
}

#[test]
fn a_dispatchers_deadline_and_a_workers_photo_and_note_all_survive_the_merge() {
    let worker = Writer::new("wang", "phone-1");
    let dispatcher = Writer::new("zhao", "web");
    let record = RecordBuilder::complaint("Broken streetlight", &worker).build();
    let mut phone = RecordDoc::create(&record, new_actor(), &worker).unwrap();
    let mut office = RecordDoc::load(&phone.save()).unwrap();
    office.set_actor(new_actor());

    office
        .update(&dispatcher, |r| {
            r.workflow.status = Status::Dispatched;
            r.workflow.assignments.push(Assignment {
                id: "a1".into(),
                department: "street-lighting".into(),
                role: AssignmentRole::Lead,
                deadline: 1_800_000_000_000,
                assigned_at: 1,
                active: true,
            });
            Ok(())
        })
        .unwrap();
    let sha = "a".repeat(64);
    phone
        .update(&worker, |r| {
            r.attachments.insert(
                sha.clone(),
                Attachment {
                    sha256: sha.clone(),
                    mime_type: "image/jpeg".into(),
                    size: 1000,
                    caption: None,
                },
            );
            r.timeline.push(Event {
                id: new_record_id().to_string(),
                actor: "wang".into(),
                at: now_ms(),
                kind: "note".into(),
                note: "pole is leaning too".into(),
            });
            Ok(())
        })
        .unwrap();

    phone.merge_bytes(&office.save()).unwrap();
    office.merge_bytes(&phone.save()).unwrap();
    let merged = phone.record().unwrap();
    assert_eq!(merged, office.record().unwrap());
    assert_eq!(merged.workflow.status, Status::Dispatched);
    assert_eq!(merged.workflow.assignments[0].deadline, 1_800_000_000_000);
    assert!(merged.attachments.contains_key(&sha));
    assert_eq!(merged.timeline.len(), 2);
}

#[test]
fn concurrent_description_edits_merge_character_by_character() {
    let a = Writer::new("a", "1");
    let b = Writer::new("b", "2");
    let record = RecordBuilder::complaint("Noise", &a)
        .description("loud music at night")
        .build();
    let mut doc_a = RecordDoc::create(&record, new_actor(), &a).unwrap();
    let mut doc_b = RecordDoc::load(&doc_a.save()).unwrap();
    doc_b.set_actor(new_actor());
    doc_a
        .update(&a, |r| {
            r.description = "very loud music at night".into();
            Ok(())
        })
        .unwrap();
    doc_b
        .update(&b, |r| {
            r.description = "loud music at night, every weekend".into();
            Ok(())
        })
        .unwrap();
    doc_a.merge_bytes(&doc_b.save()).unwrap();
    assert_eq!(
        doc_a.record().unwrap().description,
        "very loud music at night, every weekend"
    );
}

#[test]
fn concurrent_edits_of_an_inspections_findings_merge_character_by_character() {
    let a = Writer::new("a", "1");
    let b = Writer::new("b", "2");
    let mut record =
        RecordBuilder::risk_inspection("Wall", "structural", RiskLevel::Medium, &a).build();
    record.inspection.as_mut().unwrap().findings = "crack in the wall".into();
    let mut doc_a = RecordDoc::create(&record, new_actor(), &a).unwrap();
    let mut doc_b = RecordDoc::load(&doc_a.save()).unwrap();
    doc_b.set_actor(new_actor());
    doc_a
        .update(&a, |r| {
            let inspection = r.inspection.as_mut().unwrap();
            inspection.findings = "long crack in the wall".into();
            inspection.risk_level = RiskLevel::High;
            Ok(())
        })
        .unwrap();
    doc_b
        .update(&b, |r| {
            let inspection = r.inspection.as_mut().unwrap();
            inspection.findings = "crack in the north wall".into();
            inspection.rectification = "prop it up".into();
            Ok(())
        })
        .unwrap();
    doc_a.merge_bytes(&doc_b.save()).unwrap();
    let inspection = doc_a.record().unwrap().inspection.unwrap();
    assert_eq!(inspection.findings, "long crack in the north wall");
    assert_eq!(inspection.rectification, "prop it up");
    assert_eq!(inspection.risk_level, RiskLevel::High);
}

#[test]
fn a_latitude_beyond_ninety_degrees_is_rejected_with_its_field() {
    let store = phone("p");
    let mut record = complaint(&store, "x", 124.0);
    record.location.as_mut().unwrap().lat = 91.0;
    let err = record.validate().unwrap_err();
    assert_eq!(
        err,
        SchemaError::OutOfRange {
            field: "location.lat",
            value: 91.0
        }
    );
}

#[test]
fn a_document_with_an_unknown_kind_does_not_hydrate() {
    use sync_core::automerge::{ROOT, transaction::Transactable};
    let writer = Writer::new("a", "1");
    let mut doc = RecordDoc::create(
        &RecordBuilder::complaint("x", &writer).build(),
        new_actor(),
        &writer,
    )
    .unwrap();
    doc.automerge().put(ROOT, "kind", "alien_sighting").unwrap();
    assert!(matches!(doc.record(), Err(Error::Hydrate(_))));
}

#[test]
fn an_edit_that_breaks_the_schema_changes_nothing_in_the_store() {
    let mut store = phone("p");
    let record = complaint(&store, "Pothole", 124.3);
    let id = store.create(&record).unwrap();
    let err = store
        .update(&id, |r| {
            r.title.clear();
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Schema(SchemaError::MissingField("title"))
    ));
    assert_eq!(store.get(&id).unwrap(), record);
}

#[test]
fn the_store_lists_by_grid_kind_and_status_without_loading_documents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let mut store = Store::open(&path, "wang", "phone-1").unwrap();
    let a = store
        .create(&complaint(&store, "A", 124.3).clone())
        .unwrap();
    let mut b = complaint(&store, "B", 124.4);
    b.claimed_grid = Some("G-EAST".into());
    let b = store.create(&b).unwrap();
    let inspection =
        RecordBuilder::risk_inspection("Gas smell", "gas", RiskLevel::Critical, store.writer())
            .build();
    store.create(&inspection).unwrap();
    drop(store);

    let store = Store::open(&path, "wang", "phone-1").unwrap();
    assert_eq!(store.count().unwrap(), 3);
    let east = store
        .list(&ListFilter {
            grid: Some("G-EAST".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(east.iter().map(|s| s.id).collect::<Vec<_>>(), vec![b]);
    let complaints = store
        .list(&ListFilter {
            kind: Some(Kind::Complaint),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(complaints.len(), 2);
    assert!(complaints.iter().any(|s| s.id == a));
    let received = store
        .list(&ListFilter {
            status: Some(Status::Received),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|s| s.pending_upload));
}

#[test]
fn a_store_opened_for_another_account_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    Store::open(&path, "wang", "phone-1").unwrap();
    assert!(matches!(
        Store::open(&path, "li", "phone-1"),
        Err(Error::WrongAccount { .. })
    ));
}

#[test]
fn a_record_made_offline_reaches_another_phone_with_the_servers_owner_grid() {
    let mut server = MemoryServer::new();
    let mut a = phone("a");
    let mut b = phone("b");
    let id = a.create(&complaint(&a, "Blocked drain", 124.30)).unwrap();

    let report = sync(&mut a, &mut server, &GridWorker);
    assert_eq!(report.acknowledged, vec![id]);
    // The server's owner-grid decision came back in the same round trip.
    assert_eq!(report.changed, vec![id]);
    assert_eq!(
        a.get(&id).unwrap().owner_grid.unwrap().code.as_deref(),
        Some("G-WEST")
    );
    assert_eq!(a.pending_uploads().unwrap(), 0);

    let report = sync(&mut b, &mut server, &GridWorker);
    assert_eq!(report.changed, vec![id]);
    assert_eq!(b.get(&id).unwrap(), a.get(&id).unwrap());
}

#[test]
fn a_server_that_lost_an_acknowledged_record_is_sent_it_whole_on_the_next_exchange() {
    let mut worker = phone("worker");
    let id = worker
        .create(&complaint(&worker, "Blocked drain", 124.33))
        .unwrap();
    // (A server without a grid map: the document the phone holds is all its own.)
    let mut before_the_loss = MemoryServer::new();
    let request = worker.prepare_sync(BUDGET).unwrap();
    let response = before_the_loss
        .handle("worker", &request.bytes, &GridWorker, &|_: &mut Record| {})
        .unwrap();
    assert_eq!(worker.apply_sync(&response).unwrap().acknowledged, vec![id]);
    worker.add_note(&id, "still blocked").unwrap();

    // The server comes back from a backup older than the acknowledgement: the edit's change
    // depends on history it does not hold.
    let mut restored = MemoryServer::new();
    let report = sync(&mut worker, &mut restored, &GridWorker);
    assert!(report.acknowledged.is_empty());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(restored.record(&id).is_none());

    let report = sync(&mut worker, &mut restored, &GridWorker);
    assert_eq!(report.acknowledged, vec![id]);
    let on_server = restored.record(&id).unwrap();
    assert!(on_server.timeline.iter().any(|e| e.note == "still blocked"));
    assert_eq!(worker.get(&id).unwrap().title, "Blocked drain");
}

#[test]
fn a_lost_response_means_the_next_request_repeats_and_nothing_is_stored_twice() {
    let mut server = MemoryServer::new();
    let mut a = phone("a");
    let id = a.create(&complaint(&a, "Graffiti", 124.4)).unwrap();
    let lost = a.prepare_sync(BUDGET).unwrap();
    server
        .handle("a", &lost.bytes, &GridWorker, &owner_by_longitude)
        .unwrap();
    let head_after_first = server.head_seq();

    let report = sync(&mut a, &mut server, &GridWorker);
    assert_eq!(report.acknowledged, vec![id]);
    assert_eq!(
        server.head_seq(),
        head_after_first,
        "the retry stored nothing new"
    );
    assert_eq!(server.record(&id).unwrap(), a.get(&id).unwrap());
}

#[test]
fn applying_the_same_response_twice_changes_nothing() {
    let mut server = MemoryServer::new();
    let mut a = phone("a");
    let mut b = phone("b");
    let id = a.create(&complaint(&a, "Graffiti", 124.4)).unwrap();
    sync(&mut a, &mut server, &GridWorker);
    let request = b.prepare_sync(BUDGET).unwrap();
    let response = server
        .handle("b", &request.bytes, &GridWorker, &owner_by_longitude)
        .unwrap();
    b.apply_sync(&response).unwrap();
    let before = (b.get(&id).unwrap(), b.cursor().unwrap(), b.count().unwrap());
    let again = b.apply_sync(&response).unwrap();
    assert!(again.changed.is_empty());
    assert_eq!(
        (b.get(&id).unwrap(), b.cursor().unwrap(), b.count().unwrap()),
        before
    );
}

#[test]
fn a_truncated_response_is_rejected_whole_and_changes_nothing() {
    let mut server = MemoryServer::new();
    let mut a = phone("a");
    let mut b = phone("b");
    a.create(&complaint(&a, "Graffiti", 124.4)).unwrap();
    sync(&mut a, &mut server, &GridWorker);
    let request = b.prepare_sync(BUDGET).unwrap();
    let response = server
        .handle("b", &request.bytes, &GridWorker, &owner_by_longitude)
        .unwrap();
    let err = b.apply_sync(&response[..response.len() - 3]).unwrap_err();
    assert!(matches!(err, Error::Wire(_)));
    assert_eq!((b.count().unwrap(), b.cursor().unwrap()), (0, 0));
}

#[test]
fn a_worker_closing_their_own_case_is_rejected_and_their_copy_reset_and_kept_aside() {
    let mut server = MemoryServer::new();
    let mut a = phone("a");
    let id = a.create(&complaint(&a, "Noise", 124.4)).unwrap();
    let other = a.create(&complaint(&a, "Litter", 124.2)).unwrap();
    sync(&mut a, &mut server, &GridWorker);

    a.update(&id, |r| {
        r.workflow.status = Status::Closed;
        Ok(())
    })
    .unwrap();
    a.update(&other, |r| {
        r.description = "bins overflowing".into();
        Ok(())
    })
    .unwrap();
    let report = sync(&mut a, &mut server, &GridWorker);

    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].id, id);
    assert_eq!(report.rejected[0].code, "forbidden_field");
    assert_eq!(
        report.acknowledged,
        vec![other],
        "the rest of the batch landed"
    );
    assert_eq!(
        server.record(&id).unwrap().workflow.status,
        Status::Received
    );
    assert_eq!(
        a.get(&id).unwrap().workflow.status,
        Status::Received,
        "reset to the server's copy"
    );
    assert_eq!(
        a.rejected().unwrap().len(),
        1,
        "the refused copy is kept for the worker"
    );
    assert_eq!(
        server.record(&other).unwrap().description,
        "bins overflowing"
    );
    assert_eq!(a.pending_uploads().unwrap(), 0);
}

#[test]
fn a_small_budget_pages_the_response_and_the_cursor_never_skips_a_change() {
    let mut server = MemoryServer::new();
    let mut a = phone("a");
    let mut b = phone("b");
    for i in 0..30 {
        a.create(&complaint(&a, &format!("record {i}"), 124.4))
            .unwrap();
    }
    loop {
        if !sync(&mut a, &mut server, &GridWorker).more {
            break;
        }
    }
    let mut rounds = 0;
    loop {
        rounds += 1;
        let request = b.prepare_sync(1500).unwrap();
        let response = server
            .handle("b", &request.bytes, &GridWorker, &owner_by_longitude)
            .unwrap();
        assert!(
            response.len() < 1500 + 1200,
            "response of {} bytes",
            response.len()
        );
        if !b.apply_sync(&response).unwrap().more {
            break;
        }
    }
    assert!(rounds > 3, "the budget forced paging ({rounds} rounds)");
    assert_eq!(b.count().unwrap(), 30);
    for id in server.ids() {
        assert_eq!(b.get(&id).unwrap(), server.record(&id).unwrap());
    }
}

#[test]
fn a_record_that_moves_into_a_devices_scope_arrives_whole() {
    let mut server = MemoryServer::new();
    let mut west = phone("w");
    let mut east = phone("e");
    let id = west
        .create(&complaint(&west, "Flooded underpass", 124.30))
        .unwrap();
    sync(&mut west, &mut server, &GridScope(&["G-WEST"]));
    west.update(&id, |r| {
        r.description = "now knee deep".into();
        Ok(())
    })
    .unwrap();
    sync(&mut west, &mut server, &GridScope(&["G-WEST"]));
    // East has synced past all of that, seeing nothing.
    assert!(
        sync(&mut east, &mut server, &GridScope(&["G-EAST"]))
            .changed
            .is_empty()
    );

    // The GIS office redraws the boundary: the record now belongs to G-EAST.
    server
        .edit(&id, &Writer::new("gis", "web"), |r| {
            r.owner_grid = Some(OwnerGrid {
                code: Some("G-EAST".into()),
                boundary_version: 2,
                decided_at: 2,
            });
            Ok(())
        })
        .unwrap();
    let first = sync(&mut east, &mut server, &GridScope(&["G-EAST"]));
    assert_eq!(first.needs_history, vec![id]);
    assert!(first.more);
    let second = sync(&mut east, &mut server, &GridScope(&["G-EAST"]));
    assert_eq!(second.changed, vec![id]);
    assert_eq!(east.get(&id).unwrap(), server.record(&id).unwrap());
    assert_eq!(east.get(&id).unwrap().description, "now knee deep");
}

#[test]
fn a_device_never_receives_a_record_outside_its_scope() {
    let mut server = MemoryServer::new();
    let mut west = phone("w");
    let mut east = phone("e");
    west.create(&complaint(&west, "West only", 124.30)).unwrap();
    sync(&mut west, &mut server, &GridScope(&["G-WEST"]));
    let report = sync(&mut east, &mut server, &GridScope(&["G-EAST"]));
    assert!(report.changed.is_empty());
    assert_eq!(east.count().unwrap(), 0);
    assert_eq!(
        east.cursor().unwrap(),
        server.head_seq(),
        "the cursor still moves past it"
    );
}

#[test]
fn garbage_request_bytes_are_a_typed_error_on_the_server() {
    let mut server = MemoryServer::new();
    let err = server
        .handle("x", b"GS\x03\x01garbage", &GridWorker, &owner_by_longitude)
        .unwrap_err();
    assert_eq!(err, sync_core::WireError::Checksum);
    assert_eq!(server.head_seq(), 0);
}

#[test]
fn a_dispatchers_server_side_edit_reaches_the_phone_that_made_the_record() {
    let mut server = MemoryServer::new();
    let mut a = phone("a");
    let id = a.create(&complaint(&a, "Broken bench", 124.4)).unwrap();
    sync(&mut a, &mut server, &GridWorker);
    server
        .edit(&id, &Writer::new("zhao", "web"), |r| {
            r.workflow.status = Status::Dispatched;
            Ok(())
        })
        .unwrap();
    let report = sync(&mut a, &mut server, &GridWorker);
    assert_eq!(report.changed, vec![id]);
    assert_eq!(a.get(&id).unwrap().workflow.status, Status::Dispatched);
}

#[test]
fn every_change_says_which_user_and_device_made_it() {
    let mut store = phone("p");
    let id = store
        .create(&complaint(&store, "Loose tiles", 124.4))
        .unwrap();
    store
        .update(&id, |r| {
            r.title.push_str(" on the stairs");
            Ok(())
        })
        .unwrap();
    let mut doc = store.load(&id).unwrap().unwrap();
    let writers: Vec<Writer> = doc
        .automerge()
        .get_changes(&[])
        .iter()
        .map(|c| Writer::from_change_message(c.message().unwrap()).unwrap())
        .collect();
    assert_eq!(
        writers,
        vec![Writer::new("user-p", "p"), Writer::new("user-p", "p")]
    );
}

#[test]
fn a_new_record_goes_up_as_its_one_change_and_one_edited_offline_with_its_edits() {
    let mut worker = phone("worker");
    let plain = worker
        .create(&complaint(&worker, "Blocked drain", 124.33))
        .unwrap();
    let edited = worker
        .create(&complaint(&worker, "Broken bench", 124.34))
        .unwrap();
    worker.add_note(&edited, "the seat is missing too").unwrap();

    let request =
        sync_core::SyncRequest::decode(&worker.prepare_sync(BUDGET).unwrap().bytes).unwrap();

    assert_eq!(request.uploads.len(), 2);
    for upload in &request.uploads {
        // Each upload is a whole document that loads on its own, as the server requires.
        let mut sent = RecordDoc::load(&upload.bytes).unwrap();
        assert!(sent.missing_deps().is_empty());
        let mut stored = worker.load(&upload.id).unwrap().unwrap();
        assert_eq!(sent.record().unwrap(), stored.record().unwrap());
        if upload.id == plain {
            assert_eq!(stored.automerge().get_changes(&[]).len(), 1);
            assert_eq!(upload.bytes, stored.changes(), "sent as its one change");
        }
    }
    let mut server = MemoryServer::new();
    let report = sync(&mut worker, &mut server, &GridWorker);
    assert_eq!(report.acknowledged.len(), 2);
    let on_server = server.record(&edited).unwrap();
    assert!(
        on_server
            .timeline
            .iter()
            .any(|e| e.note == "the seat is missing too")
    );
}

/// The server returns `id` to its worker, as the grid's leader would.
fn returned_by_the_server(server: &mut MemoryServer, id: &sync_core::RecordId) {
    let leader = Writer::new("server", "server");
    server
        .edit(id, &leader, |r| {
            r.workflow.status = Status::Returned;
            Ok(())
        })
        .unwrap();
}

fn waiting(store: &Store) -> Vec<(sync_core::RecordId, Option<sync_core::Task>)> {
    store
        .list(&ListFilter {
            needs_action: Some(true),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s.task))
        .collect()
}

#[test]
fn a_returned_report_arrives_as_its_workers_task_and_leaves_the_list_once_resubmitted() {
    let mut server = MemoryServer::new();
    let mut wang = phone("wang");
    let hazard =
        RecordBuilder::risk_inspection("Gas smell", "gas", RiskLevel::Critical, wang.writer())
            .build();
    let id = wang.create(&hazard).unwrap();
    let report = sync(&mut wang, &mut server, &GridWorker);
    assert!(report.needs_action.is_empty());
    assert!(waiting(&wang).is_empty());

    returned_by_the_server(&mut server, &id);
    let report = sync(&mut wang, &mut server, &GridWorker);

    assert_eq!(report.needs_action, vec![id]);
    assert_eq!(waiting(&wang), vec![(id, Some(sync_core::Task::Amend))]);
    let not_waiting = wang
        .list(&ListFilter {
            needs_action: Some(false),
            ..Default::default()
        })
        .unwrap();
    assert!(not_waiting.is_empty());

    wang.take_step(&id, sync_core::FieldStep::Resubmit, "amended")
        .unwrap();
    assert!(waiting(&wang).is_empty());
    let step = wang.get(&id).unwrap().pending_steps()[0].1.clone();
    assert_eq!(
        (step.actor.as_str(), step.note.as_str()),
        ("user-wang", "amended")
    );
    // Syncing the step does not bring the task back by itself: the server answers it.
    let report = sync(&mut wang, &mut server, &GridWorker);
    assert_eq!(report.acknowledged, vec![id]);
    assert!(report.needs_action.is_empty());
    assert!(waiting(&wang).is_empty());
}

#[test]
fn a_store_from_before_tasks_were_kept_works_them_out_when_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let mut server = MemoryServer::new();
    let mut wang = Store::open(&path, "wang", "phone-1").unwrap();
    let hazard =
        RecordBuilder::risk_inspection("Gas smell", "gas", RiskLevel::Critical, wang.writer())
            .build();
    let id = wang.create(&hazard).unwrap();
    sync(&mut wang, &mut server, &GridWorker);
    returned_by_the_server(&mut server, &id);
    sync(&mut wang, &mut server, &GridWorker);
    drop(wang);
    // As the store was before it kept tasks: no task column (nor the photo queue's order,
    // which came later), schema at the migration before.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE blob_records; \
         DROP INDEX blobs_queue; ALTER TABLE blobs DROP COLUMN priority; \
         ALTER TABLE blobs DROP COLUMN paused; \
         CREATE INDEX blobs_pending ON blobs (created_at) WHERE uploaded < size; \
         DROP INDEX records_by_task; ALTER TABLE records DROP COLUMN task; PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(conn);

    let wang = Store::open(&path, "wang", "phone-1").unwrap();

    assert_eq!(waiting(&wang), vec![(id, Some(sync_core::Task::Amend))]);
}

#[test]
fn a_store_from_before_it_kept_which_records_hold_a_photo_works_it_out_when_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let mut wang = Store::open(&path, "wang", "phone-1").unwrap();
    let first = wang.create(&complaint(&wang, "leak", 124.3)).unwrap();
    let second = wang.create(&complaint(&wang, "leak again", 124.3)).unwrap();
    let photo = wang
        .attach(&first, b"the same photo", "image/jpeg", None)
        .unwrap();
    wang.attach(&second, b"the same photo", "image/jpeg", None)
        .unwrap();
    drop(wang);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TABLE blob_records; PRAGMA user_version = 5;")
        .unwrap();
    drop(conn);

    let mut wang = Store::open(&path, "wang", "phone-1").unwrap();
    wang.drop_photo(&first, &photo.sha256).unwrap();

    assert_eq!(
        wang.pending_blobs().unwrap(),
        1,
        "still queued for the second"
    );
    wang.drop_photo(&second, &photo.sha256).unwrap();
    assert_eq!(wang.pending_blobs().unwrap(), 0);
}

#[test]
fn the_sync_status_tells_what_waits_on_each_side_and_when_the_phone_last_got_through() {
    let mut server = MemoryServer::new();
    let mut writer = phone("a");
    let mut reader = phone("b");
    for i in 0..30 {
        let record = complaint(&writer, &format!("leak {i}"), 124.3);
        writer.create(&record).unwrap();
    }
    let never = reader.sync_status().unwrap();
    assert_eq!((never.last_sync_at, never.up_to_date), (None, true));
    let before = writer.sync_status().unwrap();
    assert_eq!(before.pending_records, 30);
    assert!(before.local_has_more && !before.up_to_date);

    let sent = sync(&mut writer, &mut server, &GridWorker);

    let after = writer.sync_status().unwrap();
    assert_eq!(sent.acknowledged.len(), 30);
    assert!(!sent.local_has_more && !after.local_has_more);
    assert_eq!(after.pending_records, 0);
    assert!(after.last_sync_at.is_some());
    // The reader asks for little at a time: the server says it has more until it has sent all.
    let mut rounds = 0;
    loop {
        let device = reader.writer().device.clone();
        let request = reader.prepare_sync(2 * 1024).unwrap();
        let response = server
            .handle(&device, &request.bytes, &GridWorker, &owner_by_longitude)
            .unwrap();
        let report = reader.apply_sync(&response).unwrap();
        let status = reader.sync_status().unwrap();
        assert_eq!(status.server_has_more, report.server_has_more);
        assert_eq!(status.up_to_date, !report.more);
        rounds += 1;
        if !report.more {
            break;
        }
        assert!(rounds < 100);
    }
    assert!(rounds > 1, "a small budget takes several rounds");
    assert_eq!(reader.count().unwrap(), 30);
    assert!(reader.sync_status().unwrap().up_to_date);
}

/// The server's answer to a device's cursor that only says which records left its scope.
fn removals(store: &Store, ids: &[(sync_core::RecordId, &str)]) -> Vec<u8> {
    let cursor = store.cursor().unwrap();
    sync_core::SyncResponse {
        request_id: 0,
        base_cursor: cursor,
        next_cursor: cursor,
        removals: ids
            .iter()
            .map(|(id, code)| sync_core::Removal {
                id: *id,
                code: (*code).into(),
            })
            .collect(),
        ..Default::default()
    }
    .encode()
}

#[test]
fn a_record_that_left_the_scope_is_dropped_and_unsent_work_on_it_is_kept_aside() {
    let mut server = MemoryServer::new();
    let mut maker = phone("m");
    let mut idle = phone("i");
    let mut busy = phone("b");
    let id = maker
        .create(&complaint(&maker, "Broken lamp", 124.30))
        .unwrap();
    sync(&mut maker, &mut server, &GridWorker);
    sync(&mut idle, &mut server, &GridWorker);
    sync(&mut busy, &mut server, &GridWorker);
    busy.add_note(&id, "lamp post leaning too").unwrap();

    let unknown = new_record_id();
    let report = idle
        .apply_sync(&removals(
            &idle,
            &[(id, "moved_away"), (unknown, "moved_away")],
        ))
        .unwrap();
    assert_eq!(
        report.left_scope,
        vec![sync_core::LeftScope {
            id,
            code: "moved_away".into(),
            unsent_changes_kept: false
        }],
        "a record the device never held is not reported"
    );
    assert!(idle.load(&id).unwrap().is_none());
    assert_eq!(idle.count().unwrap(), 0);
    assert!(idle.rejected().unwrap().is_empty());

    let report = busy
        .apply_sync(&removals(&busy, &[(id, "scope_changed")]))
        .unwrap();
    assert!(report.left_scope[0].unsent_changes_kept);
    assert!(busy.load(&id).unwrap().is_none());
    let kept = busy.rejected().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].code, sync_core::OUT_OF_SCOPE);
    assert!(kept[0].reason.contains("scope_changed"));
    let status = busy.sync_status().unwrap();
    assert_eq!((status.pending_records, status.rejected), (0, 1));
}

#[test]
fn a_removal_computed_for_an_older_cursor_is_not_applied() {
    let mut server = MemoryServer::new();
    let mut maker = phone("m");
    let mut other = phone("o");
    let id = maker
        .create(&complaint(&maker, "Broken lamp", 124.30))
        .unwrap();
    sync(&mut maker, &mut server, &GridWorker);
    let stale = removals(&other, &[(id, "moved_away")]);
    sync(&mut other, &mut server, &GridWorker);
    let report = other.apply_sync(&stale).unwrap();
    assert!(report.left_scope.is_empty());
    assert!(other.load(&id).unwrap().is_some());
}

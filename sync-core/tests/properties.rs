//! Property tests: one server and several phones edit offline and sync through a link that
//! drops, duplicates, delays (reorders), and truncates messages. After a final clean sync every
//! replica holds identical documents and nothing acknowledged to a device is missing.
//!
//! Case counts are modest by default; set `PROPTEST_CASES` for more.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use sync_core::{
    Authority, Crs, Event, ListFilter, Location, MemoryServer, OwnerGrid, Record, RecordBuilder,
    RecordId, Rejection, Status, Store, Writer, new_record_id,
};

struct Everyone;
impl Authority for Everyone {
    fn check_write(&self, before: Option<&Record>, after: &Record) -> Result<(), Rejection> {
        // Devices may not touch the workflow: the server and dispatchers own it.
        let workflow = before.map(|b| b.workflow.clone()).unwrap_or_default();
        if after.workflow != workflow {
            return Err(Rejection::new("forbidden_field", "workflow"));
        }
        Ok(())
    }
    fn in_scope(&self, _: &Record) -> bool {
        true
    }
}

fn decide_owner(record: &mut Record) {
    if record.owner_grid.is_none() {
        let code = record
            .location
            .as_ref()
            .map(|l| if l.lon < 0.0 { "W" } else { "E" }.to_string());
        record.owner_grid = Some(OwnerGrid {
            code,
            boundary_version: 1,
            decided_at: 0,
        });
    }
}

#[derive(Debug, Clone)]
enum Fault {
    None,
    DropRequest,
    TruncateRequest(usize),
    DropResponse,
    DuplicateResponse,
    TruncateResponse(usize),
    /// Hold the response and deliver it after the device's next exchange.
    DelayResponse,
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        device: usize,
        lon: f64,
    },
    EditTitle {
        device: usize,
        pick: usize,
        suffix: String,
    },
    EditDescription {
        device: usize,
        pick: usize,
        at: usize,
        text: String,
    },
    AddNote {
        device: usize,
        pick: usize,
        note: String,
    },
    Dispatch {
        pick: usize,
    },
    Sync {
        device: usize,
        budget: usize,
        fault: Fault,
    },
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => Just(Fault::None),
        1 => Just(Fault::DropRequest),
        1 => (0usize..64).prop_map(Fault::TruncateRequest),
        1 => Just(Fault::DropResponse),
        1 => Just(Fault::DuplicateResponse),
        1 => (0usize..64).prop_map(Fault::TruncateResponse),
        1 => Just(Fault::DelayResponse),
    ]
}

fn op(devices: usize) -> impl Strategy<Value = Op> {
    let d = 0..devices;
    prop_oneof![
        3 => (d.clone(), -1.0f64..1.0).prop_map(|(device, lon)| Op::Create { device, lon }),
        2 => (d.clone(), any::<usize>(), "[a-z ]{1,6}")
            .prop_map(|(device, pick, suffix)| Op::EditTitle { device, pick, suffix }),
        2 => (d.clone(), any::<usize>(), any::<usize>(), "[a-z 漏水]{1,8}")
            .prop_map(|(device, pick, at, text)| Op::EditDescription { device, pick, at, text }),
        2 => (d.clone(), any::<usize>(), "[a-z]{0,8}")
            .prop_map(|(device, pick, note)| Op::AddNote { device, pick, note }),
        1 => any::<usize>().prop_map(|pick| Op::Dispatch { pick }),
        4 => (d, prop_oneof![Just(300usize), Just(2_000), Just(64 * 1024)], fault())
            .prop_map(|(device, budget, fault)| Op::Sync { device, budget, fault }),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (2usize..=5)
        .prop_flat_map(|devices| (Just(devices), proptest::collection::vec(op(devices), 1..40)))
}

struct Phone {
    store: Store,
    name: String,
    late: Vec<Vec<u8>>,
    acknowledged: BTreeSet<RecordId>,
}

impl Phone {
    fn ids(&self) -> Vec<RecordId> {
        let mut ids: Vec<RecordId> = self
            .store
            .list(&ListFilter {
                limit: Some(10_000),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        ids.sort();
        ids
    }

    fn pick(&self, pick: usize) -> Option<RecordId> {
        let ids = self.ids();
        (!ids.is_empty()).then(|| ids[pick % ids.len()])
    }

    fn apply(&mut self, response: &[u8]) {
        if let Ok(report) = self.store.apply_sync(response) {
            self.acknowledged.extend(report.acknowledged);
        }
    }
}

fn run(devices: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut server = MemoryServer::new();
    let mut phones: Vec<Phone> = (0..devices)
        .map(|i| Phone {
            store: Store::open_in_memory(&format!("user{i}"), &format!("phone{i}")).unwrap(),
            name: format!("phone{i}"),
            late: Vec::new(),
            acknowledged: BTreeSet::new(),
        })
        .collect();

    for op in ops {
        match op {
            Op::Create { device, lon } => {
                let p = &mut phones[*device];
                let record = RecordBuilder::complaint("report", p.store.writer())
                    .location(Location {
                        lon: *lon,
                        lat: 0.5,
                        accuracy_m: None,
                        crs: Crs::Wgs84,
                    })
                    .build();
                p.store.create(&record).unwrap();
            }
            Op::EditTitle {
                device,
                pick,
                suffix,
            } => {
                let p = &mut phones[*device];
                if let Some(id) = p.pick(*pick) {
                    p.store
                        .update(&id, |r| {
                            if r.title.chars().count() < 150 {
                                r.title.push_str(suffix);
                            }
                            Ok(())
                        })
                        .unwrap();
                }
            }
            Op::EditDescription {
                device,
                pick,
                at,
                text,
            } => {
                let p = &mut phones[*device];
                if let Some(id) = p.pick(*pick) {
                    p.store
                        .update(&id, |r| {
                            let chars: Vec<char> = r.description.chars().collect();
                            let at = at % (chars.len() + 1);
                            let mut s: String = chars[..at].iter().collect();
                            s.push_str(text);
                            s.extend(&chars[at..]);
                            r.description = s;
                            Ok(())
                        })
                        .unwrap();
                }
            }
            Op::AddNote { device, pick, note } => {
                let p = &mut phones[*device];
                let user = p.store.writer().user.clone();
                if let Some(id) = p.pick(*pick) {
                    p.store
                        .update(&id, |r| {
                            r.timeline.push(Event {
                                id: new_record_id().to_string(),
                                actor: user,
                                at: 1,
                                kind: "note".into(),
                                note: note.clone(),
                            });
                            Ok(())
                        })
                        .unwrap();
                }
            }
            Op::Dispatch { pick } => {
                let ids = server.ids();
                if !ids.is_empty() {
                    let id = ids[pick % ids.len()];
                    server
                        .edit(&id, &Writer::new("dispatcher", "web"), |r| {
                            r.workflow.status = Status::Dispatched;
                            Ok(())
                        })
                        .unwrap();
                }
            }
            Op::Sync {
                device,
                budget,
                fault,
            } => {
                let p = &mut phones[*device];
                let request = p.store.prepare_sync(*budget).unwrap();
                let late = std::mem::take(&mut p.late);
                let response = match fault {
                    Fault::DropRequest => None,
                    Fault::TruncateRequest(cut) => {
                        let cut = (*cut).min(request.bytes.len() - 1);
                        let result =
                            server.handle(&p.name, &request.bytes[..cut], &Everyone, &decide_owner);
                        prop_assert!(result.is_err(), "a truncated request was accepted");
                        None
                    }
                    _ => Some(
                        server
                            .handle(&p.name, &request.bytes, &Everyone, &decide_owner)
                            .unwrap(),
                    ),
                };
                if let Some(response) = response {
                    match fault {
                        Fault::DropResponse => {}
                        Fault::DuplicateResponse => {
                            p.apply(&response);
                            p.apply(&response);
                        }
                        Fault::TruncateResponse(cut) => {
                            let cut = (*cut).min(response.len() - 1);
                            prop_assert!(p.store.apply_sync(&response[..cut]).is_err());
                        }
                        Fault::DelayResponse => p.late.push(response),
                        _ => p.apply(&response),
                    }
                }
                // Responses held back from earlier exchanges arrive now, out of order.
                for old in late {
                    p.apply(&old);
                }
            }
        }
    }

    // A clean link: everyone syncs until nothing is waiting, twice round so late changes travel.
    for _ in 0..3 {
        for p in &mut phones {
            for _ in 0..200 {
                let request = p.store.prepare_sync(64 * 1024).unwrap();
                let response = server
                    .handle(&p.name, &request.bytes, &Everyone, &decide_owner)
                    .unwrap();
                let report = p.store.apply_sync(&response).unwrap();
                p.acknowledged.extend(report.acknowledged);
                if !report.more {
                    break;
                }
            }
        }
    }

    let server_ids: BTreeSet<RecordId> = server.ids().into_iter().collect();
    let mut server_docs: BTreeMap<RecordId, (Record, Vec<_>)> = BTreeMap::new();
    for id in &server_ids {
        let doc = server.doc_mut(id).unwrap();
        server_docs.insert(*id, (doc.record().unwrap(), doc.heads()));
    }
    for p in &phones {
        prop_assert!(
            p.acknowledged.is_subset(&server_ids),
            "{} was told the server had records it does not",
            p.name
        );
        prop_assert_eq!(p.store.pending_uploads().unwrap(), 0);
        let ids: BTreeSet<RecordId> = p.ids().into_iter().collect();
        prop_assert_eq!(
            &ids,
            &server_ids,
            "{} holds a different set of records",
            p.name
        );
        for id in &ids {
            let mut doc = p.store.load(id).unwrap().unwrap();
            let (record, heads) = &server_docs[id];
            prop_assert_eq!(&doc.record().unwrap(), record);
            prop_assert_eq!(&doc.heads(), heads);
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_replica_converges_after_a_lossy_link_and_a_final_clean_sync(
        (devices, ops) in scenario()
    ) {
        run(devices, &ops)?;
    }
}

mod conversions {
    //! Records survive every conversion: into a document and back, through save and load, and
    //! through JSON; and merging is independent of order.
    use super::*;
    use sync_core::{
        Attachment, Complainant, ComplainantType, Inspection, Kind, RecordDoc, RecordPatch,
        RiskLevel, new_actor, sha256_hex,
    };

    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[a-zA-Z0-9 ,.!?漏水路灯噪音\n]{{0,{max}}}"))
            .unwrap()
    }

    fn record() -> impl Strategy<Value = Record> {
        (
            any::<bool>(),
            "[a-zA-Z路灯]{1,30}",
            text(200),
            proptest::option::of((
                -180.0f64..=180.0,
                -90.0f64..=90.0,
                proptest::option::of(0.0f64..500.0),
                any::<bool>(),
            )),
            proptest::option::of("[0-9]{6,15}"),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..20), 0..3),
            proptest::option::of((any::<bool>(), 0usize..3, proptest::option::of("[a-z]{1,8}"))),
            proptest::collection::vec(text(20), 0..4),
        )
            .prop_map(
                |(
                    inspection,
                    title,
                    description,
                    location,
                    claimed,
                    photos,
                    complainant,
                    notes,
                )| {
                    let writer = Writer::new("wang", "phone");
                    let mut r = if inspection {
                        RecordBuilder::risk_inspection(title, "fire", RiskLevel::Medium, &writer)
                            .build()
                    } else {
                        RecordBuilder::complaint(title, &writer).build()
                    };
                    r.description = description;
                    r.location = location.map(|(lon, lat, accuracy_m, gcj)| Location {
                        lon,
                        lat,
                        accuracy_m,
                        crs: if gcj { Crs::Gcj02 } else { Crs::Wgs84 },
                    });
                    r.claimed_grid = claimed;
                    for photo in photos {
                        let sha256 = sha256_hex(&photo);
                        r.attachments.insert(
                            sha256.clone(),
                            Attachment {
                                sha256,
                                mime_type: "image/jpeg".into(),
                                size: photo.len() as u64,
                                caption: None,
                            },
                        );
                    }
                    r.complainant = complainant.map(|(anonymous, kind, name)| Complainant {
                        anonymous,
                        kind: [
                            ComplainantType::Person,
                            ComplainantType::LegalPerson,
                            ComplainantType::Organisation,
                        ][kind],
                        has_contact: !anonymous && name.is_some(),
                    });
                    for note in notes {
                        sync_core::push_event(&mut r, "wang", "note", &note);
                    }
                    if let Some(Inspection { findings, .. }) = r.inspection.as_mut() {
                        findings.push_str("cracked wall");
                    }
                    r
                },
            )
    }

    fn patch() -> impl Strategy<Value = RecordPatch> {
        (
            proptest::option::of("[a-z路]{1,20}"),
            proptest::option::of(text(60)),
            proptest::option::of("[a-z.]{1,12}"),
            proptest::option::of((-1.0f64..1.0, -1.0f64..1.0)),
        )
            .prop_map(|(title, description, category, location)| RecordPatch {
                title,
                description,
                category,
                location: location.map(|(lon, lat)| Location {
                    lon,
                    lat,
                    accuracy_m: None,
                    crs: Crs::Wgs84,
                }),
                ..RecordPatch::default()
            })
    }

    /// An edit of any part of a record, as the server or a phone makes them.
    #[derive(Debug, Clone)]
    enum Edit {
        Note(String),
        RewriteFirstEvent(String),
        DropLastEvent,
        Owner(Option<String>),
        Status(usize),
        Dispatch(String),
        Returns(u64),
        RemoveAttachments,
        Title(String),
        Description(String),
        Complainant(Option<String>),
        Category(String),
        Unchanged,
    }

    impl Edit {
        fn apply(&self, r: &mut Record) {
            match self {
                Edit::Note(note) => sync_core::push_event(r, "server", "note", note),
                Edit::RewriteFirstEvent(note) => {
                    if let Some(e) = r.timeline.first_mut() {
                        e.note = note.clone();
                    }
                }
                Edit::DropLastEvent => {
                    r.timeline.pop();
                }
                Edit::Owner(code) => {
                    r.owner_grid = Some(OwnerGrid {
                        code: code.clone(),
                        boundary_version: 3,
                        decided_at: 7,
                    })
                }
                Edit::Status(i) => {
                    r.workflow.status = [Status::Accepted, Status::Dispatched, Status::Closed][*i]
                }
                Edit::Dispatch(department) => r.workflow.assignments.push(sync_core::Assignment {
                    id: format!("a-{}", r.workflow.assignments.len()),
                    department: department.clone(),
                    role: sync_core::AssignmentRole::CoHandler,
                    deadline: 2,
                    assigned_at: 1,
                    active: true,
                }),
                Edit::Returns(n) => r.workflow.returns = *n,
                Edit::RemoveAttachments => r.attachments.clear(),
                Edit::Title(t) => r.title = t.clone(),
                Edit::Description(d) => r.description = d.clone(),
                Edit::Complainant(name) => {
                    r.complainant = name.as_ref().map(|n| Complainant {
                        anonymous: false,
                        kind: ComplainantType::Person,
                        has_contact: n.len() % 2 == 0,
                    })
                }
                Edit::Category(c) => r.category = c.clone(),
                Edit::Unchanged => {}
            }
        }
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            text(30).prop_map(Edit::Note),
            text(30).prop_map(Edit::RewriteFirstEvent),
            Just(Edit::DropLastEvent),
            proptest::option::of("[0-9]{4,14}").prop_map(Edit::Owner),
            (0usize..3).prop_map(Edit::Status),
            "[a-z]{2,8}".prop_map(Edit::Dispatch),
            (0u64..4).prop_map(Edit::Returns),
            Just(Edit::RemoveAttachments),
            "[a-zA-Z路灯 ]{0,20}".prop_map(Edit::Title),
            text(80).prop_map(Edit::Description),
            proptest::option::of("[a-z]{1,8}").prop_map(Edit::Complainant),
            "[a-z.]{1,12}".prop_map(Edit::Category),
            Just(Edit::Unchanged),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases() * 4, ..ProptestConfig::default() })]

        #[test]
        fn a_record_survives_the_document_save_load_and_json(record in record()) {
            let writer = Writer::new("wang", "phone");
            let mut doc = RecordDoc::create(&record, new_actor(), &writer).unwrap();
            let loaded = RecordDoc::load(&doc.save()).unwrap();
            prop_assert_eq!(&loaded.record().unwrap(), &record);
            let json = serde_json::to_string(&record).unwrap();
            prop_assert_eq!(&serde_json::from_str::<Record>(&json).unwrap(), &record);
            prop_assert_eq!(record.kind == Kind::RiskInspection, record.inspection.is_some());
        }

        #[test]
        fn an_update_writes_exactly_the_edited_record(
            record in record(),
            patches in proptest::collection::vec(patch(), 0..3),
            edits in proptest::collection::vec(edit(), 1..5),
        ) {
            let writer = Writer::new("wang", "phone");
            let mut doc = RecordDoc::create(&record, new_actor(), &writer).unwrap();
            let mut expected = record;
            for p in patches {
                if let Some(after) = doc.update(&writer, |r| Ok(p.apply(r)?)).unwrap() {
                    expected = after;
                }
            }
            for e in edits {
                let before = doc.record().unwrap();
                prop_assert_eq!(&before, &expected);
                let mut wanted = before.clone();
                e.apply(&mut wanted);
                // The edit is applied once (a note's event id is new each time).
                match doc.update_from(&before, &writer, |r| { r.clone_from(&wanted); Ok(()) }) {
                    Ok(Some(after)) => {
                        prop_assert_eq!(&after, &wanted);
                        expected = after;
                    }
                    Ok(None) => prop_assert_eq!(&wanted, &before),
                    // An edit that breaks a rule leaves the document as it was.
                    Err(_) => prop_assert!(wanted.validate().is_err()),
                }
                prop_assert_eq!(&doc.record().unwrap(), &expected);
            }
            let reloaded = RecordDoc::load(&doc.save()).unwrap();
            prop_assert_eq!(reloaded.record().unwrap(), expected);
        }

        #[test]
        fn merging_two_edited_copies_gives_the_same_record_in_either_order(
            record in record(),
            left in proptest::collection::vec(patch(), 1..4),
            right in proptest::collection::vec(patch(), 1..4),
        ) {
            let a_writer = Writer::new("a", "1");
            let b_writer = Writer::new("b", "2");
            let mut base = RecordDoc::create(&record, new_actor(), &a_writer).unwrap();
            let mut a = RecordDoc::load(&base.save()).unwrap();
            a.set_actor(new_actor());
            let mut b = RecordDoc::load(&base.save()).unwrap();
            b.set_actor(new_actor());
            for p in left {
                a.update(&a_writer, |r| Ok(p.apply(r)?)).unwrap();
            }
            for p in right {
                b.update(&b_writer, |r| Ok(p.apply(r)?)).unwrap();
            }
            let mut ab = RecordDoc::load(&a.save()).unwrap();
            ab.merge_bytes(&b.save()).unwrap();
            let mut ba = RecordDoc::load(&b.save()).unwrap();
            ba.merge_bytes(&a.save()).unwrap();
            prop_assert_eq!(ab.heads(), ba.heads());
            prop_assert_eq!(ab.record().unwrap(), ba.record().unwrap());
            let reloaded = RecordDoc::load(&ab.save()).unwrap();
            prop_assert_eq!(reloaded.record().unwrap(), ab.record().unwrap());
        }
    }
}

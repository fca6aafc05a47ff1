//! A complainant's contact details on the phone: sealed at creation with the pinned server
//! key, sent beside the document, forgotten once acknowledged, never in any document.

use sync_core::{
    Authority, ComplainantType, Crs, Error, Location, MemoryServer, NewComplainant, Record,
    RecordBuilder, Rejection, Store,
};

const BUDGET: usize = 64 * 1024;

struct Anyone;
impl Authority for Anyone {
    fn check_write(&self, _: Option<&Record>, _: &Record) -> Result<(), Rejection> {
        Ok(())
    }
    fn in_scope(&self, _: &Record) -> bool {
        true
    }
}

fn complaint(phone: &Store, name: &str) -> (Record, Option<sync_core::Contact>) {
    let (complainant, contact) = NewComplainant {
        anonymous: false,
        kind: ComplainantType::Person,
        name: Some(name.into()),
        phone: Some("13800000000".into()),
    }
    .split()
    .unwrap();
    let record = RecordBuilder::complaint("楼道堆物", phone.writer())
        .category("municipal")
        .location(Location {
            lon: 124.35,
            lat: 43.17,
            accuracy_m: None,
            crs: Crs::Wgs84,
        })
        .complainant(complainant)
        .build();
    (record, contact)
}

fn sync(phone: &mut Store, server: &mut MemoryServer) -> sync_core::SyncReport {
    let request = phone.prepare_sync(BUDGET).unwrap();
    let response = server
        .handle("phone-1", &request.bytes, &Anyone, &|_| {})
        .unwrap();
    phone.apply_sync(&response).unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn details_travel_sealed_beside_the_document_and_the_phone_forgets_them_once_acknowledged() {
    let mut server = MemoryServer::new();
    let mut phone = Store::open_in_memory("wang", "phone-1").unwrap();
    let (record, contact) = complaint(&phone, "李四");

    let before_login = phone.create_with_contact(&record, contact.as_ref());
    assert!(
        matches!(before_login, Err(Error::NoContactKey)),
        "{before_login:?}"
    );
    phone
        .pin_contact_key(&server.contact_key().to_bytes())
        .unwrap();
    phone
        .create_with_contact(&record, contact.as_ref())
        .unwrap();
    assert_eq!(phone.pending_contacts().unwrap(), 1);

    let request = phone.prepare_sync(BUDGET).unwrap();
    assert!(
        !contains(&request.bytes, "李四") && !contains(&request.bytes, "13800000000"),
        "nothing readable goes over the wire"
    );
    let response = server
        .handle("phone-1", &request.bytes, &Anyone, &|_| {})
        .unwrap();
    let report = phone.apply_sync(&response).unwrap();
    assert_eq!(report.acknowledged, [record.id]);
    assert_eq!(report.contacts_acknowledged, [record.id]);
    assert_eq!(
        phone.pending_contacts().unwrap(),
        0,
        "the phone forgot them"
    );
    assert_eq!(server.contact(&record.id), contact, "the server holds them");

    let stored = phone.get(&record.id).unwrap();
    assert!(stored.complainant.unwrap().has_contact);
    let mut doc = phone.load(&record.id).unwrap().unwrap();
    let bytes = doc.save();
    assert!(!contains(&bytes, "李四") && !contains(&bytes, "13800000000"));
}

#[test]
fn details_wait_for_their_record_and_go_with_it_when_it_did_not_fit() {
    let mut server = MemoryServer::new();
    let mut phone = Store::open_in_memory("wang", "phone-1").unwrap();
    phone
        .pin_contact_key(&server.contact_key().to_bytes())
        .unwrap();
    let mut ids = Vec::new();
    for name in ["甲", "乙", "丙"] {
        let (record, contact) = complaint(&phone, name);
        phone
            .create_with_contact(&record, contact.as_ref())
            .unwrap();
        ids.push(record.id);
    }
    // A budget that takes one record per request: each record's details go with it.
    for _ in 0..10 {
        let request = phone.prepare_sync(1).unwrap();
        let response = server
            .handle("phone-1", &request.bytes, &Anyone, &|_| {})
            .unwrap();
        if !phone.apply_sync(&response).unwrap().more {
            break;
        }
    }
    assert_eq!(phone.pending_contacts().unwrap(), 0);
    for id in &ids {
        assert!(server.contact(id).is_some(), "{id}");
    }
    let again = sync(&mut phone, &mut server);
    assert!(again.contacts_acknowledged.is_empty() && !again.more);
}

#[test]
fn a_different_server_key_is_refused_once_one_is_pinned() {
    let mut phone = Store::open_in_memory("wang", "phone-1").unwrap();
    let first = MemoryServer::new().contact_key();
    phone.pin_contact_key(&first.to_bytes()).unwrap();
    phone
        .pin_contact_key(&first.to_bytes())
        .expect("the same key again is fine");
    let other = MemoryServer::new().contact_key();
    match phone.pin_contact_key(&other.to_bytes()) {
        Err(Error::ContactKeyChanged { pinned, offered }) => {
            assert_eq!((pinned, offered), (first.id(), other.id()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(phone.contact_key().unwrap(), Some(first));
}

#[test]
fn a_record_claiming_details_it_does_not_carry_is_refused() {
    let mut server = MemoryServer::new();
    let mut phone = Store::open_in_memory("wang", "phone-1").unwrap();
    phone
        .pin_contact_key(&server.contact_key().to_bytes())
        .unwrap();
    let (record, _) = complaint(&phone, "王五");
    assert!(matches!(phone.create(&record), Err(Error::Schema(_))));
    assert_eq!(phone.count().unwrap(), 0);
    let report = sync(&mut phone, &mut server);
    assert!(report.acknowledged.is_empty());
}

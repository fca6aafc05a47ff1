//! Arbitrary bytes as the form body of a GeoReport v2 service request
//! (`POST /open311/v2/requests.json`, form-encoded, from any Open311 client or none): reading
//! it never panics, an accepted form has a location on the globe, and the complaint it makes
//! passes the schema and is stored and read back as itself, the complainant's name and phone
//! kept apart from the document.
#![no_main]

use gridsync_server::records::public_record;
use gridsync_server::routes::open311::request_intake;
use gridsync_server::workflow::catalogue::{Attribute, Category};
use libfuzzer_sys::fuzz_target;
use sync_core::{RecordDoc, Writer, new_actor};

/// A service asking one question of each Open311 datatype, two of them required.
fn service() -> Category {
    let attributes: Vec<Attribute> = serde_json::from_value(serde_json::json!([
        {"code": "where", "datatype": "string", "required": true, "description": "Where exactly?"},
        {"code": "depth", "datatype": "number", "description": "How deep (cm)?"},
        {"code": "since", "datatype": "datetime", "description": "Since when?"},
        {"code": "more", "datatype": "text", "description": "Anything else?"},
        {"code": "kind", "datatype": "singlevaluelist", "required": true, "description": "Kind",
         "values": [{"key": "pothole", "name": "坑洼"}, {"key": "crack", "name": "裂缝"}]},
        {"code": "near", "datatype": "multivaluelist", "description": "Near",
         "values": [{"key": "school", "name": "学校"}, {"key": "market", "name": "市场"}]}
    ]))
    .unwrap();
    Category {
        code: "municipal.roads".into(),
        parent: Some("municipal".into()),
        level: 2,
        name: "道路".into(),
        name_en: Some("Roads".into()),
        description: String::new(),
        department: None,
        deadline_class: None,
        keywords: Vec::new(),
        attributes,
        active: true,
        updated_at: 0,
        updated_by: "admin".into(),
    }
}

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    let Ok(intake) = request_intake(&pairs, &service(), "open311:anonymous".into()) else {
        return;
    };
    let (lon, lat) = intake.point;
    assert!(
        lon.abs() <= 180.0 && lat.abs() <= 90.0,
        "a location off the globe"
    );
    let Ok((record, contact, author)) = public_record(intake) else {
        return;
    };
    assert_eq!(author, "open311:anonymous");
    let has_contact = record.complainant.as_ref().is_some_and(|c| c.has_contact);
    assert_eq!(has_contact, contact.is_some());
    let writer = Writer::new(author, "open311");
    let doc = RecordDoc::create(&record, new_actor(), &writer).expect("a valid record stores");
    assert_eq!(doc.record().expect("and reads back"), record);
});

//! The schema's size limits: every string is taken exactly up to its limit, counted in
//! characters; a list filled past its limit by concurrent appends stays readable and takes
//! nothing more, while the record's other fields can still be edited.

use proptest::prelude::*;
use sync_core::schema::limits;
use sync_core::{
    ComplainantType, Crs, Location, NewComplainant, Record, RecordBuilder, RecordDoc, RiskLevel,
    SchemaError, Writer, new_actor, push_event,
};

fn writer() -> Writer {
    Writer::new("wang", "phone-1")
}

fn inspection() -> Record {
    RecordBuilder::risk_inspection("井盖缺失", "road", RiskLevel::High, &writer())
        .location(Location {
            lon: 124.35,
            lat: 43.17,
            accuracy_m: None,
            crs: Crs::Wgs84,
        })
        .build()
}

/// Sets one string field of a record by its schema name; returns its limit.
fn set(record: &mut Record, field: &str, value: String) -> usize {
    match field {
        "category" => (record.category = value, limits::CODE).1,
        "claimed_grid" => (record.claimed_grid = Some(value), limits::CODE).1,
        "title" => (record.title = value, limits::TITLE).1,
        "description" => (record.description = value, limits::TEXT).1,
        "inspection.hazard_type" => {
            (
                record.inspection.as_mut().unwrap().hazard_type = value,
                limits::CODE,
            )
                .1
        }
        "inspection.findings" => {
            (
                record.inspection.as_mut().unwrap().findings = value,
                limits::TEXT,
            )
                .1
        }
        "timeline.note" => {
            push_event(record, "wang", "note", &value);
            limits::NOTE
        }
        other => unreachable!("no field {other}"),
    }
}

const FIELDS: &[&str] = &[
    "category",
    "claimed_grid",
    "title",
    "description",
    "inspection.hazard_type",
    "inspection.findings",
    "timeline.note",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_string_is_taken_up_to_its_limit_in_characters_whatever_their_bytes(
        field in proptest::sample::select(FIELDS),
        offset in -3i64..=3,
        c in proptest::sample::select(&['a', 'é', '长', '😀'][..]),
    ) {
        let mut record = inspection();
        let probe = set(&mut record.clone(), field, String::new());
        let length = (probe as i64 + offset).max(1) as usize;
        set(&mut record, field, c.to_string().repeat(length));
        match record.validate() {
            Ok(()) => prop_assert!(length <= probe, "{field} took {length} > {probe}"),
            Err(SchemaError::TooLong { field: named, max }) => {
                prop_assert!(length > probe);
                prop_assert_eq!((named, max), (field, probe));
            }
            Err(other) => prop_assert!(false, "{field}: {other}"),
        }
    }
}

#[test]
fn concurrent_appends_past_a_full_timeline_stay_readable_and_take_no_more() {
    let mut record = inspection();
    while record.timeline.len() < limits::EVENTS - 1 {
        push_event(&mut record, "wang", "note", "巡查");
    }
    let mut phone = RecordDoc::create(&record, new_actor(), &writer()).unwrap();
    let mut server = phone.fork();
    server.set_actor(new_actor());
    let add_note = |r: &mut Record| {
        push_event(r, "li", "note", "复查");
        Ok(())
    };
    phone.update(&writer(), add_note).unwrap();
    server
        .update(&Writer::new("li", "web"), add_note)
        .expect("the last place is free on each side");
    let theirs = server.save();
    phone.merge_bytes(&theirs).unwrap();

    let merged = phone.record().expect("a merge past a limit stays readable");
    assert_eq!(merged.timeline.len(), limits::EVENTS + 1);
    let another = phone.update(&writer(), add_note).unwrap_err();
    assert!(
        matches!(
            another,
            sync_core::Error::Schema(SchemaError::TooMany {
                field: "timeline",
                ..
            })
        ),
        "{another}"
    );
    assert_eq!(another.code(), "too_many");
    phone
        .update(&writer(), |r| {
            r.title = "井盖缺失（已设围挡）".into();
            Ok(())
        })
        .expect("the rest of the record can still be edited");
}

#[test]
fn a_complainants_details_keep_to_their_limits_and_stay_out_of_the_record() {
    let person = |name: String, phone: &str| NewComplainant {
        anonymous: false,
        kind: ComplainantType::Person,
        name: Some(name),
        phone: Some(phone.into()),
    };
    let (complainant, contact) = person("长".repeat(limits::PERSON_NAME), "13800000000")
        .split()
        .unwrap();
    assert!(complainant.has_contact);
    assert_eq!(contact.unwrap().phone.as_deref(), Some("13800000000"));
    let long = person("长".repeat(limits::PERSON_NAME + 1), "1").split();
    assert!(matches!(
        long,
        Err(SchemaError::TooLong {
            field: "complainant.name",
            ..
        })
    ));
    let blank = person("  ".into(), "").split().unwrap();
    assert_eq!(
        (blank.0.has_contact, blank.1),
        (false, None),
        "blank is none"
    );
    let anonymous = NewComplainant {
        anonymous: true,
        ..person("张三".into(), "")
    };
    assert!(matches!(
        anonymous.split(),
        Err(SchemaError::Inconsistent(_))
    ));
}

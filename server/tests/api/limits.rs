//! The schema's size limits, met on every way a record comes in: the phone's sync, the staff
//! API, a records import, Open311 and the public form all refuse the same oversized field with
//! the same 422 code, and store nothing.

use gridsync_server::domain::Role;
use serde_json::{Value, json};
use sync_core::automerge::{ROOT, transaction::Transactable};
use sync_core::schema::limits;
use sync_core::{
    Crs, DocPayload, Location, RecordBuilder, RecordDoc, SyncRequest, SyncResponse, Verdict,
    new_actor,
};

use crate::helpers::{TestApp, assert_open311_error, assert_problem};
use crate::sync::{Phone, centre};
use gridsync_test_macros::both_backends;

const WORKER_GRID: &str = "22030200100101";

/// A string one character over `max`, of a character three bytes long in UTF-8.
fn over(max: usize) -> String {
    "长".repeat(max + 1)
}

async fn records_seen_by(app: &TestApp, token: &str) -> usize {
    let listed: Value = app
        .get("/api/v1/records", Some(token))
        .await
        .json()
        .await
        .unwrap();
    listed["records"].as_array().unwrap().len()
}

#[both_backends]
async fn a_phone_cannot_make_an_oversized_record_and_the_server_refuses_one_sent_anyway(
    app: TestApp,
) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let (lon, lat) = centre(WORKER_GRID);
    let location = Location {
        lon,
        lat,
        accuracy_m: None,
        crs: Crs::Wgs84,
    };
    let oversized = RecordBuilder::complaint("路面塌陷", worker.store.writer())
        .category(over(limits::CODE))
        .location(location.clone())
        .build();
    let refused = worker.store.create(&oversized).unwrap_err();
    assert_eq!(refused.code(), "too_long", "{refused}");

    // A client that skips the check: a valid document whose category is then overwritten
    // through automerge directly.
    let record = RecordBuilder::complaint("路面塌陷", worker.store.writer())
        .category("municipal")
        .location(location)
        .build();
    let mut doc = RecordDoc::create(&record, new_actor(), worker.store.writer()).unwrap();
    doc.automerge()
        .put(ROOT, "category", over(limits::CODE))
        .unwrap();
    doc.automerge().commit();
    let request = SyncRequest {
        request_id: 7,
        uploads: vec![DocPayload {
            id: record.id,
            bytes: doc.save(),
        }],
        response_budget: 64 * 1024,
        ..SyncRequest::default()
    };
    let response = worker.exchange(&app, request.encode()).await;
    assert_eq!(response.status(), 200);
    let answer = SyncResponse::decode(&response.bytes().await.unwrap()).unwrap();
    match &answer.acks[..] {
        [ack] => assert!(
            matches!(&ack.verdict, Verdict::Rejected { code, .. } if code == "too_long"),
            "{:?}",
            ack.verdict
        ),
        acks => panic!("one acknowledgement expected: {acks:?}"),
    }
    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    assert_eq!(records_seen_by(&app, &desk).await, 0, "nothing stored");
}

#[both_backends]
async fn staff_intake_and_a_records_import_refuse_oversized_fields_with_the_same_code(
    app: TestApp,
) {
    app.load_demo_map().await;
    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let (lon, lat) = centre(WORKER_GRID);
    let complaint = |field: &str, value: Value| {
        let mut body = json!({
            "kind": "complaint", "title": "路灯不亮", "channel": "hotline", "category": "municipal",
            "location": { "lon": lon, "lat": lat, "accuracy_m": null, "crs": "wgs84" },
        });
        body[field] = value;
        body
    };
    for (field, value) in [
        ("category", json!(over(limits::CODE))),
        ("title", json!(over(limits::TITLE))),
        ("description", json!(over(limits::TEXT))),
        ("claimed_grid", json!(over(limits::CODE))),
    ] {
        let response = app
            .post("/api/v1/records", Some(&desk), &complaint(field, value))
            .await;
        let problem = assert_problem(response, 422, "too_long").await;
        assert!(
            problem["detail"].as_str().unwrap().contains(field),
            "the refusal names {field}: {problem}"
        );
    }
    let at_the_limit = app
        .post(
            "/api/v1/records",
            Some(&desk),
            &complaint("category", json!("长".repeat(limits::CODE))),
        )
        .await;
    // A category at its length limit passes the size check and is then judged against the
    // catalogue, where no such code is; a title at its limit is taken.
    assert_problem(at_the_limit, 422, "unknown_category").await;
    let title_at_the_limit = app
        .post(
            "/api/v1/records",
            Some(&desk),
            &complaint("title", json!("长".repeat(limits::TITLE))),
        )
        .await;
    assert_eq!(
        title_at_the_limit.status(),
        201,
        "a field at its limit is taken"
    );

    let file = json!({ "type": "FeatureCollection", "features": [{
        "type": "Feature",
        "geometry": { "type": "Point", "coordinates": [lon, lat] },
        "properties": { "title": "意见箱", "category": over(limits::CODE) },
    }]});
    let refused = app.post("/api/v1/records/import", Some(&desk), &file).await;
    let refused = assert_problem(refused, 422, "import_rejected").await;
    assert_eq!(refused["results"][0]["error"]["code"], "too_long");
    assert_eq!(
        records_seen_by(&app, &desk).await,
        1,
        "only the one at the limit"
    );
}

#[both_backends]
async fn open311_and_the_public_form_refuse_an_oversized_complainant_without_storing_it(
    app: TestApp,
) {
    app.load_demo_map().await;
    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let department = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/departments/housing",
            Some(&desk),
            &json!({ "name": "住建局" }),
        )
        .await;
    assert_eq!(department.status(), 200);
    let rule = json!({
        "category": "environment.noise", "area": "2203", "department": "housing",
        "deadline_class": "general",
    });
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/dispatch-rules",
            Some(&desk),
            &rule,
        )
        .await;
    assert_eq!(put.status(), 200);
    // A rule for a category no record could carry is refused too.
    let mut too_long = rule.clone();
    too_long["category"] = json!(over(limits::CODE));
    let refused = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/dispatch-rules",
            Some(&desk),
            &too_long,
        )
        .await;
    assert_problem(refused, 422, "invalid_category").await;
    let (lon, lat) = centre(WORKER_GRID);

    let named = |name: String| {
        json!({
            "category": "environment.noise", "description": "夜间施工", "lon": lon, "lat": lat,
            "complainant": { "anonymous": false, "type": "person", "name": name },
        })
    };
    // A megabyte of name is not even read: a public body is small.
    let huge = app
        .post(
            "/api/v1/public/complaints",
            None,
            &named("张".repeat(350_000)),
        )
        .await;
    assert_problem(huge, 413, "payload_too_large").await;
    let long = app
        .post(
            "/api/v1/public/complaints",
            None,
            &named(over(limits::PERSON_NAME)),
        )
        .await;
    assert_problem(long, 422, "too_long").await;
    let phone = app
        .post(
            "/api/v1/public/complaints",
            None,
            &json!({
                "category": "environment.noise", "description": "夜间施工", "lon": lon, "lat": lat,
                "complainant": { "anonymous": false, "type": "person", "phone": over(limits::PHONE) },
            }),
        )
        .await;
    assert_problem(phone, 422, "too_long").await;

    let (lat, long) = (lat.to_string(), lon.to_string());
    let description = over(limits::TEXT);
    let open311 = app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .form(&[
            ("service_code", "environment.noise"),
            ("lat", lat.as_str()),
            ("long", long.as_str()),
            ("description", description.as_str()),
        ])
        .send()
        .await
        .unwrap();
    // GeoReport v2 answers 400 for a request it cannot fulfil, with the stable code.
    assert_open311_error(open311, 400, "too_long").await;
    assert_eq!(records_seen_by(&app, &desk).await, 0, "nothing stored");
}

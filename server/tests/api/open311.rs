use gridsync_server::domain::Role;
use gridsync_server::routes::open311::{parse_w3c, w3c};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_open311_error, assert_problem};
use gridsync_test_macros::both_backends;

const GRID: &str = "22030200100101";

fn centre() -> (f64, f64) {
    let area = gridsync_server::demo::areas()
        .into_iter()
        .find(|a| a.code == GRID)
        .unwrap();
    (
        (area.bbox[0] + area.bbox[2]) / 2.0,
        (area.bbox[1] + area.bbox[3]) / 2.0,
    )
}

/// Runs the Python `georeport` client script against the server; returns what it printed.
async fn georeport_client(app: &TestApp, args: Vec<String>) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: scripts/test.sh installs tests/python/requirements.txt into .venv",
        python.display()
    );
    let script = root.join("tests/python/open311_client.py");
    let mut command = std::process::Command::new(python);
    command.arg(script).arg(&app.address).args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run python");
    assert!(
        output.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("client prints JSON")
}

struct Setup {
    desk: String,
    admin: String,
}

async fn setup(app: &TestApp) -> Setup {
    app.load_demo_map().await;
    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/departments/housing",
            Some(&desk),
            &json!({ "name": "住建局" }),
        )
        .await;
    assert_eq!(put.status(), 200);
    for category in ["municipal.lighting", "environment.noise"] {
        let rule = app
            .send_json(
                reqwest::Method::PUT,
                "/api/v1/dispatch-rules",
                Some(&desk),
                &json!({
                    "category": category,
                    "area": "2203",
                    "department": "housing",
                    "deadline_class": "general",
                }),
            )
            .await;
        assert_eq!(rule.status(), 200);
    }
    Setup { desk, admin }
}

/// A hotline complaint at the grid's centre; returns its id.
async fn staff_complaint(app: &TestApp, desk: &str, category: &str) -> String {
    let (lon, lat) = centre();
    let created: Value = app
        .post(
            "/api/v1/records",
            Some(desk),
            &json!({
                "kind": "complaint", "title": "路灯", "channel": "hotline", "category": category,
                "location": { "lon": lon, "lat": lat, "accuracy_m": null, "crs": "wgs84" },
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_string()
}

#[both_backends]
async fn the_georeport_client_reads_services_and_requests_and_civic_clients_post_forms(
    app: TestApp,
) {
    let Setup { desk, admin } = setup(&app).await;
    let key: Value = app
        .post(
            "/api/v1/admin/open311-keys",
            Some(&admin),
            &json!({ "client": "12345-app" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let dispatched = staff_complaint(&app, &desk, "municipal.lighting").await;
    for body in [
        json!({ "action": "accept" }),
        json!({ "action": "dispatch" }),
    ] {
        assert_eq!(
            app.post(
                &format!("/api/v1/records/{dispatched}/transitions"),
                Some(&desk),
                &body
            )
            .await
            .status(),
            200
        );
    }
    let duplicate = staff_complaint(&app, &desk, "municipal.lighting").await;
    let linked = app
        .post(
            &format!("/api/v1/records/{duplicate}/transitions"),
            Some(&desk),
            &json!({ "action": "link_duplicate", "duplicate_of": dispatched }),
        )
        .await;
    assert_eq!(linked.status(), 200);
    let case: Value = app
        .get(&format!("/api/v1/records/{dispatched}/case"), Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    let (lon, lat) = centre();

    let seen = georeport_client(
        &app,
        vec![
            "municipal.lighting".into(),
            lat.to_string(),
            lon.to_string(),
            key["api_key"].as_str().unwrap().into(),
            dispatched.clone(),
        ],
    )
    .await;

    assert_eq!(seen["anonymous_status"], 201);
    let anonymous = seen["anonymous"][0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        seen["anonymous"][0]["duplicates"],
        json!([dispatched]),
        "the open complaint at the same place; not the closed duplicate"
    );
    assert_eq!(seen["trusted_status"], 201);
    let xml = seen["trusted_xml"].as_str().unwrap();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request>"),
        "{xml}"
    );
    assert!(
        xml.contains("<duplicates><duplicate>") && !xml.contains("<item>"),
        "the trusted request sees the two before it: {xml}"
    );
    let trusted = xml
        .split("<service_request_id>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        (
            seen["bad_key_status"].clone(),
            seen["missing_location_status"].clone(),
            seen["missing_location_code"].clone()
        ),
        (json!(403), json!(400), json!("missing_location"))
    );
    assert_eq!(
        (
            seen["answered_status"].clone(),
            seen["unanswered_status"].clone(),
            seen["unanswered_code"].clone()
        ),
        (json!(201), json!(400), json!("missing_attribute"))
    );
    assert_eq!(
        (
            seen["discovery_formats"].clone(),
            seen["discovery_specification"].clone()
        ),
        (
            json!(["text/xml", "application/json"]),
            json!("http://wiki.open311.org/GeoReport_v2")
        )
    );
    assert_eq!(seen["missing_service_status"], 404);
    assert_eq!(seen["missing_service_error"]["code"], "not_found");
    assert_eq!(seen["refused_status"], 403);
    assert_eq!(seen["refused_error"]["code"], "forbidden");
    assert!(
        seen["refused_error"]["description"]
            .as_str()
            .unwrap()
            .contains("api_key")
    );
    assert!(
        seen["anonymous"][0].get("token").is_none(),
        "a realtime request answers its id, not a token"
    );
    let answered = seen["answered"][0]["service_request_id"].as_str().unwrap();
    let record: Value = app
        .get(&format!("/api/v1/records/{answered}"), Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        record["description"],
        "工地夜里施工\n噪声发生时段：夜间（22:00–6:00）\n工地或施工单位名称：万达广场工地"
    );
    let mut open = vec![anonymous.clone(), trusted.clone(), dispatched.clone()];
    open.sort();
    for fmt in ["json", "xml"] {
        // Every active category a resident files under: below the top level, or a top-level
        // one with nothing under it.
        let services = seen[format!("services_{fmt}")].as_array().unwrap();
        assert_eq!(services.len(), 38, "{fmt}");
        for (code, listed) in [
            ("municipal.lighting", true),
            ("environment.noise.construction", true),
            ("other", true),
            ("municipal", false),
        ] {
            assert_eq!(services.contains(&json!(code)), listed, "{fmt} {code}");
        }
        let details = &seen[format!("service_details_{fmt}")];
        assert_eq!(
            details["municipal.lighting"],
            json!(["路灯照明", "市政设施", "false"]),
            "{fmt}"
        );
        assert_eq!(
            details["environment.noise.construction"],
            json!(["施工噪声", "生态环境", "true"]),
            "{fmt}"
        );
        let questions = seen[format!("construction_{fmt}")].to_string();
        assert!(
            questions.contains("噪声发生时段") && questions.contains("night"),
            "{fmt}: {questions}"
        );
        assert_eq!(
            seen[format!("definition_{fmt}")]["service_code"],
            "municipal.lighting",
            "{fmt}"
        );
        assert_eq!(seen[format!("open_{fmt}")], json!(open), "{fmt}");
        assert_eq!(seen[format!("by_ids_{fmt}")], json!([anonymous]), "{fmt}");
        let one = &seen[format!("one_{fmt}")];
        assert_eq!(
            (
                one["status"].as_str(),
                one["status_notes"].as_str(),
                one["service_code"].as_str()
            ),
            (Some("open"), Some("received"), Some("municipal.lighting")),
            "{fmt}"
        );
        let d = &seen[format!("dispatched_{fmt}")];
        assert_eq!(d["agency_responsible"], "住建局", "{fmt}");
        assert_eq!(d["status_notes"], "dispatched", "{fmt}");
        assert_eq!(
            d["expected_datetime"].as_str(),
            Some(w3c(case["deadline"].as_i64().unwrap()).as_str()),
            "{fmt}"
        );
    }
    assert_eq!(
        seen["closed_json"][0]["service_request_id"],
        duplicate.as_str()
    );
    assert_eq!(seen["closed_json"].as_array().unwrap().len(), 1);
    assert_eq!(
        seen["closed_xml"]["service_request_id"],
        duplicate.as_str(),
        "one closed request (xmltodict gives one dict)"
    );

    let anonymous_record: Value = app
        .get(&format!("/api/v1/records/{anonymous}"), Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            anonymous_record["channel"].as_str(),
            anonymous_record["complainant"]["anonymous"].as_bool()
        ),
        (Some("open311"), Some(true))
    );
    assert_eq!(anonymous_record["owner_grid"]["code"], GRID);
    let trusted_record: Value = app
        .get(&format!("/api/v1/records/{trusted}"), Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trusted_record["created_by"]["user"], "open311:12345-app");
    assert_eq!(trusted_record["complainant"]["has_contact"], true);
    let contact: Value = app
        .get(
            &format!("/api/v1/records/{trusted}/complainant"),
            Some(&desk),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        contact,
        json!({ "name": "张 三", "phone": "13800000000" }),
        "kept beside the record, for the desk"
    );
}

#[both_backends]
async fn discovery_formats_filters_and_unknown_things_answer_as_open311_clients_expect(
    app: TestApp,
) {
    let Setup { desk, .. } = setup(&app).await;
    staff_complaint(&app, &desk, "environment.noise").await;

    let discovery = app.get("/open311/v2/discovery.xml", None).await;
    assert_eq!(
        discovery.headers()["content-type"],
        "text/xml; charset=utf-8"
    );
    let text = discovery.text().await.unwrap();
    // The discovery document as the Service Discovery page writes it: endpoints of endpoint,
    // formats of format.
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><discovery>")
            && text.contains("<endpoints><endpoint>")
            && text.contains("<specification>http://wiki.open311.org/GeoReport_v2</specification>")
            && text.contains(
                "<formats><format>text/xml</format><format>application/json</format></formats>"
            )
            && !text.contains("<item>"),
        "{text}"
    );
    let html = app.get("/open311/v2/services.html", None).await;
    assert_open311_error(html, 404, "not_found").await;
    let unknown_service = app.get("/open311/v2/services/ufo.json", None).await;
    assert_open311_error(unknown_service, 404, "not_found").await;
    let unknown_service_in_xml = app.get("/open311/v2/services/ufo.xml", None).await;
    assert_open311_error(unknown_service_in_xml, 404, "not_found").await;
    let unknown_request = app
        .get(
            &format!("/open311/v2/requests/{}.xml", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_open311_error(unknown_request, 404, "not_found").await;
    let bad_status = app
        .get("/open311/v2/requests.json?status=pending", None)
        .await;
    assert_open311_error(bad_status, 400, "invalid_status").await;
    let bad_date = app
        .get("/open311/v2/requests.xml?start_date=yesterday", None)
        .await;
    assert_open311_error(bad_date, 400, "invalid_date").await;
    let too_long = app
        .get(
            "/open311/v2/requests.json\
             ?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
            None,
        )
        .await;
    assert_open311_error(too_long, 400, "invalid_date").await;
    let unknown_code = app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .form(&[
            ("service_code", "ufo"),
            ("lat", "43.1"),
            ("long", "124.3"),
            ("description", "x"),
        ])
        .send()
        .await
        .unwrap();
    // A service that does not exist is 404, as GeoReport v2 says for POST.
    assert_open311_error(unknown_code, 404, "not_found").await;
    let noise: Value = app
        .get(
            "/open311/v2/requests.json?service_code=environment.noise",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(noise.as_array().unwrap().len(), 1);
    let lighting: Value = app
        .get(
            "/open311/v2/requests.json?service_code=municipal.lighting",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lighting, json!([]));
    let token: Value = app
        .get(
            &format!(
                "/open311/v2/tokens/{}.json",
                noise[0]["service_request_id"].as_str().unwrap()
            ),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(token[0]["token"], noise[0]["service_request_id"]);
    assert_eq!(
        parse_w3c("2026-10-12T10:00:00+08:00"),
        parse_w3c("2026-10-12T02:00:00Z")
    );
    assert_eq!(
        w3c(parse_w3c("2026-10-12T02:00:00.5Z").unwrap()),
        "2026-10-12T10:00:00+08:00"
    );
}

#[both_backends]
async fn a_resident_files_a_complaint_through_the_public_form_and_sees_likely_duplicates(
    app: TestApp,
) {
    let Setup { desk, admin } = setup(&app).await;
    let nearby = staff_complaint(&app, &desk, "environment.noise").await;
    let (lon, lat) = centre();

    let filed = app.post("/api/v1/public/complaints", None, &json!({
        "category": "environment.noise",
        "description": "工地夜间施工",
        "lon": lon + 0.0005,
        "lat": lat,
        "complainant": {
            "anonymous": false, "type": "organisation", "name": "某业主委员会", "phone": "0434-7654321",
        },
    })).await;
    let far = app.post("/api/v1/public/complaints", None, &json!({
        "category": "environment.noise", "description": "广场舞噪音", "lon": lon + 0.05, "lat": lat,
    })).await;
    let unknown = app
        .post(
            "/api/v1/public/complaints",
            None,
            &json!({ "category": "ufo", "description": "x", "lon": lon, "lat": lat }),
        )
        .await;
    let off_earth = app
        .post(
            "/api/v1/public/complaints",
            None,
            &json!({
                "category": "environment.noise",
                "description": "x",
                "lon": 200.0,
                "lat": lat,
            }),
        )
        .await;
    let empty = app
        .post(
            "/api/v1/public/complaints",
            None,
            &json!({
                "category": "environment.noise",
                "description": "  ",
                "lon": lon,
                "lat": lat,
            }),
        )
        .await;
    let non_admin_key = app
        .post(
            "/api/v1/admin/open311-keys",
            Some(&desk),
            &json!({ "client": "x" }),
        )
        .await;

    assert_eq!(filed.status(), 201);
    let filed: Value = filed.json().await.unwrap();
    assert_eq!(filed["duplicates"], json!([nearby]), "about 40 m away");
    assert_eq!(far.status(), 201);
    assert_eq!(
        far.json::<Value>().await.unwrap()["duplicates"],
        json!([]),
        "about 4 km away"
    );
    assert_problem(unknown, 422, "unknown_category").await;
    assert_problem(off_earth, 400, "invalid_location").await;
    assert_problem(empty, 400, "missing_description").await;
    assert_problem(non_admin_key, 403, "forbidden").await;
    let record: Value = app
        .get(
            &format!("/api/v1/records/{}", filed["id"].as_str().unwrap()),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            record["channel"].as_str(),
            record["complainant"]["type"].as_str()
        ),
        (Some("web"), Some("organisation"))
    );
}

#[both_backends]
async fn a_fresh_installation_lists_its_catalogue_as_services(app: TestApp) {
    // No departments, no dispatch rules: the catalogue alone makes the services.
    let services: Value = app
        .get("/open311/v2/services.json", None)
        .await
        .json()
        .await
        .unwrap();
    let services = services.as_array().unwrap();
    assert_eq!(services.len(), 38);
    let heating = services
        .iter()
        .find(|s| s["service_code"] == "utilities.heating")
        .unwrap();
    assert_eq!(
        (
            heating["service_name"].as_str(),
            heating["group"].as_str(),
            heating["metadata"].as_bool(),
            heating["keywords"].as_str()
        ),
        (
            Some("供暖"),
            Some("供水供暖"),
            Some(true),
            Some("暖气,不热")
        )
    );
    let definition: Value = app
        .get("/open311/v2/services/utilities.heating.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(definition["attributes"][0]["code"], "room_temperature");
    assert_eq!(definition["attributes"][0]["datatype"], "number");
}

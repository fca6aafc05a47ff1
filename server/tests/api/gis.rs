//! GIS staff editing the grid map: versions and `If-Match`, validation with repairs and
//! locations, topology against parents and siblings, coverage reports, split and merge, and
//! the re-ownership of exactly the records a moved boundary affects.

use gridsync_server::domain::Role;
use serde_json::{Value, json};
use sync_core::{Crs, RecordId};

use crate::helpers::{TestApp, assert_problem, collection, rect_feature};
use crate::sync::Phone;
use gridsync_test_macros::both_backends;

/// A village split into two grids side by side at longitude 124.31.
fn two_grids() -> Value {
    collection(vec![
        rect_feature("V", None, Some("village"), [124.30, 43.10, 124.32, 43.12]),
        rect_feature("A", Some("V"), None, [124.30, 43.10, 124.31, 43.12]),
        rect_feature("B", Some("V"), None, [124.31, 43.10, 124.32, 43.12]),
    ])
}

async fn import(app: &TestApp, gis: &str, map: &Value) {
    let response = app.post("/api/v1/grids/import", Some(gis), map).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// A hotline complaint at a point; returns its id.
async fn complaint_at(app: &TestApp, dispatcher: &str, title: &str, lon: f64, lat: f64) -> String {
    let body = json!({
        "kind": "complaint", "title": title, "category": "municipal", "channel": "hotline",
        "location": { "lon": lon, "lat": lat, "crs": "wgs84" },
    });
    let response = app.post("/api/v1/records", Some(dispatcher), &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let record: Value = response.json().await.unwrap();
    record["id"].as_str().unwrap().to_string()
}

async fn record(app: &TestApp, token: &str, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/records/{id}"), Some(token)).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn owner(record: &Value) -> Option<&str> {
    record["owner_grid"]["code"].as_str()
}

async fn version_of(app: &TestApp, token: &str, code: &str) -> String {
    let response = app.get(&format!("/api/v1/grids/{code}"), Some(token)).await;
    assert_eq!(response.status(), 200);
    response.headers()["etag"].to_str().unwrap().to_string()
}

/// The shared boundary of A and B moved from 124.31 west to 124.305.
fn moved_boundary() -> Value {
    collection(vec![
        rect_feature("A", Some("V"), None, [124.30, 43.10, 124.305, 43.12]),
        rect_feature("B", Some("V"), None, [124.305, 43.10, 124.32, 43.12]),
    ])
}

#[both_backends]
async fn moving_a_shared_boundary_reowns_only_the_records_in_the_strip_and_rescopes_them(
    app: TestApp,
) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let dispatcher = app.user_token("hotline", Role::Dispatcher, &[]).await;
    import(&app, &gis, &two_grids()).await;
    let mut worker_b = Phone::new(&app, "worker-b", Role::GridWorker, &["B"]).await;
    let mut worker_a = Phone::new(&app, "worker-a", Role::GridWorker, &["A"]).await;
    let west = complaint_at(&app, &dispatcher, "west of the strip", 124.302, 43.11).await;
    let strip = complaint_at(&app, &dispatcher, "in the strip", 124.308, 43.11).await;
    let east = complaint_at(&app, &dispatcher, "east", 124.315, 43.11).await;
    assert_eq!(owner(&record(&app, &dispatcher, &strip).await), Some("A"));
    worker_b.sync_all(&app).await;
    worker_a.sync_all(&app).await;
    let strip_id: RecordId = strip.parse().unwrap();
    assert!(worker_a.store.get(&strip_id).is_ok());
    assert!(
        worker_b.store.get(&strip_id).is_err(),
        "not in B's scope yet"
    );
    let untouched_west = app
        .get(
            &format!("/api/v1/records/{west}/automerge"),
            Some(&dispatcher),
        )
        .await
        .bytes()
        .await
        .unwrap();

    // A dry run previews the move and changes nothing.
    let preview = app
        .post(
            "/api/v1/grids/batch?dry_run=true",
            Some(&gis),
            &moved_boundary(),
        )
        .await;
    assert_eq!(preview.status(), 200);
    let preview: Value = preview.json().await.unwrap();
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["reownership"]["examined"], 3);
    assert_eq!(preview["reownership"]["changed"], 1);
    assert_eq!(preview["reownership"]["sample"][0]["id"], strip.as_str());
    assert_eq!(owner(&record(&app, &dispatcher, &strip).await), Some("A"));
    assert_eq!(app.store.map_version().await.unwrap(), 1);

    let response = app
        .post(
            "/api/v1/grids/batch?reason=road%20rebuilt",
            Some(&gis),
            &moved_boundary(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["map_version"], 2);
    assert_eq!(report["reownership"]["examined"], 3);
    assert_eq!(report["reownership"]["changed"], 1);
    assert_eq!(
        report["reownership"]["moves"],
        json!([{ "from": "A", "to": "B", "records": 1 }])
    );
    let admin = app.user_token("ops", Role::Admin, &[]).await;
    let metrics = app
        .get("/metrics", Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gridsync_boundary_edits_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gridsync_reowned_records_total 1\n"),
        "{metrics}"
    );

    let moved = record(&app, &dispatcher, &strip).await;
    assert_eq!(owner(&moved), Some("B"));
    assert_eq!(moved["owner_grid"]["boundary_version"], 2);
    let events: Vec<&Value> = moved["timeline"].as_array().unwrap().iter().collect();
    let first_owner = events
        .iter()
        .find(|e| e["kind"] == "owner_assigned")
        .expect("first owner event");
    assert!(
        first_owner["note"].as_str().unwrap().contains("归属网格 A"),
        "history keeps the first owner"
    );
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "owner_changed");
    assert!(last["note"].as_str().unwrap().contains("原为 A"), "{last}");
    assert!(
        last["note"].as_str().unwrap().contains("road rebuilt"),
        "{last}"
    );
    // The others were not written at all.
    assert_eq!(owner(&record(&app, &dispatcher, &east).await), Some("B"));
    let after_west = app
        .get(
            &format!("/api/v1/records/{west}/automerge"),
            Some(&dispatcher),
        )
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(after_west, untouched_west);

    // B's worker now receives the moved record, whole, in one exchange.
    let report = worker_b.sync(&app).await;
    assert!(report.changed.contains(&strip_id), "{report:?}");
    assert!(!report.more, "nothing left to ask for: {report:?}");
    let received = worker_b.store.get(&strip_id).expect("moved into B's scope");
    assert_eq!(received.owner_grid.unwrap().code.as_deref(), Some("B"));
    assert_eq!(received.title, "in the strip");
    // And A's worker is told it left: no stale copy stays on that phone.
    let report = worker_a.sync_all(&app).await;
    assert_eq!(
        report.left_scope,
        vec![sync_core::LeftScope {
            id: strip_id,
            code: "moved_away".into(),
            unsent_changes_kept: false,
        }]
    );
    assert!(worker_a.store.load(&strip_id).unwrap().is_none());
    assert!(worker_a.store.get(&west.parse().unwrap()).is_ok());
}

#[both_backends]
async fn importing_a_grid_reowns_the_records_it_covers_and_a_reimport_changes_nothing(
    app: TestApp,
) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let dispatcher = app.user_token("hotline", Role::Dispatcher, &[]).await;
    import(
        &app,
        &gis,
        &collection(vec![
            rect_feature("V", None, Some("village"), [124.30, 43.10, 124.32, 43.12]),
            rect_feature("A", Some("V"), None, [124.30, 43.10, 124.31, 43.12]),
        ]),
    )
    .await;
    let mut worker_b = Phone::new(&app, "worker-b", Role::GridWorker, &["B"]).await;
    let in_a = complaint_at(&app, &dispatcher, "in A", 124.305, 43.11).await;
    // Reported before grid B was drawn: only the village covers it.
    let east = complaint_at(&app, &dispatcher, "east, no grid yet", 124.315, 43.11).await;
    assert_eq!(owner(&record(&app, &dispatcher, &east).await), Some("V"));
    worker_b.sync_all(&app).await;
    let east_id: RecordId = east.parse().unwrap();
    assert!(
        worker_b.store.get(&east_id).is_err(),
        "not in B's scope: B does not exist yet"
    );

    let response = app
        .post(
            "/api/v1/grids/import",
            Some(&gis),
            &collection(vec![rect_feature(
                "B",
                Some("V"),
                None,
                [124.31, 43.10, 124.32, 43.12],
            )]),
        )
        .await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["reownership"]["changed"], 1, "{report}");
    assert_eq!(
        report["reownership"]["moves"],
        json!([{ "from": "V", "to": "B", "records": 1 }])
    );

    let moved = record(&app, &dispatcher, &east).await;
    assert_eq!(owner(&moved), Some("B"));
    let last = moved["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["kind"], "owner_changed");
    assert!(
        last["note"].as_str().unwrap().contains("gis 导入网格"),
        "{last}"
    );
    assert_eq!(owner(&record(&app, &dispatcher, &in_a).await), Some("A"));
    let report = worker_b.sync(&app).await;
    assert!(
        report.changed.contains(&east_id),
        "B's worker receives it: {report:?}"
    );
    assert_eq!(
        worker_b.store.get(&east_id).unwrap().title,
        "east, no grid yet"
    );

    // The same map again moves nothing.
    let again = app
        .post(
            "/api/v1/grids/import",
            Some(&gis),
            &collection(vec![rect_feature(
                "B",
                Some("V"),
                None,
                [124.31, 43.10, 124.32, 43.12],
            )]),
        )
        .await;
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["reownership"]["changed"], 0, "{again}");
    assert_eq!(owner(&record(&app, &dispatcher, &east).await), Some("B"));
}

#[both_backends]
async fn a_stale_if_match_is_refused_with_412_and_changes_nothing(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    import(&app, &gis, &two_grids()).await;
    let etag = version_of(&app, &gis, "A").await;
    assert_eq!(etag, "\"1\"");
    let smaller = rect_feature("A", Some("V"), None, [124.30, 43.10, 124.31, 43.11]);
    let first = app
        .client
        .put(app.url("/api/v1/grids/A"))
        .bearer_auth(&gis)
        .header("if-match", &etag)
        .json(&smaller)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["etag"], "\"2\"");

    let again = rect_feature("A", Some("V"), None, [124.30, 43.10, 124.31, 43.115]);
    let stale = app
        .client
        .put(app.url("/api/v1/grids/A"))
        .bearer_auth(&gis)
        .header("if-match", &etag)
        .json(&again)
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "version_mismatch").await;
    assert_eq!(version_of(&app, &gis, "A").await, "\"2\"");
    let current: Value = app
        .get("/api/v1/grids/A", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        current["geometry"]["coordinates"][0][2],
        json!([124.31, 43.11])
    );
}

#[both_backends]
async fn every_version_is_kept_with_who_and_why_and_the_map_reads_as_of_a_time(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    import(&app, &gis, &two_grids()).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before = sync_core::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let response = app
        .post(
            "/api/v1/grids/batch?reason=new%20road",
            Some(&gis),
            &moved_boundary(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let retire_b = app
        .send_json(
            reqwest::Method::DELETE,
            "/api/v1/grids/B?reason=flooded",
            Some(&gis),
            &json!(null),
        )
        .await;
    assert_eq!(retire_b.status(), 200, "{}", retire_b.text().await.unwrap());

    let history: Value = app
        .get("/api/v1/grids/B/versions", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    let versions = history["features"].as_array().unwrap();
    let ops: Vec<&str> = versions
        .iter()
        .map(|v| v["properties"]["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["import", "replace", "retire"]);
    assert_eq!(versions[1]["properties"]["actor"], "gis");
    assert_eq!(versions[1]["properties"]["reason"], "new road");
    assert_eq!(versions[2]["properties"]["retired"], true);
    assert!(versions[0]["properties"]["valid_to"].is_string());
    assert!(versions[2]["properties"]["valid_to"].is_null());

    assert_problem(
        app.get("/api/v1/grids/B", Some(&gis)).await,
        404,
        "not_found",
    )
    .await;
    let then: Value = app
        .get(&format!("/api/v1/grids/B?as_of={before}"), Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        then["geometry"]["coordinates"][0][0],
        json!([124.31, 43.10])
    );
    let listed: Value = app
        .get(
            &format!("/api/v1/grids?parent=V&as_of={before}"),
            Some(&gis),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["features"].as_array().unwrap().len(), 2);
    let now: Value = app
        .get("/api/v1/grids?parent=V", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["features"].as_array().unwrap().len(), 1);
    let rfc = app
        .get("/api/v1/grids?as_of=2020-01-01T00:00:00Z", Some(&gis))
        .await;
    let rfc: Value = rfc.json().await.unwrap();
    assert_eq!(
        rfc["features"].as_array().unwrap().len(),
        0,
        "nothing existed in 2020"
    );
    assert_problem(
        app.get("/api/v1/grids?as_of=yesterday", Some(&gis)).await,
        400,
        "invalid_datetime",
    )
    .await;
}

#[both_backends]
async fn overlapping_a_sibling_or_leaving_the_parent_is_rejected_with_the_area_and_where(
    app: TestApp,
) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    import(&app, &gis, &two_grids()).await;

    // A new grid C reaching 0.002° into B.
    let c = rect_feature("C", Some("V"), None, [124.31, 43.10, 124.312, 43.12]);
    let body = assert_problem(
        app.post("/api/v1/grids", Some(&gis), &c).await,
        422,
        "topology_rejected",
    )
    .await;
    let problem = &body["problems"][0];
    assert_eq!(problem["code"], "sibling_overlap");
    assert_eq!(problem["with"], "B");
    let at = problem["at"].as_array().unwrap();
    assert!(
        (124.31..124.312).contains(&at[0].as_f64().unwrap()),
        "{problem}"
    );
    // About 162 m × 2224 m.
    let area = problem["area_m2"].as_f64().unwrap();
    assert!((3.0e5..4.0e5).contains(&area), "{area}");

    // Growing B north out of the village.
    let tall = rect_feature("B", Some("V"), None, [124.31, 43.10, 124.32, 43.13]);
    let body = assert_problem(
        app.client
            .put(app.url("/api/v1/grids/B"))
            .bearer_auth(&gis)
            .json(&tall)
            .send()
            .await
            .unwrap(),
        422,
        "topology_rejected",
    )
    .await;
    assert_eq!(body["problems"][0]["code"], "outside_parent");
    assert_eq!(body["problems"][0]["with"], "V");

    // Shrinking the village under its grids.
    let small = rect_feature("V", None, Some("village"), [124.30, 43.10, 124.315, 43.12]);
    let body = assert_problem(
        app.client
            .put(app.url("/api/v1/grids/V"))
            .bearer_auth(&gis)
            .json(&small)
            .send()
            .await
            .unwrap(),
        422,
        "topology_rejected",
    )
    .await;
    assert_eq!(body["problems"][0]["code"], "children_outside");
    assert_eq!(body["problems"][0]["with"], "B");

    // A sliver within the tolerance is accepted.
    let touching = rect_feature("C", Some("V"), None, [124.3199999999, 43.10, 124.32, 43.11]);
    let tiny = app
        .post(
            "/api/v1/grids?dry_run=true&tolerance_m2=100000",
            Some(&gis),
            &touching,
        )
        .await;
    assert_eq!(tiny.status(), 200);
    assert_eq!(
        app.store.map_version().await.unwrap(),
        1,
        "rejections and dry runs write nothing"
    );
}

#[both_backends]
async fn the_coverage_report_finds_a_planted_gap_and_overlap(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    // Three grids in the village: a gap between A and B, an overlap between B and C.
    let map = collection(vec![
        rect_feature("V", None, Some("village"), [124.30, 43.10, 124.33, 43.12]),
        rect_feature("A", Some("V"), None, [124.30, 43.10, 124.309, 43.12]),
        rect_feature("B", Some("V"), None, [124.31, 43.10, 124.321, 43.12]),
        rect_feature("C", Some("V"), None, [124.32, 43.10, 124.33, 43.12]),
    ]);
    import(&app, &gis, &map).await;
    let report: Value = app
        .get("/api/v1/grids/V/coverage", Some(&gis))
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(report["children"], 3);
    let gaps = report["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1);
    let at = gaps[0]["at"].as_array().unwrap();
    assert!(
        (124.309..124.31).contains(&at[0].as_f64().unwrap()),
        "{}",
        gaps[0]
    );
    assert_eq!(gaps[0]["geometry"]["type"], "Polygon");
    let overlaps = report["overlaps"].as_array().unwrap();
    assert_eq!(overlaps.len(), 1);
    assert_eq!(overlaps[0]["codes"], json!(["B", "C"]));
    let share = report["covered_share"].as_f64().unwrap();
    // 0.001° of 0.03° is missing.
    assert!((share - 29.0 / 30.0).abs() < 0.002, "{share}");

    let seamless: Value = app
        .get("/api/v1/grids/A/coverage", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seamless["children"], 0);
    assert_eq!(seamless["covered_share"], 0.0);
}

#[both_backends]
async fn a_grid_split_in_two_and_merged_back_moves_its_records_each_time(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let dispatcher = app.user_token("hotline", Role::Dispatcher, &[]).await;
    import(&app, &gis, &two_grids()).await;
    let south = complaint_at(&app, &dispatcher, "south", 124.315, 43.105).await;
    let north = complaint_at(&app, &dispatcher, "north", 124.315, 43.115).await;

    let parts = collection(vec![
        rect_feature("B1", None, None, [124.31, 43.10, 124.32, 43.11]),
        rect_feature("B2", None, None, [124.31, 43.11, 124.32, 43.12]),
    ]);
    let gappy = collection(vec![
        rect_feature("B1", None, None, [124.31, 43.10, 124.32, 43.109]),
        rect_feature("B2", None, None, [124.31, 43.11, 124.32, 43.12]),
    ]);
    let body = assert_problem(
        app.post("/api/v1/grids/B/split", Some(&gis), &gappy).await,
        422,
        "topology_rejected",
    )
    .await;
    assert_eq!(body["problems"][0]["code"], "split_gap");

    let split = app.post("/api/v1/grids/B/split", Some(&gis), &parts).await;
    assert_eq!(split.status(), 201, "{}", split.text().await.unwrap());
    let split: Value = split.json().await.unwrap();
    assert_eq!(split["reownership"]["changed"], 2);
    assert_eq!(owner(&record(&app, &dispatcher, &south).await), Some("B1"));
    assert_eq!(owner(&record(&app, &dispatcher, &north).await), Some("B2"));
    assert_problem(
        app.get("/api/v1/grids/B", Some(&gis)).await,
        404,
        "not_found",
    )
    .await;
    let b1: Value = app
        .get("/api/v1/grids/B1", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b1["properties"]["parent"], "V");
    assert_eq!(b1["properties"]["level"], "grid");

    let merge = json!({ "codes": ["B1", "B2"], "into": { "code": "B", "name": "grid B again" } });
    let merged = app.post("/api/v1/grids/merge", Some(&gis), &merge).await;
    assert_eq!(merged.status(), 201, "{}", merged.text().await.unwrap());
    assert_eq!(owner(&record(&app, &dispatcher, &south).await), Some("B"));
    assert_eq!(owner(&record(&app, &dispatcher, &north).await), Some("B"));
    let coverage: Value = app
        .get("/api/v1/grids/V/coverage", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert!((coverage["covered_share"].as_f64().unwrap() - 1.0).abs() < 1e-6);
    assert!(coverage["gaps"].as_array().unwrap().is_empty());
}

#[both_backends]
async fn messy_rings_are_repaired_and_reported_and_a_self_intersection_is_located(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    import(&app, &gis, &two_grids()).await;
    // Clockwise, open, with a repeated vertex: all three repaired.
    let messy = json!({
        "type": "Feature",
        "properties": { "code": "C", "name": "messy", "parent": "V" },
        "geometry": { "type": "Polygon", "coordinates": [[
            [124.30, 43.119], [124.301, 43.119], [124.301, 43.119],
            [124.301, 43.118], [124.30, 43.118]
        ]] },
    });
    let response = app
        .post("/api/v1/grids?tolerance_m2=100000000", Some(&gis), &messy)
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let report: Value = response.json().await.unwrap();
    let repairs: Vec<&str> = report["areas"][0]["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        repairs,
        ["duplicate_vertices", "closed_ring", "ring_orientation"]
    );

    let bowtie = json!({
        "type": "Feature",
        "properties": { "code": "D", "name": "bowtie", "parent": "V" },
        "geometry": { "type": "Polygon", "coordinates": [[
            [124.30, 43.10], [124.302, 43.102], [124.302, 43.10], [124.30, 43.102], [124.30, 43.10]
        ]] },
    });
    let body = assert_problem(
        app.post("/api/v1/grids", Some(&gis), &bowtie).await,
        422,
        "self_intersection",
    )
    .await;
    let at = body["location"].as_array().unwrap();
    assert!((at[0].as_f64().unwrap() - 124.301).abs() < 1e-9);
    assert!((at[1].as_f64().unwrap() - 43.101).abs() < 1e-9);
}

#[both_backends]
async fn an_area_with_children_cannot_be_retired_and_only_gis_staff_edit(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let leader = app.user_token("leader", Role::GridLeader, &["V"]).await;
    import(&app, &gis, &two_grids()).await;
    let refused = app
        .send_json(
            reqwest::Method::DELETE,
            "/api/v1/grids/V",
            Some(&gis),
            &json!(null),
        )
        .await;
    assert_problem(refused, 409, "has_children").await;
    let forbidden = app
        .send_json(
            reqwest::Method::DELETE,
            "/api/v1/grids/A",
            Some(&leader),
            &json!(null),
        )
        .await;
    assert_problem(forbidden, 403, "forbidden").await;
    let c = rect_feature("C", Some("V"), None, [124.30, 43.10, 124.301, 43.101]);
    assert_problem(
        app.post("/api/v1/grids", Some(&leader), &c).await,
        403,
        "forbidden",
    )
    .await;
    let exists = rect_feature("A", Some("V"), None, [124.30, 43.10, 124.31, 43.12]);
    assert_problem(
        app.post("/api/v1/grids", Some(&gis), &exists).await,
        409,
        "area_exists",
    )
    .await;
    assert_problem(
        app.post("/api/v1/grids", None, &c).await,
        401,
        "unauthenticated",
    )
    .await;
    let bad_if_match = app
        .client
        .delete(app.url("/api/v1/grids/A"))
        .bearer_auth(&gis)
        .header("if-match", "yesterday")
        .send()
        .await
        .unwrap();
    assert_problem(bad_if_match, 400, "invalid_if_match").await;
    assert_eq!(app.store.map_version().await.unwrap(), 1);
}

// A record placed by GCJ-02 coordinates (as a phone's map SDK gives them) is owned by the
// right grid after an edit too.
#[both_backends]
async fn a_records_gcj02_location_is_converted_before_reownership(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    import(&app, &gis, &two_grids()).await;
    let mut worker = Phone::new(&app, "worker-a", Role::GridWorker, &["A"]).await;
    let (lon, lat) = gridsync_server::coords::wgs84_to_gcj02(124.308, 43.11);
    let id = worker.complaint_at("phone in the strip", (lon, lat), Crs::Gcj02);
    worker.sync_all(&app).await;
    assert_eq!(
        worker
            .store
            .get(&id)
            .unwrap()
            .owner_grid
            .unwrap()
            .code
            .as_deref(),
        Some("A")
    );

    let response = app
        .post("/api/v1/grids/batch", Some(&gis), &moved_boundary())
        .await;
    assert_eq!(response.status(), 200);
    worker.sync_all(&app).await;
    assert_eq!(
        worker
            .store
            .get(&id)
            .unwrap()
            .owner_grid
            .unwrap()
            .code
            .as_deref(),
        Some("B"),
        "its creator still follows it"
    );
}

/// Siping's real district outlines (amap, GCJ-02) from `scripts/fetch-test-data.sh`.
fn siping(code: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-data/siping")
        .join(format!("{code}.geojson"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run ./scripts/fetch-test-data.sh (./scripts/test.sh does)",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("geojson")
}

/// The file is a bare geometry with an `adcode`: made into a Feature as a GIS user would.
fn district(code: &str, name: &str, level: &str, parent: Option<&str>) -> Value {
    let mut geometry = siping(code);
    if let Some(object) = geometry.as_object_mut() {
        object.remove("properties");
    }
    json!({
        "type": "Feature",
        "properties": { "code": code, "name": name, "level": level, "parent": parent },
        "geometry": geometry,
    })
}

async fn stored_geometry(app: &TestApp, token: &str, code: &str) -> geo::MultiPolygon {
    let feature: Value = app
        .get(&format!("/api/v1/grids/{code}"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    gridsync_server::geometry::from_stored(&feature["geometry"].to_string()).unwrap()
}

fn inside(geometry: &geo::MultiPolygon) -> (f64, f64) {
    use geo::InteriorPoint;
    let largest = geometry
        .0
        .iter()
        .max_by(|a, b| geo::Area::unsigned_area(*a).total_cmp(&geo::Area::unsigned_area(*b)))
        .unwrap();
    let p = largest.interior_point().unwrap();
    (p.x(), p.y())
}

#[both_backends]
async fn a_real_boundary_moved_between_two_districts_reowns_the_strip_and_nothing_else(
    app: TestApp,
) {
    use geo::{BooleanOps, Buffer};
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let dispatcher = app.user_token("hotline", Role::Dispatcher, &[]).await;
    let map = collection(vec![
        district("220300", "四平市", "city", None),
        district("220302", "铁西区", "county", Some("220300")),
        district("220303", "铁东区", "county", Some("220300")),
    ]);
    let response = app
        .post("/api/v1/grids/import?crs=gcj02", Some(&gis), &map)
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let imported: Value = response.json().await.unwrap();
    assert_eq!(imported["imported"], 3);

    // The strip of 铁东区 within ~500 m of 铁西区 moves to 铁西区.
    let west = stored_geometry(&app, &gis, "220302").await;
    let east = stored_geometry(&app, &gis, "220303").await;
    let strip = west.buffer(0.005).intersection(&east);
    let new_west = west.union(&strip);
    let new_east = east.difference(&strip);
    let far_east = east.difference(&west.buffer(0.03));

    let in_strip = inside(&strip);
    let stays_east = inside(&far_east);
    let stays_west = inside(&west);
    let moved = complaint_at(&app, &dispatcher, "in the strip", in_strip.0, in_strip.1).await;
    let east_record = complaint_at(
        &app,
        &dispatcher,
        "deep in 铁东区",
        stays_east.0,
        stays_east.1,
    )
    .await;
    let west_record =
        complaint_at(&app, &dispatcher, "in 铁西区", stays_west.0, stays_west.1).await;
    assert_eq!(
        owner(&record(&app, &dispatcher, &moved).await),
        Some("220303")
    );
    assert_eq!(
        owner(&record(&app, &dispatcher, &west_record).await),
        Some("220302")
    );
    let mut worker = Phone::new(&app, "tiexi-worker", Role::GridWorker, &["220302"]).await;
    worker.sync_all(&app).await;

    let feature = |code: &str, name: &str, geometry: &geo::MultiPolygon| {
        let wgs84 = gridsync_server::coords::Crs::Wgs84;
        json!({
            "type": "Feature",
            "properties": { "code": code, "name": name },
            "geometry": gridsync_server::geometry::to_geojson(geometry, wgs84),
        })
    };
    let edit = collection(vec![
        feature("220302", "铁西区", &new_west),
        feature("220303", "铁东区", &new_east),
    ]);
    // Real outlines of a city and its districts, simplified separately, disagree by
    // slivers: 1 ha of tolerance absorbs them.
    let response = app
        .post(
            "/api/v1/grids/batch?tolerance_m2=10000&reason=district%20boundary%20adjusted",
            Some(&gis),
            &edit,
        )
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["reownership"]["changed"], 1, "{report}");
    assert_eq!(
        report["reownership"]["moves"],
        json!([{ "from": "220303", "to": "220302", "records": 1 }])
    );

    assert_eq!(
        owner(&record(&app, &dispatcher, &moved).await),
        Some("220302")
    );
    assert_eq!(
        owner(&record(&app, &dispatcher, &east_record).await),
        Some("220303")
    );
    assert_eq!(
        owner(&record(&app, &dispatcher, &west_record).await),
        Some("220302")
    );
    worker.sync_all(&app).await;
    worker.sync_all(&app).await;
    let moved_id: RecordId = moved.parse().unwrap();
    assert_eq!(
        worker.store.get(&moved_id).unwrap().title,
        "in the strip",
        "re-scoped to 铁西区's worker"
    );
    let east_id: RecordId = east_record.parse().unwrap();
    assert!(worker.store.get(&east_id).is_err(), "and nothing else");
}

#[both_backends]
async fn a_messy_geojson_file_of_records_is_repaired_per_feature_or_refused_whole(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let dispatcher = app.user_token("hotline", Role::Dispatcher, &[]).await;
    import(&app, &gis, &two_grids()).await;
    let point = |title: Value, geometry: Value| {
        json!({ "type": "Feature", "geometry": geometry,
        "properties": { "title": title, "category": "roads", "OBJECTID": 7 } })
    };
    let file = collection(vec![
        point(
            json!("clean"),
            json!({ "type": "Point", "coordinates": [124.305, 43.11] }),
        ),
        point(
            json!("text numbers"),
            json!({ "type": "Point", "coordinates": ["124.315", " 43.11"] }),
        ),
        point(
            json!("one of many"),
            json!({ "type": "MultiPoint", "coordinates": [[124.305, 43.105, 212.0]] }),
        ),
        point(
            json!("swapped"),
            json!({ "type": "Point", "coordinates": [43.11, 124.315] }),
        ),
        point(
            json!(null),
            json!({ "type": "Point", "coordinates": [124.305, 43.11] }),
        ),
        point(
            json!("a line"),
            json!({ "type": "LineString", "coordinates": [[124.3, 43.1], [124.31, 43.11]] }),
        ),
    ]);
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend(serde_json::to_vec(&file).unwrap());
    let send = |query: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/records/import{query}")))
            .bearer_auth(&dispatcher)
            .body(body.clone())
            .send()
    };

    let refused = assert_problem(send("").await.unwrap(), 422, "import_rejected").await;
    let codes: Vec<Value> = refused["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"]["code"].clone())
        .collect();
    assert_eq!(
        codes,
        [
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            json!("missing_title"),
            json!("unsupported_geometry_type")
        ]
    );
    let listed: Value = app
        .get("/api/v1/records", Some(&dispatcher))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["records"].as_array().unwrap().is_empty(),
        "nothing imported: {listed}"
    );

    let response = send("?partial=true").await.unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["imported"], 4);
    assert_eq!(report["rejected"], 2);
    let results = report["results"].as_array().unwrap();
    let repairs = |i: usize| -> Vec<String> {
        results[i]["repairs"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|x| x["code"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(repairs(0), Vec::<String>::new());
    assert_eq!(repairs(1), ["numeric_strings"]);
    assert_eq!(repairs(2), ["single_multipoint", "dropped_z"]);
    assert_eq!(repairs(3), ["swapped_axes"]);
    let owners: Vec<Option<String>> = {
        let mut owners = Vec::new();
        for result in &results[..4] {
            let id = result["id"].as_str().unwrap();
            owners.push(owner(&record(&app, &dispatcher, id).await).map(String::from));
        }
        owners
    };
    assert_eq!(
        owners,
        [
            Some("A".into()),
            Some("B".into()),
            Some("A".into()),
            Some("B".into())
        ]
    );
    let swapped = record(&app, &dispatcher, results[3]["id"].as_str().unwrap()).await;
    assert_eq!(swapped["channel"], "suggestion_box");
    assert_eq!(swapped["location"]["lon"], 124.315);

    let out: Value = app
        .get("/api/v1/records?format=geojson", Some(&dispatcher))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["type"], "FeatureCollection");
    assert_eq!(out["features"].as_array().unwrap().len(), 4);
    assert_problem(
        app.client
            .post(app.url("/api/v1/records/import"))
            .bearer_auth(&gis)
            .body(body.clone())
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
}

#[both_backends]
async fn a_server_stopped_before_reownership_finishes_the_job_when_it_starts_again(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let dispatcher = app.user_token("hotline", Role::Dispatcher, &[]).await;
    import(&app, &gis, &two_grids()).await;
    let strip = complaint_at(&app, &dispatcher, "in the strip", 124.308, 43.11).await;
    // The edit as its transaction leaves it when the process dies right after the commit:
    // the areas written and the re-ownership job queued, no record touched yet.
    let area = |code: &str, rect: [f64; 4]| {
        let feature = rect_feature(code, Some("V"), None, rect);
        let checked = gridsync_server::import::check_feature(
            &feature,
            gridsync_server::coords::Crs::Wgs84,
            &Default::default(),
        )
        .unwrap();
        gridsync_server::domain::AreaRecord {
            code: code.into(),
            name: checked.name,
            level: gridsync_server::domain::Level::Grid,
            parent: Some("V".into()),
            geometry: gridsync_server::geometry::to_geojson(
                &checked.geometry,
                gridsync_server::coords::Crs::Wgs84,
            )
            .to_string(),
            bbox: gridsync_server::geometry::bbox(&checked.geometry),
            version: 0,
            updated_at: 0,
        }
    };
    let edit = gridsync_server::store::AreaEdit {
        upserts: vec![
            area("A", [124.30, 43.10, 124.305, 43.12]),
            area("B", [124.305, 43.10, 124.32, 43.12]),
        ],
        retire: Vec::new(),
        expect: Vec::new(),
        operation: "replace".into(),
        actor: "gis".into(),
        reason: "crash".into(),
        now_ms: sync_core::now_ms(),
        reown_boxes: vec![[124.30, 43.10, 124.32, 43.12]],
    };
    app.store.edit_areas(&edit).await.unwrap();
    assert_eq!(app.store.open_reown_jobs().await.unwrap().len(), 1);
    assert_eq!(
        owner(&record(&app, &dispatcher, &strip).await),
        Some("A"),
        "not re-owned yet"
    );

    let restarted = TestApp::spawn_on(app.backend, &app.database_url, |_| {}).await;

    assert!(restarted.store.open_reown_jobs().await.unwrap().is_empty());
    assert_eq!(
        owner(&record(&restarted, &dispatcher, &strip).await),
        Some("B")
    );
}

/// Every county-level outline of Jilin (amap, GCJ-02) from `scripts/fetch-test-data.sh`, as a
/// GIS officer's county file has them: an `adcode` and a name, no parent, no level.
fn jilin_counties() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-data/jilin");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run ./scripts/fetch-test-data.sh (./scripts/test.sh does)",
                dir.display()
            )
        })
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let mut geometry: Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let adcode = geometry["properties"]["adcode"]
                .as_str()
                .unwrap()
                .to_string();
            geometry.as_object_mut().unwrap().remove("properties");
            json!({
                "type": "Feature",
                "properties": { "adcode": adcode, "name": format!("县级区划 {adcode}") },
                "geometry": geometry,
            })
        })
        .collect()
}

fn codes_of(listing: &Value) -> Vec<String> {
    listing["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap().to_string())
        .collect()
}

async fn children_of_the_city(app: &TestApp, token: &str) -> Vec<String> {
    let listing: Value = app
        .get("/api/v1/grids?parent=2203", Some(token))
        .await
        .json()
        .await
        .unwrap();
    codes_of(&listing)
}

#[both_backends]
async fn importing_county_outlines_without_parents_keeps_the_map_whole(app: TestApp) {
    app.load_demo_map().await;
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let before = children_of_the_city(&app, &gis).await;
    assert!(before.contains(&"220302".to_string()), "{before:?}");
    let counties = jilin_counties();
    assert_eq!(counties.len(), 60);

    let response = app
        .post(
            "/api/v1/grids/import?crs=gcj02",
            Some(&gis),
            &collection(counties),
        )
        .await;

    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["imported"], 60);
    let result_of = |code: &str| {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["code"] == code)
            .unwrap()
            .clone()
    };
    // The districts the map had keep their parent and level, and say so.
    assert_eq!(
        result_of("220302")["inferred"],
        json!([
            { "field": "parent", "value": "2203", "from": "stored" },
            { "field": "level", "value": "county", "from": "stored" },
        ])
    );
    // A county the map did not have is a county by its code.
    assert!(
        result_of("220102")["inferred"]
            .as_array()
            .unwrap()
            .contains(&json!({ "field": "level", "value": "county", "from": "code" }))
    );
    assert_eq!(children_of_the_city(&app, &gis).await, before);
    let district: Value = app
        .get("/api/v1/grids/220302", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(district["properties"]["parent"], "2203");
    assert_eq!(district["properties"]["level"], "county");
    // A point inside the real 铁西区 still finds its way up to the city.
    let (lon, lat) = inside(&stored_geometry(&app, &gis, "220302").await);
    let located: Value = app
        .get(&format!("/api/v1/locate?lon={lon}&lat={lat}"), Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    let path: Vec<&str> = located["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(path.last(), Some(&"2203"), "{path:?}");
}

#[both_backends]
async fn an_import_reads_the_properties_named_and_infers_the_parent_and_a_dry_run_writes_nothing(
    app: TestApp,
) {
    app.load_demo_map().await;
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let (lon, lat) = inside(&stored_geometry(&app, &gis, "22030200100101").await);
    let d = 0.0002;
    let [x0, y0, x1, y1] = [lon - d, lat - d, lon + d, lat + d];
    let file = collection(vec![json!({
        "type": "Feature",
        "properties": { "WGBM": "22030200100199", "WGMC": "东风社区新网格", "JB": "网格" },
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
        },
    })]);
    let mapping = "code_property=WGBM&name_property=WGMC&level_property=JB";

    let preview = app
        .post(
            &format!("/api/v1/grids/import?dry_run=true&{mapping}"),
            Some(&gis),
            &file,
        )
        .await;
    assert_eq!(preview.status(), 200, "{}", preview.text().await.unwrap());
    let preview: Value = preview.json().await.unwrap();
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["valid"], 1, "{preview}");
    assert_eq!(
        preview["results"][0]["inferred"],
        json!([{ "field": "parent", "value": "220302001001", "from": "containment" }])
    );
    assert_eq!(
        app.get("/api/v1/grids/22030200100199", Some(&gis))
            .await
            .status(),
        404
    );

    let done = app
        .post(
            &format!("/api/v1/grids/import?{mapping}"),
            Some(&gis),
            &file,
        )
        .await;
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
    let grid: Value = app
        .get("/api/v1/grids/22030200100199", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(grid["properties"]["parent"], "220302001001");
    assert_eq!(grid["properties"]["level"], "grid");
    assert_eq!(grid["properties"]["name"], "东风社区新网格");
    // Without the mapping, the file's code is nowhere the import looks.
    let unmapped = app.post("/api/v1/grids/import", Some(&gis), &file).await;
    let unmapped = assert_problem(unmapped, 422, "import_rejected").await;
    assert_eq!(unmapped["results"][0]["error"]["code"], "missing_code");
    // Well-known names need no mapping, Chinese ones included.
    let mut known = file.clone();
    known["features"][0]["properties"] =
        json!({ "GRIDCODE": "22030200100198", "网格名称": "东风社区另一网格" });
    let imported = app.post("/api/v1/grids/import", Some(&gis), &known).await;
    assert_eq!(imported.status(), 200, "{}", imported.text().await.unwrap());
    let grid: Value = app
        .get("/api/v1/grids/22030200100198", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(grid["properties"]["name"], "东风社区另一网格");
    assert_eq!(grid["properties"]["level"], "grid");
}

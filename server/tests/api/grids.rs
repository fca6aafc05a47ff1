use gridsync_server::coords::{gcj02_to_wgs84, wgs84_to_gcj02};
use gridsync_server::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, collection, rect_feature};
use gridsync_test_macros::both_backends;

fn small_map() -> Value {
    collection(vec![
        rect_feature("V1", None, Some("village"), [124.30, 43.10, 124.32, 43.12]),
        rect_feature("V1G1", Some("V1"), None, [124.30, 43.10, 124.31, 43.12]),
        rect_feature("V1G2", Some("V1"), None, [124.31, 43.10, 124.32, 43.12]),
    ])
}

#[both_backends]
async fn a_gis_user_imports_a_feature_collection_and_reads_it_back(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;

    let response = app
        .post("/api/v1/grids/import", Some(&gis), &small_map())
        .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["imported"], 3);
    assert_eq!(body["rejected"], 0);
    assert_eq!(body["map_version"], 1);
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "imported")
    );
    let grid: Value = app
        .get("/api/v1/grids/V1G2", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(grid["type"], "Feature");
    assert_eq!(grid["properties"]["level"], "grid");
    assert_eq!(grid["properties"]["parent"], "V1");
    assert_eq!(grid["properties"]["version"], 1);
    assert_eq!(
        grid["geometry"]["coordinates"][0][1],
        json!([124.32, 43.10])
    );
    let listed: Value = app
        .get("/api/v1/grids", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["type"], "FeatureCollection");
    assert_eq!(listed["features"].as_array().unwrap().len(), 3);
}

#[both_backends]
async fn an_import_with_one_invalid_feature_changes_nothing(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let mut map = small_map();
    map["features"][2]["geometry"]["coordinates"][0][2] = json!([181.0, 43.11]);

    let response = app.post("/api/v1/grids/import", Some(&gis), &map).await;

    let body = assert_problem(response, 422, "import_rejected").await;
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "valid");
    assert_eq!(results[2]["status"], "rejected");
    assert_eq!(results[2]["code"], "V1G2");
    assert_eq!(results[2]["error"]["code"], "out_of_range");
    assert_eq!(app.store.map_version().await.unwrap(), 0);
    assert_problem(
        app.get("/api/v1/grids/V1", Some(&gis)).await,
        404,
        "not_found",
    )
    .await;
}

#[both_backends]
async fn a_partial_import_keeps_the_valid_features_and_names_each_rejection(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let mut map = small_map();
    let features = map["features"].as_array_mut().unwrap();
    let mut bowtie = rect_feature("BOW", Some("V1"), None, [0.0; 4]);
    bowtie["geometry"]["coordinates"] = json!([[
        [124.30, 43.10],
        [124.31, 43.11],
        [124.31, 43.10],
        [124.30, 43.11],
        [124.30, 43.10]
    ]]);
    let mut triangle = rect_feature("TRI", Some("V1"), None, [0.0; 4]);
    triangle["geometry"]["coordinates"] =
        json!([[[124.30, 43.10], [124.31, 43.11], [124.30, 43.10]]]);
    let far = rect_feature("FAR", None, None, [124.0, 43.0, 181.0, 44.0]);
    let orphan = rect_feature("ORPHAN", Some("NOPE"), None, [124.0, 43.0, 124.1, 43.1]);
    features.extend([bowtie, triangle, far, orphan]);

    let response = app
        .post("/api/v1/grids/import?partial=true", Some(&gis), &map)
        .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["imported"], 3);
    assert_eq!(body["rejected"], 4);
    let reasons: Vec<&str> = body["results"].as_array().unwrap()[3..]
        .iter()
        .map(|r| r["error"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "self_intersection",
            "too_few_positions",
            "out_of_range",
            "unknown_parent"
        ]
    );
    assert_eq!(
        app.get("/api/v1/grids/V1G1", Some(&gis)).await.status(),
        200
    );
}

#[both_backends]
async fn a_gcj02_import_is_stored_in_wgs84_and_served_in_either(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let map = collection(vec![rect_feature(
        "G",
        None,
        Some("grid"),
        [124.35, 43.17, 124.36, 43.18],
    )]);

    let response = app
        .post("/api/v1/grids/import?crs=gcj02", Some(&gis), &map)
        .await;

    assert_eq!(response.status(), 200);
    let stored: Value = app
        .get("/api/v1/grids/G", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    let corner = &stored["geometry"]["coordinates"][0][0];
    let expected = gcj02_to_wgs84(124.35, 43.17);
    assert!(
        (corner[0].as_f64().unwrap() - expected.0).abs() < 5e-8,
        "answers carry 7 decimals"
    );
    assert!(
        (corner[1].as_f64().unwrap() - expected.1).abs() < 5e-8,
        "answers carry 7 decimals"
    );
    let as_gcj: Value = app
        .get("/api/v1/grids/G?crs=gcj02", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    let corner = &as_gcj["geometry"]["coordinates"][0][0];
    assert!((corner[0].as_f64().unwrap() - 124.35).abs() < 1e-8);
    assert!((corner[1].as_f64().unwrap() - 43.17).abs() < 1e-8);
    let _ = wgs84_to_gcj02;
}

#[both_backends]
async fn listing_filters_by_parent_level_and_bounding_box(app: TestApp) {
    app.load_demo_map().await;
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let codes = |body: Value| -> Vec<String> {
        body["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["code"].as_str().unwrap().to_string())
            .collect()
    };

    let children = codes(
        app.get("/api/v1/grids?parent=220302001001", Some(&gis))
            .await
            .json()
            .await
            .unwrap(),
    );
    let counties = codes(
        app.get("/api/v1/grids?level=county", Some(&gis))
            .await
            .json()
            .await
            .unwrap(),
    );
    let near_corner = codes(
        app.get(
            "/api/v1/grids?level=grid&bbox=124.20,43.05,124.21,43.06",
            Some(&gis),
        )
        .await
        .json()
        .await
        .unwrap(),
    );
    let bad_bbox = app.get("/api/v1/grids?bbox=1,2,3", Some(&gis)).await;
    let bad_level = app.get("/api/v1/grids?level=province", Some(&gis)).await;

    assert_eq!(
        children,
        [
            "22030200100101",
            "22030200100102",
            "22030200100103",
            "22030200100104"
        ]
    );
    assert_eq!(counties, ["220302", "220303"]);
    assert_eq!(near_corner, ["22030200100101"]);
    assert_problem(bad_bbox, 400, "invalid_bbox").await;
    assert_problem(bad_level, 400, "invalid_query").await;
}

#[both_backends]
async fn reimporting_an_area_replaces_it_and_bumps_its_version(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    app.post("/api/v1/grids/import", Some(&gis), &small_map())
        .await;
    let moved = collection(vec![rect_feature(
        "V1G1",
        Some("V1"),
        None,
        [124.30, 43.10, 124.305, 43.12],
    )]);

    let response = app.post("/api/v1/grids/import", Some(&gis), &moved).await;

    assert_eq!(response.json::<Value>().await.unwrap()["map_version"], 2);
    let grid: Value = app
        .get("/api/v1/grids/V1G1", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(grid["properties"]["version"], 2);
    let sibling: Value = app
        .get("/api/v1/grids/V1G2", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sibling["properties"]["version"], 1);
    let changed_level = collection(vec![rect_feature(
        "V1G1",
        None,
        Some("village"),
        [124.30, 43.10, 124.305, 43.12],
    )]);
    let response = app
        .post("/api/v1/grids/import", Some(&gis), &changed_level)
        .await;
    let body = assert_problem(response, 422, "import_rejected").await;
    assert_eq!(body["results"][0]["error"]["code"], "level_change");
}

#[both_backends]
async fn a_body_that_is_not_a_feature_collection_is_the_same_400_on_every_route(app: TestApp) {
    let admin = app.user_token("chief", Role::Admin, &[]).await;

    for route in [
        "/api/v1/grids/import",
        "/api/v1/grids/batch",
        "/api/v1/records/import",
    ] {
        let not_collection = app
            .post(route, Some(&admin), &json!({ "type": "Feature" }))
            .await;
        let not_json = app
            .client
            .post(app.url(route))
            .bearer_auth(&admin)
            .body("{nope")
            .send()
            .await
            .unwrap();

        assert_problem(not_collection, 400, "invalid_geojson").await;
        assert_problem(not_json, 400, "invalid_json").await;
    }
}

/// The most decimal places of any number in a JSON text.
fn most_decimals(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut most = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' && i > 0 && bytes[i - 1].is_ascii_digit() {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            most = most.max(digits);
            i += digits;
        }
        i += 1;
    }
    most
}

/// Every ring of every area in a FeatureCollection wound as RFC 7946 §3.1.6 says.
fn assert_rfc7946_winding(collection: &Value) {
    use geo::Winding;
    let features = collection["features"].as_array().unwrap();
    assert!(!features.is_empty());
    for feature in features {
        let geometry: geojson::Geometry =
            serde_json::from_value(feature["geometry"].clone()).unwrap();
        let polygons = match geo::Geometry::<f64>::try_from(geometry).unwrap() {
            geo::Geometry::Polygon(p) => vec![p],
            geo::Geometry::MultiPolygon(m) => m.0,
            other => panic!("{other:?}"),
        };
        for polygon in polygons {
            assert!(polygon.exterior().is_ccw(), "{}", feature["id"]);
            for hole in polygon.interiors() {
                assert!(hole.is_cw(), "a hole of {}", feature["id"]);
            }
        }
    }
}

#[both_backends]
async fn the_demo_map_goes_out_wound_as_rfc_7946_says_with_seven_decimals(app: TestApp) {
    app.load_demo_map().await;
    let gis = app.user_token("gis", Role::Gis, &[]).await;

    for path in [
        "/api/v1/grids",
        "/api/v1/grids?crs=gcj02",
        "/ogc/collections/grids/items?limit=1000",
        "/ogc/collections/regions/items",
    ] {
        let text = app.get(path, Some(&gis)).await.text().await.unwrap();
        let collection: Value = serde_json::from_str(&text).unwrap();
        assert_rfc7946_winding(&collection);
        let coordinates: Vec<String> = collection["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["geometry"].to_string())
            .collect();
        assert!(
            coordinates.iter().all(|c| most_decimals(c) <= 7),
            "{path}: more than 7 decimals"
        );
        if path.contains("gcj02") {
            // Converted coordinates have every decimal an f64 holds until they are rounded.
            assert!(coordinates.iter().any(|c| most_decimals(c) == 7), "{path}");
        }
    }
    // The demo grid with a hole (drawn counter-clockwise in the demo's source) has it clockwise.
    let holed: Value = app
        .get("/api/v1/grids/22030300200204", Some(&gis))
        .await
        .json()
        .await
        .unwrap();
    let holed: geojson::Geometry = serde_json::from_value(holed["geometry"].clone()).unwrap();
    let geo::Geometry::Polygon(holed) = geo::Geometry::<f64>::try_from(holed).unwrap() else {
        panic!("a polygon")
    };
    use geo::Winding;
    assert_eq!(holed.interiors().len(), 1);
    assert!(holed.interiors()[0].is_cw());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fewer_decimals_make_a_smaller_layer() {
    let full = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    let coarse = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.coordinate_decimals = 5
    })
    .await;
    let mut sizes = Vec::new();
    for app in [&full, &coarse] {
        app.load_demo_map().await;
        let gis = app.user_token("gis", Role::Gis, &[]).await;
        let text = app
            .get("/api/v1/grids?crs=gcj02", Some(&gis))
            .await
            .text()
            .await
            .unwrap();
        sizes.push((text.len(), most_decimals(&text)));
    }
    assert_eq!(sizes[0].1, 7);
    assert_eq!(sizes[1].1, 5);
    assert!(sizes[1].0 < sizes[0].0, "{sizes:?}");
}

#[both_backends]
async fn grids_imported_with_households_and_population_fill_their_registers(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let leader = app.user_token("li", Role::GridLeader, &["G1"]).await;
    let with = |code: &str, rect: [f64; 4], counts: Value| {
        let mut feature = rect_feature(code, None, Some("grid"), rect);
        for (key, value) in counts.as_object().unwrap() {
            feature["properties"][key] = value.clone();
        }
        feature
    };
    let first = collection(vec![
        with(
            "G1",
            [10.0, 10.0, 10.1, 10.1],
            json!({ "户数": 312, "人口": "905" }),
        ),
        with("G2", [10.1, 10.0, 10.2, 10.1], json!({ "households": 40 })),
    ]);
    let imported = app.post("/api/v1/grids/import", Some(&gis), &first).await;
    assert_eq!(imported.status(), 200);
    // The register's people are kept when a later import changes the counts.
    let people = json!({ "households": 312, "population": 905, "people": [
        { "title": "网格长", "name": "李明", "phone": "13800000001", "username": "li" } ] });
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/grids/G1/register",
            Some(&gis),
            &people,
        )
        .await;
    assert_eq!(put.status(), 200);
    let again = collection(vec![with(
        "G1",
        [10.0, 10.0, 10.1, 10.1],
        json!({ "population": 930 }),
    )]);
    assert_eq!(
        app.post("/api/v1/grids/import", Some(&gis), &again)
            .await
            .status(),
        200
    );

    let register = |code: &'static str| {
        let app = &app;
        let leader = leader.clone();
        let gis = gis.clone();
        async move {
            let token = if code == "G1" { leader } else { gis };
            let r: Value = app
                .get(&format!("/api/v1/grids/{code}/register"), Some(&token))
                .await
                .json()
                .await
                .unwrap();
            r
        }
    };
    let g1 = register("G1").await;
    assert_eq!(
        (g1["households"].as_i64(), g1["population"].as_i64()),
        (Some(312), Some(930))
    );
    assert_eq!(g1["people"][0]["name"], "李明");
    let g2 = register("G2").await;
    assert_eq!(
        (g2["households"].as_i64(), g2["population"].as_i64()),
        (Some(40), None)
    );

    // A count that is not a whole number is a rejected feature; nothing changes.
    let bad = collection(vec![with(
        "G2",
        [10.1, 10.0, 10.2, 10.1],
        json!({ "户数": -3 }),
    )]);
    let refused = assert_problem(
        app.post("/api/v1/grids/import", Some(&gis), &bad).await,
        422,
        "import_rejected",
    )
    .await;
    assert_eq!(refused["results"][0]["error"]["code"], "invalid_register");
    assert_eq!(register("G2").await["households"], 40);
}

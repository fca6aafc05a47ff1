use gridsync_server::coords::wgs84_to_gcj02;
use gridsync_server::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, collection, rect_feature};
use gridsync_test_macros::both_backends;

async fn locate(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/locate?{query}"), Some(token))
        .await;
    assert_eq!(response.status(), 200, "locate {query}");
    response.json().await.unwrap()
}

#[both_backends]
async fn a_point_is_owned_by_the_deepest_area_and_answered_with_its_path(app: TestApp) {
    app.load_demo_map().await;
    let token = app.user_token("wang", Role::GridWorker, &[]).await;

    let body = locate(&app, &token, "lon=124.21&lat=43.06").await;

    assert_eq!(body["grid"]["code"], "22030200100101");
    assert_eq!(body["grid"]["level"], "grid");
    let path: Vec<&str> = body["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        path,
        [
            "22030200100101",
            "220302001001",
            "220302001",
            "220302",
            "2203"
        ]
    );
    assert_eq!(body["map_version"], 1);
}

#[both_backends]
async fn a_point_outside_every_area_has_no_grid(app: TestApp) {
    app.load_demo_map().await;
    let token = app.user_token("wang", Role::GridWorker, &[]).await;

    let body = locate(&app, &token, "lon=100&lat=30").await;

    assert_eq!(body["grid"], Value::Null);
    assert_eq!(body["path"], json!([]));
}

#[both_backends]
async fn a_point_in_a_hole_belongs_to_the_village_around_it(app: TestApp) {
    app.load_demo_map().await;
    let token = app.user_token("wang", Role::GridWorker, &[]).await;

    let pond = locate(&app, &token, "lon=124.48125&lat=43.26").await;
    let shore = locate(&app, &token, "lon=124.47625&lat=43.26").await;

    assert_eq!(pond["grid"]["code"], "220303002002");
    assert_eq!(shore["grid"]["code"], "22030300200204");
}

#[both_backends]
async fn a_point_on_a_shared_edge_or_vertex_goes_to_the_smallest_code(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let map = collection(vec![
        rect_feature("B", None, Some("grid"), [1.0, 0.0, 2.0, 1.0]),
        rect_feature("A", None, Some("grid"), [0.0, 0.0, 1.0, 1.0]),
        rect_feature("C", None, Some("grid"), [0.0, 1.0, 1.0, 2.0]),
    ]);
    app.post("/api/v1/grids/import", Some(&gis), &map).await;

    let edge = locate(&app, &gis, "lon=1&lat=0.5").await;
    let vertex = locate(&app, &gis, "lon=1&lat=1").await;
    let outer_edge = locate(&app, &gis, "lon=2&lat=0.5").await;

    assert_eq!(edge["grid"]["code"], "A");
    assert_eq!(vertex["grid"]["code"], "A");
    assert_eq!(outer_edge["grid"]["code"], "B");
}

#[both_backends]
async fn a_gcj02_point_is_converted_before_the_lookup(app: TestApp) {
    app.load_demo_map().await;
    let token = app.user_token("wang", Role::GridWorker, &[]).await;
    // 50 m west of the edge between grids 01 and 02 of village 220302001001 (x = 124.2375).
    let (lon, lat) = (124.2375 - 0.0006, 43.06);
    let (glon, glat) = wgs84_to_gcj02(lon, lat);

    let as_wgs = locate(&app, &token, &format!("lon={lon}&lat={lat}")).await;
    let as_gcj = locate(&app, &token, &format!("lon={glon}&lat={glat}&crs=gcj02")).await;
    let gcj_taken_as_wgs = locate(&app, &token, &format!("lon={glon}&lat={glat}")).await;

    assert_eq!(as_wgs["grid"]["code"], "22030200100101");
    assert_eq!(as_gcj["grid"]["code"], "22030200100101");
    assert_eq!(
        gcj_taken_as_wgs["grid"]["code"], "22030200100102",
        "the shift is hundreds of metres"
    );
}

#[both_backends]
async fn the_batch_answers_every_point_in_order(app: TestApp) {
    app.load_demo_map().await;
    let token = app.user_token("wang", Role::GridWorker, &[]).await;
    let points = json!([
        { "lon": 124.21, "lat": 43.06 },
        { "lon": 100.0, "lat": 30.0 },
        { "lon": 124.48125, "lat": 43.26 },
    ]);

    let response = app
        .post("/api/v1/locate/batch", Some(&token), &points)
        .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["owners"],
        json!(["22030200100101", null, "220303002002"])
    );
}

#[both_backends]
async fn a_batch_is_limited_to_100000_valid_points(app: TestApp) {
    let token = app.user_token("wang", Role::GridWorker, &[]).await;
    let too_many: Vec<Value> = (0..100_001)
        .map(|_| json!({ "lon": 1.0, "lat": 1.0 }))
        .collect();
    let largest: Vec<Value> = (0..100_000)
        .map(|i| json!({ "lon": (i % 360) as f64 - 180.0, "lat": 1.0 }))
        .collect();

    let refused = app
        .post(
            "/api/v1/locate/batch",
            Some(&token),
            &Value::Array(too_many),
        )
        .await;
    let accepted = app
        .post("/api/v1/locate/batch", Some(&token), &Value::Array(largest))
        .await;
    let out_of_range = app
        .post(
            "/api/v1/locate/batch",
            Some(&token),
            &json!([{ "lon": 1, "lat": 91 }]),
        )
        .await;
    let single_out_of_range = app.get("/api/v1/locate?lon=200&lat=1", Some(&token)).await;
    let missing_lat = app.get("/api/v1/locate?lon=2", Some(&token)).await;

    assert_problem(refused, 422, "too_many_points").await;
    assert_eq!(accepted.status(), 200);
    assert_eq!(
        accepted.json::<Value>().await.unwrap()["owners"]
            .as_array()
            .unwrap()
            .len(),
        100_000
    );
    assert_problem(out_of_range, 400, "invalid_coordinates").await;
    assert_problem(single_out_of_range, 400, "invalid_coordinates").await;
    assert_problem(missing_lat, 400, "invalid_query").await;
}

#[both_backends]
async fn another_instance_sees_an_import_made_through_the_first(app: TestApp) {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let second = TestApp::spawn_on(app.backend, &app.database_url, |_| {}).await;
    let before = locate(&second, &gis, "lon=0.5&lat=0.5").await;
    assert_eq!(before["grid"], Value::Null);

    let map = collection(vec![rect_feature(
        "A",
        None,
        Some("grid"),
        [0.0, 0.0, 1.0, 1.0],
    )]);
    assert_eq!(
        app.post("/api/v1/grids/import", Some(&gis), &map)
            .await
            .status(),
        200
    );

    let after = locate(&second, &gis, "lon=0.5&lat=0.5").await;
    assert_eq!(after["grid"]["code"], "A");
    assert_eq!(after["map_version"], 1);
}

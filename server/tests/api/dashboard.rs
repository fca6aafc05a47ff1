//! The city screen's data: live figures in the caller's areas, and grid outlines simplified for
//! drawing a whole city, cached by the map version.

use gridsync_server::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use gridsync_test_macros::both_backends;

const GRID: &str = "22030200100101";
/// A grid of another county (铁东区).
const ELSEWHERE: &str = "22030300100103";

async fn record(app: &TestApp, token: &str, grid: &str, kind: &str) -> String {
    let (lon, lat) = crate::sync::centre(grid);
    let mut body = json!({
        "kind": kind, "title": "测试", "channel": "hotline",
        "location": { "lon": lon, "lat": lat, "accuracy_m": 5.0, "crs": "wgs84" },
    });
    if kind == "risk_inspection" {
        body["inspection"] = json!({
            "hazard_type": "fire", "risk_level": "high", "findings": "x", "rectification": "",
        });
        body.as_object_mut().unwrap().remove("channel");
    }
    let created = app.post("/api/v1/records", Some(token), &body).await;
    assert_eq!(created.status(), 201);
    created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[both_backends]
async fn the_city_screen_counts_what_is_open_in_the_callers_areas_by_grid(app: TestApp) {
    app.load_demo_map().await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let leader = app
        .user_token("li", Role::GridLeader, &["220302001001"])
        .await;
    let worker = app.user_token("wang", Role::GridWorker, &[GRID]).await;
    for _ in 0..2 {
        record(&app, &admin, GRID, "complaint").await;
    }
    record(&app, &worker, GRID, "risk_inspection").await;
    let far = record(&app, &admin, ELSEWHERE, "complaint").await;

    let city: Value = app
        .get("/api/v1/dashboard", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(city["open"], json!({ "complaints": 3, "hazards": 1 }));
    assert_eq!(city["today"], json!({ "complaints": 3, "hazards": 1 }));
    assert_eq!(
        city["grids"][GRID],
        json!({ "complaints": 2, "hazards": 1 })
    );
    assert_eq!(
        city["grids"][ELSEWHERE],
        json!({ "complaints": 1, "hazards": 0 })
    );
    assert_eq!(city["overdue"], 0);
    assert_eq!(city["latest"].as_array().unwrap().len(), 4);

    // A grid leader sees their grids only.
    let county: Value = app
        .get("/api/v1/dashboard", Some(&leader))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(county["open"], json!({ "complaints": 2, "hazards": 1 }));
    assert!(county["grids"].get(ELSEWHERE).is_none(), "{county}");
    assert!(
        county["latest"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != far.as_str())
    );

    let refused = app.get("/api/v1/dashboard", Some(&worker)).await;
    assert_problem(refused, 403, "forbidden").await;
}

#[both_backends]
async fn a_leaders_latest_changes_are_their_grids_however_busy_the_rest_of_the_city_is(
    app: TestApp,
) {
    app.load_demo_map().await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let leader = app
        .user_token("li", Role::GridLeader, &["220302001001"])
        .await;
    let mine = record(&app, &admin, GRID, "complaint").await;
    // More changes elsewhere since than the screen lists.
    for _ in 0..15 {
        record(&app, &admin, ELSEWHERE, "complaint").await;
    }

    let county: Value = app
        .get("/api/v1/dashboard", Some(&leader))
        .await
        .json()
        .await
        .unwrap();
    let city: Value = app
        .get("/api/v1/dashboard", Some(&admin))
        .await
        .json()
        .await
        .unwrap();

    let ids = |v: &Value| -> Vec<String> {
        v["latest"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&county), vec![mine.clone()]);
    assert_eq!(ids(&city).len(), 12, "the screen lists twelve");
}

#[both_backends]
async fn grid_outlines_come_simplified_in_scope_and_cached_by_map_version(app: TestApp) {
    app.load_demo_map().await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let leader = app
        .user_token("li", Role::GridLeader, &["220302001001"])
        .await;
    let all_grids: Value = app
        .get("/api/v1/grids?level=grid", Some(&admin))
        .await
        .json()
        .await
        .unwrap();

    let response = app.get("/api/v1/grids/outlines", Some(&admin)).await;
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let outlines: Value = response.json().await.unwrap();
    let features = outlines["features"].as_array().unwrap();
    assert_eq!(
        features.len(),
        all_grids["features"].as_array().unwrap().len()
    );
    for feature in features {
        let properties = feature["properties"].as_object().unwrap();
        assert_eq!(
            properties.keys().collect::<Vec<_>>(),
            ["code", "parent"],
            "only what drawing needs"
        );
        assert_eq!(feature["id"], feature["properties"]["code"]);
    }

    let again = app
        .client
        .get(app.url("/api/v1/grids/outlines"))
        .bearer_auth(&admin)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let mine: Value = app
        .get("/api/v1/grids/outlines", Some(&leader))
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> = mine["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(!codes.is_empty() && codes.iter().all(|c| c.starts_with("220302001001")));

    let bad = app
        .get("/api/v1/grids/outlines?tolerance_m=5000", Some(&admin))
        .await;
    assert_problem(bad, 400, "invalid_tolerance").await;
}

//! QGIS itself, headless (Debian's python3-qgis and its OAPIF provider), opening the OGC API
//! as a GIS officer does: Basic authentication with the account's name and password, every
//! layer read to the end, and what QGIS shows checked against the server's own answers.

use gridsync_server::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};
use gridsync_test_macros::both_backends;

/// Debian's own Python, where the QGIS bindings live (not a virtualenv's or pyenv's).
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// Runs `tests/qgis/open_layers.py` against the app and returns its report.
async fn qgis_opens(app: &TestApp, username: &str, password: &str, features: &[&str]) -> Value {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/qgis/open_layers.py");
    let output = tokio::process::Command::new(DEBIAN_PYTHON)
        .arg(&script)
        .arg(format!("{}/ogc", app.address))
        .arg(username)
        .arg(password)
        .args(features)
        .env("QT_QPA_PLATFORM", "offscreen")
        .output()
        .await
        .expect("run Debian's python3");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "QGIS could not run (./scripts/test.sh installs python3-qgis and qgis-providers): {stderr}"
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

async fn json_of(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, Some(token)).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// A hotline complaint at a point of the demo map.
async fn complaint(app: &TestApp, dispatcher: &str, lon: f64, lat: f64) {
    let body = json!({
        "kind": "complaint", "title": "路灯不亮", "category": "municipal", "channel": "hotline",
        "location": { "lon": lon, "lat": lat, "crs": "wgs84" },
    });
    let response = app.post("/api/v1/records", Some(dispatcher), &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

#[both_backends]
async fn qgis_opens_grids_regions_and_records_with_basic_auth_and_reads_an_edit(app: TestApp) {
    app.load_demo_map().await;
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let dispatcher = app.user_token("desk", Role::Dispatcher, &[]).await;
    for (lon, lat) in [(124.36, 43.17), (124.35, 43.16), (124.30, 43.10)] {
        complaint(&app, &dispatcher, lon, lat).await;
    }
    let areas = json_of(&app, "/api/v1/grids", &gis).await;
    let areas = areas["features"].as_array().unwrap().clone();
    let grids: Vec<&Value> = areas
        .iter()
        .filter(|a| a["properties"]["level"] == "grid")
        .collect();
    let records = json_of(&app, "/api/v1/records?limit=500", &gis).await;
    let records = records["records"].as_array().unwrap().len();
    let grid = grids[0]["properties"]["code"].as_str().unwrap().to_string();
    let asked = format!("grids:{grid}");

    let report = qgis_opens(&app, "gis", PASSWORD, &[&asked]).await;

    let expected = [
        ("grids", grids.len()),
        ("regions", areas.len() - grids.len()),
        ("records", records),
    ];
    for (collection, count) in expected {
        let layer = &report["layers"][collection];
        assert_eq!(layer["valid"], true, "{collection}: {layer}");
        assert_eq!(layer["crs"], "EPSG:4326", "{collection}");
        assert_eq!(layer["count_before_reading"], count, "{collection}");
        assert_eq!(layer["read"], count, "{collection}");
        assert_eq!(layer["invalid_geometries"], 0, "{collection}");
    }
    assert!(records > 0 && grids.len() > 1);
    let seen = &report["features"][&asked]["attributes"];
    assert_eq!(seen["code"], grid.as_str());

    // The grid is renamed through the REST API; QGIS opening the layer again reads the new name.
    let renamed = app
        .client
        .patch(app.url(&format!("/api/v1/grids/{grid}")))
        .bearer_auth(&gis)
        .header("content-type", "application/merge-patch+json")
        .body(json!({ "properties": { "name": "东风社区第一网格（新）" } }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200, "{}", renamed.text().await.unwrap());
    let again = qgis_opens(&app, "gis", PASSWORD, &[&asked]).await;
    assert_eq!(
        again["features"][&asked]["attributes"]["name"],
        "东风社区第一网格（新）"
    );
}

#[both_backends]
async fn qgis_with_a_wrong_password_opens_nothing(app: TestApp) {
    app.load_demo_map().await;
    app.add_user("gis", Role::Gis, &[]).await;

    let report = qgis_opens(&app, "gis", "not-the-password", &[]).await;

    for collection in ["grids", "regions", "records"] {
        assert_eq!(report["layers"][collection]["valid"], false, "{collection}");
    }
}

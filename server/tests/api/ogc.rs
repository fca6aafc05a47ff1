//! OGC API – Features: what QGIS and OWSLib read and write, over real HTTP; and OWSLib itself
//! (from PyPI, in the repository's `.venv`) as the client.

use gridsync_server::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, collection, rect_feature};
use gridsync_test_macros::both_backends;

fn village() -> Value {
    collection(vec![
        rect_feature("V", None, Some("village"), [124.30, 43.10, 124.33, 43.12]),
        rect_feature("A", Some("V"), None, [124.30, 43.10, 124.31, 43.12]),
        rect_feature("B", Some("V"), None, [124.31, 43.10, 124.32, 43.12]),
        rect_feature("C", Some("V"), None, [124.32, 43.10, 124.33, 43.12]),
    ])
}

async fn setup(app: &TestApp) -> String {
    let gis = app.user_token("gis", Role::Gis, &[]).await;
    let response = app
        .post("/api/v1/grids/import", Some(&gis), &village())
        .await;
    assert_eq!(response.status(), 200);
    gis
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "{}", response.url());
    response.json().await.unwrap()
}

#[both_backends]
async fn the_landing_page_and_conformance_are_public_and_the_data_is_not(app: TestApp) {
    let landing = json_of(app.get("/ogc/", None).await).await;
    let rels: Vec<&str> = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert!(
        rels.contains(&"conformance") && rels.contains(&"data") && rels.contains(&"service-desc")
    );
    let conformance = json_of(app.get("/ogc/conformance", None).await).await;
    let classes = conformance["conformsTo"].as_array().unwrap();
    assert!(classes.contains(&json!(
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
    )));
    assert!(classes.contains(&json!(
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"
    )));
    // The API definition as QGIS asks for it: OpenAPI 3.0 in JSON, its limit the server's.
    let api = app
        .client
        .get(app.url("/ogc/api"))
        .header(
            "accept",
            "application/vnd.oai.openapi+json;version=3.0, application/json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.headers()["content-type"],
        "application/vnd.oai.openapi+json;version=3.0"
    );
    let api: Value = api.json().await.unwrap();
    assert!(api["openapi"].as_str().unwrap().starts_with("3.0."));
    assert_eq!(api["servers"][0]["url"], format!("{}/ogc", app.address));
    let limit = &api["components"]["parameters"]["limit"]["schema"];
    assert_eq!(limit["maximum"], 10_000);
    assert_eq!(limit["default"], 100);
    for path in [
        "/collections/grids/items",
        "/collections/records/items/{featureId}",
    ] {
        assert!(api["paths"][path].is_object(), "{path}");
    }
    // YAML on request, the same document.
    let yaml = app.get("/ogc/api?f=yaml", None).await;
    assert_eq!(
        yaml.headers()["content-type"],
        "application/vnd.oai.openapi;version=3.0"
    );
    let yaml: Value = serde_norway::from_str(&yaml.text().await.unwrap()).unwrap();
    assert_eq!(yaml, api);
    assert_problem(
        app.get("/ogc/collections", None).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        app.get("/ogc/collections/grids/items", None).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[both_backends]
async fn items_page_by_links_filter_by_bbox_and_read_the_map_as_of_a_time(app: TestApp) {
    let gis = setup(&app).await;
    let collections = json_of(app.get("/ogc/collections", Some(&gis)).await).await;
    let ids: Vec<&str> = collections["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["grids", "regions", "records"]);
    assert_eq!(
        collections["collections"][0]["extent"]["spatial"]["bbox"][0],
        json!([124.30, 43.10, 124.33, 43.12])
    );

    let first = json_of(
        app.get("/ogc/collections/grids/items?limit=2", Some(&gis))
            .await,
    )
    .await;
    assert_eq!(first["numberMatched"], 3);
    assert_eq!(first["numberReturned"], 2);
    let next = first["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .expect("next link");
    let next = reqwest::Client::new()
        .get(next["href"].as_str().unwrap())
        .bearer_auth(&gis)
        .send()
        .await
        .unwrap();
    let second = json_of(next).await;
    assert_eq!(second["features"][0]["id"], "C");
    assert!(
        second["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["rel"] != "next")
    );

    let east = json_of(
        app.get(
            "/ogc/collections/grids/items?bbox=124.325,43.11,124.33,43.115",
            Some(&gis),
        )
        .await,
    )
    .await;
    let codes: Vec<&str> = east["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["C"]);
    let regions = json_of(app.get("/ogc/collections/regions/items", Some(&gis)).await).await;
    assert_eq!(regions["features"][0]["id"], "V");
    assert_eq!(regions["numberMatched"], 1);

    let before = gridsync_server::routes::common::rfc3339(sync_core::now_ms() + 5);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let retire = app
        .send_json(
            reqwest::Method::DELETE,
            "/ogc/collections/grids/items/C",
            Some(&gis),
            &json!(null),
        )
        .await;
    assert_eq!(retire.status(), 200);
    let now = json_of(app.get("/ogc/collections/grids/items", Some(&gis)).await).await;
    assert_eq!(now["numberMatched"], 2);
    let then = json_of(
        app.get(
            &format!("/ogc/collections/grids/items?datetime={before}"),
            Some(&gis),
        )
        .await,
    )
    .await;
    assert_eq!(then["numberMatched"], 3);
    let interval = json_of(
        app.get(
            &format!("/ogc/collections/grids/items?datetime=../{before}"),
            Some(&gis),
        )
        .await,
    )
    .await;
    assert_eq!(interval["numberMatched"], 3);
}

#[both_backends]
async fn gcj02_is_served_on_request_and_bad_parameters_are_named(app: TestApp) {
    let gis = setup(&app).await;
    let gcj = app
        .get(
            "/ogc/collections/grids/items/A?crs=urn:gridsync:def:crs:GCJ02",
            Some(&gis),
        )
        .await;
    assert_eq!(gcj.status(), 200);
    assert_eq!(gcj.headers()["content-crs"], "<urn:gridsync:def:crs:GCJ02>");
    assert_eq!(gcj.headers()["etag"], "\"1\"");
    let gcj: Value = gcj.json().await.unwrap();
    let x = gcj["geometry"]["coordinates"][0][0][0].as_f64().unwrap();
    let (expected, _) = gridsync_server::coords::wgs84_to_gcj02(124.30, 43.10);
    assert!((x - expected).abs() < 5e-8, "answers carry 7 decimals");
    let wgs = app.get("/ogc/collections/grids/items/A", Some(&gis)).await;
    assert_eq!(
        wgs.headers()["content-crs"],
        "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    );

    assert_problem(
        app.get("/ogc/collections/grids/items?crs=EPSG:3857", Some(&gis))
            .await,
        400,
        "unsupported_crs",
    )
    .await;
    assert_problem(
        app.get("/ogc/collections/grids/items?limit=0", Some(&gis))
            .await,
        400,
        "invalid_limit",
    )
    .await;
    assert_problem(
        app.get("/ogc/collections/grids/items?colour=red", Some(&gis))
            .await,
        400,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get("/ogc/collections/grids/items?datetime=soon", Some(&gis))
            .await,
        400,
        "invalid_datetime",
    )
    .await;
    assert_problem(
        app.get("/ogc/collections/lakes/items", Some(&gis)).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get("/ogc/collections/regions/items/A", Some(&gis))
            .await,
        404,
        "not_found",
    )
    .await;
}

#[both_backends]
async fn transactions_create_replace_update_and_delete_grids_for_gis_staff_only(app: TestApp) {
    let gis = setup(&app).await;
    let worker = app.user_token("worker", Role::GridWorker, &["A"]).await;
    // Make room: shrink C, then create D beside it.
    let shrunk = rect_feature("C", Some("V"), None, [124.32, 43.10, 124.325, 43.12]);
    let put = app
        .client
        .put(app.url("/ogc/collections/grids/items/C"))
        .bearer_auth(&gis)
        .header("if-match", "\"1\"")
        .json(&shrunk)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
    let stale = app
        .client
        .put(app.url("/ogc/collections/grids/items/C"))
        .bearer_auth(&gis)
        .header("if-match", "\"1\"")
        .json(&shrunk)
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "version_mismatch").await;

    let d = rect_feature("D", Some("V"), None, [124.325, 43.10, 124.33, 43.12]);
    let created = app
        .post("/ogc/collections/grids/items", Some(&gis), &d)
        .await;
    assert_eq!(created.status(), 201);
    assert!(
        created.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/ogc/collections/grids/items/D")
    );
    let d_now = json_of(app.get("/ogc/collections/grids/items/D", Some(&gis)).await).await;
    assert_eq!(d_now["properties"]["level"], "grid");
    assert_eq!(d_now["properties"]["parent"], "V");

    let patch = json!({ "properties": { "name": "东区" } });
    let patched = app
        .send_json(
            reqwest::Method::PATCH,
            "/ogc/collections/grids/items/D",
            Some(&gis),
            &patch,
        )
        .await;
    assert_eq!(patched.status(), 200);
    let after = json_of(app.get("/ogc/collections/grids/items/D", Some(&gis)).await).await;
    assert_eq!(after["properties"]["name"], "东区");

    assert_problem(
        app.post("/ogc/collections/grids/items", Some(&worker), &d)
            .await,
        403,
        "forbidden",
    )
    .await;
    let region_as_grid = rect_feature(
        "E",
        Some("V"),
        Some("village"),
        [124.30, 43.10, 124.301, 43.101],
    );
    assert_problem(
        app.post("/ogc/collections/grids/items", Some(&gis), &region_as_grid)
            .await,
        422,
        "wrong_collection",
    )
    .await;
    assert_problem(
        app.post("/ogc/collections/records/items", Some(&gis), &d)
            .await,
        409,
        "read_only_collection",
    )
    .await;

    let deleted = app
        .send_json(
            reqwest::Method::DELETE,
            "/ogc/collections/grids/items/D",
            Some(&gis),
            &json!(null),
        )
        .await;
    assert_eq!(deleted.status(), 200);
    assert_problem(
        app.get("/ogc/collections/grids/items/D", Some(&gis)).await,
        404,
        "not_found",
    )
    .await;
}

#[both_backends]
async fn records_are_points_in_the_callers_scope_paged_by_cursor(app: TestApp) {
    setup(&app).await;
    let dispatcher = app.user_token("hotline", Role::Dispatcher, &[]).await;
    let worker = app.user_token("worker", Role::GridWorker, &["A"]).await;
    for (i, lon) in [124.301, 124.302, 124.315].iter().enumerate() {
        let body = json!({ "kind": "complaint", "title": format!("r{i}"), "channel": "hotline",
            "location": { "lon": lon, "lat": 43.11, "crs": "wgs84" } });
        assert_eq!(
            app.post("/api/v1/records", Some(&dispatcher), &body)
                .await
                .status(),
            201
        );
    }
    let all = json_of(
        app.get("/ogc/collections/records/items?limit=2", Some(&dispatcher))
            .await,
    )
    .await;
    assert_eq!(all["numberReturned"], 2);
    assert_eq!(all["features"][0]["geometry"]["type"], "Point");
    let next = all["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .expect("next");
    let rest = json_of(
        reqwest::Client::new()
            .get(next["href"].as_str().unwrap())
            .bearer_auth(&dispatcher)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(rest["numberReturned"], 1);

    let mine = json_of(
        app.get("/ogc/collections/records/items", Some(&worker))
            .await,
    )
    .await;
    assert_eq!(
        mine["numberReturned"], 2,
        "a worker of A sees A's records only"
    );
    let east = json_of(
        app.get(
            "/ogc/collections/records/items?bbox=124.31,43.10,124.32,43.12",
            Some(&dispatcher),
        )
        .await,
    )
    .await;
    assert_eq!(east["numberReturned"], 1);
    let id = east["features"][0]["id"].as_str().unwrap();
    let one = json_of(
        app.get(
            &format!("/ogc/collections/records/items/{id}"),
            Some(&dispatcher),
        )
        .await,
    )
    .await;
    assert_eq!(one["properties"]["owner_grid"], "B");
    assert_problem(
        app.get(
            &format!("/ogc/collections/records/items/{id}"),
            Some(&worker),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

/// The repository's virtual environment with OWSLib (`scripts/test.sh` makes it).
fn python() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run ./scripts/test.sh (it installs tests/python/requirements.txt)",
        python.display()
    );
    python
}

#[both_backends]
async fn owslib_reads_collections_and_items_and_round_trips_a_transaction(app: TestApp) {
    let gis = setup(&app).await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/ogc_client.py");
    let output = tokio::process::Command::new(python())
        .arg(&script)
        .arg(format!("{}/ogc/", app.address))
        .arg(&gis)
        .output()
        .await
        .expect("run python");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "OWSLib client failed: {stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("the client prints JSON");

    assert_eq!(
        report["collections"],
        json!(["grids", "regions", "records"])
    );
    assert_eq!(report["grids_in_bbox"], json!(["B"]));
    assert_eq!(report["item_a_name"], "area A");
    assert_eq!(report["first_page"], 2);
    assert_eq!(report["created"], true);
    assert_eq!(report["updated_name"], "新网格");
    assert_eq!(report["deleted"], true);
    // What OWSLib wrote is what the server holds: E created, renamed, then retired.
    let history = app.store.area_history("E").await.unwrap();
    let operations: Vec<&str> = history.iter().map(|v| v.operation.as_str()).collect();
    assert_eq!(operations, ["create", "replace", "retire"]);
    assert_eq!(history[1].area.name, "新网格");
    assert!(app.store.area("E").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_credentials_are_verified_once_and_wrong_ones_count_against_the_login_limit() {
    for backend in [
        crate::helpers::Backend::Sqlite,
        crate::helpers::Backend::Postgres,
    ] {
        let app = TestApp::spawn_with(backend, |s| s.login_rate_per_minute = 3).await;
        app.add_user("gis", Role::Gis, &[]).await;
        let basic = |password: &str| {
            app.client
                .get(app.url("/ogc/collections"))
                .basic_auth("gis", Some(password))
                .send()
        };

        // Ten requests with the right pair: one verification, so a limit of 3 never bites.
        for _ in 0..10 {
            assert_eq!(basic(crate::helpers::PASSWORD).await.unwrap().status(), 200);
        }
        let wrong = basic("guess").await.unwrap();
        let challenges: Vec<&str> = wrong
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert!(
            challenges.iter().any(|c| c.starts_with("Basic realm=")),
            "{challenges:?}"
        );
        assert_problem(wrong, 401, "unauthenticated").await;
        assert_problem(basic("guess again").await.unwrap(), 401, "unauthenticated").await;
        assert_problem(basic("third guess").await.unwrap(), 429, "rate_limited").await;
        // The verified pair goes on working; Basic is for the OGC API only.
        assert_eq!(basic(crate::helpers::PASSWORD).await.unwrap().status(), 200);
        let rest = app
            .client
            .get(app.url("/api/v1/grids"))
            .basic_auth("gis", Some(crate::helpers::PASSWORD))
            .send()
            .await
            .unwrap();
        assert_problem(rest, 401, "unauthenticated").await;
    }
}

#[both_backends]
async fn a_new_password_or_deactivation_ends_basic_access_at_once(app: TestApp) {
    let admin = app.user_token("root", Role::Admin, &[]).await;
    app.add_user("gis", Role::Gis, &[]).await;
    let with = |password: &'static str| {
        app.client
            .get(app.url("/ogc/collections/grids/items"))
            .basic_auth("gis", Some(password))
            .send()
    };
    assert_eq!(with(crate::helpers::PASSWORD).await.unwrap().status(), 200);

    let changed = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/admin/users/gis",
            Some(&admin),
            &json!({ "password": "a-new-password" }),
        )
        .await;
    assert_eq!(changed.status(), 200);

    assert_problem(
        with(crate::helpers::PASSWORD).await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(with("a-new-password").await.unwrap().status(), 200);
    let deactivated = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/admin/users/gis",
            Some(&admin),
            &json!({ "active": false }),
        )
        .await;
    assert_eq!(deactivated.status(), 200);
    assert_problem(
        with("a-new-password").await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
}

#[both_backends]
async fn every_page_says_how_many_match_and_a_limit_beyond_the_maximum_is_served_as_it(
    app: TestApp,
) {
    let gis = setup(&app).await;
    let desk = app.user_token("desk", Role::Dispatcher, &[]).await;
    let worker = app.user_token("wang", Role::GridWorker, &["A"]).await;
    for (i, lon) in [124.305, 124.306, 124.315, 124.325].into_iter().enumerate() {
        let body = json!({
            "kind": "complaint", "title": format!("第{i}件"), "category": "municipal",
            "channel": "hotline", "location": { "lon": lon, "lat": 43.11, "crs": "wgs84" },
        });
        assert_eq!(
            app.post("/api/v1/records", Some(&desk), &body)
                .await
                .status(),
            201
        );
    }

    let first = json_of(
        app.get("/ogc/collections/records/items?limit=1", Some(&desk))
            .await,
    )
    .await;
    let next = first["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_string();
    let second = json_of(
        app.client
            .get(&next)
            .bearer_auth(&desk)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let scoped = json_of(
        app.get("/ogc/collections/records/items", Some(&worker))
            .await,
    )
    .await;
    let huge = json_of(
        app.get("/ogc/collections/grids/items?limit=1000000", Some(&gis))
            .await,
    )
    .await;

    assert_eq!(
        (
            first["numberMatched"].clone(),
            first["numberReturned"].clone()
        ),
        (json!(4), json!(1))
    );
    assert_eq!(
        (
            second["numberMatched"].clone(),
            second["numberReturned"].clone()
        ),
        (json!(4), json!(1))
    );
    // A grid worker of A matches only the records in A.
    assert_eq!(
        (
            scoped["numberMatched"].clone(),
            scoped["numberReturned"].clone()
        ),
        (json!(2), json!(2))
    );
    assert_eq!(
        (
            huge["numberMatched"].clone(),
            huge["numberReturned"].clone()
        ),
        (json!(3), json!(3))
    );
    assert_problem(
        app.get("/ogc/collections/grids/items?limit=0", Some(&desk))
            .await,
        400,
        "invalid_limit",
    )
    .await;
}

#[both_backends]
async fn options_answers_allow_by_role_and_the_edits_qgis_then_sends_go_through(app: TestApp) {
    let gis = setup(&app).await;
    app.add_user("wang", Role::GridWorker, &["A"]).await;
    let send = |method: &str, path: &str, user: Option<&str>| {
        let mut request = app.client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(path),
        );
        if let Some(user) = user {
            request = request.basic_auth(user, Some(crate::helpers::PASSWORD));
        }
        request
    };
    let allow = |response: &reqwest::Response| {
        assert_eq!(response.status(), 204, "{}", response.url());
        response.headers()["allow"].to_str().unwrap().to_string()
    };

    // What QGIS 3.30+ asks before it offers editing: OPTIONS on the items and on one item
    // (a made-up id when the layer is empty).
    let items = send("OPTIONS", "/ogc/collections/grids/items", Some("gis"))
        .send()
        .await
        .unwrap();
    let item = send(
        "OPTIONS",
        "/ogc/collections/grids/items/unknown_id",
        Some("gis"),
    )
    .send()
    .await
    .unwrap();
    let records = send("OPTIONS", "/ogc/collections/records/items", Some("gis"))
        .send()
        .await
        .unwrap();
    let worker = send("OPTIONS", "/ogc/collections/grids/items/A", Some("wang"))
        .send()
        .await
        .unwrap();
    assert_eq!(allow(&items), "GET, POST, OPTIONS");
    assert_eq!(allow(&item), "GET, PUT, PATCH, DELETE, OPTIONS");
    assert_eq!(allow(&records), "GET, OPTIONS");
    assert_eq!(allow(&worker), "GET, OPTIONS");
    let anonymous = send("OPTIONS", "/ogc/collections/grids/items", None)
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthenticated").await;
    let nowhere = send("OPTIONS", "/ogc/collections/roads/items", Some("gis"))
        .send()
        .await
        .unwrap();
    assert_problem(nowhere, 404, "not_found").await;

    // Then the edits, with the ETag QGIS read: replace C's name, retire it, create it again.
    let read = send("GET", "/ogc/collections/grids/items/C", Some("gis"))
        .send()
        .await
        .unwrap();
    let etag = read.headers()["etag"].to_str().unwrap().to_string();
    let mut c: Value = read.json().await.unwrap();
    c["properties"]["name"] = json!("第三网格");
    let replaced = send("PUT", "/ogc/collections/grids/items/C", Some("gis"))
        .header("if-match", &etag)
        .header("content-type", "application/geo+json")
        .body(c.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200, "{}", replaced.text().await.unwrap());
    let stale = send("DELETE", "/ogc/collections/grids/items/C", Some("gis"))
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "version_mismatch").await;
    let rest = json_of(app.get("/api/v1/grids/C", Some(&gis)).await).await;
    assert_eq!(rest["properties"]["name"], "第三网格");
    let fresh = app.get("/api/v1/grids/C", Some(&gis)).await;
    let fresh = fresh.headers()["etag"].to_str().unwrap().to_string();
    let retired = send("DELETE", "/ogc/collections/grids/items/C", Some("gis"))
        .header("if-match", &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(retired.status(), 200, "{}", retired.text().await.unwrap());
    assert_eq!(app.get("/api/v1/grids/C", Some(&gis)).await.status(), 404);
    let created = send("POST", "/ogc/collections/grids/items", Some("gis"))
        .header("content-type", "application/geo+json")
        .body(c.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(
        created.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/ogc/collections/grids/items/C")
    );
    let back = json_of(app.get("/api/v1/grids/C", Some(&gis)).await).await;
    assert_eq!(back["properties"]["parent"], "V");
    // A grid worker's edit is refused whatever QGIS might try.
    let refused = send("DELETE", "/ogc/collections/grids/items/A", Some("wang"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

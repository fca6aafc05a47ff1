use gridsync_server::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_open311_error, assert_problem};
use gridsync_test_macros::both_backends;

#[both_backends]
async fn unknown_routes_and_methods_answer_a_problem_document(app: TestApp) {
    let token = app.user_token("wang", Role::GridWorker, &[]).await;
    let unknown = app.get("/api/v1/nothing-here", Some(&token)).await;
    let wrong_method = app
        .client
        .delete(app.url("/api/v1/grids"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let open311_wrong_method = app
        .client
        .delete(app.url("/open311/v2/requests.json"))
        .send()
        .await
        .unwrap();
    let nowhere = app.get("/nothing-here", None).await;

    assert_problem(unknown, 404, "not_found").await;
    assert_eq!(wrong_method.headers()["allow"], "GET, POST");
    assert_problem(wrong_method, 405, "method_not_allowed").await;
    assert_eq!(open311_wrong_method.headers()["allow"], "GET, POST");
    assert_open311_error(open311_wrong_method, 405, "method_not_allowed").await;
    assert_problem(nowhere, 404, "not_found").await;
}

#[both_backends]
async fn a_bad_token_is_401_before_anything_else_about_the_request_is_judged(app: TestApp) {
    for token in [None, Some("gst_not-a-token")] {
        let mut wrong_type = app
            .client
            .post(app.url("/api/v1/records"))
            .header("content-type", "text/plain")
            .body("hello");
        let mut bad_query = app.client.get(app.url("/api/v1/records?limit=many"));
        let mut bad_id = app.client.get(app.url("/api/v1/records/not-a-uuid"));
        let mut unknown = app.client.get(app.url("/api/v1/nothing-here"));
        if let Some(token) = token {
            wrong_type = wrong_type.bearer_auth(token);
            bad_query = bad_query.bearer_auth(token);
            bad_id = bad_id.bearer_auth(token);
            unknown = unknown.bearer_auth(token);
        }
        for request in [wrong_type, bad_query, bad_id, unknown] {
            let response = request.send().await.unwrap();
            assert_problem(response, 401, "unauthenticated").await;
        }
    }
}

#[both_backends]
async fn malformed_json_and_wrong_media_types_are_4xx_problems(app: TestApp) {
    let broken = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"username\":")
        .send()
        .await
        .unwrap();
    let unknown_field = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "a", "password": "b", "extra": 1 }),
        )
        .await;
    let text = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();

    assert_problem(broken, 400, "invalid_json").await;
    assert_problem(unknown_field, 400, "invalid_json").await;
    assert_problem(text, 415, "unsupported_media_type").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused_with_413_before_it_is_parsed() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_with(backend, |s| s.max_body_bytes = 1024).await;
        let token = app.user_token("gis", Role::Gis, &[]).await;
        let big: Vec<Value> = (0..1000)
            .map(|_| json!({ "lon": 1.0, "lat": 1.0 }))
            .collect();

        let batch = app
            .post("/api/v1/locate/batch", Some(&token), &Value::Array(big))
            .await;
        let import = app
            .client
            .post(app.url("/api/v1/grids/import"))
            .bearer_auth(&token)
            .body(vec![b' '; 4096])
            .send()
            .await
            .unwrap();

        assert_problem(batch, 413, "payload_too_large").await;
        assert_problem(import, 413, "payload_too_large").await;

        // A photo posted whole and a sync request are held to the same limit, and nothing of
        // them is kept.
        let worker = app.user_token("wang", Role::GridWorker, &[]).await;
        let photo = crate::sync::jpeg(4096);
        let sha256 = sync_core::sha256_hex(&photo);
        let blob = app
            .client
            .post(app.url("/api/v1/blobs"))
            .bearer_auth(&worker)
            .header("content-type", "application/octet-stream")
            .body(photo)
            .send()
            .await
            .unwrap();
        let sync = app
            .client
            .post(app.url("/api/v1/sync"))
            .bearer_auth(&worker)
            .header("x-gridsync-device", "phone-1")
            .header("content-type", "application/vnd.gridsync.sync")
            .body(vec![0u8; 4096])
            .send()
            .await
            .unwrap();

        assert_problem(blob, 413, "payload_too_large").await;
        assert_problem(sync, 413, "payload_too_large").await;
        assert!(app.store.blob_state(&sha256).await.unwrap().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_public_intake_beyond_their_rate_get_429_with_retry_after() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_with(backend, |s| {
            s.login_rate_per_minute = 3;
            s.intake_rate_per_minute = 2;
        })
        .await;
        app.add_user("wang", Role::GridWorker, &[]).await;
        let guess = json!({ "username": "wang", "password": "guess" });
        for _ in 0..3 {
            assert_eq!(
                app.post("/api/v1/auth/login", None, &guess).await.status(),
                401
            );
        }

        let limited = app.post("/api/v1/auth/login", None, &guess).await;

        assert_eq!(limited.status(), 429);
        let retry_after: u64 = limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=21).contains(&retry_after), "{retry_after}");
        assert_problem(limited, 429, "rate_limited").await;
        let with_the_right_password = app
            .post(
                "/api/v1/auth/login",
                None,
                &json!({ "username": "wang", "password": crate::helpers::PASSWORD }),
            )
            .await;
        assert_problem(with_the_right_password, 429, "rate_limited").await;

        // The public intake counts separately: two complaints (here refused for their
        // category), then the third is turned away, through either door.
        let complaint =
            json!({ "category": "ufo", "description": "x", "lon": 124.35, "lat": 43.17 });
        for _ in 0..2 {
            assert_eq!(
                app.post("/api/v1/public/complaints", None, &complaint)
                    .await
                    .status(),
                422
            );
        }
        let form = app
            .post("/api/v1/public/complaints", None, &complaint)
            .await;
        let open311 = app
            .client
            .post(app.url("/open311/v2/requests.json"))
            .form(&[
                ("service_code", "ufo"),
                ("lat", "43.17"),
                ("long", "124.35"),
            ])
            .send()
            .await
            .unwrap();
        assert!(open311.headers().contains_key("retry-after"));
        assert_problem(form, 429, "rate_limited").await;
        assert_open311_error(open311, 429, "rate_limited").await;
    }
}

#[both_backends]
async fn health_and_metrics_answer_without_a_token(app: TestApp) {
    let token = app.user_token("wang", Role::GridWorker, &[]).await;
    app.get("/api/v1/locate?lon=1&lat=1", Some(&token)).await;

    let health = app.get("/healthz", None).await;
    let anonymous = app.get("/metrics", None).await;
    let by_worker = app.get("/metrics", Some(&token)).await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let metrics = app.get("/metrics", Some(&admin)).await;

    assert_problem(anonymous, 401, "unauthenticated").await;
    assert_problem(by_worker, 403, "forbidden").await;
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(
        health["database"],
        match app.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    );
    let text = metrics.text().await.unwrap();
    assert!(text.contains("gridsync_located_points_total 1"), "{text}");
    assert!(text.contains("gridsync_logins_total 2"), "{text}");
    assert!(
        text.contains("gridsync_http_responses_total{class=\"2xx\"}"),
        "{text}"
    );
}

/// Prometheus's own linter passes the classic text, and Prometheus's `Accept` gets OpenMetrics.
#[tokio::test]
async fn promtool_passes_the_metrics_and_prometheus_gets_openmetrics() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    // The scraper's own token, as Prometheus would send it.
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.metrics_token = Some("scrape-secret".into());
    })
    .await;
    app.get("/healthz", None).await;
    let text = app
        .get("/metrics", Some("scrape-secret"))
        .await
        .text()
        .await
        .unwrap();
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; .ci/run installs it)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let openmetrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-secret")
        .header(
            "accept",
            "application/openmetrics-text; version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .unwrap();
    let media = openmetrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(media.starts_with("application/openmetrics-text"), "{media}");
    assert!(openmetrics.text().await.unwrap().ends_with("# EOF\n"));
}

#[both_backends]
async fn a_body_is_read_as_the_spec_writes_it_not_as_serde_would_also_take_it(app: TestApp) {
    let admin = app.user_token("root", Role::Admin, &[]).await;
    app.add_user("desk", Role::Dispatcher, &[]).await;
    let record_id = uuid::Uuid::now_v7();

    // `null` is not a boolean, an absent member is not `null`, an array is not an object.
    let null_active = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/admin/users/desk",
            Some(&admin),
            &json!({ "active": null }),
        )
        .await;
    let no_department = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/admin/users/desk/department",
            Some(&admin),
            &json!({}),
        )
        .await;
    let positional_contact = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/records/{record_id}/complainant"),
            Some(&admin),
            &json!([null, null]),
        )
        .await;
    // Open311: `service_request_id` overrides the other filters, which are still checked.
    let bad_date = app
        .get(
            &format!("/open311/v2/requests.json?service_request_id={record_id}&start_date=soon"),
            None,
        )
        .await;

    assert_problem(null_active, 400, "invalid_json").await;
    assert_problem(no_department, 400, "invalid_json").await;
    assert_problem(positional_contact, 400, "invalid_json").await;
    assert_open311_error(bad_date, 400, "invalid_date").await;
    let desk = app.get("/api/v1/admin/users/desk", Some(&admin)).await;
    let desk: Value = desk.json().await.unwrap();
    assert_eq!(desk["active"], true);
}

/// The value of one sample in the metrics text (0 when absent).
fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[both_backends]
async fn an_upload_the_link_cuts_is_counted_as_cut_not_as_a_client_error(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let worker = app.user_token("wang", Role::GridWorker, &[]).await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let metrics = || async {
        app.get("/metrics", Some(&admin))
            .await
            .text()
            .await
            .unwrap()
    };
    let before = metrics().await;

    // A phone sends the head of a sync request and 100 of its 5,000 bytes, then the link drops.
    let address = app.address.trim_start_matches("http://").to_string();
    let mut link = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/sync HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {worker}\r\n\
         x-gridsync-device: phone-1\r\ncontent-type: application/vnd.gridsync.sync\r\n\
         content-length: 5000\r\n\r\n"
    );
    link.write_all(head.as_bytes()).await.unwrap();
    link.write_all(&[0u8; 100]).await.unwrap();
    link.shutdown().await.unwrap();
    // Whatever the server answers into the half-closed link, it has answered once this ends.
    let mut answer = Vec::new();
    let _ = link.read_to_end(&mut answer).await;

    let after = metrics().await;
    let cut = "gridsync_cut_request_bodies_total";
    let client_errors = "gridsync_http_responses_total{class=\"4xx\"}";
    assert_eq!(sample(&after, cut) - sample(&before, cut), 1.0, "{after}");
    assert_eq!(
        sample(&after, client_errors),
        sample(&before, client_errors)
    );
}

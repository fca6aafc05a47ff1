use gridsync_server::domain::Role;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_problem};

both_backends! {
    async fn unknown_routes_and_methods_answer_a_problem_document(app: TestApp) {
        let unknown = app.get("/api/v1/nothing-here", None).await;
        let wrong_method = app.client.delete(app.url("/api/v1/grids")).send().await.unwrap();

        assert_problem(unknown, 404, "not_found").await;
        assert_problem(wrong_method, 404, "not_found").await;
    }
}

both_backends! {
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
            .post("/api/v1/auth/login", None, &json!({ "username": "a", "password": "b", "extra": 1 }))
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
    }
}

both_backends! {
    async fn health_and_metrics_answer_without_a_token(app: TestApp) {
        let token = app.user_token("wang", Role::GridWorker, &[]).await;
        app.get("/api/v1/locate?lon=1&lat=1", Some(&token)).await;

        let health = app.get("/healthz", None).await;
        let metrics = app.get("/metrics", None).await;

        assert_eq!(health.status(), 200);
        let health: Value = health.json().await.unwrap();
        assert_eq!(health["status"], "ok");
        assert_eq!(health["database"], match app.backend { Backend::Sqlite => "sqlite", Backend::Postgres => "postgres" });
        let text = metrics.text().await.unwrap();
        assert!(text.contains("gridsync_located_points_total 1"), "{text}");
        assert!(text.contains("gridsync_logins_total 1"), "{text}");
        assert!(text.contains("gridsync_http_responses_total{class=\"2xx\"}"), "{text}");
    }
}

use std::process::Command;

use gridsync_server::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, fresh_database};

fn server_binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_add_bootstraps_an_admin_who_can_then_log_in() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (url, _guard) = fresh_database(backend).await;

        let output = server_binary()
            .args([
                "user",
                "add",
                "--username",
                "boss",
                "--password",
                "boss-password",
            ])
            .args(["--role", "admin", "--area", "2203", "--database-url", &url])
            .env_remove("GRIDSYNC_DATABASE_URL")
            .output()
            .expect("run gridsync-server");

        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let app = TestApp::spawn_on(backend, &url, |_| {}).await;
        let login = app
            .post(
                "/api/v1/auth/login",
                None,
                &json!({ "username": "boss", "password": "boss-password" }),
            )
            .await;
        assert_eq!(login.status(), 200);
        let user: Value = login.json().await.unwrap();
        assert_eq!(user["user"]["role"], Role::Admin.as_str());
        assert_eq!(user["user"]["areas"], json!(["2203"]));
    }
}

#[test]
fn user_add_refuses_a_short_password_and_an_unknown_role() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());

    let short = server_binary()
        .args([
            "user",
            "add",
            "--username",
            "a",
            "--password",
            "short",
            "--role",
            "gis",
        ])
        .args(["--database-url", &url])
        .output()
        .unwrap();
    let unknown_role = server_binary()
        .args([
            "user",
            "add",
            "--username",
            "a",
            "--password",
            "long-enough",
            "--role",
            "mayor",
        ])
        .args(["--database-url", &url])
        .output()
        .unwrap();

    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("8 to 1024 characters"));
    assert!(!unknown_role.status.success());
    assert!(String::from_utf8_lossy(&unknown_role.stderr).contains("mayor"));
}

/// Kills the spawned server even when an assertion fails.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_starts_a_server_a_newcomer_can_log_into_and_query() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let mut child = server_binary()
        .args([
            "--demo",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--database-url",
            &url,
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start gridsync-server");
    let stdout = child.stdout.take().unwrap();
    let _guard = ChildGuard(child);
    let line = BufReader::new(stdout)
        .lines()
        .next()
        .expect("a line")
        .expect("utf-8");
    let address = line.rsplit(' ').next().unwrap().trim().to_string();
    assert!(address.starts_with("http://127.0.0.1:"), "{line}");
    let client = reqwest::Client::new();

    let login: Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({ "username": "worker", "password": "worker-demo" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("token");
    let located: Value = client
        .get(format!("{address}/api/v1/locate?lon=124.21&lat=43.06"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(located["grid"]["code"], "22030200100101");
}

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

/// Runs the real binary at the most verbose log level, sends it requests carrying secrets in
/// every place a client puts them, and reads everything it printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_carries_a_password_token_api_key_or_contact() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("logs.db").display());
    // Files, not pipes: a trace-level server never waits for a reader.
    let log = dir.path().join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .args(["--database-url", &url, "serve", "--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "trace")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let address = loop {
        let printed = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(rest) = printed.split("listening on ").nth(1) {
            break rest.lines().next().unwrap().trim().to_string();
        }
        assert!(child.try_wait().unwrap().is_none(), "exited: {printed}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let store = gridsync_server::store::connect(&url).await.unwrap();
    let hash = gridsync_server::auth::hash_password("Correct-Horse-9").unwrap();
    store
        .create_user(&gridsync_server::domain::NewUser {
            username: "zhou".into(),
            password_hash: hash,
            role: Role::Dispatcher,
            areas: vec![],
            created_at: gridsync_server::domain::now_unix(),
        })
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let login = |password: &'static str| {
        client
            .post(format!("{address}/api/v1/auth/login"))
            .header("x-api-key", "apikey-7f3a9c")
            .header("authorization", "Bearer gst_0123456789abcdef")
            .json(&json!({ "username": "zhou", "password": password }))
            .send()
    };
    assert_eq!(login("Sup3r-S3cret-Pw").await.unwrap().status(), 401);
    let answer: Value = login("Correct-Horse-9")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["token"].as_str().unwrap().to_string();
    client
        .get(format!("{address}/api/v1/records?limit=many"))
        .bearer_auth("gst_0123456789abcdef")
        .send()
        .await
        .unwrap();
    client
        .post(format!("{address}/open311/v2/requests.json"))
        .form(&[
            ("api_key", "apikey-7f3a9c"),
            ("service_code", "nope"),
            ("lat", "43.17"),
            ("long", "124.35"),
            ("phone", "13512345678"),
        ])
        .send()
        .await
        .unwrap();
    client
        .get(format!("{address}/api/v1/records"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    // Forty corrupt documents in one sync request: one line for the request, not forty.
    let garbage = sync_core::SyncRequest {
        request_id: 1,
        response_budget: 4096,
        uploads: (0..40)
            .map(|i| sync_core::DocPayload {
                id: sync_core::new_record_id(),
                bytes: vec![i as u8; 64],
            })
            .collect(),
        ..sync_core::SyncRequest::default()
    };
    let synced = client
        .post(format!("{address}/api/v1/sync"))
        .bearer_auth(&token)
        .header("x-gridsync-device", "flooder")
        .body(garbage.encode())
        .send()
        .await
        .unwrap();
    assert_eq!(synced.status(), 200);
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let printed = std::fs::read_to_string(&log).unwrap();
    assert!(
        printed.contains("request"),
        "the requests were logged: {printed}"
    );
    let refusals: Vec<&str> = printed
        .lines()
        .filter(|l| l.contains("corrupt_document") || l.contains("refused"))
        .filter(|l| !l.contains("span") || l.contains("sync uploads refused"))
        .collect();
    assert_eq!(
        printed.matches("sync uploads refused").count(),
        1,
        "one line for the whole request: {refusals:#?}"
    );
    for secret in [
        "Sup3r-S3cret-Pw",
        "Correct-Horse-9",
        "gst_0123456789abcdef",
        "apikey-7f3a9c",
        "13512345678",
        token.as_str(),
    ] {
        assert!(!printed.contains(secret), "{secret} was logged");
    }
}

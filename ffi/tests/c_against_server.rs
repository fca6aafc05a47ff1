//! The C client against the real server: the harness starts gridsync-server in-process on
//! port 0 over a fresh SQLite database with the demo grid map, and moves the C program's sync
//! bytes over HTTP as a phone's HTTP stack would. A dispatcher accepts the case through the
//! workflow API between the phone's syncs.

mod support;

use std::path::Path;
use std::sync::Arc;

use gridsync_server::auth::hash_password;
use gridsync_server::domain::{NewUser, Role, now_unix};
use gridsync_server::{Application, Settings, demo, store};
use serde_json::{Value, json};
use support::{Link, Runner, c_source, compile, run};

const PASSWORD: &str = "correct-horse";
const WORKER_GRID: &str = "22030200100101";
const SYNC_MEDIA_TYPE: &str = "application/vnd.gridsync.sync";

/// A server on port 0 over a fresh SQLite database. It stops with the test's runtime.
struct Server {
    address: String,
    client: reqwest::Client,
    store: Arc<dyn store::Store>,
    _database: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let database = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", database.path().join("gridsync.db").display());
        let store = store::connect(&url)
            .await
            .expect("open the server's database");
        let application = Application::build_with_store(store.clone(), Settings::for_tests(&url))
            .await
            .expect("build the server");
        let address = format!("http://127.0.0.1:{}", application.port());
        tokio::spawn(application.run_until_stopped());
        store
            .put_areas(&demo::areas(), now_unix())
            .await
            .expect("load the demo grid map");
        Server {
            address,
            client: reqwest::Client::new(),
            store,
            _database: database,
        }
    }

    /// Creates an account and returns its bearer token.
    async fn account(&self, username: &str, role: Role, areas: &[&str]) -> String {
        self.store
            .create_user(&NewUser {
                username: username.into(),
                password_hash: hash_password(PASSWORD).unwrap(),
                role,
                areas: areas.iter().map(|s| s.to_string()).collect(),
                created_at: now_unix(),
            })
            .await
            .expect("create the account");
        let response = self
            .client
            .post(format!("{}/api/v1/auth/login", self.address))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .expect("log in");
        assert_eq!(response.status(), 200, "login of {username}");
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }

    /// One sync round trip: POST the request body, return the response body.
    async fn sync(&self, token: &str, device: &str, request: Vec<u8>) -> Vec<u8> {
        let response = self
            .client
            .post(format!("{}/api/v1/sync", self.address))
            .bearer_auth(token)
            .header("x-gridsync-device", device)
            .header("content-type", SYNC_MEDIA_TYPE)
            .body(request)
            .send()
            .await
            .expect("sync request");
        let status = response.status();
        let body = response.bytes().await.unwrap().to_vec();
        assert_eq!(
            status,
            200,
            "sync answered {}",
            String::from_utf8_lossy(&body)
        );
        body
    }

    /// Reads the C program's request file, sends it, writes the response file.
    async fn relay(&self, token: &str, dir: &Path, request: &str, response: &str) {
        let body = std::fs::read(dir.join(request)).unwrap();
        let answer = self.sync(token, "wang-phone", body).await;
        std::fs::write(dir.join(response), answer).unwrap();
    }
}

impl Server {
    /// A workflow transition over HTTP, which must succeed.
    async fn transition(&self, token: &str, id: &str, body: Value) {
        let response = self
            .client
            .post(format!(
                "{}/api/v1/records/{}/transitions",
                self.address,
                id.trim()
            ))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("transition request");
        assert_eq!(response.status(), 200, "{body}");
    }
}

/// The centre of a demo grid, in WGS-84.
fn centre(code: &str) -> (f64, f64) {
    let area = demo::areas().into_iter().find(|a| a.code == code).unwrap();
    (
        (area.bbox[0] + area.bbox[2]) / 2.0,
        (area.bbox[1] + area.bbox[3]) / 2.0,
    )
}

/// Runs one phase of the C program off the async runtime.
async fn phase(runner: Runner, program: &Path, args: Vec<String>) {
    let program = program.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(runner, &program, &args)
    })
    .await
    .unwrap();
}

async fn sync_with_the_server(runner: Runner) {
    let server = Server::start().await;
    let worker = server
        .account("wang", Role::GridWorker, &[WORKER_GRID])
        .await;
    let dispatcher_token = server.account("zhou", Role::Dispatcher, &["2203"]).await;
    let dir = tempfile::tempdir().unwrap();
    let program = compile(
        dir.path(),
        "server_sync",
        &[c_source("server_sync.c")],
        Link::Static,
    );
    let work = dir.path().to_str().unwrap().to_string();
    let (lon, lat) = centre(WORKER_GRID);

    // Offline on the phone, then one round trip through the real API.
    let args = [
        work.clone(),
        "offline".into(),
        lon.to_string(),
        lat.to_string(),
    ];
    phase(runner, &program, args.to_vec()).await;
    server
        .relay(&worker, dir.path(), "request-1.bin", "response-1.bin")
        .await;
    phase(
        runner,
        &program,
        vec![work.clone(), "online".into(), WORKER_GRID.into()],
    )
    .await;

    // A dispatcher accepts the case through the workflow API; the server writes the step into
    // the record's document as its own change.
    let id = std::fs::read_to_string(dir.path().join("id.txt")).unwrap();
    let response = server
        .client
        .post(format!(
            "{}/api/v1/records/{}/transitions",
            server.address,
            id.trim()
        ))
        .bearer_auth(&dispatcher_token)
        .json(&json!({ "action": "accept", "note": "属实，受理" }))
        .send()
        .await
        .expect("transition request");
    assert_eq!(response.status(), 200, "accept");

    // The phone's next sync brings the change.
    server
        .relay(&worker, dir.path(), "request-2.bin", "response-2.bin")
        .await;
    phase(
        runner,
        &program,
        vec![work, "later".into(), "accepted".into()],
    )
    .await;
}

/// The worker's phone amends a report its grid's leader returned and submits it again,
/// offline, through the C ABI; the server takes the step at the next sync.
async fn resubmit_a_returned_report(runner: Runner) {
    let server = Server::start().await;
    let worker = server
        .account("wang", Role::GridWorker, &[WORKER_GRID])
        .await;
    let leader = server.account("li", Role::GridLeader, &[WORKER_GRID]).await;
    let dir = tempfile::tempdir().unwrap();
    let program = compile(
        dir.path(),
        "field_steps",
        &[c_source("field_steps.c")],
        Link::Static,
    );
    let work = dir.path().to_str().unwrap().to_string();
    let (lon, lat) = centre(WORKER_GRID);

    let args = vec![
        work.clone(),
        "offline".into(),
        lon.to_string(),
        lat.to_string(),
    ];
    phase(runner, &program, args).await;
    server
        .relay(&worker, dir.path(), "request-1.bin", "response-1.bin")
        .await;
    phase(runner, &program, vec![work.clone(), "synced".into()]).await;

    let id = std::fs::read_to_string(dir.path().join("id.txt")).unwrap();
    server
        .transition(
            &leader,
            &id,
            json!({ "action": "return_to_worker", "note": "请补充楼栋号" }),
        )
        .await;
    server
        .relay(&worker, dir.path(), "request-2.bin", "response-2.bin")
        .await;
    phase(runner, &program, vec![work.clone(), "returned".into()]).await;
    server
        .relay(&worker, dir.path(), "request-3.bin", "response-3.bin")
        .await;
    phase(runner, &program, vec![work, "resubmitted".into()]).await;

    let token = server.account("zhou", Role::Dispatcher, &["2203"]).await;
    let record: Value = server
        .client
        .get(format!("{}/api/v1/records/{}", server.address, id.trim()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(record["workflow"]["status"], "received");
    assert_eq!(record["inspection"]["findings"], "3号楼2单元楼道堆放纸箱");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c_client_lists_a_returned_report_as_its_work_and_resubmits_it_offline() {
    resubmit_a_returned_report(Runner::Direct).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_client_taking_a_field_step_has_no_leaks_or_invalid_accesses_under_valgrind() {
    resubmit_a_returned_report(Runner::Valgrind).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c_client_syncs_over_http_and_sees_its_owner_grid_and_a_dispatchers_change() {
    sync_with_the_server(Runner::Direct).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_client_against_the_real_server_has_no_leaks_or_invalid_accesses_under_valgrind() {
    sync_with_the_server(Runner::Valgrind).await;
}

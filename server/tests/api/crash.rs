use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gridsync_server::demo;
use gridsync_server::domain::{NewUser, Role, now_unix};
use gridsync_server::store::{self, RecordQuery, RecordScope};
use sync_core::{Crs, Location, RecordBuilder, RecordId, Store};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use crate::helpers::{Backend, PASSWORD, fresh_database};

const GRID: &str = "22030200100101";

/// A new contact key in a file, as an operator keeps it for `--contact-key-file`.
pub fn contact_key_file() -> tempfile::NamedTempFile {
    use base64::Engine as _;
    let key = tempfile::NamedTempFile::new().unwrap();
    let secret = sync_core::ContactSecret::generate().to_bytes();
    std::fs::write(
        key.path(),
        base64::engine::general_purpose::STANDARD.encode(secret),
    )
    .unwrap();
    key
}

/// Starts the real server binary on `url` with the contact key in `key_file` and returns it
/// with its address (`http://127.0.0.1:<port>`).
pub async fn start_server(url: &str, key_file: &std::path::Path) -> (Child, String) {
    start_server_with(url, key_file, &[]).await
}

/// [`start_server`] with more options for `serve`.
pub async fn start_server_with(
    url: &str,
    key_file: &std::path::Path,
    options: &[&str],
) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .args(["--database-url", url, "serve", "--bind", "127.0.0.1:0"])
        .args(options)
        .arg("--contact-key-file")
        .arg(key_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start gridsync-server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("server start timed out")
            .expect("read stdout")
            .expect("the server exited before listening");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    (child, address)
}

struct Device {
    store: Store,
    name: String,
    token: String,
    created: Vec<RecordId>,
    acknowledged: Vec<RecordId>,
}

/// One exchange; network errors (the server being killed) are the lossy link the protocol is
/// built for, so they are not failures.
async fn exchange(client: &reqwest::Client, address: &str, device: &mut Device) -> Option<bool> {
    let request = device.store.prepare_sync(64 * 1024).unwrap();
    let response = client
        .post(format!("{address}/api/v1/sync"))
        .bearer_auth(&device.token)
        .header("x-gridsync-device", &device.name)
        .body(request.bytes)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let bytes = response.bytes().await.ok()?;
    let report = device.store.apply_sync(&bytes).unwrap();
    device.acknowledged.extend(report.acknowledged);
    Some(report.more)
}

async fn run(backend: Backend) {
    let (url, _guard) = fresh_database(backend).await;
    // The operator's key file, the same for the server and its restart.
    let key = contact_key_file();
    {
        let store = store::connect(&url).await.unwrap();
        store.put_areas(&demo::areas(), now_unix()).await.unwrap();
        let hash = gridsync_server::auth::hash_password(PASSWORD).unwrap();
        for name in ["d0", "d1", "d2"] {
            store
                .create_user(&NewUser {
                    username: name.into(),
                    password_hash: hash.clone(),
                    role: Role::GridWorker,
                    areas: vec![GRID.into()],
                    created_at: now_unix(),
                })
                .await
                .unwrap();
        }
    }
    let (mut server, address) = start_server(&url, key.path()).await;
    let client = reqwest::Client::new();
    let area = demo::areas().into_iter().find(|a| a.code == GRID).unwrap();
    let point = (
        (area.bbox[0] + area.bbox[2]) / 2.0,
        (area.bbox[1] + area.bbox[3]) / 2.0,
    );

    let mut devices = Vec::new();
    for name in ["d0", "d1", "d2"] {
        let login = client
            .post(format!("{address}/api/v1/auth/login"))
            .json(&serde_json::json!({ "username": name, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        let token = login.json::<serde_json::Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        devices.push(Arc::new(Mutex::new(Device {
            store: Store::open_in_memory(name, &format!("{name}-phone")).unwrap(),
            name: format!("{name}-phone"),
            token,
            created: Vec::new(),
            acknowledged: Vec::new(),
        })));
    }
    let address = Arc::new(Mutex::new(address));

    // Load: every device creates records and syncs as fast as it can.
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for device in &devices {
        let (device, stop, client, address) = (
            device.clone(),
            stop.clone(),
            client.clone(),
            address.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut d = device.lock().await;
                let record = RecordBuilder::complaint(format!("{} #{i}", d.name), d.store.writer())
                    .location(Location {
                        lon: point.0,
                        lat: point.1,
                        accuracy_m: None,
                        crs: Crs::Wgs84,
                    })
                    .build();
                let id = d.store.create(&record).unwrap();
                d.created.push(id);
                i += 1;
                let address = address.lock().await.clone();
                if exchange(&client, &address, &mut d).await.is_none() {
                    drop(d);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }

    // Kill the server without warning twice while the load runs, restarting it each time.
    for round in 0..2 {
        tokio::time::sleep(Duration::from_millis(700 + round * 300)).await;
        server.start_kill().unwrap();
        server.wait().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (restarted, new_address) = start_server(&url, key.path()).await;
        server = restarted;
        *address.lock().await = new_address;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }

    // A clean link: everyone syncs until nothing waits, twice round.
    let address = address.lock().await.clone();
    for _ in 0..2 {
        for device in &devices {
            let mut d = device.lock().await;
            for _ in 0..50 {
                if exchange(&client, &address, &mut d).await == Some(false) {
                    break;
                }
            }
        }
    }

    let stored = store::connect(&url).await.unwrap();
    let mut total_created = 0;
    let mut expected_changes = 0;
    for device in &devices {
        let d = device.lock().await;
        total_created += d.created.len();
        assert!(
            d.acknowledged.len() >= d.created.len(),
            "{}: every record was acknowledged at last",
            d.name
        );
        for id in &d.acknowledged {
            let doc = stored.record_doc(&id.to_string()).await.unwrap();
            let doc = doc
                .unwrap_or_else(|| panic!("{id} was acknowledged to {} but is not stored", d.name));
            let mut server_doc = sync_core::RecordDoc::load(&doc.doc).unwrap();
            let mut phone_doc = d.store.load(id).unwrap().unwrap();
            assert_eq!(
                server_doc.heads(),
                phone_doc.heads(),
                "{id} differs between phone and server"
            );
        }
        for id in &d.created {
            let doc = stored.record_doc(&id.to_string()).await.unwrap().unwrap();
            expected_changes += sync_core::RecordDoc::load(&doc.doc)
                .unwrap()
                .automerge()
                .get_changes(&[])
                .len();
        }
    }
    // Exactly once: the change log holds each change of each document once, and nothing else.
    let rows = stored
        .list_records(&RecordQuery::within(RecordScope::All, 100_000))
        .await
        .unwrap();
    assert_eq!(rows.len(), total_created, "one row per record");
    assert_eq!(
        stored.change_head().await.unwrap() as usize,
        expected_changes,
        "one log entry per change"
    );
    assert!(
        total_created > 10,
        "the load produced records ({total_created})"
    );
    server.start_kill().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_server_killed_under_load_restarts_with_every_acknowledged_record_once() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_server_killed_under_load_restarts_with_every_acknowledged_record_once() {
    run(Backend::Postgres).await;
}

//! Sync ingest under load: 200 simulated devices, each with its own sync-core store, create new
//! records and sync them through the real HTTP server, concurrently. Reports new records stored
//! per second and the p50/p99 latency of sync requests, on SQLite and on PostgreSQL.
//!
//! `cargo bench -p gridsync-server --bench sync_load` (PostgreSQL at `GRIDSYNC_TEST_PG_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`; a database is created and dropped).
//! The devices run in this process on the same two cores as the server, so the figures include
//! the load generator's own work.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use gridsync_server::auth::{hash_password, new_token, token_hash};
use gridsync_server::domain::{NewUser, Role, now_unix};
use gridsync_server::{Application, Settings, demo, store};
use sync_core::{Crs, Location, RecordBuilder, Store};

/// Devices, overridable with `GRIDSYNC_BENCH_DEVICES`.
fn devices() -> usize {
    std::env::var("GRIDSYNC_BENCH_DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}
const ROUNDS: usize = 10;
const RECORDS_PER_ROUND: usize = 5;
const GRID: &str = "22030200100101";

struct Outcome {
    records: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    /// Exchanges that failed on the connection and were retried.
    failures: usize,
}

async fn run(url: &str) -> Outcome {
    let store = store::connect(url).await.expect("store");
    store.put_areas(&demo::areas(), now_unix()).await.unwrap();
    // One grid worker per device, as in the field: each account's area is its own, so a
    // device is sent back its own records' server decisions, not every other device's records.
    let hash = hash_password("bench-password").unwrap();
    let mut tokens = Vec::new();
    for d in 0..devices() {
        let user = store
            .create_user(&NewUser {
                username: format!("worker{d}"),
                password_hash: hash.clone(),
                role: Role::GridWorker,
                areas: vec![format!("bench-area-{d}")],
                created_at: now_unix(),
            })
            .await
            .unwrap();
        let token = new_token();
        store
            .insert_token(&token_hash(&token), user.id, now_unix(), now_unix() + 3600)
            .await
            .unwrap();
        tokens.push(token);
    }
    let mut settings = Settings::for_tests(url);
    settings.workers = Some(2);
    let app = Application::build_with_store(store, settings)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(devices())
        .build()
        .unwrap();
    let area = demo::areas().into_iter().find(|a| a.code == GRID).unwrap();
    let point = (
        (area.bbox[0] + area.bbox[2]) / 2.0,
        (area.bbox[1] + area.bbox[3]) / 2.0,
    );

    let address = Arc::new(address);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (d, token) in tokens.into_iter().enumerate() {
        let (client, address) = (client.clone(), address.clone());
        tasks.push(tokio::spawn(async move {
            let account = format!("worker{d}");
            let device = format!("device-{d}");
            let mut phone = Store::open_in_memory(&account, &device).unwrap();
            let mut latencies = Vec::with_capacity(ROUNDS);
            let mut acknowledged = 0;
            let mut failures = 0;
            for round in 0..ROUNDS {
                for i in 0..RECORDS_PER_ROUND {
                    let record =
                        RecordBuilder::complaint(format!("{device} {round}/{i}"), phone.writer())
                            .description("路灯不亮，请尽快维修。")
                            .category("municipal.lighting")
                            .location(Location {
                                lon: point.0,
                                lat: point.1,
                                accuracy_m: Some(5.0),
                                crs: Crs::Wgs84,
                            })
                            .build();
                    phone.create(&record).unwrap();
                }
                // A failed exchange is retried, as a phone would; the retry is its own request.
                loop {
                    let request = phone.prepare_sync(256 * 1024).unwrap();
                    let sent = Instant::now();
                    let response = client
                        .post(format!("{address}/api/v1/sync"))
                        .bearer_auth(&token)
                        .header("x-gridsync-device", &device)
                        .body(request.bytes)
                        .send()
                        .await;
                    let bytes = match response {
                        Ok(r) if r.status() == 200 => r.bytes().await,
                        Ok(r) => panic!("sync answered {}", r.status()),
                        Err(e) => Err(e),
                    };
                    match bytes {
                        Ok(bytes) => {
                            latencies.push(sent.elapsed());
                            acknowledged += phone.apply_sync(&bytes).unwrap().acknowledged.len();
                            break;
                        }
                        Err(_) => failures += 1,
                    }
                }
            }
            (acknowledged, latencies, failures)
        }));
    }
    let mut records = 0;
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (n, l, f) = task.await.unwrap();
        records += n;
        latencies.extend(l);
        failures += f;
    }
    let wall = started.elapsed();
    handle.stop(true).await;
    Outcome {
        records,
        wall,
        latencies,
        failures,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "{} devices (one grid worker each), {ROUNDS} rounds of {RECORDS_PER_ROUND} new records each, all concurrent\n",
        devices()
    );
    println!(
        "| backend | new records stored | wall time | records/s | sync p50 | sync p99 | requests | failed and retried |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    let pg = common::BenchDatabase::create().await;
    for (backend, url) in [
        ("SQLite (WAL, synchronous=FULL)", sqlite.as_str()),
        ("PostgreSQL 15", pg.url.as_str()),
    ] {
        let mut outcome = run(url).await;
        outcome.latencies.sort();
        println!(
            "| {backend} | {} | {:.2} s | {:.0} | {:.1} ms | {:.1} ms | {} | {} |",
            outcome.records,
            outcome.wall.as_secs_f64(),
            outcome.records as f64 / outcome.wall.as_secs_f64(),
            percentile(&outcome.latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&outcome.latencies, 0.99).as_secs_f64() * 1e3,
            outcome.latencies.len(),
            outcome.failures,
        );
        assert_eq!(
            outcome.records,
            devices() * ROUNDS * RECORDS_PER_ROUND,
            "every record acknowledged"
        );
    }
    pg.drop_database().await;
}

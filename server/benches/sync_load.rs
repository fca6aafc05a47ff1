//! Sync ingest under load: 200 simulated devices, one grid-worker account each, send new
//! records through the real HTTP server, concurrently. Reports new records stored per second and
//! the p50/p99 latency of sync requests, on SQLite and on PostgreSQL, for three ways of running
//! the devices (see [`Devices`]): replayed requests as fast as answered (the server's capacity),
//! replayed requests paced at fixed offered rates (latency below saturation), and full sync-core
//! phones in this process (end to end, the phones' own work included).
//!
//! `cargo bench -p gridsync-server --bench sync_load` (PostgreSQL at `GRIDSYNC_TEST_PG_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`; a database is created and dropped for
//! every run). Everything runs on this machine's two cores, the load generator included.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gridsync_server::auth::hash_password;
use gridsync_server::domain::{Role, now_unix};
use gridsync_server::{Application, Settings, demo, store};
use sync_core::{Ack, Crs, Location, RecordBuilder, Store, SyncRequest, SyncResponse, Verdict};

// The server binary's allocator, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Devices, overridable with `GRIDSYNC_BENCH_DEVICES`.
fn device_count() -> usize {
    std::env::var("GRIDSYNC_BENCH_DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}
/// Rounds of new records per device, overridable with `GRIDSYNC_BENCH_ROUNDS` (more rounds:
/// a longer, steadier closed-loop run). Read once.
static ROUNDS: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    std::env::var("GRIDSYNC_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(10)
});
const RECORDS_PER_ROUND: usize = 5;
/// The byte budget of each request and response, as a phone asks for.
const BUDGET: usize = 256 * 1024;
const GRID: &str = "22030200100101";

struct Outcome {
    records: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    /// Exchanges that failed on the connection and were retried.
    failures: usize,
    /// Sync requests per write transaction (the group commit's mean group size).
    per_commit: f64,
    /// Latencies of a dispatcher's page reads made during the run (`GRIDSYNC_BENCH_STAFF=1`).
    staff: Vec<Duration>,
}

/// Whether a dispatcher reads pages while the devices sync (`GRIDSYNC_BENCH_STAFF=1`): one
/// client, one request after another, cycling through a grid, the departments and the
/// supervision notices (reads that are not on the sync path).
fn staff_reads() -> bool {
    std::env::var("GRIDSYNC_BENCH_STAFF").is_ok_and(|v| v == "1")
}

/// How the simulated devices run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Devices {
    /// Each device's requests are built beforehand by a real sync-core phone store (records
    /// made offline, as in the field), and during the run the device sends them in order,
    /// carrying the cursor of the previous response and checking every acknowledgement: the
    /// protocol client without the phone's own automerge work, which runs on the phone's CPU,
    /// not the server's. This measures the server. With a rate, each device sends at fixed
    /// times so that all together offer that many new records per second (an open load, as when
    /// the phones of a district come online through the day); without one, each sends its next
    /// request as soon as the last is answered (a closed load that saturates the server).
    Replayed { rate: Option<f64> },
    /// Each device is a full sync-core phone store in this process: it makes its records,
    /// builds each request and applies each response (merging the server's owner decisions)
    /// while the run is timed, on the same two cores as the server.
    InProcess,
}

/// One device's sync requests, built offline: round by round, five new records each.
fn prepare_requests(device: usize, point: (f64, f64)) -> Vec<SyncRequest> {
    let mut phone = phone(device);
    let mut requests = Vec::with_capacity(*ROUNDS);
    for round in 0..*ROUNDS {
        make_round(&mut phone, round, point);
        let prepared = phone.prepare_sync(BUDGET).unwrap();
        let request = SyncRequest::decode(&prepared.bytes).unwrap();
        // The server's acknowledgement, so the next request carries only the next round.
        let ack = SyncResponse {
            request_id: request.request_id,
            acks: request
                .uploads
                .iter()
                .map(|u| Ack {
                    id: u.id,
                    verdict: Verdict::Accepted,
                })
                .collect(),
            ..SyncResponse::default()
        };
        phone.apply_sync(&ack.encode()).unwrap();
        requests.push(request);
    }
    requests
}

/// Device `d`'s phone store: account `worker{d}`, device `device-{d}`.
fn phone(d: usize) -> Store {
    Store::open_in_memory(&format!("worker{d}"), &format!("device-{d}")).unwrap()
}

/// Makes one round's new records on `phone`, offline.
fn make_round(phone: &mut Store, round: usize, point: (f64, f64)) {
    for i in 0..RECORDS_PER_ROUND {
        let record = RecordBuilder::complaint(
            format!("{} {round}/{i}", phone.writer().device),
            phone.writer(),
        )
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
        if with_photos() {
            // A small photo on every record: its attachment is in the document (and the
            // server's attachment index); the bytes themselves upload apart from sync.
            let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0];
            photo.extend(format!("{} {round}/{i}", phone.writer().device).bytes());
            phone
                .attach(&record.id, &photo, "image/jpeg", None)
                .unwrap();
        }
    }
}

/// Whether every new record carries a photo (`GRIDSYNC_BENCH_PHOTOS=1`).
fn with_photos() -> bool {
    std::env::var("GRIDSYNC_BENCH_PHOTOS").is_ok_and(|v| v == "1")
}

/// Sends one request, retrying on a failed connection as a phone would (the retry is its own
/// request). Returns the response body and the latency of the exchange that answered.
async fn exchange(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    device: &str,
    body: Vec<u8>,
    failures: &mut usize,
) -> (Vec<u8>, Duration) {
    loop {
        let sent = Instant::now();
        let response = client
            .post(format!("{address}/api/v1/sync"))
            .bearer_auth(token)
            .header("x-gridsync-device", device)
            .body(body.clone())
            .send()
            .await;
        let bytes = match response {
            Ok(r) if r.status() == 200 => r.bytes().await.map(|b| b.to_vec()),
            Ok(r) => panic!("sync answered {}", r.status()),
            Err(e) => Err(e),
        };
        match bytes {
            Ok(bytes) => return (bytes, sent.elapsed()),
            Err(_) => *failures += 1,
        }
    }
}

async fn run(url: &str, mode: Devices) -> Outcome {
    let devices = device_count();
    let store = store::connect(url).await.expect("store");
    store.put_areas(&demo::areas(), now_unix()).await.unwrap();
    // One grid worker per device, as in the field: each account's area is its own, so a
    // device is sent back its own records' server decisions, not every other device's records.
    let hash = hash_password("bench-password").unwrap();
    let mut tokens = Vec::new();
    for d in 0..devices {
        let area = format!("bench-area-{d}");
        tokens.push(
            common::account(
                store.as_ref(),
                &hash,
                &format!("worker{d}"),
                Role::GridWorker,
                &[&area],
            )
            .await,
        );
    }
    let dispatcher_token = common::account(
        store.as_ref(),
        &hash,
        "dispatcher",
        Role::Dispatcher,
        &[GRID],
    )
    .await;
    let mut settings = Settings::for_tests(url);
    settings.workers = Some(2);
    // The server's default map check (`--map-check-ms`), not the tests' check on every request:
    // the benchmark measures the server as it is deployed.
    settings.map_check_interval = Duration::from_secs(1);
    let app = Application::build_with_store(store, settings)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(device_count())
        .build()
        .unwrap();
    let area = demo::areas().into_iter().find(|a| a.code == GRID).unwrap();
    let point = (
        (area.bbox[0] + area.bbox[2]) / 2.0,
        (area.bbox[1] + area.bbox[3]) / 2.0,
    );
    let prepared: Vec<Vec<SyncRequest>> = match mode {
        Devices::Replayed { .. } => (0..devices).map(|d| prepare_requests(d, point)).collect(),
        Devices::InProcess => vec![Vec::new(); devices],
    };

    let address = Arc::new(address);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let staff = staff_reads().then(|| {
        let (client, address, done) = (client.clone(), address.clone(), done.clone());
        tokio::spawn(async move {
            let pages = [
                format!("/api/v1/grids/{GRID}"),
                "/api/v1/departments".to_string(),
                "/api/v1/supervision-notices".to_string(),
            ];
            let mut latencies = Vec::new();
            for page in pages.iter().cycle() {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                let sent = Instant::now();
                let response = client
                    .get(format!("{address}{page}"))
                    .bearer_auth(&dispatcher_token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "{page}");
                response.bytes().await.unwrap();
                latencies.push(sent.elapsed());
            }
            latencies
        })
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for ((d, token), requests) in tokens.into_iter().enumerate().zip(prepared) {
        let (client, address) = (client.clone(), address.clone());
        tasks.push(tokio::spawn(async move {
            let device = format!("device-{d}");
            let mut latencies = Vec::with_capacity(*ROUNDS);
            let mut acknowledged = 0;
            let mut failures = 0;
            match mode {
                Devices::Replayed { rate } => {
                    // Paced: device d sends at started + (d / devices + k) * period.
                    let period = rate
                        .map(|r| Duration::from_secs_f64((devices * RECORDS_PER_ROUND) as f64 / r));
                    let mut cursor = 0;
                    for (k, mut request) in requests.into_iter().enumerate() {
                        if let Some(period) = period {
                            let at = period.mul_f64(d as f64 / devices as f64 + k as f64);
                            tokio::time::sleep_until((started + at).into()).await;
                        }
                        request.cursor = cursor;
                        let (bytes, latency) = exchange(
                            &client,
                            &address,
                            &token,
                            &device,
                            request.encode(),
                            &mut failures,
                        )
                        .await;
                        latencies.push(latency);
                        let response = SyncResponse::decode(&bytes).unwrap();
                        assert_eq!(response.request_id, request.request_id);
                        for ack in &response.acks {
                            assert_eq!(ack.verdict, Verdict::Accepted, "record {}", ack.id);
                        }
                        acknowledged += response.acks.len();
                        cursor = response.next_cursor;
                    }
                }
                Devices::InProcess => {
                    let mut phone = phone(d);
                    for round in 0..*ROUNDS {
                        make_round(&mut phone, round, point);
                        let request = phone.prepare_sync(BUDGET).unwrap();
                        let (bytes, latency) = exchange(
                            &client,
                            &address,
                            &token,
                            &device,
                            request.bytes,
                            &mut failures,
                        )
                        .await;
                        latencies.push(latency);
                        acknowledged += phone.apply_sync(&bytes).unwrap().acknowledged.len();
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
    done.store(true, Ordering::Relaxed);
    let staff = match staff {
        Some(task) => task.await.unwrap(),
        None => Vec::new(),
    };
    let metrics = &state.metrics;
    let per_commit =
        metrics.commit_requests.get() as f64 / metrics.commit_transactions.get().max(1) as f64;
    handle.stop(true).await;
    Outcome {
        records,
        wall,
        latencies,
        failures,
        per_commit,
        staff,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "{} devices (one grid worker each), {} rounds of {RECORDS_PER_ROUND} new records each, all concurrent\n",
        device_count(),
        *ROUNDS
    );
    println!(
        "| devices | backend | new records stored | wall time | records/s | sync p50 | sync p99 | requests | requests per commit | failed and retried |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    // `GRIDSYNC_BENCH_BACKENDS=sqlite` (or `postgres`) runs one backend only,
    // `GRIDSYNC_BENCH_MODES=replayed,paced,in-process` chooses the ways of running the devices,
    // `GRIDSYNC_BENCH_RATES` the paced rates (records/s), and `GRIDSYNC_BENCH_ROUNDS` and
    // `GRIDSYNC_BENCH_DEVICES` the size of the load; `GRIDSYNC_BENCH_STAFF=1` adds a
    // dispatcher reading pages during each run (a second table).
    let only = std::env::var("GRIDSYNC_BENCH_BACKENDS").unwrap_or_default();
    let modes = std::env::var("GRIDSYNC_BENCH_MODES").unwrap_or_default();
    let rates: Vec<f64> = std::env::var("GRIDSYNC_BENCH_RATES")
        .unwrap_or_else(|_| "250,500,1000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let mut runs = vec![(
        Devices::Replayed { rate: None },
        "replayed",
        "replayed requests, closed loop".to_string(),
    )];
    for rate in rates {
        runs.push((
            Devices::Replayed { rate: Some(rate) },
            "paced",
            format!("replayed requests, paced at {rate} records/s"),
        ));
    }
    runs.push((
        Devices::InProcess,
        "in-process",
        "sync-core phones in process, closed loop".to_string(),
    ));
    let mut staff_rows = Vec::new();
    for (mode, mode_key, mode_name) in runs {
        if !modes.is_empty() && !modes.split(',').any(|m| m == mode_key) {
            continue;
        }
        for (backend, key) in [
            ("SQLite (WAL, synchronous=FULL)", "sqlite"),
            ("PostgreSQL 15", "postgres"),
        ] {
            if !only.is_empty() && !only.split(',').any(|b| b == key) {
                continue;
            }
            // A fresh database for every run.
            let dir = tempfile::tempdir().unwrap();
            let pg_run = if key == "postgres" {
                Some(common::BenchDatabase::create().await)
            } else {
                None
            };
            let url = match &pg_run {
                Some(db) => db.url.clone(),
                None => format!("sqlite://{}", dir.path().join("bench.db").display()),
            };
            let mut outcome = run(&url, mode).await;
            if let Some(db) = pg_run {
                db.drop_database().await;
            }
            outcome.latencies.sort();
            println!(
                "| {mode_name} | {backend} | {} | {:.2} s | {:.0} | {:.1} ms | {:.1} ms | {} | {:.1} | {} |",
                outcome.records,
                outcome.wall.as_secs_f64(),
                outcome.records as f64 / outcome.wall.as_secs_f64(),
                percentile(&outcome.latencies, 0.50).as_secs_f64() * 1e3,
                percentile(&outcome.latencies, 0.99).as_secs_f64() * 1e3,
                outcome.latencies.len(),
                outcome.per_commit,
                outcome.failures,
            );
            if staff_reads() {
                outcome.staff.sort();
                staff_rows.push(format!(
                    "| {mode_name} | {backend} | {} | {:.1} ms | {:.1} ms |",
                    outcome.staff.len(),
                    percentile(&outcome.staff, 0.50).as_secs_f64() * 1e3,
                    percentile(&outcome.staff, 0.99).as_secs_f64() * 1e3,
                ));
            }
            assert_eq!(
                outcome.records,
                device_count() * *ROUNDS * RECORDS_PER_ROUND,
                "every record acknowledged"
            );
        }
    }
    if !staff_rows.is_empty() {
        println!("\nA dispatcher's page reads during the run (one client, one after another)\n");
        println!("| devices | backend | reads | p50 | p99 |");
        println!("|---|---|---:|---:|---:|");
        for row in staff_rows {
            println!("{row}");
        }
    }
}

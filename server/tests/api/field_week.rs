//! The field week: many phones (sync-core stores) against the real server binary through an
//! impaired link, with offline days, photos, the desk and a department working the cases, a
//! boundary edit, an area reassignment, tokens that expire while phones are away and the
//! server killed with SIGKILL in the middle of a day; then a final sync on a clean link.
//!
//! It asserts what a field deployment needs: every record on the server exactly once (one log
//! entry per change), every change the server acknowledged present, every phone's copy of
//! every record in its scope identical to the server's, no copy of a record outside the scope,
//! every photo intact, no phone with anything left to send and no refresh refused. It prints
//! what the link cost: sync bytes on the wire ÷ the automerge size of what the phones hold,
//! photo bytes on the wire ÷ photo bytes, attempts per successful exchange, time to drain.
//!
//! Small in CI. `FIELD_WEEK=full` runs 42 phones through a 2G week (about ten minutes);
//! `FIELD_WEEK_SEED` picks another week (`scripts/field-week.sh`).

mod link;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gridsync_server::domain::{NewUser, Role, now_unix};
use gridsync_server::store::{self, Department, RecordQuery, RecordScope};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sync_core::automerge::ChangeHash;
use sync_core::{
    Crs, ListFilter, Location, RecordBuilder, RecordId, RecordPatch, Store, SyncReport, sha256_hex,
};
use tokio::process::Child;

use crate::crash::{contact_key_file, start_server_with};
use crate::helpers::{Backend, PASSWORD, TestApp, collection, fresh_database, rect_feature};
use gridsync_test_macros::both_backends;
use link::{Impairment, Link};

/// The grids of the village, side by side from west to east, 0.01° wide.
const GRIDS: [&str; 4] = ["A", "B", "C", "D"];
const WEST: f64 = 124.30;
const SOUTH: f64 = 43.10;
const NORTH: f64 = 43.12;
/// Mid-week the A|B boundary moves west from 124.31 to this longitude.
const MOVED_BOUNDARY: f64 = 124.305;

/// How big the week is and how bad the link.
#[derive(Debug, Clone)]
struct Week {
    name: &'static str,
    seed: u64,
    workers_per_grid: usize,
    days: usize,
    /// Sync windows a phone has on a day with signal; it works between them.
    windows_per_day: usize,
    /// Requests (exchanges, photo ranges, refreshes) a window allows before it closes.
    attempts_per_window: usize,
    /// Chance a phone has no signal at all on a day.
    offline_day: f64,
    /// Chance that a record gets a photo, and the photo's size.
    photo_share: f64,
    photo_bytes: RangeInclusive<usize>,
    request_budget: usize,
    response_budget: usize,
    range_bytes: u64,
    /// How long a phone waits for an answer.
    timeout: Duration,
    /// Wait after a failed attempt.
    backoff: Duration,
    /// Token lifetime given to the server: tokens expire while phones are away.
    token_ttl_secs: u64,
    /// Phones ask for gzip answers and send larger requests in gzip (`FIELD_WEEK_GZIP=0`
    /// turns it off, to compare).
    gzip: bool,
    link: Impairment,
}

impl Week {
    fn from_env() -> Week {
        let seed = std::env::var("FIELD_WEEK_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_261_207);
        let mut week = match std::env::var("FIELD_WEEK").as_deref() {
            Ok("full") => Week::full(seed),
            _ => Week::small(seed),
        };
        week.gzip = std::env::var("FIELD_WEEK_GZIP").as_deref() != Ok("0");
        week
    }

    /// CI: nine phones, five days, a fast but unreliable link.
    fn small(seed: u64) -> Week {
        Week {
            name: "small",
            seed,
            workers_per_grid: 2,
            days: 5,
            windows_per_day: 3,
            attempts_per_window: 14,
            offline_day: 0.25,
            photo_share: 0.35,
            photo_bytes: 6_000..=40_000,
            request_budget: 16 * 1024,
            response_budget: 16 * 1024,
            range_bytes: 16 * 1024,
            timeout: Duration::from_millis(1500),
            backoff: Duration::from_millis(50),
            token_ttl_secs: 4,
            gzip: true,
            link: Impairment {
                latency_ms: 1..=8,
                kbit_per_s: 4_000..=16_000,
                cut: 0.15,
                cut_within: 8_000,
                silent: 0.02,
                duplicate: 0.05,
            },
        }
    }

    /// On demand: 42 phones (ten workers per grid and two leaders), seven days, 2G.
    fn full(seed: u64) -> Week {
        Week {
            name: "full",
            seed,
            workers_per_grid: 10,
            days: 7,
            windows_per_day: 3,
            attempts_per_window: 12,
            offline_day: 0.3,
            photo_share: 0.45,
            photo_bytes: 30_000..=120_000,
            request_budget: 16 * 1024,
            response_budget: 16 * 1024,
            range_bytes: 24 * 1024,
            timeout: Duration::from_secs(20),
            backoff: Duration::from_millis(500),
            token_ttl_secs: 30,
            gzip: true,
            link: Impairment {
                latency_ms: 150..=500,
                kbit_per_s: 50..=150,
                cut: 0.10,
                cut_within: 20_000,
                silent: 0.02,
                duplicate: 0.03,
            },
        }
    }
}

fn grid_rect(code: &str) -> [f64; 4] {
    let i = GRIDS.iter().position(|g| *g == code).unwrap() as f64;
    [WEST + 0.01 * i, SOUTH, WEST + 0.01 * (i + 1.0), NORTH]
}

fn village_map() -> Value {
    let mut features = vec![rect_feature(
        "V",
        None,
        Some("village"),
        [WEST, SOUTH, WEST + 0.04, NORTH],
    )];
    features.extend(
        GRIDS
            .iter()
            .map(|g| rect_feature(g, Some("V"), None, grid_rect(g))),
    );
    collection(features)
}

fn moved_boundary() -> Value {
    let [_, s, b_east, n] = grid_rect("B");
    collection(vec![
        rect_feature("A", Some("V"), None, [WEST, s, MOVED_BOUNDARY, n]),
        rect_feature("B", Some("V"), None, [MOVED_BOUNDARY, s, b_east, n]),
    ])
}

/// Bytes that start as a JPEG does, then noise (photos do not compress).
fn photo(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    bytes.resize(len, 0);
    rng.fill(&mut bytes[11..]);
    bytes
}

/// A phone's HTTP client: HTTP/1.1 with keep-alive, as the server speaks it.
fn phone_client() -> reqwest::Client {
    reqwest::Client::builder().http1_only().build().unwrap()
}

/// Requests at least this long go up in gzip.
const GZIP_FROM: usize = 512;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a whole gzip answer");
    out
}

/// The server process, restartable on the same database.
struct Server {
    child: Child,
    url: String,
    database: String,
    key: tempfile::NamedTempFile,
    token_ttl: String,
}

impl Server {
    async fn start(database: &str, token_ttl_secs: u64) -> Server {
        let key = contact_key_file();
        let token_ttl = token_ttl_secs.to_string();
        let (child, url) =
            start_server_with(database, key.path(), &["--token-ttl-secs", &token_ttl]).await;
        Server {
            child,
            url,
            database: database.into(),
            key,
            token_ttl,
        }
    }

    fn address(&self) -> SocketAddr {
        self.url.trim_start_matches("http://").parse().unwrap()
    }

    /// SIGKILL, then the same binary on the same database and key.
    async fn kill_and_restart(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        let (child, url) = start_server_with(
            &self.database,
            self.key.path(),
            &["--token-ttl-secs", &self.token_ttl],
        )
        .await;
        self.child = child;
        self.url = url;
    }
}

/// What a phone counted over the week.
#[derive(Debug, Default, Clone)]
struct Tally {
    exchanges: u64,
    /// Sync frames sent and received (the bodies, without HTTP).
    frames_up: u64,
    frames_down: u64,
    exchanges_ok: u64,
    ranges: u64,
    ranges_ok: u64,
    refreshes: u64,
    left_scope: BTreeMap<String, u64>,
    conflicts: u64,
    /// Answers the protocol does not explain (anything but 200, 401, 409 on a range, 503).
    unexpected: Vec<String>,
}

/// One worker's (or leader's) phone.
struct Phone {
    username: String,
    device: String,
    grid: &'static str,
    /// A worker who spends most of the week out of signal.
    in_the_mountains: bool,
    creates: bool,
    store: Store,
    token: String,
    credential: String,
    rng: StdRng,
    created: Vec<RecordId>,
    photos: Vec<(RecordId, String, u64)>,
    /// Every acknowledgement: the record and the heads the phone held once it applied it.
    acknowledged: Vec<(RecordId, Vec<ChangeHash>)>,
    tally: Tally,
    notes: u64,
}

/// The outcome of one request over the link.
enum Outcome<T> {
    Ok(T),
    Expired,
    Failed,
}

impl Phone {
    async fn login(
        client: &reqwest::Client,
        server: &str,
        username: &str,
        grid: &'static str,
        seed: u64,
    ) -> Phone {
        use base64::Engine as _;
        let device = format!("{username}-phone");
        let answer: Value = client
            .post(format!("{server}/api/v1/auth/login"))
            .json(&json!({ "username": username, "password": PASSWORD, "device": device }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut store = Store::open_in_memory(username, &device).unwrap();
        let key = base64::engine::general_purpose::STANDARD
            .decode(answer["contact_key"]["public_key"].as_str().unwrap())
            .unwrap();
        store.pin_contact_key(&key).unwrap();
        Phone {
            username: username.into(),
            device,
            grid,
            in_the_mountains: false,
            creates: true,
            store,
            token: answer["token"].as_str().unwrap().into(),
            credential: answer["device_credential"]["credential"]
                .as_str()
                .expect("a device credential at login")
                .into(),
            rng: StdRng::seed_from_u64(seed),
            created: Vec::new(),
            photos: Vec::new(),
            acknowledged: Vec::new(),
            tally: Tally::default(),
            notes: 0,
        }
    }

    /// What a worker does between windows: records a complaint in the grid (sometimes with a
    /// photo), adds a note to something on the phone, now and then corrects a category.
    fn work(&mut self, week: &Week, day: usize) {
        if self.creates {
            let [x0, y0, x1, y1] = grid_rect(self.grid);
            let lon = self.rng.random_range(x0 + 0.0002..x1 - 0.0002);
            let lat = self.rng.random_range(y0 + 0.0002..y1 - 0.0002);
            let title = format!("{} day {day} #{}", self.username, self.created.len());
            let record = RecordBuilder::complaint(title, self.store.writer())
                .category("municipal")
                .location(Location {
                    lon,
                    lat,
                    accuracy_m: Some(8.0),
                    crs: Crs::Wgs84,
                })
                .build();
            let id = self.store.create(&record).unwrap();
            self.created.push(id);
            if self.rng.random_bool(week.photo_share) {
                let len = self.rng.random_range(week.photo_bytes.clone());
                let bytes = photo(&mut self.rng, len);
                let attachment = self
                    .store
                    .attach(&id, &bytes, "image/jpeg", Some("现场照片"))
                    .unwrap();
                self.photos.push((id, attachment.sha256, len as u64));
            }
        }
        let held = self.held();
        if !held.is_empty() {
            let id = held[self.rng.random_range(0..held.len())];
            self.notes += 1;
            let note = format!("{} note {}", self.username, self.notes);
            self.store.add_note(&id, &note).unwrap();
        }
        // Now and then the worker corrects the category of one of their records, perhaps one
        // the desk has accepted meanwhile with a category of its own: a conflict.
        if !self.created.is_empty() && self.rng.random_bool(0.3) {
            let id = self.created[self.rng.random_range(0..self.created.len())];
            let patch = RecordPatch {
                category: Some(
                    ["municipal.lighting", "municipal.greenery"][self.rng.random_range(0..2)]
                        .into(),
                ),
                ..RecordPatch::default()
            };
            self.store.patch(&id, patch).unwrap();
        }
    }

    fn held(&self) -> Vec<RecordId> {
        self.store
            .list(&ListFilter {
                limit: Some(10_000),
                ..ListFilter::default()
            })
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    }

    /// One sync window: records until nothing waits, then photo ranges, until the window's
    /// attempts run out.
    async fn window(&mut self, client: &reqwest::Client, sync: &str, photos: &str, week: &Week) {
        let mut attempts = 0;
        while attempts < week.attempts_per_window {
            attempts += 1;
            match self.exchange(client, sync, week).await {
                Outcome::Ok(report) if !report.more => break,
                Outcome::Ok(_) => {}
                Outcome::Expired => {
                    attempts += 1;
                    self.refresh(client, sync, week).await;
                }
                Outcome::Failed => tokio::time::sleep(week.backoff).await,
            }
        }
        while attempts < week.attempts_per_window {
            let Some(chunk) = self.store.next_upload(week.range_bytes).unwrap() else {
                break;
            };
            attempts += 1;
            match self.put_range(client, photos, &chunk, week).await {
                Outcome::Ok(()) => {}
                Outcome::Expired => {
                    attempts += 1;
                    self.refresh(client, sync, week).await;
                }
                Outcome::Failed => {
                    tokio::time::sleep(week.backoff).await;
                    attempts += 1;
                    self.resume_point(client, photos, &chunk.sha256, week).await;
                }
            }
        }
    }

    async fn exchange(
        &mut self,
        client: &reqwest::Client,
        server: &str,
        week: &Week,
    ) -> Outcome<SyncReport> {
        self.tally.exchanges += 1;
        let request = self
            .store
            .prepare_sync_with(week.request_budget, week.response_budget)
            .unwrap();
        self.tally.frames_up += request.bytes.len() as u64;
        let mut post = client
            .post(format!("{server}/api/v1/sync"))
            .bearer_auth(&self.token)
            .header("x-gridsync-device", &self.device)
            .header("content-type", "application/vnd.gridsync.sync")
            .timeout(week.timeout);
        if week.gzip {
            // As a phone's HTTP stack does (OkHttp, NSURLSession): answers in gzip, and the
            // app compresses what is worth it.
            post = post.header("accept-encoding", "gzip");
        }
        post = if week.gzip && request.bytes.len() >= GZIP_FROM {
            post.header("content-encoding", "gzip")
                .body(gzip(&request.bytes))
        } else {
            post.body(request.bytes)
        };
        let sent = post.send().await;
        let Ok(response) = sent else {
            return Outcome::Failed;
        };
        match response.status().as_u16() {
            200 => {}
            401 => return Outcome::Expired,
            503 => return Outcome::Failed,
            other => {
                let body = response.text().await.unwrap_or_default();
                self.tally.unexpected.push(format!("sync {other}: {body}"));
                return Outcome::Failed;
            }
        }
        let gzipped = response
            .headers()
            .get("content-encoding")
            .is_some_and(|v| v == "gzip");
        let Ok(bytes) = response.bytes().await else {
            return Outcome::Failed;
        };
        let bytes = if gzipped {
            gunzip(&bytes)
        } else {
            bytes.to_vec()
        };
        self.tally.frames_down += bytes.len() as u64;
        let report = self
            .store
            .apply_sync(&bytes)
            .expect("a whole answer applies");
        self.tally.exchanges_ok += 1;
        for id in &report.acknowledged {
            if let Some(mut doc) = self.store.load(id).unwrap() {
                self.acknowledged.push((*id, doc.heads()));
            }
        }
        for left in &report.left_scope {
            *self.tally.left_scope.entry(left.code.clone()).or_default() += 1;
        }
        self.tally.conflicts += report.conflicts.len() as u64;
        Outcome::Ok(report)
    }

    async fn put_range(
        &mut self,
        client: &reqwest::Client,
        server: &str,
        chunk: &sync_core::UploadChunk,
        week: &Week,
    ) -> Outcome<()> {
        self.tally.ranges += 1;
        let bytes = self.store.read_upload(chunk).unwrap();
        let end = chunk.offset + bytes.len() as u64 - 1;
        let sent = client
            .put(format!("{server}/api/v1/blobs/{}", chunk.sha256))
            .bearer_auth(&self.token)
            .header("content-type", "application/octet-stream")
            .header(
                "content-range",
                format!("bytes {}-{end}/{}", chunk.offset, chunk.total),
            )
            .body(bytes)
            .timeout(week.timeout)
            .send()
            .await;
        let Ok(response) = sent else {
            return Outcome::Failed;
        };
        let status = response.status().as_u16();
        let held = response
            .headers()
            .get("upload-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match (status, held) {
            (200 | 201 | 409, Some(held)) => {
                self.store.set_uploaded(&chunk.sha256, held).unwrap();
                if status != 409 {
                    self.tally.ranges_ok += 1;
                }
                Outcome::Ok(())
            }
            (401, _) => Outcome::Expired,
            (503, _) => Outcome::Failed,
            _ => {
                let body = response.text().await.unwrap_or_default();
                self.tally
                    .unexpected
                    .push(format!("range {status}: {body}"));
                Outcome::Failed
            }
        }
    }

    /// After a cut range: where the server stands.
    async fn resume_point(
        &mut self,
        client: &reqwest::Client,
        server: &str,
        sha256: &str,
        week: &Week,
    ) {
        let Ok(response) = client
            .head(format!("{server}/api/v1/blobs/{sha256}"))
            .bearer_auth(&self.token)
            .timeout(week.timeout)
            .send()
            .await
        else {
            return;
        };
        let held = match response.status().as_u16() {
            // Nothing held (never arrived, or dropped by the server's check): from the start.
            404 => Some(0),
            _ => response
                .headers()
                .get("upload-offset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok()),
        };
        if let Some(held) = held {
            self.store.set_uploaded(sha256, held).unwrap();
        }
    }

    /// The device credential traded for a new token, without the worker. A lost answer is
    /// asked again with the same credential.
    async fn refresh(&mut self, client: &reqwest::Client, server: &str, week: &Week) {
        self.tally.refreshes += 1;
        let sent = client
            .post(format!("{server}/api/v1/auth/refresh"))
            .json(&json!({ "device": self.device, "credential": self.credential }))
            .timeout(week.timeout)
            .send()
            .await;
        let Ok(response) = sent else { return };
        let status = response.status().as_u16();
        let Ok(answer) = response.json::<Value>().await else {
            return;
        };
        match status {
            200 => {
                self.credential = answer["device_credential"]["credential"]
                    .as_str()
                    .unwrap()
                    .into();
                self.token = answer["token"].as_str().unwrap().into();
            }
            503 => {}
            _ => panic!(
                "{}: the device credential was refused ({status} {answer}): the worker would \
                 have to type the password in the field",
                self.username
            ),
        }
    }

    /// A clean link: exchanges and ranges until nothing waits either way.
    async fn drain(&mut self, client: &reqwest::Client, sync: &str, photos: &str, week: &Week) {
        for _ in 0..400 {
            match self.exchange(client, sync, week).await {
                Outcome::Ok(report) if !report.more => break,
                Outcome::Ok(_) => {}
                Outcome::Expired => self.refresh(client, sync, week).await,
                Outcome::Failed => panic!("{}: an exchange failed on a clean link", self.username),
            }
        }
        for _ in 0..10_000 {
            let Some(chunk) = self.store.next_upload(week.range_bytes).unwrap() else {
                break;
            };
            match self.put_range(client, photos, &chunk, week).await {
                Outcome::Ok(()) => {}
                Outcome::Expired => self.refresh(client, sync, week).await,
                Outcome::Failed => panic!("{}: a range failed on a clean link", self.username),
            }
        }
    }
}

/// The office side: the desk accepts (correcting some categories) and dispatches what came
/// in; the roads bureau signs for and replies. Straight to the server, not over the link.
struct Office {
    desk: String,
    roads: String,
    refused: BTreeMap<String, u64>,
    steps: u64,
}

impl Office {
    async fn step(
        &mut self,
        client: &reqwest::Client,
        server: &str,
        token: &str,
        id: &str,
        body: Value,
    ) -> bool {
        let response = client
            .post(format!("{server}/api/v1/records/{id}/transitions"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(status < 500, "{body} on {id} → {status}");
        if status == 200 {
            self.steps += 1;
            true
        } else {
            let problem: Value = response.json().await.unwrap_or_default();
            let code = problem["code"].as_str().unwrap_or("?").to_string();
            *self.refused.entry(code).or_default() += 1;
            false
        }
    }

    async fn work(&mut self, client: &reqwest::Client, server: &str, rng: &mut StdRng) {
        // Tokens are short-lived in the harness: the office logs in each morning.
        self.desk = login(client, server, "desk").await;
        self.roads = login(client, server, "roads-1").await;
        let received = list(client, server, &self.desk, "&status=received").await;
        for (n, record) in received.iter().enumerate() {
            let id = record["id"].as_str().unwrap();
            let accept = if n % 2 == 0 {
                json!({ "action": "accept", "category": "municipal.drainage" })
            } else {
                json!({ "action": "accept" })
            };
            let (desk, roads) = (self.desk.clone(), self.roads.clone());
            if !self.step(client, server, &desk, id, accept).await || rng.random_bool(0.3) {
                continue;
            }
            let dispatch = json!({ "action": "dispatch", "lead": "roads" });
            if self.step(client, server, &desk, id, dispatch).await
                && self
                    .step(client, server, &roads, id, json!({ "action": "sign_for" }))
                    .await
            {
                let reply = json!({ "action": "reply", "note": "已安排养护班组" });
                self.step(client, server, &roads, id, reply).await;
            }
        }
    }
}

/// Every record `token`'s account may read, through the records API, page by page.
async fn list(client: &reqwest::Client, server: &str, token: &str, filter: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{server}/api/v1/records?limit=500{filter}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let response = client.get(url).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        let page: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "listing records: {page}");
        out.extend(page["records"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

async fn login(client: &reqwest::Client, server: &str, username: &str) -> String {
    let answer: Value = client
        .post(format!("{server}/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["token"].as_str().unwrap().to_string()
}

/// Accounts, the roads bureau, and who works where.
async fn seed_accounts(database: &str, week: &Week) -> Vec<(String, Role, &'static str)> {
    let store = store::connect(database).await.unwrap();
    let hash = gridsync_server::auth::hash_password(PASSWORD).unwrap();
    let mut phones = Vec::new();
    for grid in GRIDS {
        for i in 0..week.workers_per_grid {
            phones.push((
                format!("w{}{i}", grid.to_lowercase()),
                Role::GridWorker,
                grid,
            ));
        }
    }
    phones.push(("leader-a".into(), Role::GridLeader, "A"));
    if week.workers_per_grid > 2 {
        phones.push(("leader-c".into(), Role::GridLeader, "C"));
    }
    let mut accounts: Vec<(String, Role, Vec<String>)> = phones
        .iter()
        .map(|(name, role, grid)| (name.clone(), *role, vec![grid.to_string()]))
        .collect();
    accounts.extend([
        ("desk".into(), Role::Dispatcher, vec![]),
        ("gis".into(), Role::Gis, vec![]),
        ("ops".into(), Role::Admin, vec![]),
        ("roads-1".into(), Role::Department, vec![]),
    ]);
    for (username, role, areas) in accounts {
        store
            .create_user(&NewUser {
                username,
                password_hash: hash.clone(),
                role,
                areas,
                created_at: now_unix(),
            })
            .await
            .unwrap();
    }
    store
        .put_department(
            &Department {
                code: "roads".into(),
                name: "交通运输局".into(),
                areas: vec![],
                contacts: Vec::new(),
            },
            now_unix(),
        )
        .await
        .unwrap();
    let roads = store.user_by_name("roads-1").await.unwrap().unwrap();
    store
        .set_user_department(roads.id, Some("roads"))
        .await
        .unwrap();
    phones
}

async fn run(backend: Backend) {
    let week = Week::from_env();
    let (database, _guard) = fresh_database(backend).await;
    let roster = seed_accounts(&database, &week).await;
    let mut server = Server::start(&database, week.token_ttl_secs).await;
    let office_client = reqwest::Client::new();
    let url = server.url.clone();
    let gis = login(&office_client, &url, "gis").await;
    let imported = office_client
        .post(format!("{url}/api/v1/grids/import"))
        .bearer_auth(&gis)
        .json(&village_map())
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 200, "{}", imported.text().await.unwrap());
    let mut office = Office {
        desk: login(&office_client, &url, "desk").await,
        roads: login(&office_client, &url, "roads-1").await,
        refused: BTreeMap::new(),
        steps: 0,
    };
    let mut rng = StdRng::seed_from_u64(week.seed);

    // Records and photos go over separate links, so each one's bytes are counted apart.
    let sync_link = Link::start(server.address(), week.link.clone(), week.seed ^ 1).await;
    let photo_link = Link::start(server.address(), week.link.clone(), week.seed ^ 2).await;
    let mut phones = Vec::new();
    for (n, (username, role, grid)) in roster.iter().enumerate() {
        let mut phone =
            Phone::login(&office_client, &url, username, grid, week.seed + n as u64).await;
        phone.creates = *role == Role::GridWorker;
        phone.in_the_mountains = n == 0;
        phones.push(phone);
    }
    let (moved_worker, reassigned_to) = ("wc0".to_string(), "D");
    let edit_day = week.days / 2;
    let kill_day = (week.days / 2).saturating_sub(1);
    let mut kills = 0;

    let started = Instant::now();
    for day in 0..week.days {
        if day == edit_day {
            let edit = office_client
                .post(format!(
                    "{}/api/v1/grids/batch?reason=road%20rebuilt",
                    server.url
                ))
                .bearer_auth(login(&office_client, &server.url, "gis").await)
                .json(&moved_boundary())
                .send()
                .await
                .unwrap();
            assert_eq!(edit.status(), 200, "{}", edit.text().await.unwrap());
            let admin = login(&office_client, &server.url, "ops").await;
            let moved = office_client
                .put(format!(
                    "{}/api/v1/admin/users/{moved_worker}/areas",
                    server.url
                ))
                .bearer_auth(admin)
                .json(&json!({ "areas": [reassigned_to] }))
                .send()
                .await
                .unwrap();
            assert_eq!(moved.status(), 200, "{}", moved.text().await.unwrap());
            for phone in &mut phones {
                if phone.username == moved_worker {
                    phone.grid = reassigned_to;
                }
            }
        }

        // The phones' day, all at once; on the kill day the server dies under them.
        let mut tasks = Vec::new();
        for mut phone in phones.drain(..) {
            let (week, sync, photos) =
                (week.clone(), sync_link.url.clone(), photo_link.url.clone());
            let offline = (phone.in_the_mountains && day > 0 && day + 1 < week.days)
                || rng.random_bool(week.offline_day);
            tasks.push(tokio::spawn(async move {
                for _ in 0..week.windows_per_day {
                    phone.work(&week, day);
                    if !offline {
                        // The radio sleeps between windows: each window opens its connections.
                        let client = phone_client();
                        phone.window(&client, &sync, &photos, &week).await;
                    }
                }
                phone
            }));
        }
        if day == kill_day {
            // Once the day's traffic is under way, SIGKILL.
            let target =
                sync_link.counters.connections.load(Ordering::Relaxed) + 2 * roster.len() as u64;
            while sync_link.counters.connections.load(Ordering::Relaxed) < target
                && !tasks.iter().all(|t| t.is_finished())
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            server.kill_and_restart().await;
            kills += 1;
            sync_link.set_upstream(server.address());
            photo_link.set_upstream(server.address());
        }
        for task in tasks {
            phones.push(task.await.unwrap());
        }
        office.work(&office_client, &server.url, &mut rng).await;
    }
    let week_time = started.elapsed();

    // The last day: everyone in signal on a clean link (still counted), twice round so each
    // phone gets what the others sent last.
    sync_link.set_impaired(false);
    photo_link.set_impaired(false);
    let clean = Week {
        timeout: Duration::from_secs(120),
        ..week.clone()
    };
    let drain_started = Instant::now();
    let exchanges_before: u64 = phones.iter().map(|p| p.tally.exchanges).sum();
    for _ in 0..2 {
        let mut tasks = Vec::new();
        for mut phone in phones.drain(..) {
            let (week, sync, photos) =
                (clean.clone(), sync_link.url.clone(), photo_link.url.clone());
            tasks.push(tokio::spawn(async move {
                let client = phone_client();
                phone.drain(&client, &sync, &photos, &week).await;
                phone
            }));
        }
        for task in tasks {
            phones.push(task.await.unwrap());
        }
    }
    let drain_time = drain_started.elapsed();
    let drain_exchanges = phones.iter().map(|p| p.tally.exchanges).sum::<u64>() - exchanges_before;

    // What the server holds.
    let stored = store::connect(&database).await.unwrap();
    let rows = stored
        .list_records(&RecordQuery::within(RecordScope::All, 1_000_000))
        .await
        .unwrap();
    let on_server: BTreeSet<RecordId> = rows.iter().map(|r| r.id.parse().unwrap()).collect();
    let created: BTreeSet<RecordId> = phones.iter().flat_map(|p| p.created.clone()).collect();
    assert_eq!(rows.len(), on_server.len(), "one row per record");
    let missing: Vec<_> = created.difference(&on_server).collect();
    let foreign: Vec<_> = on_server.difference(&created).collect();
    if !missing.is_empty() || !foreign.is_empty() {
        for phone in &phones {
            let lost: Vec<_> = phone
                .created
                .iter()
                .filter(|id| !on_server.contains(id))
                .collect();
            if !lost.is_empty() {
                let held: Vec<bool> = lost
                    .iter()
                    .map(|id| phone.store.load(id).unwrap().is_some())
                    .collect();
                println!(
                    "{}: {} of its records not on the server (held on the phone: {held:?}); {:?}; rejected {:?}",
                    phone.username,
                    lost.len(),
                    phone.store.sync_status().unwrap(),
                    phone.store.rejected().unwrap(),
                );
            }
        }
        panic!(
            "the server holds exactly what the phones created: {} missing {:?}…, {} not created by a phone {:?}…",
            missing.len(),
            &missing[..missing.len().min(5)],
            foreign.len(),
            &foreign[..foreign.len().min(5)],
        );
    }
    let mut docs = BTreeMap::new();
    let mut changes = 0;
    let mut conflict_events = 0;
    for id in &on_server {
        let stored_doc = stored.record_doc(&id.to_string()).await.unwrap().unwrap();
        let mut doc = sync_core::RecordDoc::load(&stored_doc.doc).unwrap();
        let all = doc.automerge().get_changes(&[]);
        changes += all.len();
        let one_by_one: u64 = all.iter().map(|c| c.raw_bytes().len() as u64).sum();
        conflict_events += doc
            .record()
            .unwrap()
            .timeline
            .iter()
            .filter(|e| e.kind == "conflict")
            .count();
        let size = (stored_doc.doc.len() as u64, one_by_one);
        docs.insert(*id, (doc.heads(), size, doc));
    }
    // The change log, replayed record by record in its order, rebuilds each document, and
    // every entry brings something new: nothing is missing from it and nothing is in it twice.
    let head = stored.change_head().await.unwrap();
    let log = stored
        .change_feed(0, head, "", &RecordScope::All, 10_000_000)
        .await
        .unwrap();
    let mut replayed: BTreeMap<RecordId, sync_core::RecordDoc> = BTreeMap::new();
    for entry in &log {
        let id: RecordId = entry.record_id.parse().unwrap();
        let doc = replayed
            .entry(id)
            .or_insert_with(|| sync_core::RecordDoc::empty(sync_core::new_actor()));
        let before = doc.heads();
        doc.merge_bytes(&entry.bytes).unwrap();
        assert!(
            doc.missing_deps().is_empty() && doc.heads() != before,
            "log entry {} of {id} ({}) holds nothing new, or depends on a later one",
            entry.seq,
            entry.origin
        );
    }
    for (id, (heads, _, _)) in &docs {
        let rebuilt = replayed.get_mut(id).map(|d| d.heads());
        assert_eq!(
            rebuilt.as_ref(),
            Some(heads),
            "the change log rebuilds {id}"
        );
    }
    assert_eq!(
        replayed.len(),
        docs.len(),
        "the log holds only stored records"
    );

    // Each phone: nothing left to send, every acknowledged change on the server, its copies
    // exactly its scope and each identical to the server's.
    let mut held_bytes = 0u64;
    let mut held_as_changes = 0u64;
    let mut photo_bytes = 0u64;
    let mut photo_count = 0u64;
    for phone in &mut phones {
        let status = phone.store.sync_status().unwrap();
        assert!(
            status.pending_records == 0 && status.pending_photo_bytes == 0 && status.up_to_date,
            "{} has something left: {status:?}",
            phone.username
        );
        for rejected in phone.store.rejected().unwrap() {
            assert_eq!(
                rejected.code,
                sync_core::OUT_OF_SCOPE,
                "{}: only changes to records that left its scope are kept aside: {rejected:?}",
                phone.username
            );
        }
        assert!(
            phone.tally.unexpected.is_empty(),
            "{}: {:?}",
            phone.username,
            phone.tally.unexpected
        );
        for (id, heads) in &phone.acknowledged {
            let (_, _, doc) = docs.get_mut(id).expect("an acknowledged record is stored");
            for head in heads {
                assert!(
                    doc.automerge().get_change_by_hash(head).is_some(),
                    "{}: change {head} of {id} was acknowledged but is not on the server",
                    phone.username
                );
            }
        }
        let token = login(&office_client, &server.url, &phone.username).await;
        let scope: BTreeSet<RecordId> = list(&office_client, &server.url, &token, "")
            .await
            .iter()
            .map(|r| r["id"].as_str().unwrap().parse().unwrap())
            .collect();
        let held: BTreeSet<RecordId> = phone.held().into_iter().collect();
        let stale: Vec<_> = held.difference(&scope).collect();
        assert!(
            stale.is_empty(),
            "{} holds records outside its scope: {stale:?}",
            phone.username
        );
        let missing: Vec<_> = scope.difference(&held).collect();
        assert!(
            missing.is_empty(),
            "{} lacks records in its scope: {missing:?}",
            phone.username
        );
        for id in &held {
            let (heads, (size, one_by_one), _) = &docs[id];
            let mut copy = phone.store.load(id).unwrap().unwrap();
            assert_eq!(
                &copy.heads(),
                heads,
                "{}'s copy of {id} differs from the server's",
                phone.username
            );
            held_bytes += size;
            held_as_changes += one_by_one;
        }
        for (id, sha, size) in &phone.photos {
            let response = office_client
                .get(format!("{}/api/v1/blobs/{sha}", server.url))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let bytes = response.bytes().await.unwrap();
            assert_eq!(
                status,
                200,
                "{}: the photo {sha} of {id}: {}",
                phone.username,
                String::from_utf8_lossy(&bytes)
            );
            assert_eq!(
                (sha256_hex(&bytes), bytes.len() as u64),
                (sha.clone(), *size),
                "{}: the photo of {id} arrived intact",
                phone.username
            );
            let (_, _, doc) = docs.get_mut(id).unwrap();
            assert!(
                doc.record().unwrap().attachments.contains_key(sha),
                "{id} on the server lists its photo"
            );
            photo_bytes += size;
            photo_count += 1;
        }
    }
    assert!(kills > 0 && !phones.is_empty());
    let told: u64 = phones.iter().map(|p| p.tally.conflicts).sum();
    assert!(
        told as usize <= conflict_events,
        "each conflict a worker was told of is in its record's timeline ({told} > {conflict_events})"
    );

    // What it cost.
    let (sync_up, sync_down) = sync_link.counters.bytes();
    let (photo_up, photo_down) = photo_link.counters.bytes();
    let total = |f: fn(&Tally) -> u64| phones.iter().map(|p| f(&p.tally)).sum::<u64>();
    let mut left_scope = BTreeMap::new();
    for phone in &phones {
        for (code, n) in &phone.tally.left_scope {
            *left_scope.entry(code.clone()).or_insert(0) += n;
        }
    }
    let c = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
    let connections = c(&sync_link.counters.connections) + c(&photo_link.counters.connections);
    let cut = c(&sync_link.counters.cut) + c(&photo_link.counters.cut);
    let silent = c(&sync_link.counters.silent) + c(&photo_link.counters.silent);
    let duplicated = c(&sync_link.counters.duplicated) + c(&photo_link.counters.duplicated);
    println!(
        "field week ({}, seed {}, gzip {}, {backend:?}): {} phones, {} days in {:.1} s, server killed {kills}×\n\
         records: {} created, {} changes, {} photos ({} B); office steps {}, refused {:?}\n\
         link: {connections} connections, {cut} cut, {silent} silent, {duplicated} duplicated\n\
         sync on the wire: {sync_up} B up + {sync_down} B down for {held_bytes} B of automerge held = {:.2}×\n\
         sync frames (bodies): {} B up + {} B down = {:.2}× the automerge held\n\
         the records held, as their changes one by one: {held_as_changes} B = {:.2}× their documents\n\
         photos on the wire: {photo_up} B up + {photo_down} B down for {photo_bytes} B = {:.3}×\n\
         exchanges: {} attempts, {} answered ({:.2} per answered); ranges: {} sent, {} taken; refreshes {}\n\
         left scope: {left_scope:?}; conflicts told to workers: {}, in timelines: {conflict_events}\n\
         drain on a clean link: {:.2} s, {drain_exchanges} exchanges",
        week.name,
        week.seed,
        week.gzip,
        phones.len(),
        week.days,
        week_time.as_secs_f64(),
        created.len(),
        changes,
        photo_count,
        photo_bytes,
        office.steps,
        office.refused,
        (sync_up + sync_down) as f64 / held_bytes.max(1) as f64,
        total(|t| t.frames_up),
        total(|t| t.frames_down),
        (total(|t| t.frames_up) + total(|t| t.frames_down)) as f64 / held_bytes.max(1) as f64,
        held_as_changes as f64 / held_bytes.max(1) as f64,
        (photo_up + photo_down) as f64 / photo_bytes.max(1) as f64,
        total(|t| t.exchanges),
        total(|t| t.exchanges_ok),
        total(|t| t.exchanges) as f64 / total(|t| t.exchanges_ok).max(1) as f64,
        total(|t| t.ranges),
        total(|t| t.ranges_ok),
        total(|t| t.refreshes),
        total(|t| t.conflicts),
        drain_time.as_secs_f64(),
    );
    server.child.start_kill().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_field_week_on_sqlite_ends_with_every_record_once_and_every_copy_converged() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_field_week_on_postgres_ends_with_every_record_once_and_every_copy_converged() {
    run(Backend::Postgres).await;
}

/// How many polls each protocol is measured over, after one that opens the connection.
const POLLS: u64 = 10;

/// One poll of an up-to-date phone through the link: nothing goes up, nothing comes back.
async fn empty_poll(client: &reqwest::Client, url: &str, phone: &mut crate::sync::Phone) {
    let request = phone.store.prepare_sync(16 * 1024).unwrap();
    let response = client
        .post(format!("{url}/api/v1/sync"))
        .bearer_auth(&phone.token)
        .header("x-gridsync-device", &phone.device)
        .header("content-type", "application/vnd.gridsync.sync")
        .body(request.bytes)
        .send()
        .await
        .expect("poll");
    assert_eq!(response.status(), 200);
    let report = phone
        .store
        .apply_sync(&response.bytes().await.unwrap())
        .unwrap();
    assert!(
        report.changed.is_empty() && report.acknowledged.is_empty() && !report.more,
        "the phone was up to date: {report:?}"
    );
}

/// What an up-to-date phone's poll costs on the wire over one kept-alive connection, the same
/// polls over HTTP/1.1 and over HTTP/2 in one run. HTTP/1.1 spells out every header on every
/// request; HTTP/2's header compression sends a repeated header as a table index, so what is
/// left is the frames, the bearer token (never indexed, as HTTP/2 stacks treat credentials) and
/// the response's date.
#[both_backends]
async fn an_empty_poll_costs_at_most_200_bytes_on_the_wire_over_http2(app: TestApp) {
    use crate::sync::{Phone, WORKER_GRID, centre};
    app.load_demo_map().await;
    let mut phone = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    phone.complaint_at("Streetlight out", centre(WORKER_GRID), Crs::Wgs84);
    phone.sync_all(&app).await;
    let server: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let link = Link::start(server, Impairment::none(), 0).await;
    link.set_impaired(false);

    let mut per_poll = Vec::new();
    for (protocol, client) in [
        ("HTTP/1.1", reqwest::Client::builder().http1_only().build()),
        (
            "HTTP/2",
            reqwest::Client::builder().http2_prior_knowledge().build(),
        ),
    ] {
        let client = client.unwrap();
        empty_poll(&client, &link.url, &mut phone).await;
        let connections = link.counters.connections.load(Ordering::Relaxed);
        let (up, down) = link.counters.bytes();
        for _ in 0..POLLS {
            empty_poll(&client, &link.url, &mut phone).await;
        }
        let (up_after, down_after) = link.counters.bytes();
        // HTTP/2 shares its one connection from the first poll on. An HTTP/1.1 client may open
        // another when a poll starts before its pool has taken the last connection back; that
        // costs a TCP handshake (not counted here) and no HTTP bytes, so it is not asserted.
        if protocol == "HTTP/2" {
            assert_eq!(
                link.counters.connections.load(Ordering::Relaxed),
                connections,
                "{protocol}: every poll on the kept-alive connection"
            );
        }
        let (up, down) = ((up_after - up) / POLLS, (down_after - down) / POLLS);
        println!(
            "an empty poll over {protocol}: {up} B up, {down} B down, {} B",
            up + down
        );
        per_poll.push(up + down);
    }
    assert!(
        per_poll[1] <= 200,
        "an empty poll over HTTP/2 costs {} B on the wire",
        per_poll[1]
    );
    assert!(per_poll[1] < per_poll[0], "HTTP/2 costs less than HTTP/1.1");
}

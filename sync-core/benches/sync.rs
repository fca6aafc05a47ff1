//! Bytes, round trips and store figures for gridsync's sync against automerge's own
//! per-document sync protocol, on the same documents in the same run. Prints a Markdown table.
//!
//! Run with `cargo bench -p gridsync-sync-core --bench sync`.

mod common;

use std::time::Instant;

use sync_core::automerge::sync::{self, SyncDoc};
use sync_core::{Authority, MemoryServer, OwnerGrid, Record, RecordDoc, Rejection, Store};

/// The byte budget each request and response is capped at: enough for 100 new records at once.
const BUDGET: usize = 256 * 1024;

struct Everyone;
impl Authority for Everyone {
    fn check_write(&self, _: Option<&Record>, _: &Record) -> Result<(), Rejection> {
        Ok(())
    }
    fn in_scope(&self, _: &Record) -> bool {
        true
    }
}

fn no_decision(_: &mut Record) {}

fn decide_owner(record: &mut Record) {
    if record.owner_grid.is_none() {
        record.owner_grid = Some(OwnerGrid {
            code: Some("220302001001".into()),
            boundary_version: 1,
            decided_at: 1,
        });
    }
}

fn realistic_record(store: &Store, i: usize) -> Record {
    common::complaint(store.writer(), i)
}

/// Our protocol: one exchange. Returns (request bytes, response bytes).
fn exchange(
    store: &mut Store,
    server: &mut MemoryServer,
    decide: &dyn Fn(&mut Record),
) -> (usize, usize, bool) {
    let request = store.prepare_sync(BUDGET).unwrap();
    let response = server
        .handle("phone", &request.bytes, &Everyone, decide)
        .unwrap();
    let report = store.apply_sync(&response).unwrap();
    (request.bytes.len(), response.len(), report.more)
}

/// Automerge's sync protocol between two copies of one document, starting from persisted sync
/// states (as an app would after a reconnect). Returns (bytes device→server, bytes
/// server→device, round trips).
fn automerge_sync(
    device: &mut sync_core::automerge::AutoCommit,
    server: &mut sync_core::automerge::AutoCommit,
    device_state: &mut sync::State,
    server_state: &mut sync::State,
) -> (usize, usize, usize) {
    let (mut up, mut down, mut rounds) = (0, 0, 0);
    loop {
        let mut progressed = false;
        if let Some(m) = device.sync().generate_sync_message(device_state) {
            let bytes = m.encode();
            up += bytes.len();
            server
                .sync()
                .receive_sync_message(server_state, sync::Message::decode(&bytes).unwrap())
                .unwrap();
            progressed = true;
            rounds += 1;
        }
        if let Some(m) = server.sync().generate_sync_message(server_state) {
            let bytes = m.encode();
            down += bytes.len();
            device
                .sync()
                .receive_sync_message(device_state, sync::Message::decode(&bytes).unwrap())
                .unwrap();
            progressed = true;
        }
        if !progressed {
            return (up, down, rounds);
        }
    }
}

/// The automerge baseline's world: per document a device copy, a server copy and both
/// persisted sync states.
struct AmPeers {
    pairs: Vec<(
        sync_core::automerge::AutoCommit,
        sync_core::automerge::AutoCommit,
        Vec<u8>,
        Vec<u8>,
    )>,
}

impl AmPeers {
    /// Syncs every document, restoring persisted states first. Returns (up, down, messages
    /// from the device = round trips if run one after another, max round trips of one doc).
    fn sync_all(&mut self) -> (usize, usize, usize, usize) {
        let (mut up, mut down, mut total_rounds, mut max_rounds) = (0, 0, 0, 0);
        for (device, server, ds, ss) in &mut self.pairs {
            let mut device_state = sync::State::decode(ds).unwrap();
            let mut server_state = sync::State::decode(ss).unwrap();
            let (u, d, r) = automerge_sync(device, server, &mut device_state, &mut server_state);
            up += u;
            down += d;
            total_rounds += r;
            max_rounds = max_rounds.max(r);
            *ds = device_state.encode();
            *ss = server_state.encode();
        }
        (up, down, total_rounds, max_rounds)
    }
}

struct Row {
    scenario: &'static str,
    ours: String,
    automerge: String,
    target: String,
    met: bool,
}

fn main() {
    if let Some(path) = std::env::args()
        .skip_while(|a| a != "--open-and-list")
        .nth(1)
    {
        open_and_list_child(&path);
        return;
    }
    let mut rows = Vec::new();

    // A device holding 1,000 records, all synced.
    let mut server = MemoryServer::new();
    let mut store = Store::open_in_memory("wang", "phone").unwrap();
    let mut ids = Vec::new();
    for i in 0..1000 {
        ids.push(store.create(&realistic_record(&store, i)).unwrap());
    }
    while exchange(&mut store, &mut server, &decide_owner).2 {}
    exchange(&mut store, &mut server, &decide_owner);

    // The same documents for automerge's protocol, synced once so the persisted states hold
    // shared heads.
    let mut am = AmPeers { pairs: Vec::new() };
    for id in &ids {
        let mut doc = store.load(id).unwrap().unwrap();
        let device = sync_core::automerge::AutoCommit::load(&doc.save()).unwrap();
        let server_copy = device.clone();
        am.pairs.push((
            device,
            server_copy,
            sync::State::new().encode(),
            sync::State::new().encode(),
        ));
    }
    am.sync_all();

    // (a) nothing changed.
    let (req, resp, _) = exchange(&mut store, &mut server, &decide_owner);
    let ours = req + resp;
    let (up, down, seq_rounds, max_rounds) = am.sync_all();
    rows.push(Row {
        scenario: "(a) nothing changed, 1,000 records",
        ours: format!("1 round trip, {ours} B ({req} up + {resp} down)"),
        automerge: format!(
            "{seq_rounds} round trips one doc after another (≥{max_rounds} pipelined), {} B ({up} up + {down} down)",
            up + down
        ),
        target: "1 round trip, ≤ 200 B".into(),
        met: ours <= 200,
    });

    // (b) one edited record among 1,000.
    store
        .update(&ids[500], |r| {
            r.title.push_str("（已复查）");
            Ok(())
        })
        .unwrap();
    let (req, resp, _) = exchange(&mut store, &mut server, &decide_owner);
    let ours = req + resp;
    {
        let mut doc = store.load(&ids[500]).unwrap().unwrap();
        let edited = sync_core::automerge::AutoCommit::load(&doc.save()).unwrap();
        am.pairs[500].0 = edited;
    }
    let (up, down, seq_rounds, max_rounds) = am.sync_all();
    rows.push(Row {
        scenario: "(b) one edited record among 1,000",
        ours: format!("1 round trip, {ours} B ({req} up + {resp} down)"),
        automerge: format!(
            "{seq_rounds} round trips one doc after another (≥{max_rounds} pipelined), {} B ({up} up + {down} down)",
            up + down
        ),
        target: "1 round trip, ≤ 250 B".into(),
        met: ours <= 250,
    });

    // (c) 100 new records, uploaded to a server that has never seen them.
    let mut fresh = Store::open_in_memory("wang", "phone2").unwrap();
    let mut server2 = MemoryServer::new();
    let mut save_sum = 0;
    let mut am_new = AmPeers { pairs: Vec::new() };
    for i in 0..100 {
        let record = realistic_record(&fresh, i);
        let id = fresh.create(&record).unwrap();
        let mut doc = fresh.load(&id).unwrap().unwrap();
        let bytes = doc.save();
        save_sum += bytes.len();
        let device = sync_core::automerge::AutoCommit::load(&bytes).unwrap();
        am_new.pairs.push((
            device,
            sync_core::automerge::AutoCommit::new(),
            sync::State::new().encode(),
            sync::State::new().encode(),
        ));
    }
    let (req, resp, more) = exchange(&mut fresh, &mut server2, &no_decision);
    assert!(!more, "100 records fit one request");
    let ratio = (req + resp) as f64 / save_sum as f64;
    let (up, down, seq_rounds, max_rounds) = am_new.sync_all();
    rows.push(Row {
        scenario: "(c) 100 new records",
        ours: format!(
            "1 round trip, {} B ({req} up + {resp} down) = {ratio:.3} × Σ save() ({save_sum} B)",
            req + resp
        ),
        automerge: format!(
            "{seq_rounds} round trips one doc after another (≥{max_rounds} pipelined), {} B ({up} up + {down} down) = {:.3} × Σ save()",
            up + down,
            (up + down) as f64 / save_sum as f64
        ),
        target: "≤ 1.1 × Σ save()".into(),
        met: ratio <= 1.1,
    });
    // The same upload when the server also decides each record's owner grid and sends that
    // decision back in the same response.
    let mut fresh3 = Store::open_in_memory("wang", "phone3").unwrap();
    for i in 0..100 {
        fresh3.create(&realistic_record(&fresh3, i)).unwrap();
    }
    let (req3, resp3, _) = exchange(&mut fresh3, &mut MemoryServer::new(), &decide_owner);

    // (d) a store of 10,000 records on disk: open and list in a fresh process.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let build = Instant::now();
    {
        let mut big = Store::open(&path, "wang", "phone").unwrap();
        for i in 0..10_000 {
            big.create(&realistic_record(&big, i)).unwrap();
        }
    }
    let build_time = build.elapsed();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--open-and-list")
        .arg(&path)
        .output()
        .unwrap();
    let child = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> f64 {
        child
            .lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .map(|v| v.trim().parse::<f64>().unwrap())
            })
            .unwrap_or(f64::NAN)
    };
    let (open_ms, page_ms, all_ms, rss_mb, baseline_mb) = (
        field("open_ms"),
        field("page_ms"),
        field("all_ms"),
        field("peak_rss_mb"),
        field("start_rss_mb"),
    );
    rows.push(Row {
        scenario: "(d) 10,000-record store: open + list first page (100)",
        ours: format!(
            "{:.1} ms (open {open_ms:.1} ms + list {page_ms:.1} ms)",
            open_ms + page_ms
        ),
        automerge: "–".into(),
        target: "≤ 300 ms".into(),
        met: open_ms + page_ms <= 300.0,
    });
    rows.push(Row {
        scenario: "(d) 10,000-record store: list all 10,000 rows",
        ours: format!("{all_ms:.1} ms"),
        automerge: "–".into(),
        target: "≤ 300 ms".into(),
        met: open_ms + all_ms <= 300.0,
    });
    rows.push(Row {
        scenario: "(d) peak resident memory of the process doing the above",
        ours: format!("{rss_mb:.1} MB (process start {baseline_mb:.1} MB)"),
        automerge: "–".into(),
        target: "≤ 32 MB".into(),
        met: rss_mb <= 32.0,
    });

    println!("| scenario | gridsync | automerge sync protocol | target | met |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.scenario,
            r.ours,
            r.automerge,
            r.target,
            if r.met { "yes" } else { "NO" }
        );
    }
    println!();
    println!(
        "(c) with the server deciding each new record's owner grid in the same round trip: {} B ({req3} up + {resp3} down).",
        req3 + resp3
    );
    println!(
        "Building the 10,000-record store (10,000 separate durable transactions): {:.1} s.",
        build_time.as_secs_f64()
    );
}

fn rss_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn open_and_list_child(path: &str) {
    let start_rss = rss_mb("VmRSS:");
    let t = Instant::now();
    let store = Store::open(path, "wang", "phone").unwrap();
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let page = store.list(&sync_core::ListFilter::default()).unwrap();
    let page_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(page.len(), 100);
    let t = Instant::now();
    let all = store
        .list(&sync_core::ListFilter {
            limit: Some(10_000),
            ..Default::default()
        })
        .unwrap();
    let all_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(all.len(), 10_000);
    // Read one record's document on demand, as opening a detail screen would.
    let mut doc: RecordDoc = store.load(&all[1234].id).unwrap().unwrap();
    assert!(doc.record().is_ok() && !doc.heads().is_empty());
    println!("open_ms {open_ms}");
    println!("page_ms {page_ms}");
    println!("all_ms {all_ms}");
    println!("start_rss_mb {start_rss}");
    println!("peak_rss_mb {}", rss_mb("VmHWM:"));
}

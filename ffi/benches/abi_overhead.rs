//! What a call through the C ABI costs over the same sync-core call made directly from Rust:
//! create a record, get it, list the newest 20, on the same kind of store file. Prints a
//! Markdown table. The ABI side calls the exported `extern "C"` functions through the rlib, so
//! it pays everything a phone's call pays inside the library (argument checks, the handle
//! registry and lock, JSON in and out, the panic guard, allocating returned strings) except the
//! JNI or Swift marshalling on the app's side.
//!
//! Run with `cargo bench -p gridsync-ffi --bench abi_overhead` (`ABI_BENCH_N` sets the rounds).

#![allow(unsafe_code)] // It calls the C ABI, as a phone app does.

use std::ffi::{CStr, CString, c_char};
use std::time::{Duration, Instant};

use gridsync::{
    GsStatus, GsStore, gs_record_create, gs_record_get, gs_record_list, gs_store_close,
    gs_store_open, gs_string_free,
};
use sync_core::{Crs, ListFilter, Location, RecordBuilder, Store};

const NEW_RECORD: &CStr = c"{\"kind\":\"complaint\",\"title\":\"Streetlight out on Ring Road\",\"description\":\"Dark since Monday, near the bus stop\",\"category\":\"lighting\",\"location\":{\"lon\":116.397,\"lat\":39.909,\"crs\":\"wgs84\"},\"claimed_grid\":\"G-01\"}";
const FILTER: &CStr = c"{\"limit\":20}";

/// One round's durations: create, get, list.
type Round = [Duration; 3];

/// The direct path: sync-core's `Store`, as a Rust caller uses it.
struct Direct {
    store: Store,
    filter: ListFilter,
}

impl Direct {
    fn open(path: &std::path::Path) -> Direct {
        Direct {
            store: Store::open(path, "wang", "phone-1").unwrap(),
            filter: ListFilter {
                limit: Some(20),
                ..ListFilter::default()
            },
        }
    }

    fn round(&mut self) -> Round {
        let start = Instant::now();
        let record = RecordBuilder::complaint("Streetlight out on Ring Road", self.store.writer())
            .description("Dark since Monday, near the bus stop")
            .category("lighting")
            .location(Location {
                lon: 116.397,
                lat: 39.909,
                accuracy_m: None,
                crs: Crs::Wgs84,
            })
            .claimed_grid("G-01")
            .build();
        let id = self.store.create(&record).unwrap();
        let after_create = Instant::now();
        std::hint::black_box(self.store.get(&id).unwrap());
        let after_get = Instant::now();
        std::hint::black_box(self.store.list(&self.filter).unwrap());
        let end = Instant::now();
        [
            after_create - start,
            after_get - after_create,
            end - after_get,
        ]
    }
}

/// The ABI path: the exported functions, with JSON in and owned strings out.
struct Abi {
    store: *mut GsStore,
}

fn ok(status: GsStatus) {
    assert_eq!(status, GsStatus::Ok);
}

impl Abi {
    fn open(path: &std::path::Path) -> Abi {
        let path = CString::new(path.to_str().unwrap()).unwrap();
        let mut store: *mut GsStore = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated strings and out-pointer, as the header asks.
        unsafe {
            ok(gs_store_open(
                path.as_ptr(),
                c"wang".as_ptr(),
                c"phone-1".as_ptr(),
                &mut store,
            ));
        }
        Abi { store }
    }

    fn round(&mut self) -> Round {
        let mut id: *mut c_char = std::ptr::null_mut();
        let mut json: *mut c_char = std::ptr::null_mut();
        let mut list: *mut c_char = std::ptr::null_mut();
        // SAFETY: as above; every returned string is freed once.
        unsafe {
            let start = Instant::now();
            ok(gs_record_create(self.store, NEW_RECORD.as_ptr(), &mut id));
            let after_create = Instant::now();
            ok(gs_record_get(self.store, id, &mut json));
            let after_get = Instant::now();
            ok(gs_record_list(self.store, FILTER.as_ptr(), &mut list));
            let end = Instant::now();
            gs_string_free(id);
            gs_string_free(json);
            gs_string_free(list);
            [
                after_create - start,
                after_get - after_create,
                end - after_get,
            ]
        }
    }
}

impl Drop for Abi {
    fn drop(&mut self) {
        ok(gs_store_close(self.store));
    }
}

/// The median of each call's durations, in microseconds.
fn medians(rounds: &[Round]) -> [f64; 4] {
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e6
    };
    let call = |i: usize| median(rounds.iter().map(|r| r[i]).collect());
    let total = median(rounds.iter().map(|r| r[0] + r[1] + r[2]).collect());
    [call(0), call(1), call(2), total]
}

fn main() {
    let n: usize = std::env::var("ABI_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let mut direct = Direct::open(&dir.path().join("direct.db"));
    let mut abi = Abi::open(&dir.path().join("abi.db"));
    // Alternate the two paths round by round, so both see the same disk and machine load (the
    // create is dominated by SQLite's fsync), after a warm-up.
    for _ in 0..20 {
        direct.round();
        abi.round();
    }
    let (mut d, mut a) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        d.push(direct.round());
        a.push(abi.round());
    }
    let (d, a) = (medians(&d), medians(&a));
    println!("{n} alternating rounds of create + get + list(20), median per call\n");
    println!("| call | direct Rust (µs) | through the C ABI (µs) | ABI ÷ direct |");
    println!("|---|---|---|---|");
    let names = ["create", "get", "list 20", "create + get + list"];
    for (i, name) in names.iter().enumerate() {
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} × |",
            d[i],
            a[i],
            a[i] / d[i]
        );
    }
}

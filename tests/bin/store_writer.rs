//! Writes to a gridsync store until it is killed, for the crash test (`tests/e2e/crash.rs`).
//!
//! ```text
//! gridsync-store-writer <store path> [seed]
//! ```
//!
//! It continues whatever earlier runs left in the store. Each write either creates a record or
//! updates one, and every write sets the record's per-record counter in its `category`
//! (`n=<counter>`, see [`gridsync_tests::counter_category`]). Only after the store has returned
//! `Ok` does it print `saved <record id> <counter>` and flush, so every line the crash test reads
//! is a write the store promised to keep.
//!
//! Half the updates go to one "hot" record until it has taken [`HOT_UPDATES`], far more than the
//! store's 64 chunks, so documents are compacted again and again; then the next record becomes
//! hot. The rest spread over all records. Updates add timeline events and edit the merging-text
//! fields (title, description, findings); the hot record gets no timeline events. Both limits keep
//! writes fast: every update loads the whole document and hydrates and reconciles its whole
//! timeline, so a document with thousands of changes would make each write slow enough to
//! dominate the test.

use std::io::Write;

use anyhow::{Context, bail};
use gridsync_tests::{WRITER_ACCOUNT, Xorshift, counter_category, parse_counter_category};
use sync_core::{
    Crs, Event, ListFilter, Location, RecordBuilder, RecordId, RiskLevel, Store, new_record_id,
    now_ms,
};

/// How many updates a record takes as the hot record.
const HOT_UPDATES: u64 = 200;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        bail!("usage: gridsync-store-writer <store path> [seed]");
    };
    let seed = match args.next() {
        Some(seed) => seed.parse().context("the seed is not a number")?,
        None => Xorshift::seed_from_clock(),
    };
    let mut rng = Xorshift::new(seed);
    let mut store = Store::open(&path, WRITER_ACCOUNT, "writer")
        .with_context(|| format!("cannot open the store at {path}"))?;
    let mut records = existing_records(&store)?;
    let mut out = std::io::stdout().lock();
    loop {
        let hot = records
            .iter()
            .position(|&(_, counter)| counter < HOT_UPDATES);
        let (id, counter) = match hot {
            Some(hot) if !rng.chance(1, 16) => {
                let index = if rng.chance(1, 2) {
                    hot
                } else {
                    rng.in_range(0..records.len() as u64) as usize
                };
                let edit = match rng.in_range(0..3) {
                    0 if index != hot => Edit::AddEvent,
                    0 | 1 => Edit::Description,
                    _ => Edit::Title,
                };
                let (id, counter) = &mut records[index];
                *counter += 1;
                update(&mut store, *id, *counter, edit)?;
                (*id, *counter)
            }
            _ => {
                let id = create(&mut store, &mut rng, records.len())?;
                records.push((id, 0));
                (id, 0)
            }
        };
        writeln!(out, "saved {id} {counter}")?;
        out.flush()?;
    }
}

/// Every record in the store with its counter, oldest first (record ids are UUID v7). The counter
/// is read from the listing row, which the store writes in the same transaction as the document.
fn existing_records(store: &Store) -> anyhow::Result<Vec<(RecordId, u64)>> {
    let rows = store.list(&ListFilter {
        limit: Some(10_000),
        ..ListFilter::default()
    })?;
    let mut records = rows
        .into_iter()
        .map(|row| {
            let counter = parse_counter_category(&row.category)
                .with_context(|| format!("record {} has category {:?}", row.id, row.category))?;
            Ok((row.id, counter))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    records.sort();
    Ok(records)
}

fn create(store: &mut Store, rng: &mut Xorshift, number: usize) -> anyhow::Result<RecordId> {
    let location = Location {
        lon: 124.3 + rng.in_range(0..10_000) as f64 / 100_000.0,
        lat: 43.1 + rng.in_range(0..10_000) as f64 / 100_000.0,
        accuracy_m: Some(rng.in_range(1..50) as f64 + 0.5),
        crs: Crs::Wgs84,
    };
    let builder = if rng.chance(1, 3) {
        RecordBuilder::risk_inspection(
            format!("Hazard survey {number}"),
            "road",
            RiskLevel::Medium,
            store.writer(),
        )
    } else {
        RecordBuilder::complaint(format!("Leak report {number}"), store.writer())
    };
    let mut record = builder
        .description(format!("Water under building {number}. Checked 0 times."))
        .category(counter_category(0))
        .location(location)
        .build();
    if let Some(inspection) = &mut record.inspection {
        inspection.findings = "Manhole cover rocks when cars pass.".to_string();
    }
    Ok(store.create(&record)?)
}

/// What an update changes besides the counter.
#[derive(Debug, Clone, Copy)]
enum Edit {
    AddEvent,
    Description,
    Title,
}

fn update(store: &mut Store, id: RecordId, counter: u64, edit: Edit) -> anyhow::Result<()> {
    let actor = store.writer().user.clone();
    let changed = store.update(&id, |record| {
        record.category = counter_category(counter);
        match edit {
            Edit::AddEvent => record.timeline.push(Event {
                id: new_record_id().to_string(),
                actor,
                at: now_ms(),
                kind: "note".to_string(),
                note: format!("check {counter}"),
            }),
            Edit::Description => {
                // Only the count at the end changes, so the text update splices a few characters.
                record.description = record
                    .description
                    .split(". Checked ")
                    .next()
                    .map(|head| format!("{head}. Checked {counter} times."))
                    .unwrap_or_default();
                if let Some(inspection) = &mut record.inspection {
                    inspection.findings = format!("Cover rocks ({counter} checks).");
                }
            }
            Edit::Title => {
                let head = record.title.split(" (rev").next().unwrap_or_default();
                record.title = format!("{head} (rev {counter})");
            }
        }
        Ok(())
    })?;
    if !changed {
        bail!("updating record {id} to counter {counter} changed nothing");
    }
    Ok(())
}

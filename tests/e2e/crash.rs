//! The phone store under SIGKILL: `gridsync-store-writer` (tests/bin/store_writer.rs) writes to one
//! store file until it is killed at a random moment, again and again; after every kill the store
//! must reopen with every write the writer reported saved, and every document must load.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gridsync_tests::{WRITER_ACCOUNT, Xorshift, parse_counter_category};
use sync_core::{ListFilter, RecordId, Store};

/// sync-core rewrites a document as one compact save after this many chunks (`COMPACT_AFTER` in
/// sync-core/src/store.rs, which the crate does not export).
const COMPACT_AFTER: u64 = 64;

const RUNS: u64 = 12;

#[test]
fn a_store_killed_mid_write_reopens_with_everything_it_reported_saved() {
    // Arrange
    let seed = match std::env::var("GRIDSYNC_CRASH_SEED") {
        Ok(seed) => seed.parse().expect("GRIDSYNC_CRASH_SEED is not a number"),
        Err(_) => Xorshift::seed_from_clock(),
    };
    eprintln!("crash test seed {seed} (set GRIDSYNC_CRASH_SEED={seed} to repeat the kill points)");
    let mut rng = Xorshift::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    // The last counter the writer reported saved, per record.
    let mut reported: HashMap<RecordId, u64> = HashMap::new();

    for run in 1..=RUNS {
        // Act: let the writer report a random number of writes, then kill it mid-write.
        let lines = rng.in_range(5..250);
        let mut guard = spawn_writer(&path, rng.next_u64());
        let writer = &mut guard.0;
        // Kept open until the writer is dead: a closed pipe would make it stop by itself.
        let mut stdout = BufReader::new(writer.stdout.take().unwrap());
        let mut read = 0;
        for line in stdout.by_ref().lines() {
            let line = line.unwrap();
            let (id, counter) = parse_saved_line(&line);
            if let Some(previous) = reported.insert(id, counter) {
                assert!(
                    counter > previous,
                    "run {run}: record {id} reported counter {counter} after {previous}"
                );
            }
            read += 1;
            if read == lines {
                break;
            }
        }
        if read < lines {
            let mut stderr = String::new();
            let _ = writer.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!(
                "run {run}: the writer stopped after {read} of {lines} writes ({}):\n{stderr}",
                writer.wait().unwrap()
            );
        }
        // The writer never waits between writes, so a pause of a random fraction of a write
        // moves the kill to a different point inside the next one.
        std::thread::sleep(Duration::from_micros(rng.in_range(0..2_000)));
        writer.kill().unwrap();
        let status = writer.wait().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(9),
                "run {run}: the writer ended by itself ({status})"
            );
        }
        #[cfg(not(unix))]
        let _ = status;
        drop(stdout);
        drop(guard);

        // Assert
        check_store(&path, &reported, run);
    }
    let hottest = reported.values().max().copied().unwrap_or(0);
    assert!(
        hottest > 2 * COMPACT_AFTER,
        "the most written record took only {hottest} updates, too few to be compacted twice"
    );
}

/// The writer process, killed when dropped so that a failing assertion does not leave it writing.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_writer(store: &Path, seed: u64) -> KillOnDrop {
    let child = Command::new(env!("CARGO_BIN_EXE_gridsync-store-writer"))
        .arg(store)
        .arg(seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start gridsync-store-writer");
    KillOnDrop(child)
}

/// Parses `saved <record id> <counter>`.
fn parse_saved_line(line: &str) -> (RecordId, u64) {
    let parsed = line.strip_prefix("saved ").and_then(|rest| {
        let (id, counter) = rest.split_once(' ')?;
        Some((RecordId::parse_str(id).ok()?, counter.parse().ok()?))
    });
    parsed.unwrap_or_else(|| panic!("the writer printed {line:?}, not `saved <id> <counter>`"))
}

/// Reopens the store after a kill and checks that it kept every reported write, that every
/// document loads and validates, and that the listing agrees with the documents.
fn check_store(path: &Path, reported: &HashMap<RecordId, u64>, run: u64) {
    let store = Store::open(path, WRITER_ACCOUNT, "writer").unwrap_or_else(|e| {
        panic!(
            "run {run}: the store does not reopen: {:#}",
            anyhow::Error::new(e)
        )
    });
    let rows = store
        .list(&ListFilter {
            limit: Some(10_000),
            ..ListFilter::default()
        })
        .unwrap();
    assert_eq!(
        rows.len() as u64,
        store.count().unwrap(),
        "run {run}: the listing and the count disagree"
    );

    let mut stored = HashMap::with_capacity(rows.len());
    for row in &rows {
        let record = store.get(&row.id).unwrap_or_else(|e| {
            panic!(
                "run {run}: record {} does not load: {:#}",
                row.id,
                anyhow::Error::new(e)
            )
        });
        assert_eq!(
            (&record.title, &record.category),
            (&row.title, &row.category),
            "run {run}: the listing row of record {} disagrees with its document",
            row.id
        );
        let counter = parse_counter_category(&record.category).unwrap_or_else(|| {
            panic!(
                "run {run}: record {} has category {:?}",
                row.id, record.category
            )
        });
        stored.insert(row.id, counter);
    }

    for (id, &counter) in reported {
        let kept = stored
            .get(id)
            .unwrap_or_else(|| panic!("run {run}: record {id} was reported saved but is missing"));
        assert!(
            *kept >= counter,
            "run {run}: record {id} was reported saved at counter {counter} but holds {kept}"
        );
    }
}

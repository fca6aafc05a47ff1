//! What each step of ingesting one new record costs, on a realistic complaint document: the
//! floor under the server's sync throughput. Prints a Markdown table of mean microseconds per
//! operation.
//!
//! Run with `cargo bench -p gridsync-sync-core --bench record_ops`.

use std::hint::black_box;
use std::time::Instant;

mod common;

use sync_core::automerge::ActorId;
use sync_core::{OwnerGrid, Record, RecordDoc, Writer, new_actor, push_event};

const N: usize = 2_000;

fn decide(r: &mut Record) {
    r.owner_grid = Some(OwnerGrid {
        code: Some("22030200100101".into()),
        boundary_version: 1,
        decided_at: 1,
    });
    push_event(r, "server", "owner_assigned", "owner grid 22030200100101");
}

/// A saved document loaded to be written by `actor`.
fn loaded(bytes: &[u8], actor: &ActorId) -> RecordDoc {
    let mut doc = RecordDoc::load(bytes).unwrap();
    doc.set_actor(actor.clone());
    doc
}

/// Mean microseconds of `f` over `n` runs, each on its own input from `setup`.
fn time<I, O>(mut setup: impl FnMut(usize) -> I, mut f: impl FnMut(I) -> O) -> f64 {
    let inputs: Vec<I> = (0..N).map(&mut setup).collect();
    let started = Instant::now();
    for input in inputs {
        black_box(f(input));
    }
    started.elapsed().as_secs_f64() * 1e6 / N as f64
}

/// Mean microseconds per record of a phone's `prepare_sync` for records made offline and not
/// yet sent, 50 to a request (what a grid worker's phone does when it finds signal).
fn prepare_new(records: &[Record]) -> f64 {
    const PER_REQUEST: usize = 50;
    let mut store = sync_core::Store::open_in_memory("worker", "phone").unwrap();
    let mut total = 0.0;
    for chunk in records.chunks(PER_REQUEST) {
        for r in chunk {
            store.create(r).unwrap();
        }
        let started = Instant::now();
        let prepared = store.prepare_sync(64 << 20).unwrap();
        total += started.elapsed().as_secs_f64();
        assert_eq!(prepared.uploads, chunk.len());
        // The server's acknowledgement, so the next request carries only the next records.
        let request = sync_core::SyncRequest::decode(&prepared.bytes).unwrap();
        let ack = sync_core::SyncResponse {
            request_id: request.request_id,
            acks: request
                .uploads
                .iter()
                .map(|u| sync_core::Ack {
                    id: u.id,
                    verdict: sync_core::Verdict::Accepted,
                })
                .collect(),
            ..sync_core::SyncResponse::default()
        };
        store.apply_sync(&ack.encode()).unwrap();
    }
    total * 1e6 / records.len() as f64
}

fn main() {
    let writer = Writer::new("worker", "phone");
    let server = Writer::new("server", "server");
    let actor = new_actor();
    let records: Vec<Record> = (0..N).map(|i| common::complaint(&writer, i)).collect();
    let saved: Vec<Vec<u8>> = records
        .iter()
        .map(|r| RecordDoc::create(r, new_actor(), &writer).unwrap().save())
        .collect();
    let changes: Vec<Vec<u8>> = saved
        .iter()
        .map(|b| {
            let mut d = RecordDoc::load(b).unwrap();
            d.automerge().save_after(&[])
        })
        .collect();
    let compressed: Vec<Vec<u8>> = saved
        .iter()
        .map(|b| RecordDoc::load(b).unwrap().changes())
        .collect();
    let decided: Vec<Vec<u8>> = saved
        .iter()
        .map(|b| {
            let mut doc = loaded(b, &actor);
            doc.update(&server, |r| {
                decide(r);
                Ok(())
            })
            .unwrap();
            doc.save()
        })
        .collect();

    let rows: Vec<(&str, f64)> = vec![
        (
            "create (validate, reconcile, commit)",
            time(
                |i| records[i].clone(),
                |r| RecordDoc::create(&r, actor.clone(), &writer).unwrap(),
            ),
        ),
        (
            "save (new document)",
            time(
                |i| RecordDoc::create(&records[i], actor.clone(), &writer).unwrap(),
                |mut d| d.save(),
            ),
        ),
        (
            "load (saved bytes)",
            time(|i| &saved[i], |b| RecordDoc::load(b).unwrap()),
        ),
        (
            "changes (the new document's one change, compressed)",
            time(
                |i| RecordDoc::create(&records[i], actor.clone(), &writer).unwrap(),
                |mut d| d.changes(),
            ),
        ),
        (
            "load (the document's one change, as a change chunk)",
            time(|i| &changes[i], |b| RecordDoc::load(b).unwrap()),
        ),
        (
            "load (the one change, compressed)",
            time(|i| &compressed[i], |b| RecordDoc::load(b).unwrap()),
        ),
        (
            "merge into an empty document",
            time(
                |i| &saved[i],
                |b| {
                    let mut d = RecordDoc::empty(actor.clone());
                    d.merge_bytes(b).unwrap();
                    d
                },
            ),
        ),
        (
            "heads",
            time(|i| RecordDoc::load(&saved[i]).unwrap(), |mut d| d.heads()),
        ),
        (
            "open_conflicts (what a merge adds before and after, none open)",
            time(
                |i| RecordDoc::load(&decided[i]).unwrap(),
                |d| d.open_conflicts(),
            ),
        ),
        (
            "record() (hydrate + validate)",
            time(
                |i| RecordDoc::load(&saved[i]).unwrap(),
                |d| d.record().unwrap(),
            ),
        ),
        (
            "automerge hydrate (whole tree, no mapping)",
            time(
                |i| RecordDoc::load(&saved[i]).unwrap(),
                |d| {
                    use sync_core::automerge::ReadDoc;
                    d.as_automerge()
                        .hydrate(sync_core::automerge::ROOT, None)
                        .unwrap()
                },
            ),
        ),
        (
            "update: owner decision (hydrate, reconcile, commit)",
            time(
                |i| loaded(&saved[i], &actor),
                |mut d| {
                    d.update(&server, |r| {
                        decide(r);
                        Ok(())
                    })
                    .unwrap()
                },
            ),
        ),
        (
            "update_from: owner decision, record already read",
            time(
                |i| {
                    let d = loaded(&saved[i], &actor);
                    let r = d.record().unwrap();
                    (d, r)
                },
                |(mut d, r)| {
                    d.update_from(&r, &server, |r| {
                        decide(r);
                        Ok(())
                    })
                    .unwrap()
                },
            ),
        ),
        (
            "raw automerge ops: owner decision, then commit",
            time(
                |i| loaded(&saved[i], &actor),
                |mut d| {
                    use sync_core::automerge::transaction::Transactable;
                    use sync_core::automerge::{ObjType, ROOT, ReadDoc};
                    let a = d.automerge();
                    let o = a.put_object(ROOT, "owner_grid", ObjType::Map).unwrap();
                    a.put(&o, "code", "22030200100101").unwrap();
                    a.put(&o, "boundary_version", 1u64).unwrap();
                    a.put(&o, "decided_at", 1i64).unwrap();
                    let (_, t) = a.get(ROOT, "timeline").unwrap().unwrap();
                    let n = a.length(&t);
                    let e = a.insert_object(&t, n, ObjType::Map).unwrap();
                    for k in ["id", "actor", "kind", "note"] {
                        a.put(&e, k, "server").unwrap();
                    }
                    a.put(&e, "at", 1i64).unwrap();
                    a.commit()
                },
            ),
        ),
        (
            "commit of an empty transaction",
            time(
                |i| loaded(&saved[i], &actor),
                |mut d| {
                    use sync_core::automerge::transaction::Transactable;
                    let a = d.automerge();
                    a.put(sync_core::automerge::ROOT, "x", 1i64).unwrap();
                    a.commit()
                },
            ),
        ),
        (
            "get_changes (all, of a loaded document)",
            time(
                |i| RecordDoc::load(&saved[i]).unwrap(),
                |mut d| d.automerge().get_changes(&[]).len(),
            ),
        ),
        (
            "save (after the owner decision)",
            time(
                |i| {
                    let mut d = loaded(&saved[i], &actor);
                    d.update(&server, |r| {
                        decide(r);
                        Ok(())
                    })
                    .unwrap();
                    d
                },
                |mut d| d.save(),
            ),
        ),
        (
            "load (decided document)",
            time(|i| &decided[i], |b| RecordDoc::load(b).unwrap()),
        ),
        (
            "phone: prepare_sync of new records, per record (50 per request)",
            prepare_new(&records),
        ),
    ];
    let mean = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>() / N;
    println!(
        "{N} complaint documents, about {} bytes saved ({} after the owner decision); \
         the one change: {} bytes as committed, {} compressed\n",
        mean(&saved),
        mean(&decided),
        mean(&changes),
        mean(&compressed)
    );
    println!("| operation | µs per document |");
    println!("|---|---:|");
    for (name, us) in rows {
        println!("| {name} | {us:.1} |");
    }
}

//! Re-ownership after a boundary edit: only records inside the edit's boxes (the old and new
//! bounding boxes of every changed area) can change owner, so only those are looked at. Each
//! whose owner under the new map differs gets the new owner written into its document as a
//! server change, with a timeline event naming the edit and the previous owner; the row's
//! owner moves with it, so the record enters the new grid's sync scope (devices there receive
//! the whole document in their next exchange: the change is logged with the ownership origin).
//!
//! The work is queued in the same transaction as the edit (`reown_jobs`), so a server that
//! stops half-way finishes it on its next start ([`resume`]). Re-running a job is harmless:
//! a record already owned as the map says is left alone.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use sync_core::RecordDoc;
use sync_core::automerge::ActorId;

use crate::error::ApiError;
use crate::records::{OWNER_ORIGIN, log_entries, reassign_owner, record_row};
use crate::state::{AppState, MapSnapshot};
use crate::store::{CommitOutcome, RecordCommit, RecordPoint, Store};

/// Documents written per transaction.
const BATCH: usize = 256;
/// Records listed by id in a report.
const SAMPLE: usize = 100;
/// Attempts per record when others keep writing it.
const ATTEMPTS: usize = 8;

/// One record's move.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordMove {
    pub id: String,
    /// `None`: the unassigned queue.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// How many records moved from one owner to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoveCount {
    pub from: Option<String>,
    pub to: Option<String>,
    pub records: u64,
}

/// What a re-ownership did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReownReport {
    /// Records inside the edit's boxes.
    pub examined: u64,
    /// Records whose owner changes.
    pub changed: u64,
    /// Of those, how many leave every grid (the unassigned queue).
    pub unassigned: u64,
    /// Counts per `(from, to)`.
    pub moves: Vec<MoveCount>,
    /// The first moved records, by id.
    pub sample: Vec<RecordMove>,
}

/// The records inside `boxes` whose owner under `map` differs from their stored owner. The
/// points are read per box; locating them (CPU, proportional to the records) runs on the
/// blocking pool.
pub async fn plan(
    store: &dyn Store,
    map: Arc<MapSnapshot>,
    boxes: &[[f64; 4]],
) -> Result<(u64, Vec<RecordMove>), ApiError> {
    let mut points: Vec<RecordPoint> = Vec::new();
    for bbox in boxes {
        points.extend(store.records_in_box(*bbox).await?);
    }
    actix_web::web::block(move || {
        let mut seen: HashSet<String> = HashSet::with_capacity(points.len());
        let mut moves = Vec::new();
        for RecordPoint {
            id,
            owner_grid,
            lon,
            lat,
        } in points
        {
            if !seen.insert(id.clone()) {
                continue;
            }
            let to = map
                .index
                .locate(lon, lat)
                .map(|a| map.index.area(a).code.clone());
            if to != owner_grid {
                moves.push(RecordMove {
                    id,
                    from: owner_grid,
                    to,
                });
            }
        }
        moves.sort_by(|a, b| a.id.cmp(&b.id));
        (seen.len() as u64, moves)
    })
    .await
    .map_err(ApiError::internal)
}

fn report(examined: u64, moves: &[RecordMove]) -> ReownReport {
    let mut counts: BTreeMap<(Option<String>, Option<String>), u64> = BTreeMap::new();
    for m in moves {
        *counts.entry((m.from.clone(), m.to.clone())).or_default() += 1;
    }
    ReownReport {
        examined,
        changed: moves.len() as u64,
        unassigned: moves.iter().filter(|m| m.to.is_none()).count() as u64,
        moves: counts
            .into_iter()
            .map(|((from, to), records)| MoveCount { from, to, records })
            .collect(),
        sample: moves.iter().take(SAMPLE).cloned().collect(),
    }
}

/// What re-ownership under `map` would do, writing nothing.
pub async fn preview(
    store: &dyn Store,
    map: Arc<MapSnapshot>,
    boxes: &[[f64; 4]],
) -> Result<ReownReport, ApiError> {
    let (examined, moves) = plan(store, map, boxes).await?;
    Ok(report(examined, &moves))
}

/// Reads, re-decides and prepares one batch of documents (on the blocking pool).
fn prepare(
    docs: Vec<(String, crate::store::StoredDoc)>,
    map: &MapSnapshot,
    actor: &ActorId,
    edit: &str,
) -> Result<Vec<RecordCommit>, ApiError> {
    let mut commits = Vec::with_capacity(docs.len());
    for (_, stored) in docs {
        let mut doc = RecordDoc::load(&stored.doc).map_err(ApiError::internal)?;
        let record = doc.record().map_err(ApiError::internal)?;
        let heads = doc.heads();
        if let Some(record) =
            reassign_owner(&mut doc, &record, map, actor, edit).map_err(ApiError::internal)?
        {
            let changes = log_entries(&doc.automerge().get_changes(&heads), OWNER_ORIGIN);
            commits.push(RecordCommit {
                row: record_row(&record, sync_core::now_ms()),
                doc: doc.save(),
                expected_version: Some(stored.version),
                changes,
                contact: None,
            });
        }
    }
    Ok(commits)
}

/// Writes the new owners of the records inside `boxes` under `map`; returns what moved.
pub async fn apply(
    store: &dyn Store,
    map: Arc<MapSnapshot>,
    actor: &ActorId,
    boxes: &[[f64; 4]],
    edit: &str,
) -> Result<ReownReport, ApiError> {
    let (examined, moves) = plan(store, map.clone(), boxes).await?;
    let mut pending: Vec<String> = moves.iter().map(|m| m.id.clone()).collect();
    for _ in 0..ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        let mut conflicted = Vec::new();
        for chunk in pending.chunks(BATCH) {
            let docs = store.record_docs(chunk).await?;
            let (map, actor, edit) = (map.clone(), actor.clone(), edit.to_string());
            let mut commits = actix_web::web::block(move || prepare(docs, &map, &actor, &edit))
                .await
                .map_err(ApiError::internal)??;
            if commits.is_empty() {
                continue;
            }
            commits.sort_by(|a, b| a.row.id.cmp(&b.row.id));
            let outcomes = store.commit_records(&commits).await?;
            for (commit, outcome) in commits.iter().zip(outcomes) {
                if outcome == CommitOutcome::Conflict {
                    conflicted.push(commit.row.id.clone());
                }
            }
        }
        pending = conflicted;
    }
    if !pending.is_empty() {
        return Err(ApiError::Conflict(format!(
            "{} records kept changing during re-ownership; the job stays queued",
            pending.len()
        )));
    }
    Ok(report(examined, &moves))
}

/// Runs one queued job against the current map and marks it finished.
pub async fn run_job(
    state: &AppState,
    job: i64,
    boxes: &[[f64; 4]],
    edit: &str,
) -> Result<ReownReport, ApiError> {
    let map = state.grids.refresh().await?;
    let report = apply(state.store.as_ref(), map, &state.actor, boxes, edit).await?;
    state.metrics.reowned_records.inc_by(report.changed);
    state
        .store
        .finish_reown_job(
            job,
            report.examined as i64,
            report.changed as i64,
            sync_core::now_ms(),
        )
        .await?;
    Ok(report)
}

/// Finishes every queued job (a server stopped during an edit's re-ownership); run at start.
pub async fn resume(state: &AppState) -> Result<usize, ApiError> {
    let jobs = state.store.open_reown_jobs().await?;
    for job in &jobs {
        let report = run_job(
            state,
            job.id,
            &job.boxes,
            &format!("resumed job {}", job.id),
        )
        .await?;
        tracing::info!(
            job = job.id,
            examined = report.examined,
            changed = report.changed,
            "re-ownership job resumed"
        );
    }
    Ok(jobs.len())
}

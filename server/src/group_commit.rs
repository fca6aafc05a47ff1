//! Group commit: the record writes of many sync requests in one database transaction.
//!
//! Every sync request ends in one transaction (its records, their rows and change-log entries),
//! and the store hands out change sequence numbers under one row lock, so those transactions
//! run one after another whatever the backend. Each pays its own begin, sequence update, commit
//! and fsync. [`CommitQueue`] lets the requests that arrive while a transaction is running wait
//! for the next one together: one writer takes everything queued (up to [`MAX_COMMITS`] records)
//! and commits it in one transaction. A request alone waits for nothing: its transaction starts
//! as soon as the writer is free, so an idle server answers as fast as before.
//!
//! Each request still gets only its own outcomes. If the shared transaction fails, each request
//! in it is committed again on its own, so one request's failure is never another's.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{CommitOutcome, RecordCommit, Result, Store, StoreError};

/// The most records one shared transaction takes (a request larger than this still goes whole).
pub const MAX_COMMITS: usize = 2_000;

/// One request's writes and where its outcomes go.
struct Job {
    commits: Vec<RecordCommit>,
    reply: oneshot::Sender<Result<Vec<CommitOutcome>>>,
}

/// Queues record writes for the writer thread. Cloning shares the queue.
#[derive(Debug, Clone)]
pub struct CommitQueue {
    jobs: mpsc::UnboundedSender<Job>,
}

impl CommitQueue {
    /// Starts the writer for `store` on its own thread (with its own small runtime, so it does
    /// not depend on any one HTTP worker). It stops when the last queue handle is dropped.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("gridsync-commit".into())
            .spawn(move || runtime.block_on(run(store, metrics, queue)))?;
        Ok(CommitQueue { jobs })
    }

    /// Commits `commits` (sorted by record id, the one lock order), possibly in one
    /// transaction with other requests' writes; the outcomes are in the order given.
    pub async fn commit(&self, commits: Vec<RecordCommit>) -> Result<Vec<CommitOutcome>> {
        if commits.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, outcome) = oneshot::channel();
        self.jobs
            .send(Job { commits, reply })
            .map_err(|_| StoreError::WriterStopped)?;
        outcome.await.map_err(|_| StoreError::WriterStopped)?
    }
}

/// The writer: takes what is queued, commits it together, answers each request.
async fn run(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    mut queue: mpsc::UnboundedReceiver<Job>,
) {
    while let Some(first) = queue.recv().await {
        let mut records = first.commits.len();
        let mut jobs = vec![first];
        while records < MAX_COMMITS {
            match queue.try_recv() {
                Ok(job) => {
                    records += job.commits.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        metrics.commit_transactions.inc();
        metrics.commit_requests.inc_by(jobs.len() as u64);
        let (requests, replies): (Vec<_>, Vec<_>) =
            jobs.into_iter().map(|j| (j.commits, j.reply)).unzip();
        let started = std::time::Instant::now();
        let outcomes = commit_together(store.as_ref(), requests).await;
        metrics
            .commit_duration
            .observe(started.elapsed().as_secs_f64());
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // A request that gave up waiting has nobody to tell.
            let _ = reply.send(outcome);
        }
    }
}

/// Commits several requests' writes in one transaction, in record-id order (the lock order
/// every transaction keeps). Returns each request's outcomes, in its own order. If the shared
/// transaction fails, nothing of it is stored and each request is committed again on its own,
/// so the failure stays with the request that caused it.
pub async fn commit_together(
    store: &dyn Store,
    requests: Vec<Vec<RecordCommit>>,
) -> Vec<Result<Vec<CommitOutcome>>> {
    if requests.len() == 1 {
        let commits = requests.into_iter().next().unwrap_or_default();
        return vec![store.commit_records(&commits).await];
    }
    let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
    let mut tagged: Vec<((usize, usize), RecordCommit)> = requests
        .into_iter()
        .enumerate()
        .flat_map(|(j, commits)| {
            commits
                .into_iter()
                .enumerate()
                .map(move |(k, commit)| ((j, k), commit))
        })
        .collect();
    tagged.sort_by(|a, b| a.1.row.id.cmp(&b.1.row.id));
    let (owners, commits): (Vec<(usize, usize)>, Vec<RecordCommit>) = tagged.into_iter().unzip();
    match store.commit_records(&commits).await {
        Ok(outcomes) => {
            // `commit_records` answers every commit; a missing answer would be read as a
            // conflict, which makes the request merge and write that record again.
            let mut answers: Vec<Vec<CommitOutcome>> = sizes
                .iter()
                .map(|&n| vec![CommitOutcome::Conflict; n])
                .collect();
            for ((j, k), outcome) in owners.into_iter().zip(outcomes) {
                answers[j][k] = outcome;
            }
            answers.into_iter().map(Ok).collect()
        }
        Err(error) => {
            tracing::warn!(%error, requests = sizes.len(), "group commit failed; committing each request alone");
            let mut alone: Vec<Vec<((usize, usize), RecordCommit)>> =
                sizes.iter().map(|_| Vec::new()).collect();
            for (owner, commit) in owners.into_iter().zip(commits) {
                alone[owner.0].push((owner, commit));
            }
            let mut results = Vec::with_capacity(alone.len());
            for mut commits in alone {
                commits.sort_by_key(|((_, k), _)| *k);
                let commits: Vec<RecordCommit> = commits.into_iter().map(|(_, c)| c).collect();
                results.push(store.commit_records(&commits).await);
            }
            results
        }
    }
}

//! How a write is stored: an upload merged into the stored document and checked against the
//! writer's authority, the owner decided, the document, its listable row and its new change-log
//! entries committed together (with other requests' writes through the group commit), and the
//! whole retried when another writer stored the document in between.

use std::collections::BTreeMap;
use std::sync::Arc;

use sync_core::automerge::ActorId;
use sync_core::{
    Accepted, Authority, MISSING_HISTORY, Merged, Record, RecordDoc, Rejection, merge_upload,
    now_ms,
};

use super::OWNER_ORIGIN;
use super::authority::{AccountAuthority, Author, PublicAuthority};
use super::ownership::{decide_owner, wgs84_point};
use crate::error::ApiError;
use crate::group_commit::CommitQueue;
use crate::state::MapSnapshot;
use crate::store::{
    CommitOutcome, NewChange, RecordCommit, RecordRow, SealedContactRow, Store, StoredDoc,
};

/// How many times a document write is retried when another writer got there first.
const COMMIT_ATTEMPTS: usize = 8;

/// Automerge changes as change-log entries from `origin`.
pub fn log_entries(changes: &[&sync_core::automerge::Change], origin: &str) -> Vec<NewChange> {
    changes
        .iter()
        .map(|c| NewChange {
            hash: c.hash().0.to_vec(),
            origin: origin.to_string(),
            bytes: c.raw_bytes().to_vec(),
        })
        .collect()
}

/// The listable row of a record.
pub fn record_row(record: &Record, now: i64) -> RecordRow {
    let point = wgs84_point(record);
    RecordRow {
        id: record.id.to_string(),
        kind: record.kind.as_str().to_string(),
        status: record.workflow.status.as_str().to_string(),
        channel: record.channel.as_str().to_string(),
        category: record.category.clone(),
        title: record.title.clone(),
        owner_grid: record.owner_grid.as_ref().and_then(|o| o.code.clone()),
        claimed_grid: record.claimed_grid.clone(),
        lon: point.map(|p| p.0),
        lat: point.map(|p| p.1),
        created_by: record.created_by.user.clone(),
        created_at: record.created_at,
        updated_at: now,
        departments: crate::store::departments_column(record),
        attachments: record.attachments.keys().cloned().collect(),
        hazard_type: record.inspection.as_ref().map(|i| i.hazard_type.clone()),
        risk_level: record
            .inspection
            .as_ref()
            .map(|i| i.risk_level.as_str().to_string()),
    }
}

/// The outcome of storing one upload.
pub enum Stored {
    /// Taken; `last_seq` is the sequence number of its last change written (0: nothing was);
    /// `owner_decided`: the server wrote the record's owning grid with it; `steps`: the record
    /// holds field steps the server has not answered yet ([`sync_core::field`]).
    Accepted {
        last_seq: i64,
        owner_decided: bool,
        steps: bool,
    },
    Rejected(Rejection, Option<Vec<u8>>),
}

/// One upload merged and checked against the stored document: either settled (nothing to
/// store, or refused) or a write to commit.
enum Prepared {
    Settled(Stored),
    /// The commit, and whether the record holds unanswered field steps.
    Write(Box<RecordCommit>, bool),
}

/// Who writes: owned, so the CPU-heavy merge can run on the blocking pool, off the server's
/// event loops.
#[derive(Debug, Clone)]
pub struct WriteContext {
    pub author: Author,
    pub map: Arc<MapSnapshot>,
    /// The server's automerge actor, for its own decisions.
    pub actor: ActorId,
    /// Where the changes came from ([`Author::origin`]).
    pub origin: String,
    /// Category names by code, for the timeline's notes of overruled values (a code stands
    /// for itself when missing).
    pub category_names: BTreeMap<String, String>,
}

impl WriteContext {
    /// The context of `author` writing from `device`.
    pub fn new(author: Author, device: &str, map: Arc<MapSnapshot>, actor: ActorId) -> Self {
        let origin = author.origin(device);
        WriteContext {
            author,
            map,
            actor,
            origin,
            category_names: BTreeMap::new(),
        }
    }
}

fn merge_and_decide(
    stored: Option<StoredDoc>,
    upload: &sync_core::DocPayload,
    ctx: &WriteContext,
) -> Result<Prepared, ApiError> {
    let (account, public);
    let authority: &dyn Authority = match &ctx.author {
        Author::Account(user) => {
            account = AccountAuthority {
                user,
                map: &ctx.map,
            };
            &account
        }
        Author::Public { name } => {
            public = PublicAuthority { name };
            &public
        }
    };
    let (current, expected_version) = match &stored {
        Some(s) => (
            Some(RecordDoc::load(&s.doc).map_err(ApiError::internal)?),
            Some(s.version),
        ),
        None => (None, None),
    };
    let accepted = match merge_upload(current, upload, ctx.actor.clone(), authority) {
        Merged::Unchanged => {
            // A retried upload: its steps were answered when it was first stored, unless the
            // server stopped in between; look again for the accounts that take steps.
            let steps = matches!(&ctx.author, Author::Account(u) if takes_steps(u))
                && stored.as_ref().is_some_and(|s| {
                    RecordDoc::load(&s.doc)
                        .and_then(|d| d.record())
                        .is_ok_and(|r| !r.pending_steps().is_empty())
                });
            return Ok(Prepared::Settled(Stored::Accepted {
                last_seq: 0,
                owner_decided: false,
                steps,
            }));
        }
        Merged::Rejected(rejection) => {
            let reset = (rejection.code != MISSING_HISTORY)
                .then(|| stored.map(|s| s.doc).unwrap_or_default());
            return Ok(Prepared::Settled(Stored::Rejected(rejection, reset)));
        }
        Merged::Accepted(accepted) => accepted,
    };
    let Accepted {
        mut doc,
        record,
        created,
        new,
        conflicts,
    } = *accepted;
    let mut new_changes: Vec<NewChange> = new
        .into_iter()
        .map(|(hash, bytes)| NewChange {
            hash: hash.0.to_vec(),
            origin: ctx.origin.clone(),
            bytes,
        })
        .collect();
    let heads = doc.heads();
    let decided =
        decide_owner(&mut doc, &record, &ctx.map, &ctx.actor).map_err(ApiError::internal)?;
    let mut server_changes = match decided {
        Some(_) => log_entries(&doc.automerge().get_changes(&heads), OWNER_ORIGIN),
        None => Vec::new(),
    };
    // Concurrent values the upload brought are told in the timeline, so staff see whose value
    // stands and whose did not (the phone tells its worker from the merge itself).
    let decided = if conflicts.is_empty() {
        decided
    } else {
        let heads = doc.heads();
        let current = decided.clone().unwrap_or_else(|| record.clone());
        let noted = super::conflict::note_conflicts(
            &mut doc,
            &current,
            &conflicts,
            &ctx.actor,
            &ctx.category_names,
        );
        server_changes.extend(log_entries(
            &doc.automerge().get_changes(&heads),
            super::SERVER,
        ));
        noted.or(decided)
    };
    // A new document is stored as the upload (a whole document that loaded strictly) followed
    // by the server's change: what a save would encode again, at no cost. Later writes save the
    // merged document whole.
    let bytes = if created {
        let mut bytes = upload.bytes.clone();
        for change in &server_changes {
            bytes.extend_from_slice(&change.bytes);
        }
        bytes
    } else {
        doc.save()
    };
    new_changes.extend(server_changes);
    let steps = !record.pending_steps().is_empty();
    Ok(Prepared::Write(
        Box::new(RecordCommit {
            row: record_row(decided.as_ref().unwrap_or(&record), now_ms()),
            doc: bytes,
            expected_version,
            changes: new_changes,
            contact: None,
        }),
        steps,
    ))
}

/// Whether an account's role takes field steps (the worker's, and an admin's).
fn takes_steps(user: &crate::domain::User) -> bool {
    matches!(
        user.role,
        crate::domain::Role::GridWorker | crate::domain::Role::Admin
    )
}

/// Whether a write carries the server's ownership decision.
fn decides_owner(commit: &RecordCommit) -> bool {
    commit.changes.iter().any(|c| c.origin == OWNER_ORIGIN)
}

/// The stored documents of `ids`, read in one query, in the order given (`None`: not stored).
/// An id given twice gets its document once, at its first place.
pub async fn stored_docs(
    store: &dyn Store,
    ids: impl Iterator<Item = uuid::Uuid>,
) -> Result<Vec<Option<StoredDoc>>, ApiError> {
    let ids: Vec<String> = ids.map(|id| id.to_string()).collect();
    let mut stored: std::collections::HashMap<String, StoredDoc> =
        store.record_docs(&ids).await?.into_iter().collect();
    Ok(ids.iter().map(|id| stored.remove(id)).collect())
}

/// Reads the stored documents of `uploads`, merges and checks each (on the blocking pool).
async fn prepare_uploads(
    store: &dyn Store,
    uploads: &[sync_core::DocPayload],
    ctx: &WriteContext,
) -> Result<Vec<Prepared>, ApiError> {
    if uploads.is_empty() {
        return Ok(Vec::new());
    }
    let stored = stored_docs(store, uploads.iter().map(|u| u.id)).await?;
    let work: Vec<(sync_core::DocPayload, Option<StoredDoc>)> =
        uploads.iter().cloned().zip(stored).collect();
    let ctx = ctx.clone();
    actix_web::web::block(move || {
        work.into_iter()
            .map(|(upload, stored)| merge_and_decide(stored, &upload, &ctx))
            .collect()
    })
    .await
    .map_err(ApiError::internal)?
}

/// Merges, checks and stores one document on its own, retrying when another writer stored it
/// in between: the path for staff edits and for uploads whose group commit met a conflict.
/// `contact`, a complainant's sealed details, is stored in the same transaction.
pub async fn store_upload(
    store: &dyn Store,
    upload: &sync_core::DocPayload,
    ctx: &WriteContext,
    contact: Option<&SealedContactRow>,
) -> Result<Stored, ApiError> {
    for _ in 0..COMMIT_ATTEMPTS {
        let prepared = prepare_uploads(store, std::slice::from_ref(upload), ctx).await?;
        match prepared.into_iter().next() {
            None => break,
            Some(Prepared::Settled(stored)) => return Ok(stored),
            Some(Prepared::Write(mut commit, steps)) => {
                commit.contact = contact.cloned();
                match store
                    .commit_records(std::slice::from_ref(commit.as_ref()))
                    .await?[..]
                {
                    [CommitOutcome::Stored { last_seq, .. }] => {
                        return Ok(Stored::Accepted {
                            last_seq,
                            owner_decided: decides_owner(&commit),
                            steps,
                        });
                    }
                    _ => continue,
                }
            }
        }
    }
    Err(ApiError::Conflict(
        "the record is being written by others; try again".into(),
    ))
}

/// Stores every upload of a request: all writes go to the database in one transaction (one
/// durable commit for the whole request, shared with the other requests waiting at the same
/// time: [`CommitQueue`]); uploads whose document moved meanwhile are redone one by one.
pub async fn store_uploads(
    store: &dyn Store,
    queue: &CommitQueue,
    uploads: &[sync_core::DocPayload],
    ctx: &WriteContext,
) -> Result<Vec<Stored>, ApiError> {
    let mut results: Vec<Option<Stored>> = Vec::with_capacity(uploads.len());
    let mut writes: Vec<(usize, RecordCommit, bool)> = Vec::new();
    for (i, prepared) in prepare_uploads(store, uploads, ctx)
        .await?
        .into_iter()
        .enumerate()
    {
        match prepared {
            Prepared::Settled(stored) => results.push(Some(stored)),
            Prepared::Write(commit, steps) => {
                results.push(None);
                writes.push((i, *commit, steps));
            }
        }
    }
    // One lock order for every transaction: by record id.
    writes.sort_by(|a, b| a.1.row.id.cmp(&b.1.row.id));
    let mut indices = Vec::with_capacity(writes.len());
    let mut commits = Vec::with_capacity(writes.len());
    let mut decided = Vec::with_capacity(writes.len());
    for (i, commit, steps) in writes {
        indices.push(i);
        decided.push((decides_owner(&commit), steps));
        commits.push(commit);
    }
    let outcomes = queue.commit(commits).await?;
    for ((i, outcome), (owner_decided, steps)) in indices.into_iter().zip(outcomes).zip(decided) {
        results[i] = Some(match outcome {
            CommitOutcome::Stored { last_seq, .. } => Stored::Accepted {
                last_seq,
                owner_decided,
                steps,
            },
            CommitOutcome::Conflict => store_upload(store, &uploads[i], ctx, None).await?,
        });
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or(Stored::Accepted {
                last_seq: 0,
                owner_decided: false,
                steps: false,
            })
        })
        .collect())
}

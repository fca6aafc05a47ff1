//! Records and sync on the server: sync-core's protocol over the [`Store`], with the account's
//! role and areas as the [`Authority`], and the grid map deciding each record's owner.
//!
//! sync-core decides (merge, validate, check, pack the response); this module moves documents
//! between those decisions and the database, retrying when another instance wrote the same
//! document in between.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sync_core::automerge::ActorId;
use sync_core::{
    Accepted, Authority, Crs, Field, MISSING_HISTORY, Merged, OwnerGrid, Record, RecordDoc,
    Rejection, ResponseBuilder, SyncRequest, Verdict, Writer, answer_need, changed_fields,
    merge_upload, now_ms, push_event,
};

use crate::auth::Caller;
use crate::coords;
use crate::domain::{Role, User};
use crate::error::ApiError;
use crate::group_commit::CommitQueue;
use crate::state::{AppState, MapSnapshot};
use crate::store::{
    CommitOutcome, NewChange, RecordCommit, RecordRow, RecordScope, Store, StoredDoc,
};

/// The origin of changes the server writes itself, and the writer named in them.
pub const SERVER: &str = "server";

/// The origin of the server's ownership decisions. A record changes hands with such a change,
/// so a device meeting one in its feed for a record older than its cursor may not hold the
/// record's earlier history: it is sent the whole document instead.
pub const OWNER_ORIGIN: &str = "server/owner";

/// How many times a document write is retried when another writer got there first.
const COMMIT_ATTEMPTS: usize = 8;

/// The most feed changes read from the database for one response.
const FEED_PAGE: i64 = 2_000;

/// Bits of the cursor that hold the change sequence number; the scope epoch sits above them.
const SEQ_BITS: u32 = 40;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

/// The biggest response the server builds, whatever the device asks for.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// What one account may read and write, for sync-core's checks.
#[derive(Debug)]
pub struct AccountAuthority<'a> {
    pub user: &'a User,
    pub map: &'a MapSnapshot,
}

impl AccountAuthority<'_> {
    /// Whether the role may change `field` (on a new record when `creating`).
    fn may_change(&self, field: Field, creating: bool) -> bool {
        use Field::*;
        match field {
            // Nobody rewrites identity or history.
            Identity | TimelineRewritten => false,
            // The server alone decides ownership (it writes with its own writer, not through here).
            OwnerGrid => false,
            TimelineAppended => true,
            Channel => creating || matches!(self.user.role, Role::Dispatcher | Role::Admin),
            Location | ClaimedGrid | Category | Title | Description | AttachmentAdded
            | Complainant | Inspection => matches!(
                self.user.role,
                Role::GridWorker | Role::GridLeader | Role::Dispatcher | Role::Admin
            ),
            AttachmentChanged => matches!(self.user.role, Role::Dispatcher | Role::Admin),
            // The case workflow moves only through the server's transitions
            // (`POST /api/v1/records/{id}/transitions`), which check order, role and
            // department and write these fields as the server's own change. No device, whatever
            // its account's role, writes them through sync.
            Status | Assignments | Returns | Replies | Result | Evaluation => false,
        }
    }

    fn sees_everything(&self) -> bool {
        matches!(
            self.user.role,
            Role::Admin | Role::Dispatcher | Role::Supervisor | Role::Gis
        )
    }

    /// The SQL-side form of [`Authority::in_scope`].
    pub fn scope(&self) -> RecordScope {
        if self.sees_everything() {
            return RecordScope::All;
        }
        RecordScope::Areas {
            codes: self.map.codes_within(&self.user.areas),
            creator: self.user.username.clone(),
        }
    }
}

impl Authority for AccountAuthority<'_> {
    fn check_write(&self, before: Option<&Record>, after: &Record) -> Result<(), Rejection> {
        match before {
            None if after.created_by.user != self.user.username => {
                return Err(Rejection::new(
                    "wrong_author",
                    format!(
                        "a record created by {} cannot be uploaded by {}",
                        after.created_by.user, self.user.username
                    ),
                ));
            }
            Some(before) if !self.in_scope(before) => {
                return Err(Rejection::new(
                    "out_of_scope",
                    "this record is outside your areas",
                ));
            }
            _ => {}
        }
        let creating = before.is_none();
        let forbidden: Vec<&str> = changed_fields(before, after)
            .into_iter()
            .filter(|f| !self.may_change(*f, creating))
            .map(Field::as_str)
            .collect();
        if forbidden.is_empty() {
            Ok(())
        } else {
            Err(Rejection::new(
                "forbidden_field",
                format!(
                    "role {} may not change {}",
                    self.user.role,
                    forbidden.join(", ")
                ),
            ))
        }
    }

    fn in_scope(&self, record: &Record) -> bool {
        if self.sees_everything() || record.created_by.user == self.user.username {
            return true;
        }
        let owner = record.owner_grid.as_ref().and_then(|o| o.code.as_deref());
        owner.is_some_and(|code| {
            self.user
                .areas
                .iter()
                .any(|area| self.map.is_within(code, area))
        })
    }
}

/// The record's point in WGS-84, converted from GCJ-02 when the record says so.
pub fn wgs84_point(record: &Record) -> Option<(f64, f64)> {
    record.location.as_ref().map(|l| match l.crs {
        Crs::Wgs84 => (l.lon, l.lat),
        Crs::Gcj02 => coords::gcj02_to_wgs84(l.lon, l.lat),
    })
}

/// Writes the server's ownership decision into the document when it differs from what
/// `record` (the document's current record, as [`RecordDoc::record`] reads it) says, with a timeline event (noting a claim the
/// geometry disagrees with). Returns the record after the decision, or `None` if it stood.
pub fn decide_owner(
    doc: &mut RecordDoc,
    record: &Record,
    map: &MapSnapshot,
    actor: &ActorId,
) -> Result<Option<Record>, sync_core::Error> {
    write_owner(doc, record, map, actor, None)
}

/// [`decide_owner`] after a boundary edit: the timeline event says the boundary moved and
/// which grid owned the record before, so the history keeps where it stood when reported.
pub fn reassign_owner(
    doc: &mut RecordDoc,
    record: &Record,
    map: &MapSnapshot,
    actor: &ActorId,
    edit: &str,
) -> Result<Option<Record>, sync_core::Error> {
    write_owner(doc, record, map, actor, Some(edit))
}

fn write_owner(
    doc: &mut RecordDoc,
    record: &Record,
    map: &MapSnapshot,
    actor: &ActorId,
    edit: Option<&str>,
) -> Result<Option<Record>, sync_core::Error> {
    let version = map.version();
    // A decision made against a newer map (by a re-ownership that ran while this request held
    // an older snapshot) is never overwritten from an older one.
    if record
        .owner_grid
        .as_ref()
        .is_some_and(|o| o.boundary_version > version)
    {
        return Ok(None);
    }
    let code = wgs84_point(record)
        .and_then(|(lon, lat)| map.index.locate(lon, lat))
        .map(|id| map.index.area(id).code.clone());
    if record.owner_grid.as_ref().is_some_and(|o| o.code == code) {
        return Ok(None);
    }
    let previous = record.owner_grid.as_ref().and_then(|o| o.code.clone());
    doc.set_actor(actor.clone());
    doc.update_from(record, &Writer::new(SERVER, SERVER), |r| {
        r.owner_grid = Some(OwnerGrid {
            code: code.clone(),
            boundary_version: version,
            decided_at: now_ms(),
        });
        let (kind, note) = match edit {
            Some(edit) => {
                let now = match &code {
                    Some(code) => format!("owner grid {code}"),
                    None => "outside every grid: placed in the unassigned queue".to_string(),
                };
                let was = previous.as_deref().unwrap_or("the unassigned queue");
                (
                    "owner_changed",
                    format!(
                        "{now} after a boundary edit (map version {version}: {edit}); was {was}"
                    ),
                )
            }
            None => (
                "owner_assigned",
                match (&code, &r.claimed_grid) {
                    (None, _) => "outside every grid: placed in the unassigned queue".to_string(),
                    (Some(code), Some(claimed)) if claimed != code => {
                        format!("owner grid {code} (the device claimed {claimed})")
                    }
                    (Some(code), _) => format!("owner grid {code}"),
                },
            ),
        };
        push_event(r, SERVER, kind, &note);
        Ok(())
    })
}

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
    }
}

/// Who sent a change: the device, namespaced by account so no device id can pose as another's.
pub fn origin(user: &User, device: &str) -> String {
    format!("{}/{device}", user.id)
}

/// The outcome of storing one upload.
enum Stored {
    /// Taken; `last_seq` is the sequence number of its last change written (0: nothing was).
    Accepted {
        last_seq: i64,
    },
    Rejected(Rejection, Option<Vec<u8>>),
}

/// One upload merged and checked against the stored document: either settled (nothing to
/// store, or refused) or a write to commit.
enum Prepared {
    Settled(Stored),
    Write(Box<RecordCommit>),
}

/// Who writes: owned, so the CPU-heavy merge can run on the blocking pool, off the server's
/// event loops.
#[derive(Debug, Clone)]
pub struct WriteContext {
    pub user: User,
    pub map: Arc<MapSnapshot>,
    pub actor: ActorId,
    /// `<user id>/<device>`.
    pub origin: String,
}

fn merge_and_decide(
    stored: Option<StoredDoc>,
    upload: &sync_core::DocPayload,
    ctx: &WriteContext,
) -> Result<Prepared, ApiError> {
    let authority = AccountAuthority {
        user: &ctx.user,
        map: &ctx.map,
    };
    let (current, expected_version) = match &stored {
        Some(s) => (
            Some(RecordDoc::load(&s.doc).map_err(ApiError::internal)?),
            Some(s.version),
        ),
        None => (None, None),
    };
    let accepted = match merge_upload(current, upload, ctx.actor.clone(), &authority) {
        Merged::Unchanged => return Ok(Prepared::Settled(Stored::Accepted { last_seq: 0 })),
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
    let server_changes = match decided {
        Some(_) => log_entries(&doc.automerge().get_changes(&heads), OWNER_ORIGIN),
        None => Vec::new(),
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
    Ok(Prepared::Write(Box::new(RecordCommit {
        row: record_row(decided.as_ref().unwrap_or(&record), now_ms()),
        doc: bytes,
        expected_version,
        changes: new_changes,
    })))
}

/// The stored documents of `ids`, read in one query, in the order given (`None`: not stored).
/// An id given twice gets its document once, at its first place.
async fn stored_docs(
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
async fn store_upload(
    store: &dyn Store,
    upload: &sync_core::DocPayload,
    ctx: &WriteContext,
) -> Result<Stored, ApiError> {
    for _ in 0..COMMIT_ATTEMPTS {
        let prepared = prepare_uploads(store, std::slice::from_ref(upload), ctx).await?;
        match prepared.into_iter().next() {
            None => break,
            Some(Prepared::Settled(stored)) => return Ok(stored),
            Some(Prepared::Write(commit)) => {
                match store
                    .commit_records(std::slice::from_ref(commit.as_ref()))
                    .await?[..]
                {
                    [CommitOutcome::Stored { last_seq, .. }] => {
                        return Ok(Stored::Accepted { last_seq });
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
async fn store_uploads(
    store: &dyn Store,
    queue: &CommitQueue,
    uploads: &[sync_core::DocPayload],
    ctx: &WriteContext,
) -> Result<Vec<Stored>, ApiError> {
    let mut results: Vec<Option<Stored>> = Vec::with_capacity(uploads.len());
    let mut writes: Vec<(usize, RecordCommit)> = Vec::new();
    for (i, prepared) in prepare_uploads(store, uploads, ctx)
        .await?
        .into_iter()
        .enumerate()
    {
        match prepared {
            Prepared::Settled(stored) => results.push(Some(stored)),
            Prepared::Write(commit) => {
                results.push(None);
                writes.push((i, *commit));
            }
        }
    }
    // One lock order for every transaction: by record id.
    writes.sort_by(|a, b| a.1.row.id.cmp(&b.1.row.id));
    let (indices, commits): (Vec<usize>, Vec<RecordCommit>) = writes.into_iter().unzip();
    let outcomes = queue.commit(commits).await?;
    for (i, outcome) in indices.into_iter().zip(outcomes) {
        results[i] = Some(match outcome {
            CommitOutcome::Stored { last_seq, .. } => Stored::Accepted { last_seq },
            CommitOutcome::Conflict => store_upload(store, &uploads[i], ctx).await?,
        });
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or(Stored::Accepted { last_seq: 0 }))
        .collect())
}

/// The history each of `needs` asks for, of the documents the account may read: the documents
/// read in one query, loaded and answered on the blocking pool.
async fn answer_needs(
    store: &dyn Store,
    needs: &[sync_core::Need],
    ctx: &WriteContext,
) -> Result<Vec<sync_core::DocUpdate>, ApiError> {
    if needs.is_empty() {
        return Ok(Vec::new());
    }
    let stored = stored_docs(store, needs.iter().map(|n| n.id)).await?;
    let work: Vec<(sync_core::Need, StoredDoc)> = needs
        .iter()
        .zip(stored)
        .filter_map(|(need, doc)| doc.map(|doc| (need.clone(), doc)))
        .collect();
    let ctx = ctx.clone();
    actix_web::web::block(move || {
        let authority = AccountAuthority {
            user: &ctx.user,
            map: &ctx.map,
        };
        let mut answers = Vec::with_capacity(work.len());
        for (need, stored) in work {
            let mut doc = RecordDoc::load(&stored.doc).map_err(ApiError::internal)?;
            if doc.record().is_ok_and(|r| authority.in_scope(&r)) {
                answers.push(answer_need(&mut doc, &need));
            }
        }
        Ok(answers)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Handles one sync request from `device`, returning the encoded response.
pub async fn handle_sync(
    state: &AppState,
    caller: &Caller,
    device: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let user = &caller.user;
    let actor = &state.actor;
    let metrics = &state.metrics;
    let request = SyncRequest::decode(body)
        .map_err(|e| ApiError::bad_request("invalid_sync_message", e.to_string()))?;
    let map = state.grids.snapshot().await?;
    let authority = AccountAuthority { user, map: &map };
    let origin = origin(user, device);
    let store = state.store.as_ref();
    let mut builder = ResponseBuilder::new(&request, MAX_RESPONSE_BYTES);

    let ctx = WriteContext {
        user: user.clone(),
        map: map.clone(),
        actor: actor.clone(),
        origin: origin.clone(),
    };
    let stored = store_uploads(store, &state.commits, &request.uploads, &ctx).await?;
    // The feed runs up to the head read with the token, or further, to this request's own
    // last change: every change up to a committed sequence number is committed (numbers are
    // handed out in commit order), so the device learns the server's decisions on its uploads
    // in this exchange.
    let mut head = caller.change_head;
    for (upload, stored) in request.uploads.iter().zip(stored) {
        match stored {
            Stored::Accepted { last_seq } => {
                head = head.max(last_seq);
                builder.ack(upload.id, Verdict::Accepted);
            }
            Stored::Rejected(rejection, reset) => {
                metrics.sync_rejections.fetch_add(1, Ordering::Relaxed);
                tracing::info!(record = %upload.id, user = %user.username, code = %rejection.code, reason = %rejection.reason, "sync upload rejected");
                builder.ack(
                    upload.id,
                    Verdict::Rejected {
                        code: rejection.code,
                        reason: rejection.reason,
                    },
                );
                if let Some(bytes) = reset {
                    builder.reset(upload.id, bytes);
                }
            }
        }
    }
    for answer in answer_needs(store, &request.needs, &ctx).await? {
        builder.push_whole(answer);
    }

    // The device's cursor is `epoch << SEQ_BITS | seq`: the account's scope epoch when the
    // cursor was made, and the last change sequence number the device holds. A cursor from an
    // older epoch (the account's areas or role changed since) restarts the feed at the
    // beginning, so records that moved into its scope arrive too. The epoch was read in the
    // same statement as the areas the scope is built from.
    let epoch = caller.scope_epoch.max(0) as u64;
    let (cursor_epoch, cursor_seq) = (request.cursor >> SEQ_BITS, request.cursor & SEQ_MASK);
    let from = if cursor_epoch == epoch {
        cursor_seq as i64
    } else {
        0
    };
    let scope = authority.scope();
    let mut after = from;
    let (mut next, mut more) = (head, false);
    // Records that changed hands since the cursor (their owner decision is in the feed).
    let mut moved: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    'feed: loop {
        let page = store
            .change_feed(after, head, &origin, &scope, FEED_PAGE)
            .await?;
        let full_page = page.len() as i64 == FEED_PAGE;
        for item in &page {
            let Ok(id) = uuid::Uuid::parse_str(&item.record_id) else {
                continue;
            };
            if !builder.push_change(id, &item.bytes) {
                next = item.seq - 1;
                more = true;
                break 'feed;
            }
            if item.origin == OWNER_ORIGIN {
                moved.insert(item.record_id.clone());
            }
            after = item.seq;
        }
        if !full_page {
            break;
        }
    }
    // A record that moved into the account's areas after the device's cursor comes with its
    // earlier history, which the device never received: it gets the whole document in this
    // exchange rather than asking for it in the next. (An account that reads everything held
    // the history already.)
    if scope != RecordScope::All && !moved.is_empty() {
        let moved: Vec<String> = moved.into_iter().collect();
        for (id, doc) in store.record_docs_older_than(&moved, from).await? {
            if let Ok(id) = uuid::Uuid::parse_str(&id) {
                builder.push_whole(sync_core::DocUpdate {
                    id,
                    mode: sync_core::UpdateMode::Merge,
                    bytes: doc.doc,
                });
            }
        }
    }
    let next_cursor = (epoch << SEQ_BITS) | (next.max(0) as u64 & SEQ_MASK);
    let response = builder.finish(next_cursor, more).encode();
    metrics.sync_requests.fetch_add(1, Ordering::Relaxed);
    metrics
        .sync_bytes_in
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    metrics
        .sync_bytes_out
        .fetch_add(response.len() as u64, Ordering::Relaxed);
    Ok(response)
}

/// Creates a record from staff intake (hotline, suggestion box), as the server on behalf of
/// `user`, deciding its owner at once.
pub async fn create_record(
    state: &AppState,
    user: &User,
    record: &Record,
) -> Result<Record, ApiError> {
    let actor = &state.actor;
    let map = state.grids.snapshot().await?;
    let writer = Writer::new(user.username.clone(), "web");
    let mut doc = RecordDoc::create(record, actor.clone(), &writer)
        .map_err(|e| ApiError::unprocessable("invalid_record", crate::error::cause_chain(&e)))?;
    let upload = sync_core::DocPayload {
        id: record.id,
        bytes: doc.save(),
    };
    let ctx = WriteContext {
        user: user.clone(),
        map,
        actor: actor.clone(),
        origin: origin(user, "web"),
    };
    match store_upload(state.store.as_ref(), &upload, &ctx).await? {
        Stored::Accepted { .. } => {}
        Stored::Rejected(rejection, _) => {
            return Err(ApiError::unprocessable("record_rejected", rejection.reason));
        }
    }
    let stored = state
        .store
        .record_doc(&record.id.to_string())
        .await?
        .ok_or_else(|| ApiError::NotFound("record".into()))?;
    RecordDoc::load(&stored.doc)
        .and_then(|d| d.record())
        .map_err(ApiError::internal)
}

/// Creates many records from staff intake (a file import) in one transaction, each owned
/// through the map as a synced record would be. All or nothing.
pub async fn create_records(
    state: &AppState,
    user: &User,
    device: &str,
    records: &[Record],
) -> Result<(), ApiError> {
    let map = state.grids.snapshot().await?;
    let (actor, user, device, records) = (
        state.actor.clone(),
        user.clone(),
        device.to_string(),
        records.to_vec(),
    );
    let commits = actix_web::web::block(move || {
        let writer = Writer::new(user.username.clone(), device.clone());
        let origin = origin(&user, &device);
        records
            .iter()
            .map(|record| {
                let mut doc = RecordDoc::create(record, actor.clone(), &writer).map_err(|e| {
                    ApiError::unprocessable("invalid_record", crate::error::cause_chain(&e))
                })?;
                let record = decide_owner(&mut doc, record, &map, &actor)
                    .map_err(ApiError::internal)?
                    .unwrap_or_else(|| record.clone());
                let changes = log_entries(&doc.automerge().get_changes(&[]), &origin);
                Ok(RecordCommit {
                    row: record_row(&record, now_ms()),
                    doc: doc.save(),
                    expected_version: None,
                    changes,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await
    .map_err(ApiError::internal)??;
    let mut commits = commits;
    commits.sort_by(|a, b| a.row.id.cmp(&b.row.id));
    let outcomes = state.store.commit_records(&commits).await?;
    if outcomes.contains(&CommitOutcome::Conflict) {
        return Err(ApiError::Conflict(
            "a record with one of these ids already exists".into(),
        ));
    }
    Ok(())
}

/// A few records for the demo city, so a newcomer sees something at once: complaints from the
/// demo worker's phone and the hotline, a risk inspection, and one outside every grid. Each is
/// owned through the map as a synced record would be.
pub async fn seed_demo_records(
    store: &dyn Store,
    map: &MapSnapshot,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    use sync_core::{Channel, Location, RecordBuilder, RiskLevel};
    let areas = crate::demo::areas();
    let centre = |code: &str| {
        areas
            .iter()
            .find(|a| a.code == code)
            .map(|a| ((a.bbox[0] + a.bbox[2]) / 2.0, (a.bbox[1] + a.bbox[3]) / 2.0))
            .unwrap_or((124.35, 43.17))
    };
    let at = |(lon, lat): (f64, f64)| Location {
        lon,
        lat,
        accuracy_m: Some(8.0),
        crs: Crs::Wgs84,
    };
    let worker = Writer::new("worker", "demo-phone");
    let hotline = Writer::new("dispatcher", "web");
    let records = vec![
        (
            RecordBuilder::complaint("小区路灯不亮", &worker)
                .description("3号楼前的路灯连续三晚不亮，老人晚上出行不便。")
                .category("municipal.lighting")
                .location(at(centre("22030200100101")))
                .claimed_grid("22030200100101")
                .build(),
            worker.clone(),
        ),
        (
            RecordBuilder::risk_inspection("楼道堆放杂物", "fire", RiskLevel::High, &worker)
                .description("5单元楼道堆放纸箱和电动车电池，存在火灾隐患。")
                .location(at(centre("22030200100102")))
                .build(),
            worker.clone(),
        ),
        (
            RecordBuilder::complaint("夜间施工噪音", &hotline)
                .description("工地晚上十一点后仍在施工。")
                .category("environment.noise")
                .channel(Channel::Hotline)
                .location(at(centre("22030300100103")))
                .build(),
            hotline.clone(),
        ),
        (
            RecordBuilder::complaint("Village road flooded after rain", &hotline)
                .category("roads")
                .channel(Channel::SuggestionBox)
                .location(at((125.9, 43.6)))
                .build(),
            hotline,
        ),
    ];
    let actor = sync_core::new_actor();
    for (record, writer) in &records {
        let mut doc = RecordDoc::create(record, actor.clone(), writer)?;
        let record = decide_owner(&mut doc, record, map, &actor)?.unwrap_or_else(|| record.clone());
        let changes = log_entries(&doc.automerge().get_changes(&[]), "demo");
        let commit = RecordCommit {
            row: record_row(&record, now_ms()),
            doc: doc.save(),
            expected_version: None,
            changes,
        };
        store.commit_records(std::slice::from_ref(&commit)).await?;
    }
    Ok(records.len())
}

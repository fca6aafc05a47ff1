//! The device side of a sync round trip, sans-IO: [`Store::prepare_sync`] builds the request
//! bytes, the caller moves them (HTTP, or anything else), and [`Store::apply_sync`] applies the
//! response bytes.
//!
//! What the device remembers, all in the store: per document, the heads the server is known to
//! hold (`acked_heads`) and what the last request sent; the server cursor; which documents need
//! history. Applying a response twice, or an old response after a newer one, changes nothing that
//! matters: merges are idempotent, the cursor only moves forward from the cursor the response was
//! computed for, and acknowledgements only count for the request they answer.

use rusqlite::{OptionalExtension, params};

use crate::contact::SealedContact;
use crate::document::RecordDoc;
use crate::error::Result;
use crate::protocol::{
    DocPayload, DocUpdate, Need, RESPONSE_OVERHEAD, SyncRequest, SyncResponse, UpdateMode, Verdict,
};
use crate::schema::RecordId;
use crate::store::{
    Store, append_chunk, decode_heads, decode_u64, doc_chunks, encode_heads, get_meta, load_doc,
    replace_doc, set_meta, upsert_row, uuid_from_blob,
};

/// The verdict code the server gives when an upload's changes depend on history it does not
/// hold; the device then resends the whole document.
pub const MISSING_HISTORY: &str = "missing_history";

/// The verdict code on contact details whose record the server does not hold yet (its upload
/// did not fit in the request, or was refused for a reason the device will redo): they are
/// sent again.
pub const RECORD_NOT_STORED: &str = "record_not_stored";

/// The code a worker's unsent changes to a record carry in the rejected list when the record
/// left their scope before the server took them.
pub const OUT_OF_SCOPE: &str = "out_of_scope";

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// The encoded request.
    pub bytes: Vec<u8>,
    pub request_id: u64,
    /// Documents whose changes this request uploads.
    pub uploads: usize,
    /// Local changes that did not fit in the budget and wait for the next request.
    pub more_to_send: bool,
}

/// What applying a response did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SyncReport {
    /// Uploads the server accepted.
    pub acknowledged: Vec<RecordId>,
    /// Uploads the server refused; each document was reset to the server's copy and the local
    /// one kept in the store's rejected list.
    pub rejected: Vec<RejectedUpload>,
    /// Records that are new on this device or changed by someone else.
    pub changed: Vec<RecordId>,
    /// Records removed from this device (refused new records the server never stored).
    pub removed: Vec<RecordId>,
    /// Records that left this account's scope (moved to another grid, reassigned, the
    /// account's areas changed): their copies were dropped.
    pub left_scope: Vec<LeftScope>,
    /// Fields this device set while someone else set them too, where the other value is the
    /// one every replica now shows: which field, the value kept and who wrote it, and the
    /// worker's value that was overruled.
    pub conflicts: Vec<crate::Conflict>,
    /// Documents whose history is incomplete; the next request asks for it.
    pub needs_history: Vec<RecordId>,
    /// Complainants' contact details the server now holds; the device forgot its copies.
    pub contacts_acknowledged: Vec<RecordId>,
    /// Contact details the server refused for good (the device forgot them too).
    pub contacts_rejected: Vec<RejectedUpload>,
    /// Records that now wait for this store's worker and did not before this exchange: a
    /// report returned to them, a hazard to re-inspect, a step the server refused
    /// ([`Record::task_for`](crate::Record::task_for)).
    pub needs_action: Vec<RecordId>,
    /// The response answered an older request: its acknowledgements were not applied.
    pub stale: bool,
    /// Sync again: the server has more, or local changes or history requests are waiting.
    pub more: bool,
    /// The server said it has more for this device than this response carried.
    pub server_has_more: bool,
    /// Local changes, contact details or history requests wait to go up.
    pub local_has_more: bool,
}

/// A record dropped from the device because the account may no longer read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeftScope {
    pub id: RecordId,
    /// Why ([`crate::protocol::removal`]): `moved_away`, `scope_changed`, `reassigned`.
    pub code: String,
    /// The worker had changes to it the server never took: they were kept in the rejected list
    /// (code [`OUT_OF_SCOPE`]) so the app can show what was not delivered.
    pub unsent_changes_kept: bool,
}

/// An upload the server refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedUpload {
    pub id: RecordId,
    pub code: String,
    pub reason: String,
}

/// Fixed bytes of a request frame (header, checksum, counters) that the budget must allow for.
const REQUEST_OVERHEAD: usize = 48;

impl Store {
    /// Builds the next request: local changes the server has not acknowledged, oldest first, up
    /// to `budget` bytes (a document larger than the whole budget still goes alone, so it is
    /// never stuck), and asks for at most `budget` bytes back.
    pub fn prepare_sync(&mut self, budget: usize) -> Result<PreparedRequest> {
        self.prepare_sync_with(budget, budget)
    }

    /// [`Store::prepare_sync`] with separate budgets for the request and the response.
    pub fn prepare_sync_with(
        &mut self,
        request_budget: usize,
        response_budget: usize,
    ) -> Result<PreparedRequest> {
        let tx = self.conn.transaction()?;
        let request_id = get_meta(&tx, "request_id")?
            .map(|b| decode_u64(&b))
            .unwrap_or(0)
            + 1;
        set_meta(&tx, "request_id", request_id.to_le_bytes())?;
        let cursor = get_meta(&tx, "cursor")?
            .map(|b| decode_u64(&b))
            .unwrap_or(0);

        let mut used = REQUEST_OVERHEAD;
        let mut more_to_send = false;
        let mut needs = Vec::new();
        {
            let mut stmt = tx.prepare(
                "SELECT h.doc_id, coalesce(r.acked_heads, x'') FROM history_needed h
                 LEFT JOIN records r ON r.id = h.doc_id ORDER BY h.doc_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            for row in rows {
                let (id, heads) = row?;
                let need = Need {
                    id: uuid_from_blob(&id),
                    heads: decode_heads(&heads),
                };
                let size = 17 + 32 * need.heads.len();
                if used + size > request_budget && !needs.is_empty() {
                    more_to_send = true;
                    break;
                }
                used += size;
                needs.push(need);
            }
        }

        let mut uploads = Vec::new();
        {
            let mut stmt = tx.prepare(
                "SELECT id, acked_heads, local_counter FROM records
                 WHERE local_counter > acked_counter ORDER BY updated_at, id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let id = uuid_from_blob(&row.get::<_, Vec<u8>>(0)?);
                let acked = decode_heads(&row.get::<_, Vec<u8>>(1)?);
                let counter: i64 = row.get(2)?;
                let (stored, chunks) = doc_chunks(&tx, &id)?;
                if stored.is_empty() {
                    continue;
                }
                let mut doc = RecordDoc::load(&stored)?;
                // A document the server never acknowledged, stored as one chunk (a new record's
                // one change, or a compact save), goes as stored: it holds the whole document,
                // and a save would encode it again.
                let bytes = if acked.is_empty() && chunks == 1 {
                    stored
                } else {
                    doc.save_after(&acked)
                };
                let payload = DocPayload { id, bytes };
                let size = payload.encoded_len();
                if used + size > request_budget && !(uploads.is_empty() && needs.is_empty()) {
                    more_to_send = true;
                    break;
                }
                used += size;
                tx.execute(
                    "UPDATE records SET sent_request = ?2, sent_counter = ?3, sent_heads = ?4
                     WHERE id = ?1",
                    params![
                        id.as_bytes(),
                        request_id as i64,
                        counter,
                        encode_heads(&doc.heads())
                    ],
                )?;
                uploads.push(payload);
            }
        }

        // Contact details go with their record's upload, or once the server holds the record.
        let mut contacts = Vec::new();
        {
            let mut stmt = tx.prepare(
                "SELECT c.record_id, c.sealed, coalesce(r.acked_counter, 0) FROM contacts_pending c
                 LEFT JOIN records r ON r.id = c.record_id ORDER BY c.record_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (id, sealed, acked) = row?;
                let id = uuid_from_blob(&id);
                // Details (at most a kilobyte) always go with their record's upload; others
                // within the budget, and one at least, so none is ever stuck.
                let with_upload = uploads.iter().any(|u| u.id == id);
                if acked == 0 && !with_upload {
                    continue;
                }
                let size = 17 + sealed.len() + 2;
                let alone = uploads.is_empty() && needs.is_empty() && contacts.is_empty();
                if used + size > request_budget && !with_upload && !alone {
                    more_to_send = true;
                    continue;
                }
                used += size;
                contacts.push(SealedContact { id, sealed });
            }
        }
        for contact in &contacts {
            tx.execute(
                "UPDATE contacts_pending SET sent_request = ?2 WHERE record_id = ?1",
                params![contact.id.as_bytes(), request_id as i64],
            )?;
        }
        tx.commit()?;

        let request = SyncRequest {
            request_id,
            cursor,
            response_budget: response_budget.max(RESPONSE_OVERHEAD) as u64,
            uploads,
            needs,
            contacts,
        };
        Ok(PreparedRequest {
            bytes: request.encode(),
            request_id,
            uploads: request.uploads.len(),
            more_to_send,
        })
    }

    /// Applies a response. A response that does not decode changes nothing and is an error; a
    /// valid one is applied in one transaction.
    pub fn apply_sync(&mut self, bytes: &[u8]) -> Result<SyncReport> {
        let response = SyncResponse::decode(bytes)?;
        let actor = self.actor().clone();
        let worker = self.writer().user.clone();
        let tx = self.conn.transaction()?;
        let mut report = SyncReport::default();
        let last_request = get_meta(&tx, "request_id")?
            .map(|b| decode_u64(&b))
            .unwrap_or(0);
        report.stale = response.request_id != last_request;

        for ack in &response.acks {
            match &ack.verdict {
                Verdict::Accepted => {
                    let n = tx.execute(
                        "UPDATE records SET acked_heads = sent_heads, acked_counter = sent_counter
                         WHERE id = ?1 AND sent_request = ?2",
                        params![ack.id.as_bytes(), response.request_id as i64],
                    )?;
                    if n == 1 {
                        report.acknowledged.push(ack.id);
                    }
                }
                Verdict::Rejected { code, .. } if code == MISSING_HISTORY => {
                    // The server lacks what we thought it had: send the whole document next time.
                    tx.execute(
                        "UPDATE records SET acked_heads = x'' WHERE id = ?1",
                        params![ack.id.as_bytes()],
                    )?;
                }
                Verdict::Rejected { code, reason } => report.rejected.push(RejectedUpload {
                    id: ack.id,
                    code: code.clone(),
                    reason: reason.clone(),
                }),
            }
        }

        for ack in &response.contact_acks {
            let answered = |tx: &rusqlite::Transaction<'_>| {
                tx.execute(
                    "DELETE FROM contacts_pending WHERE record_id = ?1 AND sent_request = ?2",
                    params![ack.id.as_bytes(), response.request_id as i64],
                )
            };
            match &ack.verdict {
                Verdict::Accepted => {
                    if answered(&tx)? == 1 {
                        report.contacts_acknowledged.push(ack.id);
                    }
                }
                Verdict::Rejected { code, .. } if code == RECORD_NOT_STORED => {}
                Verdict::Rejected { code, reason } => {
                    if answered(&tx)? == 1 {
                        report.contacts_rejected.push(RejectedUpload {
                            id: ack.id,
                            code: code.clone(),
                            reason: reason.clone(),
                        });
                    }
                }
            }
        }

        for update in &response.updates {
            match update.mode {
                UpdateMode::Merge => merge_update(&tx, &actor, &worker, update, &mut report)?,
                UpdateMode::Reset => {
                    let verdict = report.rejected.iter().find(|r| r.id == update.id).cloned();
                    reset_update(
                        &tx,
                        &actor,
                        &worker,
                        update,
                        response.request_id,
                        verdict,
                        &mut report,
                    )?
                }
            }
        }

        // Removals come after the updates: a refused upload's reset above has already put the
        // worker's copy in the rejected list, and what is left is dropped here. They apply only
        // to the cursor they were computed for: a response to an older cursor may predate a
        // newer one that brought the record back.
        let cursor = get_meta(&tx, "cursor")?
            .map(|b| decode_u64(&b))
            .unwrap_or(0);
        if response.base_cursor == cursor {
            for removal in &response.removals {
                // Its upload refused in this very response: the reset kept the worker's copy.
                let refused = report.rejected.iter().any(|r| r.id == removal.id);
                if let Some(left) = drop_out_of_scope(&tx, removal, refused)? {
                    report.left_scope.push(left);
                }
            }
        }
        if response.base_cursor <= cursor && response.next_cursor > cursor {
            set_meta(&tx, "cursor", response.next_cursor.to_le_bytes())?;
        }
        let pending: i64 = tx.query_row(
            "SELECT (SELECT count(*) FROM records WHERE local_counter > acked_counter)
                  + (SELECT count(*) FROM history_needed)
                  + (SELECT count(*) FROM contacts_pending)",
            [],
            |r| r.get(0),
        )?;
        set_meta(&tx, "server_more", [u8::from(response.more)])?;
        set_meta(
            &tx,
            "last_sync_at",
            (crate::document::now_ms().max(0) as u64).to_le_bytes(),
        )?;
        tx.commit()?;
        report.server_has_more = response.more;
        report.local_has_more = pending > 0;
        report.more = response.more || pending > 0;
        Ok(report)
    }
}

fn merge_update(
    tx: &rusqlite::Transaction<'_>,
    actor: &automerge::ActorId,
    worker: &str,
    update: &DocUpdate,
    report: &mut SyncReport,
) -> Result<()> {
    let existing = load_doc(tx, &update.id)?;
    let is_new = existing.is_none();
    let mut doc = existing.unwrap_or_else(|| RecordDoc::empty(actor.clone()));
    let before = doc.heads();
    if doc.merge_bytes(&update.bytes).is_err() {
        // Undecodable bytes for one document: ask for its history again rather than fail the
        // whole response.
        mark_history_needed(tx, &update.id, report)?;
        return Ok(());
    }
    if !doc.missing_deps().is_empty() {
        // We got changes whose dependencies we never saw (the document moved into our scope,
        // or an earlier response was lost). What did apply is kept; the rest is asked for.
        mark_history_needed(tx, &update.id, report)?;
        if is_new {
            return Ok(());
        }
    } else {
        tx.execute(
            "DELETE FROM history_needed WHERE doc_id = ?1",
            params![update.id.as_bytes()],
        )?;
    }
    let after = doc.heads();
    if after == before {
        return Ok(());
    }
    let record = match doc.record() {
        Ok(record) if record.id == update.id => record,
        // A document that does not hold a valid record of this id is not stored.
        _ => {
            mark_history_needed(tx, &update.id, report)?;
            return Ok(());
        }
    };
    if is_new {
        replace_doc(tx, &update.id, &mut doc)?;
    } else {
        let chunk = doc.save_after(&before);
        append_chunk(tx, &update.id, &mut doc, &chunk)?;
    }
    refresh_row(tx, &record, worker, report)?;
    let open_after = doc.open_conflicts();
    if !open_after.is_empty() {
        let open_before = doc.open_conflicts_at(&before);
        let mine = doc
            .new_conflicts(update.id, &open_before, &open_after)
            .into_iter()
            .filter(|c| c.overruled_actor == *actor);
        report.conflicts.extend(mine);
    }
    // With no local changes outstanding, everything we hold came from or reached the server.
    tx.execute(
        "UPDATE records SET acked_heads = ?2 WHERE id = ?1 AND local_counter = acked_counter",
        params![update.id.as_bytes(), encode_heads(&after)],
    )?;
    report.changed.push(update.id);
    Ok(())
}

/// Writes a record's row after the server's changes, noting in `report` when the record came
/// to wait for the worker.
fn refresh_row(
    tx: &rusqlite::Transaction<'_>,
    record: &crate::Record,
    worker: &str,
    report: &mut SyncReport,
) -> Result<()> {
    let before: Option<String> = tx
        .query_row(
            "SELECT task FROM records WHERE id = ?1",
            params![record.id.as_bytes()],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    upsert_row(tx, record, worker)?;
    let now = record.task_for(worker);
    if now.is_some()
        && before.as_deref() != now.map(crate::Task::as_str)
        && !report.needs_action.contains(&record.id)
    {
        report.needs_action.push(record.id);
    }
    Ok(())
}

/// Drops a record the account may no longer read: its document, row, history request and
/// pending contact details. Changes the server never acknowledged are kept in the rejected list
/// first (`refused`: they were already, by this response's reset). `None` when the device did
/// not hold the record.
fn drop_out_of_scope(
    tx: &rusqlite::Transaction<'_>,
    removal: &crate::protocol::Removal,
    refused: bool,
) -> Result<Option<LeftScope>> {
    let id = removal.id.as_bytes();
    let unsent: Option<bool> = tx
        .query_row(
            "SELECT local_counter > acked_counter FROM records WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(unsent) = unsent else {
        return Ok(None);
    };
    if unsent && let Some(mut local) = load_doc(tx, &removal.id)? {
        tx.execute(
            "INSERT INTO rejected (doc_id, at, code, reason, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id,
                crate::document::now_ms(),
                OUT_OF_SCOPE,
                format!(
                    "the record left this account's scope ({}) before the server took these changes",
                    removal.code
                ),
                local.save()
            ],
        )?;
    }
    for table in [
        "DELETE FROM doc_chunks WHERE doc_id = ?1",
        "DELETE FROM records WHERE id = ?1",
        "DELETE FROM history_needed WHERE doc_id = ?1",
        "DELETE FROM contacts_pending WHERE record_id = ?1",
    ] {
        tx.execute(table, params![id])?;
    }
    Ok(Some(LeftScope {
        id: removal.id,
        code: removal.code.clone(),
        unsent_changes_kept: unsent || refused,
    }))
}

fn mark_history_needed(
    tx: &rusqlite::Transaction<'_>,
    id: &RecordId,
    report: &mut SyncReport,
) -> Result<()> {
    tx.execute(
        "INSERT INTO history_needed (doc_id) VALUES (?1) ON CONFLICT DO NOTHING",
        params![id.as_bytes()],
    )?;
    if !report.needs_history.contains(id) {
        report.needs_history.push(*id);
    }
    Ok(())
}

fn reset_update(
    tx: &rusqlite::Transaction<'_>,
    actor: &automerge::ActorId,
    worker: &str,
    update: &DocUpdate,
    request_id: u64,
    verdict: Option<RejectedUpload>,
    report: &mut SyncReport,
) -> Result<()> {
    let sent: Option<Option<i64>> = tx
        .query_row(
            "SELECT sent_request FROM records WHERE id = ?1",
            params![update.id.as_bytes()],
            |r| r.get(0),
        )
        .optional()?;
    if sent.flatten() != Some(request_id as i64) {
        // A reset answers one request; an old one must not undo later work.
        return Ok(());
    }
    let local = load_doc(tx, &update.id)?;
    let mut server = if update.bytes.is_empty() {
        None
    } else {
        let mut doc = RecordDoc::empty(actor.clone());
        doc.merge_bytes(&update.bytes)?;
        Some(doc)
    };
    if let Some(mut local) = local {
        let server_holds_all = match &mut server {
            Some(server) => local
                .heads()
                .iter()
                .all(|h| server.automerge().get_change_by_hash(h).is_some()),
            None => false,
        };
        if !server_holds_all {
            let (code, reason) = verdict
                .map(|v| (v.code, v.reason))
                .unwrap_or_else(|| ("rejected".into(), "the server refused these changes".into()));
            tx.execute(
                "INSERT INTO rejected (doc_id, at, code, reason, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![update.id.as_bytes(), crate::document::now_ms(), code, reason, local.save()],
            )?;
        }
    }
    match server {
        Some(mut doc) => {
            let record = doc.record()?;
            replace_doc(tx, &update.id, &mut doc)?;
            refresh_row(tx, &record, worker, report)?;
            tx.execute(
                "UPDATE records SET acked_heads = ?2, acked_counter = local_counter WHERE id = ?1",
                params![update.id.as_bytes(), encode_heads(&doc.heads())],
            )?;
            report.changed.push(update.id);
        }
        None => {
            tx.execute(
                "DELETE FROM doc_chunks WHERE doc_id = ?1",
                params![update.id.as_bytes()],
            )?;
            tx.execute(
                "DELETE FROM records WHERE id = ?1",
                params![update.id.as_bytes()],
            )?;
            // The server never stored the record: its complainant's details go with it.
            tx.execute(
                "DELETE FROM contacts_pending WHERE record_id = ?1",
                params![update.id.as_bytes()],
            )?;
            report.removed.push(update.id);
        }
    }
    Ok(())
}

//! The sync exchange: one request from a device, answered in one response. Its uploads are
//! stored through the records domain ([`crate::records`]), the history it asks for is answered,
//! and the feed brings every change in the account's scope since the device's [`Cursor`].
//!
//! sync-core decides (merge, validate, check, pack the response); this module moves documents
//! between those decisions and the database.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use sync_core::{Authority, RecordDoc, ResponseBuilder, SyncRequest, Verdict, answer_need};

use crate::auth::Caller;
use crate::domain::User;
use crate::error::ApiError;
use crate::records::{
    AccountAuthority, Author, OWNER_ORIGIN, Stored, WriteContext, store_uploads, stored_docs,
};
use crate::state::{AppState, MapSnapshot};
use crate::store::{RecordScope, Store, StoredDoc};

/// The most feed changes read from the database for one response.
const FEED_PAGE: i64 = 2_000;

/// The biggest response the server builds, whatever the device asks for.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// A device's place in the feed, packed into the protocol's 64-bit cursor as
/// `epoch << 40 | seq`: the account's scope epoch when the cursor was made, and the last change
/// sequence number the device holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The account's scope epoch (bumped when its role or areas change); 24 bits.
    pub epoch: u64,
    /// The last change sequence number the device holds; 40 bits.
    pub seq: u64,
}

impl Cursor {
    /// Bits of the cursor that hold the sequence number; the epoch sits above them.
    const SEQ_BITS: u32 = 40;
    const SEQ_MASK: u64 = (1 << Self::SEQ_BITS) - 1;

    /// The cursor a device sent.
    pub fn decode(raw: u64) -> Cursor {
        Cursor {
            epoch: raw >> Self::SEQ_BITS,
            seq: raw & Self::SEQ_MASK,
        }
    }

    /// The cursor as the protocol carries it (an epoch beyond 24 bits wraps around).
    pub fn encode(self) -> u64 {
        (self.epoch << Self::SEQ_BITS) | (self.seq & Self::SEQ_MASK)
    }

    /// The sequence number the feed continues after, for an account now at scope `epoch`: the
    /// cursor's own, or 0 when the account's areas or role changed since the cursor was made,
    /// so that records that moved into its scope arrive too.
    pub fn feed_start(self, epoch: u64) -> i64 {
        if self.epoch == epoch & (u64::MAX >> Self::SEQ_BITS) {
            self.seq as i64
        } else {
            0
        }
    }
}

/// The history each of `needs` asks for, of the documents the account may read: the documents
/// read in one query, loaded and answered on the blocking pool.
async fn answer_needs(
    store: &dyn Store,
    needs: &[sync_core::Need],
    user: &User,
    map: &Arc<MapSnapshot>,
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
    let (user, map) = (user.clone(), map.clone());
    actix_web::web::block(move || {
        let authority = AccountAuthority {
            user: &user,
            map: &map,
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

/// Tells a device to drop the records that left its account's scope since its cursor: those
/// whose owner or department changed away, and, when the account lost areas since the cursor's
/// epoch, those in the lost areas. Each is checked against the scope now, so a record that left
/// and came back is kept. A fresh device (cursor 0) holds nothing to drop; an account that reads
/// everything loses nothing.
///
/// Departures are looked up to the log's `head`, not only to the cursor the response gives:
/// a record out of scope now is dropped now, and one that comes back later comes back through
/// the feed as a record that moved in.
#[allow(clippy::too_many_arguments)]
async fn tell_departures(
    store: &dyn Store,
    builder: &mut ResponseBuilder,
    user: &User,
    map: &MapSnapshot,
    scope: &RecordScope,
    raw_cursor: u64,
    epoch: u64,
    head: i64,
) -> Result<(), ApiError> {
    let held = Cursor::decode(raw_cursor);
    if held.seq == 0 || *scope == RecordScope::All {
        return Ok(());
    }
    let mut told = std::collections::HashSet::new();
    let mut tell = |builder: &mut ResponseBuilder, id: &str, code: &str| {
        if let Ok(id) = uuid::Uuid::parse_str(id)
            && told.insert(id)
        {
            builder.remove(id, code);
        }
    };
    let mut lost = Vec::new();
    if let RecordScope::Areas { codes, creator } = scope
        && held.feed_start(epoch) == 0
    {
        let areas = store.area_losses(user.id, held.epoch as i64).await?;
        lost = map.codes_within(&areas);
        lost.retain(|code| !codes.contains(code));
        if !lost.is_empty() {
            for id in store.records_in_lost_areas(&lost, codes, creator).await? {
                tell(builder, &id, sync_core::removal::SCOPE_CHANGED);
            }
        }
    }
    let code = match scope {
        RecordScope::Department(_) => sync_core::removal::REASSIGNED,
        _ => sync_core::removal::MOVED_AWAY,
    };
    for id in store
        .scope_exits(held.seq as i64, head, scope, &lost)
        .await?
    {
        tell(builder, &id, code);
    }
    Ok(())
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
    let store = state.store.as_ref();
    let mut builder = ResponseBuilder::new(&request, MAX_RESPONSE_BYTES);

    let mut ctx = WriteContext::new(
        Author::Account(user.clone()),
        device,
        map.clone(),
        actor.clone(),
    );
    if !request.uploads.is_empty() {
        // A note of an overruled category names it as people read it.
        ctx.category_names = crate::workflow::catalogue::names(&store.categories().await?);
    }
    let origin = ctx.origin.clone();
    let stored = store_uploads(store, &state.commits, &request.uploads, &ctx).await?;
    // The feed runs up to the head read with the token, or further, to this request's own
    // last change: every change up to a committed sequence number is committed (numbers are
    // handed out in commit order), so the device learns the server's decisions on its uploads
    // in this exchange.
    let mut head = caller.change_head;
    // Refusals by code, logged as one line for the whole request (a device cannot flood the
    // log with a thousand bad documents) and counted in the metrics.
    let mut refused: std::collections::BTreeMap<String, u32> = std::collections::BTreeMap::new();
    let mut with_steps = Vec::new();
    for (upload, stored) in request.uploads.iter().zip(stored) {
        match stored {
            Stored::Accepted {
                last_seq,
                owner_decided,
                steps,
            } => {
                if owner_decided {
                    metrics.owner_decisions.inc();
                }
                if steps {
                    with_steps.push(upload.id.to_string());
                }
                head = head.max(last_seq);
                builder.ack(upload.id, Verdict::Accepted);
            }
            Stored::Rejected(rejection, reset) => {
                metrics.sync_rejections.inc();
                *refused.entry(rejection.code.clone()).or_default() += 1;
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
    // Complainants' sealed details, after the uploads that may have stored their records.
    // Their records' documents in one read (after the uploads stored them).
    let docs = stored_docs(store, request.contacts.iter().map(|c| c.id)).await?;
    for (contact, stored) in request.contacts.iter().zip(docs) {
        let verdict = crate::records::contact::accept_sealed(state, user, contact, stored).await?;
        if let Verdict::Rejected { code, .. } = &verdict {
            metrics.sync_rejections.inc();
            *refused.entry(format!("contact:{code}")).or_default() += 1;
        }
        builder.ack_contact(contact.id, verdict);
    }
    // Field steps the uploads brought are taken now, as the worker's transitions, so the phone
    // learns the outcome in this exchange: the feed runs to the head after them.
    if !with_steps.is_empty() {
        for id in &with_steps {
            crate::workflow::service::answer_steps(state, user, id).await?;
        }
        head = head.max(store.change_head().await?);
    }
    if !refused.is_empty() {
        tracing::info!(user = %user.username, device = ?device, refused = ?refused, "sync uploads refused");
    }
    for answer in answer_needs(store, &request.needs, user, &map).await? {
        builder.push_whole(answer);
    }

    // The epoch was read in the same statement as the areas the scope is built from.
    let epoch = caller.scope_epoch.max(0) as u64;
    let from = Cursor::decode(request.cursor).feed_start(epoch);
    let scope = authority.scope();
    let mut after = from;
    let (mut next, mut more) = (head, false);
    // A record that moved into the account's areas after the device's cursor (its owner
    // decision is in the feed) comes with its earlier history, which the device never
    // received: the whole document goes in place of that change, within the budget like any
    // change. (An account that reads everything held the history already.)
    let mut sent_whole: HashSet<String> = HashSet::new();
    'feed: loop {
        let page = store
            .change_feed(after, head, &origin, &scope, FEED_PAGE)
            .await?;
        let full_page = page.len() as i64 == FEED_PAGE;
        let mut arriving = HashMap::new();
        if scope != RecordScope::All {
            let moved: BTreeSet<&str> = page
                .iter()
                .filter(|item| item.origin == OWNER_ORIGIN)
                .map(|item| item.record_id.as_str())
                .filter(|id| !sent_whole.contains(*id))
                .collect();
            if !moved.is_empty() {
                let moved: Vec<String> = moved.into_iter().map(str::to_string).collect();
                arriving = store
                    .record_docs_older_than(&moved, from)
                    .await?
                    .into_iter()
                    .collect();
            }
        }
        // Read after this page: a document sent whole holds the page's later changes to it.
        let mut whole_in_page = HashSet::new();
        for item in &page {
            let Ok(id) = uuid::Uuid::parse_str(&item.record_id) else {
                continue;
            };
            let fits = if whole_in_page.contains(&item.record_id) {
                true
            } else if let Some(doc) = arriving.remove(&item.record_id) {
                let fits = builder.push_whole_in_feed(sync_core::DocUpdate {
                    id,
                    mode: sync_core::UpdateMode::Merge,
                    bytes: doc.doc,
                });
                if fits {
                    sent_whole.insert(item.record_id.clone());
                    whole_in_page.insert(item.record_id.clone());
                }
                fits
            } else {
                builder.push_change(id, &item.bytes)
            };
            if !fits {
                next = item.seq - 1;
                more = true;
                break 'feed;
            }
            after = item.seq;
        }
        if !full_page {
            break;
        }
    }
    tell_departures(
        store,
        &mut builder,
        user,
        &map,
        &scope,
        request.cursor,
        epoch,
        head,
    )
    .await?;
    let next_cursor = Cursor {
        epoch,
        seq: next.max(0) as u64,
    };
    let response = builder.finish(next_cursor.encode(), more).encode();
    metrics.sync_requests.inc();
    metrics.sync_bytes_in.inc_by(body.len() as u64);
    metrics.sync_bytes_out.inc_by(response.len() as u64);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Cursor;

    proptest! {
        #[test]
        fn a_cursor_survives_the_wire(epoch in 0u64..(1 << 24), seq in 0u64..(1 << 40)) {
            let cursor = Cursor { epoch, seq };
            prop_assert_eq!(Cursor::decode(cursor.encode()), cursor);
            prop_assert_eq!(cursor.feed_start(epoch), seq as i64);
        }

        #[test]
        fn a_cursor_from_another_scope_epoch_restarts_the_feed(
            epoch in 0u64..(1 << 24),
            later in 1u64..1000,
            seq in 0u64..(1 << 40),
        ) {
            let cursor = Cursor::decode(Cursor { epoch, seq }.encode());
            prop_assert_eq!(cursor.feed_start(epoch + later), 0);
        }
    }

    #[test]
    fn a_fresh_device_starts_at_the_beginning() {
        assert_eq!(Cursor::decode(0).feed_start(0), 0);
        assert_eq!(Cursor::decode(0).feed_start(3), 0);
    }
}

//! Sync: one request, one response, bytes moved by the app's own HTTP stack.

use std::ffi::c_char;

use crate::buffers::{GsBytes, bytes_arg, out_arg, owned_string};
use crate::error::{GsStatus, guard};
use crate::store::{GsStore, with_store};

/// Builds the next sync request and sets `*out_request` to its bytes: POST them as the body of
/// the sync call (`application/vnd.gridsync.sync`) and pass the answer to `gs_sync_apply`.
///
/// The request carries local changes the server has not acknowledged, oldest first, within
/// `budget` bytes (a record larger than the whole budget still goes alone, so nothing is ever
/// stuck), and asks for at most `budget` bytes back: a slow link wants a small budget, for
/// example 16 KiB on 2G. Building a request changes nothing the app can see; if the request is
/// lost, the next one carries the same changes again.
///
/// # Ownership
/// `*out_request` is owned by the caller: free it with `gs_bytes_free`. Empty when the call
/// fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `out_request` points to a writable `GsBytes`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_sync_prepare(
    store: *mut GsStore,
    budget: usize,
    out_request: *mut GsBytes,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_request, "out_request", GsBytes::EMPTY) }?;
        let request = with_store(store, |s| Ok(s.prepare_sync(budget)?))?;
        *out = GsBytes::from_vec(request.bytes);
        Ok(())
    })
}

/// `gs_sync_prepare` with separate budgets: local changes up to `request_budget` bytes go up,
/// and at most `response_budget` bytes of others' changes come back. The server always puts
/// its acknowledgements first and always sends them, whatever the response budget: a small
/// response budget (1 asks for acknowledgements only) keeps the answer short when a window
/// is about to close, so what was sent is acknowledged instead of sent again. Records and
/// photos are separate: upload photos (`gs_upload_next`) after the records that reference them
/// have synced, unless the app decides otherwise.
///
/// # Ownership
/// `*out_request` is owned by the caller: free it with `gs_bytes_free`. Empty when the call
/// fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `out_request` points to a writable `GsBytes`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_sync_prepare_with(
    store: *mut GsStore,
    request_budget: usize,
    response_budget: usize,
    out_request: *mut GsBytes,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_request, "out_request", GsBytes::EMPTY) }?;
        let request = with_store(store, |s| {
            Ok(s.prepare_sync_with(request_budget, response_budget)?)
        })?;
        *out = GsBytes::from_vec(request.bytes);
        Ok(())
    })
}

/// Applies a sync response (the body the server answered) and sets `*out_summary_json` to what
/// it did:
///
/// `{"acknowledged":[ids],"rejected":[{"id":..,"code":..,"reason":..}],"changed":[ids],
/// "removed":[ids],"left_scope":[{"id":..,"code":..,"unsent_changes_kept":false}],
/// "conflicts":[{"id":..,"field":"category","kept":..,"kept_by":"zhou","overruled":..,
/// "overruled_by":"wang"}],
/// "needs_history":[ids],"contacts_acknowledged":[ids],
/// "contacts_rejected":[..],"needs_action":[ids],"stale":false,"more":false,
/// "server_has_more":false,"local_has_more":false}`
///
/// `changed` lists records that are new on this device or changed by someone else (refresh
/// those screens); `rejected` lists uploads the server refused, with a machine-readable `code`
/// and a `reason` for people (the record was reset to the server's copy); `left_scope` lists
/// records this account may no longer read, dropped from the store (`code` `moved_away`: its
/// owner grid is no longer the account's; `scope_changed`: the account's areas changed;
/// `reassigned`: the department no longer handles it) — with `unsent_changes_kept`, the
/// worker's changes the server never took are in the rejected list with code `out_of_scope`
/// (`gs_rejected_list`), so the app can say what was not delivered; `conflicts` lists fields
/// this device set while someone else set them too and the other value is the one every
/// replica shows (`kept`, JSON, written by `kept_by`), with the worker's `overruled` value: tell
/// the worker, who can set it again if it should stand; `needs_action`
/// lists records that came to wait for this worker in this exchange (a report returned to
/// them, a hazard to re-inspect: notify the worker; `gs_record_list` with
/// `{"needs_action":true}` lists all that wait); `more` says to sync again now, because the
/// server has more (`server_has_more`) or local changes wait (`local_has_more`). Applying the
/// same response twice is harmless. Bytes that are not a valid
/// response (truncated, corrupted, from another protocol version) give `GS_STATUS_CORRUPT` and
/// change nothing.
///
/// # Ownership
/// The library reads `bytes` during the call only; the caller keeps them. `*out_summary_json`
/// is owned by the caller: free it with `gs_string_free`. NULL when the call fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `bytes` points to `len` readable bytes (NULL only
/// with `len` 0); `out_summary_json` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_sync_apply(
    store: *mut GsStore,
    bytes: *const u8,
    len: usize,
    out_summary_json: *mut *mut c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_summary_json, "out_summary_json", std::ptr::null_mut()) }?;
        let bytes = unsafe { bytes_arg(bytes, len, "bytes") }?;
        let report = with_store(store, |s| Ok(s.apply_sync(bytes)?))?;
        *out = owned_string(serde_json::to_string(&report)?)?;
        Ok(())
    })
}

/// Sets `*out_json` to where the store stands with the server, read from the store with no
/// network:
///
/// `{"pending_records":0,"pending_contacts":0,"history_requests":0,"pending_photos":0,
/// "pending_photo_bytes":0,"paused_photos":0,"rejected":0,"last_sync_at":1700000000000,
/// "server_has_more":false,"local_has_more":false,"up_to_date":true,"cursor":42}`
///
/// `last_sync_at` (milliseconds since the Unix epoch; null before the first exchange) is when
/// the last response was applied; `server_has_more` is what that response said;
/// `local_has_more` says records, contact details or history requests wait to go up;
/// `pending_photos` and `pending_photo_bytes` count photos still to upload that the app has
/// not paused; `up_to_date` is none of these waiting.
///
/// # Ownership
/// `*out_json` is owned by the caller: free it with `gs_string_free`. NULL when the call fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `out_json` points to writable memory for one
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_sync_status(
    store: *mut GsStore,
    out_json: *mut *mut c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_json, "out_json", std::ptr::null_mut()) }?;
        let status = with_store(store, |s| Ok(s.sync_status()?))?;
        *out = owned_string(serde_json::to_string(&status)?)?;
        Ok(())
    })
}

//! Records: create from JSON, patch, note, field steps, get, list.

use std::ffi::c_char;

use sync_core::{FieldStep, ListFilter, NewRecord, RecordPatch};

use crate::buffers::{id_arg, opt_str_arg, out_arg, owned_string, str_arg};
use crate::error::{Failure, GsStatus, guard};
use crate::store::{GsStore, with_store};

/// Creates a record from JSON, offline, and sets `*out_id` to its new id (a UUID string).
///
/// The JSON is a new record: `kind` (`"complaint"` or `"risk_inspection"`) and `title` are
/// required; `description`, `category`, `channel`, `location` (`{"lon":..,"lat":..,
/// "accuracy_m":..,"crs":"wgs84"}`), `claimed_grid`, `complainant` (`{"anonymous":false,
/// "type":"person","name":..,"phone":..}`) and `inspection` (required for a risk inspection)
/// are optional. Unknown fields are refused (`GS_STATUS_INVALID_JSON`); a record that breaks
/// the schema gives `GS_STATUS_INVALID_RECORD`. The record waits in the store until a sync
/// uploads it.
///
/// A complainant's name and phone never enter the record: they are sealed at once with the
/// server's contact key (pinned at login by `gs_store_pin_contact_key`; before that,
/// `GS_STATUS_NO_CONTACT_KEY`), kept sealed beside it, sent with it, and forgotten once the
/// server acknowledges them. The record says only that there are details (`has_contact`).
///
/// # Ownership
/// `*out_id` is owned by the caller: free it with `gs_string_free`. NULL when the call fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open` (a closed one is reported); `json` is a
/// NUL-terminated string; `out_id` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_record_create(
    store: *mut GsStore,
    json: *const c_char,
    out_id: *mut *mut c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_id, "out_id", std::ptr::null_mut()) }?;
        let json = unsafe { str_arg(json, "json") }?;
        let new: NewRecord = serde_json::from_str(json)?;
        let id = with_store(store, |s| {
            let (record, contact) = new.into_parts(s.writer()).map_err(sync_core::Error::from)?;
            Ok(s.create_with_contact(&record, contact.as_ref())?)
        })?;
        *out = owned_string(id.to_string())?;
        Ok(())
    })
}

/// Changes fields of a record from a JSON patch. Absent fields stay as they are.
///
/// Fields: `title`, `description`, `category`, `location`, `claimed_grid`, `complainant`, and
/// for risk inspections `hazard_type`, `risk_level`, `findings`, `rectification`,
/// `follow_up_due`. Text fields (title, description, findings, rectification) merge character
/// by character with other people's concurrent edits. Fields the device may not change (owner
/// grid, workflow) are refused as unknown (`GS_STATUS_INVALID_JSON`). A patch that would make
/// the record invalid changes nothing (`GS_STATUS_INVALID_RECORD`).
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `id` and `patch_json` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_record_update(
    store: *mut GsStore,
    id: *const c_char,
    patch_json: *const c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let id = unsafe { id_arg(id) }?;
        let patch = unsafe { str_arg(patch_json, "patch_json") }?;
        let patch: RecordPatch = serde_json::from_str(patch)?;
        with_store(store, |s| Ok(s.patch(&id, patch)?))?;
        Ok(())
    })
}

/// Appends a note to a record's timeline, written by this store's account.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `id` and `note` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_record_add_note(
    store: *mut GsStore,
    id: *const c_char,
    note: *const c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let id = unsafe { id_arg(id) }?;
        let note = unsafe { str_arg(note, "note") }?;
        with_store(store, |s| Ok(s.add_note(&id, note)?))
    })
}

/// Takes a field step of the hazard loop on a record, offline: `step` is `"resubmit"` (the
/// worker's own report came back from the grid's leaders and was amended: submit it again),
/// `"reinspected_fixed"` or `"reinspected_not_fixed"` (a rectified hazard re-inspected on
/// site). `note` (may be empty) says what was amended or found. Amend the fields with
/// `gs_record_update` and add photos before or with the step; the next sync carries them all.
///
/// The step is written into the record's timeline in this store's account's name; the server
/// takes it at the next sync as that account's transition, and the same exchange brings the
/// outcome (the new status, or the refusal in the sync summary's `rejected` with its code,
/// the record reset to the server's copy). A step the record does not wait for from this
/// account (see `needs_action` in `gs_record_list`) gives `GS_STATUS_NOT_WAITING`; an unknown
/// step name `GS_STATUS_INVALID_ARGUMENT`. Either way nothing is written.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `id`, `step` and `note` are NUL-terminated
/// strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_record_take_step(
    store: *mut GsStore,
    id: *const c_char,
    step: *const c_char,
    note: *const c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let id = unsafe { id_arg(id) }?;
        let name = unsafe { str_arg(step, "step") }?;
        let note = unsafe { str_arg(note, "note") }?;
        let step = FieldStep::parse(name).ok_or_else(|| {
            Failure::new(
                GsStatus::InvalidArgument,
                format!(
                    "unknown step {name:?}: resubmit, reinspected_fixed or reinspected_not_fixed"
                ),
            )
        })?;
        with_store(store, |s| Ok(s.take_step(&id, step, note)?))
    })
}

/// Sets `*out_json` to one whole record as JSON: every field, including the server's decisions
/// (`owner_grid`, `workflow`), the `attachments` by sha256 and the `timeline`.
///
/// # Ownership
/// `*out_json` is owned by the caller: free it with `gs_string_free`. NULL when the call fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `id` is a NUL-terminated string; `out_json`
/// points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_record_get(
    store: *mut GsStore,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_json, "out_json", std::ptr::null_mut()) }?;
        let id = unsafe { id_arg(id) }?;
        let record = with_store(store, |s| Ok(s.get(&id)?))?;
        *out = owned_string(serde_json::to_string(&record)?)?;
        Ok(())
    })
}

/// Sets `*out_json` to a JSON array of record summaries (id, kind, status, grid, owner_grid,
/// category, title, lon, lat, created_at, updated_at, pending_upload, task), most recently
/// changed first.
///
/// `task` says what the record waits for from this store's worker, or null: `"amend"` (their
/// own hazard report was returned by the grid's leaders: amend it and take the `resubmit`
/// step) or `"reinspect"` (the department reported the hazard rectified: re-inspect it on site
/// and take `reinspected_fixed` or `reinspected_not_fixed`); see `gs_record_take_step`. It is
/// worked out from what the store holds, with no network, and is null again as soon as the
/// step is taken.
///
/// `filter_json` narrows the list; every field is optional: `{"grid":"G-07",
/// "kind":"complaint", "status":"received", "changed_since":1700000000000,
/// "needs_action":true, "limit":50}` (`changed_since` in milliseconds since the Unix epoch;
/// `needs_action` true lists only records with a task, false only those without; `limit`
/// defaults to 100, at most 10,000). NULL or `{}` lists everything up to the limit.
///
/// # Ownership
/// `*out_json` is owned by the caller: free it with `gs_string_free`. NULL when the call fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `filter_json` is NULL or a NUL-terminated string;
/// `out_json` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_record_list(
    store: *mut GsStore,
    filter_json: *const c_char,
    out_json: *mut *mut c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_json, "out_json", std::ptr::null_mut()) }?;
        let filter: ListFilter = match unsafe { opt_str_arg(filter_json, "filter_json") }? {
            Some(json) => serde_json::from_str(json)?,
            None => ListFilter::default(),
        };
        let rows = with_store(store, |s| Ok(s.list(&filter)?))?;
        *out = owned_string(serde_json::to_string(&rows)?)?;
        Ok(())
    })
}

/// Sets `*out_json` to a JSON array of the local copies of uploads the server refused, oldest
/// first: `[{"id":..,"at":..,"code":"forbidden_field","reason":".."}]` (`at` in milliseconds
/// since the Unix epoch). Each refused record was reset to the server's copy (or removed, when
/// the server never stored it); show these to the worker so the work can be redone.
///
/// # Ownership
/// `*out_json` is owned by the caller: free it with `gs_string_free`. NULL when the call fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `out_json` points to writable memory for one
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_rejected_list(
    store: *mut GsStore,
    out_json: *mut *mut c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_json, "out_json", std::ptr::null_mut()) }?;
        let rejected = with_store(store, |s| Ok(s.rejected()?))?;
        *out = owned_string(serde_json::to_string(&rejected)?)?;
        Ok(())
    })
}

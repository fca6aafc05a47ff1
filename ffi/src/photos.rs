//! Photos: attaching them to records, and uploading them in ranges that resume after a broken
//! link.
//!
//! The upload itself is the app's: ask `gs_upload_next` for the next range and its bytes, send
//! them (`PUT /api/v1/blobs/{sha256}` with `Content-Range`), and report what the server holds
//! with `gs_upload_ack` (from the PUT's answer, or from a `HEAD` after a broken link).

use std::ffi::c_char;

use sync_core::MAX_BLOB_BYTES;

use crate::buffers::{GsBytes, bytes_arg, id_arg, opt_str_arg, out_arg, owned_string, str_arg};
use crate::error::{Failure, GsStatus, guard};
use crate::store::{GsStore, require_store, with_store};

/// Attaches a photo (or any file) given as bytes to a record, and sets `*out_sha256` to its
/// reference: the lowercase hex SHA-256 of the bytes.
///
/// The bytes are copied into the store and queued for upload; the record gains the attachment
/// and a `photo` timeline event, all in one transaction. Attaching the same bytes twice keeps
/// one copy. Empty or larger than 64 MiB, or a `mime_type` without a `/`, gives
/// `GS_STATUS_INVALID_RECORD`.
///
/// # Ownership
/// The library copies `bytes`; the caller keeps them. `*out_sha256` is owned by the caller:
/// free it with `gs_string_free`. NULL when the call fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `bytes` points to `len` readable bytes (NULL only
/// with `len` 0); `id` and `mime_type` are NUL-terminated strings; `caption` is NULL (no
/// caption) or a NUL-terminated string; `out_sha256` points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_photo_attach_bytes(
    store: *mut GsStore,
    id: *const c_char,
    bytes: *const u8,
    len: usize,
    mime_type: *const c_char,
    caption: *const c_char,
    out_sha256: *mut *mut c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_sha256, "out_sha256", std::ptr::null_mut()) }?;
        let id = unsafe { id_arg(id) }?;
        let bytes = unsafe { bytes_arg(bytes, len, "bytes") }?;
        let mime_type = unsafe { str_arg(mime_type, "mime_type") }?;
        let caption = unsafe { opt_str_arg(caption, "caption") }?;
        let attachment = with_store(store, |s| Ok(s.attach(&id, bytes, mime_type, caption)?))?;
        *out = owned_string(attachment.sha256)?;
        Ok(())
    })
}

/// Attaches the file at `path` to a record, as `gs_photo_attach_bytes` does with its bytes. The
/// file is copied into the store; the app may delete it afterwards. A file that cannot be read
/// gives `GS_STATUS_IO`.
///
/// # Ownership
/// `*out_sha256` is owned by the caller: free it with `gs_string_free`. NULL when the call
/// fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `id`, `path` and `mime_type` are NUL-terminated
/// strings; `caption` is NULL or a NUL-terminated string; `out_sha256` points to writable
/// memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_photo_attach_file(
    store: *mut GsStore,
    id: *const c_char,
    path: *const c_char,
    mime_type: *const c_char,
    caption: *const c_char,
    out_sha256: *mut *mut c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_sha256, "out_sha256", std::ptr::null_mut()) }?;
        let id = unsafe { id_arg(id) }?;
        let path = unsafe { str_arg(path, "path") }?;
        let mime_type = unsafe { str_arg(mime_type, "mime_type") }?;
        let caption = unsafe { opt_str_arg(caption, "caption") }?;
        require_store(store)?;
        let bytes = read_photo(path)?;
        let attachment = with_store(store, |s| Ok(s.attach(&id, &bytes, mime_type, caption)?))?;
        *out = owned_string(attachment.sha256)?;
        Ok(())
    })
}

/// Reads a photo file, refusing one too large to attach before reading it into memory.
fn read_photo(path: &str) -> Result<Vec<u8>, Failure> {
    let io = |e: std::io::Error| Failure::new(GsStatus::Io, format!("cannot read {path:?}: {e}"));
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_BLOB_BYTES {
        return Err(Failure::new(
            GsStatus::InvalidRecord,
            format!("{path:?} is {size} bytes; an attachment is at most {MAX_BLOB_BYTES}"),
        ));
    }
    std::fs::read(path).map_err(io)
}

/// The next range of a photo to upload: sets `*out_plan_json` to
/// `{"sha256":"..","mime_type":"image/jpeg","offset":0,"len":65536,"total":200000}` and
/// `*out_bytes` to the `len` bytes starting at `offset`. Send them, then call `gs_upload_ack`.
/// Oldest photo first; at most `max_len` bytes (at least 1).
///
/// When the server holds every photo, returns `GS_STATUS_OK` with `*out_plan_json` NULL and
/// `*out_bytes` empty.
///
/// # Ownership
/// `*out_plan_json` (free with `gs_string_free`) and `*out_bytes` (free with `gs_bytes_free`)
/// are owned by the caller. Both are NULL/empty when the call fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `out_plan_json` points to writable memory for one
/// pointer and `out_bytes` to a writable `GsBytes`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_upload_next(
    store: *mut GsStore,
    max_len: u64,
    out_plan_json: *mut *mut c_char,
    out_bytes: *mut GsBytes,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out_plan = unsafe { out_arg(out_plan_json, "out_plan_json", std::ptr::null_mut()) }?;
        let out_bytes = unsafe { out_arg(out_bytes, "out_bytes", GsBytes::EMPTY) }?;
        // Two sync-core calls under one lock, so the plan and its bytes always agree.
        let next = with_store(store, |s| match s.next_upload(max_len)? {
            Some(chunk) => {
                let bytes = s.read_upload(&chunk)?;
                Ok(Some((chunk, bytes)))
            }
            None => Ok(None),
        })?;
        if let Some((chunk, bytes)) = next {
            let plan = owned_string(serde_json::to_string(&chunk)?)?;
            *out_plan = plan;
            *out_bytes = GsBytes::from_vec(bytes);
        }
        Ok(())
    })
}

/// Records how many bytes of a photo the server holds, from the answer to a range upload or
/// from a `HEAD` after a broken link. The server is the truth: this may move the next offset
/// back as well as forward. When it covers the whole photo, the photo leaves the upload queue.
/// An unknown sha256 gives `GS_STATUS_NOT_FOUND`.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `sha256` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_upload_ack(
    store: *mut GsStore,
    sha256: *const c_char,
    server_holds: u64,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let sha256 = unsafe { str_arg(sha256, "sha256") }?;
        with_store(store, |s| Ok(s.set_uploaded(sha256, server_holds)?))
    })
}

/// Orders the photo queue: a photo with a higher `priority` is offered first by
/// `gs_upload_next` (0 is every photo's default; ties go oldest first), and a `paused` one
/// (non-zero) is not offered at all until set again with `paused` 0. An unknown sha256 gives
/// `GS_STATUS_NOT_FOUND`.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `sha256` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_upload_order(
    store: *mut GsStore,
    sha256: *const c_char,
    priority: i64,
    paused: i32,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let sha256 = unsafe { str_arg(sha256, "sha256") }?;
        with_store(store, |s| {
            Ok(s.set_upload_order(sha256, priority, paused != 0)?)
        })
    })
}

/// Drops a photo the server does not hold whole yet: the worker decided not to send it. It
/// leaves the record (a `photo_dropped` event in the timeline says so) and the upload queue,
/// in one write. A photo the server holds whole gives `GS_STATUS_ALREADY_UPLOADED` and stays;
/// one this device never held, or not on that record, `GS_STATUS_NOT_FOUND`. Nothing is
/// written when the call fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `id` and `sha256` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_photo_drop(
    store: *mut GsStore,
    id: *const c_char,
    sha256: *const c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let id = unsafe { id_arg(id) }?;
        let sha256 = unsafe { str_arg(sha256, "sha256") }?;
        with_store(store, |s| Ok(s.drop_photo(&id, sha256)?))
    })
}

/// Sets `*out_json` to the upload state of each photo of a record:
///
/// `[{"sha256":"..","state":"uploading","uploaded":4096,"size":10000,"priority":0}]`
///
/// `state` is `uploaded` (the server holds it all), `uploading` (part of it), `queued`,
/// `paused`, or `elsewhere` (attached on another device; this one never held its bytes).
/// An unknown record gives `GS_STATUS_NOT_FOUND`.
///
/// # Ownership
/// `*out_json` is owned by the caller: free it with `gs_string_free`. NULL when the call fails.
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `id` is a NUL-terminated string; `out_json`
/// points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_record_uploads(
    store: *mut GsStore,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_json, "out_json", std::ptr::null_mut()) }?;
        let id = unsafe { id_arg(id) }?;
        let states = with_store(store, |s| Ok(s.upload_states(&id)?))?;
        *out = owned_string(serde_json::to_string(&states)?)?;
        Ok(())
    })
}

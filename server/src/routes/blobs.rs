//! Photos and files by content hash, uploaded in resumable ranges, scoped like their records.
//!
//! `PUT /api/v1/blobs/{sha256}` with `Content-Range: bytes START-END/TOTAL` appends one range;
//! `START` must be what the server holds (else 409 with the right offset). `HEAD` says how many
//! bytes the server holds (`Upload-Offset`). When the last byte arrives the server checks the
//! hash and forgets a blob that does not match. `GET` serves a complete blob, with `Range`.
//!
//! Who may: a blob is read (and resumed) by whoever may read a record that references it, and
//! by the account that sent it. An upload is taken for a blob one of the caller's records
//! references, or within a small quota of bytes no record references yet (a photo taken
//! before its record synced). What a blob is comes from its first bytes, sniffed by the server
//! against an allowed list, never from the client; it is served with that type, `nosniff`, a
//! sandboxing CSP and a `Content-Disposition`. Anything the caller may not read is 404, so a
//! hash tells nothing of what the server holds.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use sync_core::{MAX_BLOB_BYTES, is_sha256_hex, sha256_hex};

use crate::auth::Caller;
use crate::domain::User;
use crate::error::{ApiError, ApiResult, ArrivedBody, Body};
use crate::records::AccountAuthority;
use crate::state::AppState;
use crate::store::{BlobAppend, BlobState};

/// What the server keeps: photos, scans, voice notes and short videos, by their first bytes.
pub const ALLOWED_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/heif",
    "image/gif",
    "application/pdf",
    "video/mp4",
    "video/quicktime",
    "audio/mpeg",
    "audio/m4a",
    "audio/amr",
    "audio/x-wav",
];

/// The allowed type of a blob from its first bytes.
fn sniff(first_bytes: &[u8]) -> ApiResult<&'static str> {
    let kind = infer::get(first_bytes).map(|k| k.mime_type());
    kind.and_then(|mime| ALLOWED_TYPES.iter().find(|allowed| **allowed == mime))
        .copied()
        .ok_or_else(|| {
            ApiError::UnsupportedMediaType(format!(
                "a blob is one of {} by its first bytes{}",
                ALLOWED_TYPES.join(", "),
                kind.map(|k| format!(", not {k}")).unwrap_or_default()
            ))
        })
}

/// Whether `user` may read a record that references the blob.
async fn referenced_for(state: &AppState, user: &User, sha: &str) -> ApiResult<bool> {
    let referrers = state.store.blob_referrers(sha).await?;
    if referrers.is_empty() {
        return Ok(false);
    }
    let map = state.grids.snapshot().await?;
    let authority = AccountAuthority { user, map: &map };
    Ok(referrers.iter().any(|row| authority.sees_row(row)))
}

/// The blob, if `user` may read it (a record of theirs references it, or they sent it).
async fn readable(state: &AppState, user: &User, sha: &str) -> ApiResult<Option<BlobState>> {
    let Some(blob) = state.store.blob_state(sha).await? else {
        return Ok(None);
    };
    let sent_it = blob.uploaded_by.as_deref() == Some(user.username.as_str());
    Ok((sent_it || referenced_for(state, user, sha).await?).then_some(blob))
}

fn not_found(sha: &str) -> ApiError {
    ApiError::NotFound(format!("blob {sha} not found"))
}

/// The header telling how many bytes of a blob the server holds.
pub const OFFSET_HEADER: &str = "upload-offset";

fn sha(path: &str) -> ApiResult<String> {
    if is_sha256_hex(path) {
        Ok(path.to_string())
    } else {
        Err(ApiError::bad_request(
            "invalid_hash",
            "a blob is named by 64 lowercase hex digits of its sha256",
        ))
    }
}

/// `bytes START-END/TOTAL` → (start, end exclusive, total); `None` without the header.
fn declared_range(req: &HttpRequest) -> ApiResult<Option<(i64, i64, i64)>> {
    let Some(value) = req.headers().get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            "invalid_content_range",
            "expected Content-Range: bytes START-END/TOTAL",
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    let spec = text.strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = spec.split_once('/').ok_or_else(bad)?;
    let (start, end) = range.split_once('-').ok_or_else(bad)?;
    let (start, end, total): (i64, i64, i64) = (
        start.trim().parse().map_err(|_| bad())?,
        end.trim().parse().map_err(|_| bad())?,
        total.trim().parse().map_err(|_| bad())?,
    );
    if start < 0 || end < start || end >= total || total as u64 > MAX_BLOB_BYTES {
        return Err(bad());
    }
    Ok(Some((start, end + 1, total)))
}

/// The range a body of `body_len` bytes is: as `Content-Range` says (its length must match),
/// or the whole blob without it.
fn content_range(req: &HttpRequest, body_len: usize) -> ApiResult<(i64, i64, i64)> {
    let Some((start, end, total)) = declared_range(req)? else {
        return Ok((0, body_len as i64, body_len as i64));
    };
    if (end - start) as usize != body_len {
        return Err(ApiError::bad_request(
            "invalid_content_range",
            "the body length does not match Content-Range",
        ));
    }
    Ok((start, end, total))
}

fn state_json(b: &BlobState) -> serde_json::Value {
    json!({ "sha256": b.sha256, "size": b.size, "received": b.received, "complete": b.complete })
}

/// `PUT /api/v1/blobs/{sha256}`.
#[tracing::instrument(skip(state, caller, req, body), fields(caller = %caller.user.username, bytes = body.bytes.len()))]
pub async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: ArrivedBody,
) -> ApiResult<HttpResponse> {
    let sha = sha(&path)?;
    if body.cut {
        keep_what_arrived(&state, &caller, &req, &sha, &body.bytes).await;
        return Err(ApiError::BodyCut);
    }
    let (start, _end, total) = content_range(&req, body.bytes.len())?;
    store_range(&state, &caller, &sha, start, total, &body.bytes).await
}

/// Keeps the bytes of a range that arrived before the link cut it, when they continue what the
/// server holds: the phone's `HEAD` then says to resume from there, so a cut costs the bytes
/// lost, not the whole range. Anything the whole range would be refused for refuses these too
/// (quota, type, offset); nothing is answered (the link is gone).
async fn keep_what_arrived(
    state: &web::Data<AppState>,
    caller: &Caller,
    req: &HttpRequest,
    sha: &str,
    arrived: &[u8],
) {
    let declared = match declared_range(req) {
        Ok(Some(range)) => Some(range),
        Ok(None) => req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<i64>().ok())
            .filter(|total| *total > 0 && *total as u64 <= MAX_BLOB_BYTES)
            .map(|total| (0, total, total)),
        Err(_) => None,
    };
    let Some((start, end, total)) = declared else {
        return;
    };
    if arrived.is_empty() || arrived.len() as i64 >= end - start {
        return;
    }
    match store_range(state, caller, sha, start, total, arrived).await {
        Ok(_) => tracing::info!(
            sha,
            start,
            kept = arrived.len(),
            "kept the part of a cut range"
        ),
        Err(error) => tracing::debug!(sha, code = error.code(), "a cut range was not kept"),
    }
}

/// `POST /api/v1/blobs`: a whole blob in one request, named by the server from its bytes (for
/// a browser, which cannot always hash a file before sending it).
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username, bytes = body.len()))]
pub async fn post(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body,
) -> ApiResult<HttpResponse> {
    let sha = sha256_hex(&body);
    store_range(&state, &caller, &sha, 0, body.len() as i64, &body).await
}

/// Appends `body`, the range of blob `sha` (of `total` bytes) starting at `start`.
async fn store_range(
    state: &web::Data<AppState>,
    caller: &Caller,
    sha: &str,
    start: i64,
    total: i64,
    body: &[u8],
) -> ApiResult<HttpResponse> {
    let sha = sha.to_string();
    if total == 0 {
        return Err(ApiError::bad_request(
            "empty_blob",
            "a blob has at least one byte",
        ));
    }
    // Whatever the request body limit, a blob is at most this (a POST is one whole blob).
    if total as u64 > MAX_BLOB_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "a blob is at most {MAX_BLOB_BYTES} bytes"
        )));
    }
    let existing = state.store.blob_state(&sha).await?;
    let sent_it = existing
        .as_ref()
        .is_some_and(|b| b.uploaded_by.as_deref() == Some(caller.user.username.as_str()));
    if !sent_it && !referenced_for(state, &caller.user, &sha).await? {
        let held = state
            .store
            .unreferenced_upload_bytes(&caller.user.username)
            .await?;
        if held + total > state.settings.unreferenced_upload_bytes {
            return Err(ApiError::Refused {
                code: "upload_quota",
                detail: format!(
                    "no record of yours references this blob, and your {held} bytes of photos \
                     waiting for their records leave no room for {total} more; sync the record \
                     first"
                ),
            });
        }
    }
    // What the blob is, from its first bytes (the client's word is not taken).
    let mime = if start == 0 {
        Some(sniff(body)?.to_string())
    } else {
        None
    };
    if let Some(existing) = existing {
        if existing.complete {
            return Ok(HttpResponse::Ok()
                .insert_header((OFFSET_HEADER, existing.size))
                .json(state_json(&existing)));
        }
        if existing.size != total {
            return Err(ApiError::unprocessable(
                "size_mismatch",
                format!("this blob is {} bytes, not {total}", existing.size),
            ));
        }
        if existing.received == existing.size {
            // Every byte arrived but the check never ran: the server stopped between the last
            // range and its check. Check it now, or the blob would stay unfinished for good.
            return finish(state, &sha, existing).await;
        }
    }
    let now = crate::domain::now_unix();
    let Some(after) = state
        .store
        .blob_append(&BlobAppend {
            sha256: &sha,
            size: total,
            start,
            bytes: body,
            mime_type: mime.as_deref(),
            uploaded_by: &caller.user.username,
            now,
        })
        .await?
    else {
        let held = state
            .store
            .blob_state(&sha)
            .await?
            .map(|b| b.received)
            .unwrap_or(0);
        return Ok(HttpResponse::Conflict()
            .insert_header((OFFSET_HEADER, held))
            .content_type("application/problem+json")
            .json(json!({
                "type": "about:blank", "title": "Conflict", "status": 409, "code": "offset_mismatch",
                "detail": format!("the server holds {held} bytes; send from there"), "received": held,
            })));
    };
    if after.received == after.size {
        return finish(state, &sha, after).await;
    }
    Ok(HttpResponse::Ok()
        .insert_header((OFFSET_HEADER, after.received))
        .json(state_json(&after)))
}

/// A blob whose every byte has arrived: checks the bytes against its name and marks it
/// complete, or drops it (422 `hash_mismatch`: the phone sends it again from the start).
async fn finish(
    state: &web::Data<AppState>,
    sha: &str,
    whole: BlobState,
) -> ApiResult<HttpResponse> {
    if !check_whole(state, sha, whole.size).await? {
        return Err(ApiError::unprocessable(
            "hash_mismatch",
            "the bytes do not hash to the blob's name; upload it again",
        ));
    }
    let done = BlobState {
        complete: true,
        ..whole
    };
    Ok(HttpResponse::Ok()
        .insert_header((OFFSET_HEADER, done.size))
        .json(state_json(&done)))
}

/// Checks a blob whose every byte has arrived against its name: marks it complete, or drops
/// it. The check runs as its own task, so a request cancelled meanwhile (the link cut after
/// the last byte arrived) does not leave the blob whole but unchecked; one the server stopped
/// before is checked by the next `PUT` or `HEAD` of it.
async fn check_whole(state: &web::Data<AppState>, sha: &str, size: i64) -> ApiResult<bool> {
    let (state, sha) = (state.clone(), sha.to_string());
    actix_web::rt::spawn(async move {
        let bytes = state.store.blob_read(&sha, 0, size).await?;
        let verified = sha256_hex(&bytes) == sha;
        state.store.blob_finish(&sha, verified).await?;
        Ok::<bool, ApiError>(verified)
    })
    .await
    .map_err(ApiError::internal)?
}

/// `HEAD /api/v1/blobs/{sha256}`: how many bytes the server holds (`Upload-Offset`); 404 when
/// none.
pub async fn head(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let sha = sha(&path)?;
    let mut blob = readable(&state, &caller.user, &sha)
        .await?
        .ok_or_else(|| not_found(&sha))?;
    if !blob.complete && blob.received == blob.size {
        // Whole but never checked (see `check_whole`): check it before saying so.
        if !check_whole(&state, &sha, blob.size).await? {
            return Err(not_found(&sha));
        }
        blob.complete = true;
    }
    Ok(HttpResponse::Ok()
        .insert_header((OFFSET_HEADER, blob.received))
        .insert_header(("x-gridsync-blob-size", blob.size))
        .insert_header((
            "x-gridsync-blob-complete",
            if blob.complete { "true" } else { "false" },
        ))
        .finish())
}

/// `bytes=A-B`, `bytes=A-` or `bytes=-N` within `size` → (start, len).
fn range(req: &HttpRequest, size: i64) -> Option<Result<(i64, i64), ()>> {
    let value = req.headers().get(header::RANGE)?.to_str().ok()?;
    let spec = value.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let parsed = match (a.trim(), b.trim()) {
        ("", n) => n
            .parse::<i64>()
            .ok()
            .map(|n| (size - n.min(size), n.min(size))),
        (a, "") => a.parse::<i64>().ok().map(|a| (a, size - a)),
        (a, b) => match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(a), Ok(b)) if b >= a => Some((a, (b.min(size - 1)) - a + 1)),
            _ => None,
        },
    };
    Some(match parsed {
        Some((start, len)) if start >= 0 && start < size && len > 0 => Ok((start, len)),
        _ => Err(()),
    })
}

/// `GET /api/v1/blobs/{sha256}`: a complete blob, whole or a `Range` of it.
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let sha = sha(&path)?;
    let blob = readable(&state, &caller.user, &sha)
        .await?
        .filter(|b| b.complete)
        .ok_or_else(|| not_found(&sha))?;
    let content_type = blob
        .mime_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    // Shown in place when it is a picture, saved otherwise; never run, never re-typed.
    let disposition = if content_type.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    let safe = |mut response: actix_web::HttpResponseBuilder| {
        response
            .content_type(content_type.clone())
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'",
            ))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{sha}\""),
            ))
            .insert_header((header::CACHE_CONTROL, "private, max-age=86400, immutable"));
        response
    };
    match range(&req, blob.size) {
        None => {
            let bytes = state.store.blob_read(&sha, 0, blob.size).await?;
            Ok(safe(HttpResponse::Ok())
                .insert_header((header::ACCEPT_RANGES, "bytes"))
                .body(bytes))
        }
        Some(Ok((start, len))) => {
            let bytes = state.store.blob_read(&sha, start, len).await?;
            Ok(safe(HttpResponse::PartialContent())
                .insert_header((
                    header::CONTENT_RANGE,
                    format!("bytes {}-{}/{}", start, start + len - 1, blob.size),
                ))
                .body(bytes))
        }
        Some(Err(())) => Ok(HttpResponse::RangeNotSatisfiable()
            .insert_header((header::CONTENT_RANGE, format!("bytes */{}", blob.size)))
            .finish()),
    }
}

//! Photos and files by content hash, uploaded in resumable ranges.
//!
//! `PUT /api/v1/blobs/{sha256}` with `Content-Range: bytes START-END/TOTAL` appends one range;
//! `START` must be what the server holds (else 409 with the right offset). `HEAD` says how many
//! bytes the server holds (`Upload-Offset`). When the last byte arrives the server checks the
//! hash and forgets a blob that does not match. `GET` serves a complete blob, with `Range`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use sync_core::{MAX_BLOB_BYTES, is_sha256_hex, sha256_hex};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::BlobState;

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

/// `bytes START-END/TOTAL` → (start, end exclusive, total).
fn content_range(req: &HttpRequest, body_len: usize) -> ApiResult<(i64, i64, i64)> {
    let Some(value) = req.headers().get(header::CONTENT_RANGE) else {
        return Ok((0, body_len as i64, body_len as i64));
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
    if (end - start + 1) as usize != body_len {
        return Err(ApiError::bad_request(
            "invalid_content_range",
            "the body length does not match Content-Range",
        ));
    }
    Ok((start, end + 1, total))
}

fn state_json(b: &BlobState) -> serde_json::Value {
    json!({ "sha256": b.sha256, "size": b.size, "received": b.received, "complete": b.complete })
}

/// `PUT /api/v1/blobs/{sha256}`.
#[tracing::instrument(skip(state, caller, req, body), fields(caller = %caller.user.username, bytes = body.len()))]
pub async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let sha = sha(&path)?;
    let (start, _end, total) = content_range(&req, body.len())?;
    if total == 0 {
        return Err(ApiError::bad_request(
            "empty_blob",
            "a blob has at least one byte",
        ));
    }
    let mime = req
        .headers()
        .get("x-gridsync-mime-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(existing) = state.store.blob_state(&sha).await? {
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
    }
    let now = crate::domain::now_unix();
    let Some(after) = state
        .store
        .blob_append(&sha, total, start, &body, mime.as_deref(), now)
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
        let bytes = state.store.blob_read(&sha, 0, after.size).await?;
        let verified = sha256_hex(&bytes) == sha;
        state.store.blob_finish(&sha, verified).await?;
        if !verified {
            return Err(ApiError::unprocessable(
                "hash_mismatch",
                "the bytes do not hash to the blob's name; upload it again",
            ));
        }
        let done = BlobState {
            complete: true,
            ..after
        };
        return Ok(HttpResponse::Ok()
            .insert_header((OFFSET_HEADER, done.size))
            .json(state_json(&done)));
    }
    Ok(HttpResponse::Ok()
        .insert_header((OFFSET_HEADER, after.received))
        .json(state_json(&after)))
}

/// `HEAD /api/v1/blobs/{sha256}`: how many bytes the server holds (`Upload-Offset`); 404 when
/// none.
pub async fn head(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let sha = sha(&path)?;
    let blob = state
        .store
        .blob_state(&sha)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("blob {sha} not found")))?;
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
    _caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let sha = sha(&path)?;
    let blob = state
        .store
        .blob_state(&sha)
        .await?
        .filter(|b| b.complete)
        .ok_or_else(|| ApiError::NotFound(format!("blob {sha} not found or not complete")))?;
    let content_type = blob
        .mime_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    match range(&req, blob.size) {
        None => {
            let bytes = state.store.blob_read(&sha, 0, blob.size).await?;
            Ok(HttpResponse::Ok()
                .content_type(content_type)
                .insert_header((header::ACCEPT_RANGES, "bytes"))
                .body(bytes))
        }
        Some(Ok((start, len))) => {
            let bytes = state.store.blob_read(&sha, start, len).await?;
            Ok(HttpResponse::PartialContent()
                .content_type(content_type)
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

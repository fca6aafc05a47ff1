//! `POST /api/v1/sync`: one round trip of sync-core's protocol (`sync-core/PROTOCOL.md`).

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Body};
use crate::state::AppState;
use crate::sync;

/// The media type of sync frames.
pub const SYNC_MEDIA_TYPE: &str = "application/vnd.gridsync.sync";

/// The header naming the device (one app installation).
pub const DEVICE_HEADER: &str = "x-gridsync-device";

/// The device id from the request: 1–128 characters of letters, digits and `-_.:`.
pub fn device_id(req: &HttpRequest) -> ApiResult<String> {
    let value = req.headers().get(DEVICE_HEADER).ok_or_else(|| {
        ApiError::bad_request(
            "missing_device",
            format!("the {DEVICE_HEADER} header is required"),
        )
    })?;
    let device = value
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid_device", "the device id is not ASCII"))?;
    check_device(device)
}

/// A device id as given (in the header, or at login): 1–128 letters, digits and `-_.:`.
pub fn check_device(device: &str) -> ApiResult<String> {
    let valid = !device.is_empty()
        && device.len() <= 128
        && device
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if !valid {
        return Err(ApiError::bad_request(
            "invalid_device",
            "a device id is 1-128 letters, digits, '-', '_', '.' or ':'",
        ));
    }
    Ok(device.to_string())
}

/// Applies a device's changes and answers with what it lacks. The body is a sync frame
/// (gzip-encoded bodies are accepted); the answer is one too.
#[tracing::instrument(skip(state, caller, req, body), fields(caller = %caller.user.username, bytes = body.len()))]
pub async fn sync(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body,
) -> ApiResult<HttpResponse> {
    let device = device_id(&req)?;
    let started = Instant::now();
    let response = sync::handle_sync(&state, &caller, &device, &body).await?;
    state
        .metrics
        .sync_duration
        .observe(started.elapsed().as_secs_f64());
    Ok(HttpResponse::Ok()
        .content_type(SYNC_MEDIA_TYPE)
        .body(response))
}

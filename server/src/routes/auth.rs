//! Login, logout and "who am I".

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Caller, check_credentials, issue_token, token_hash};
use crate::domain::{User, now_unix};
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::Limit;
use crate::routes::common::user_view;
use crate::routes::sync::check_device;
use crate::state::AppState;
use crate::store::{DeviceRefresh, NewDeviceCredential};

/// Login request. A phone names its device to get a device credential with the token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
    #[serde(default)]
    device: Option<String>,
}

/// `POST /api/v1/auth/login`: limited per client address and per account.
#[tracing::instrument(skip(state, req, body), fields(username = %body.username))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest {
        username,
        password,
        device,
    } = body.into_inner();
    let device = device.as_deref().map(check_device).transpose()?;
    state.limits.check_request(Limit::Login, &req)?;
    state.limits.check_account(&username)?;
    let user = check_credentials(&state, &username, password)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let credential = match &device {
        Some(device) => Some(issue_device_credential(&state, &user, device).await?),
        None => None,
    };
    tracing::info!(role = %user.role, device = device.as_deref(), "login");
    signed_in(&state, &user, credential).await
}

/// The answer to a login or a refresh: a new token, the account, the contact key, and the
/// device's new credential if there is one.
async fn signed_in(
    state: &AppState,
    user: &User,
    credential: Option<(String, String, i64)>,
) -> ApiResult<HttpResponse> {
    let (token, expires_at) = issue_token(state, user).await?;
    let key = state.contact_secret.public();
    let mut answer = json!({
        "token": token,
        "token_type": "Bearer",
        "expires_at": expires_at,
        "user": user_view(user),
        // Phones pin this key and seal complainants' contact details with it.
        "contact_key": {
            "id": key.id(),
            "public_key": base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                key.to_bytes(),
            ),
        },
    });
    if let Some((credential, device, expires_at)) = credential {
        answer["device_credential"] = json!({
            "credential": credential,
            "device": device,
            "expires_at": expires_at,
        });
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// A new device credential: `gsd_` and 32 random bytes, hex.
fn new_device_credential() -> String {
    crate::auth::new_secret("gsd")
}

/// Issues `device` of `user` a credential (revoking its earlier ones): the credential, the
/// device and its expiry (Unix seconds).
async fn issue_device_credential(
    state: &AppState,
    user: &User,
    device: &str,
) -> ApiResult<(String, String, i64)> {
    let credential = new_device_credential();
    let now = now_unix();
    let expires_at = now + state.settings.device_credential_ttl.as_secs() as i64;
    state
        .store
        .issue_device_credential(&NewDeviceCredential {
            hash: &token_hash(&credential),
            user_id: user.id,
            device,
            created_at: now,
            expires_at,
        })
        .await?;
    Ok((credential, device.to_string(), expires_at))
}

/// Refresh request: the device and its credential.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    device: String,
    credential: String,
}

/// `POST /api/v1/auth/refresh`: a phone back from days offline trades its device credential
/// for a new token and a new credential (the old one is spent), without its user's password.
/// Presenting a credential again whose successor was never used (the answer was lost, or the
/// request reached the server twice) is answered again with another successor, and the first
/// of them used spends the rest, so whichever answer the phone kept works; presenting one
/// whose successor was used revokes the device's credentials (401 `credential_reused`).
#[tracing::instrument(skip(state, body), fields(device = %body.device))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let RefreshRequest { device, credential } = body.into_inner();
    let device = check_device(&device)?;
    if credential.len() > 128 {
        return Err(ApiError::InvalidDeviceCredential);
    }
    let next = new_device_credential();
    let now = now_unix();
    let expires_at = now + state.settings.device_credential_ttl.as_secs() as i64;
    let outcome = state
        .store
        .refresh_device_credential(
            &token_hash(&credential),
            &device,
            &token_hash(&next),
            now,
            expires_at,
        )
        .await?;
    let username = match outcome {
        DeviceRefresh::Rotated { username } => username,
        DeviceRefresh::Invalid => return Err(ApiError::InvalidDeviceCredential),
        DeviceRefresh::Reused => {
            tracing::warn!(device, "a spent device credential was presented again");
            return Err(ApiError::CredentialReused);
        }
    };
    let user = state
        .store
        .user_by_name(&username)
        .await?
        .ok_or(ApiError::InvalidDeviceCredential)?;
    tracing::info!(username, role = %user.role, "device credential refreshed");
    signed_in(&state, &user, Some((next, device, expires_at))).await
}

/// `POST /api/v1/auth/logout`: revokes the token that made the request (and, for the
/// console's session, clears its cookie).
#[tracing::instrument(skip(state, req, caller), fields(username = %caller.user.username))]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    state
        .store
        .revoke_token(&caller.token_hash, now_unix())
        .await?;
    let mut response = HttpResponse::NoContent();
    if caller.via_session {
        response.cookie(crate::session::removal(&req));
    }
    Ok(response.finish())
}

/// `GET /api/v1/auth/me`.
pub async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(user_view(&caller.user))
}

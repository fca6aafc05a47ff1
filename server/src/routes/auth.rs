//! Login, logout and "who am I".

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Caller, check_credentials, issue_token};
use crate::domain::now_unix;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::Limit;
use crate::routes::common::user_view;
use crate::state::AppState;

/// Login request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
}

/// `POST /api/v1/auth/login`.
#[tracing::instrument(skip(state, req, body), fields(username = %body.username))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    state.limits.check_request(Limit::Login, &req)?;
    let LoginRequest { username, password } = body.into_inner();
    let user = check_credentials(&state, &username, password)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let (token, expires_at) = issue_token(&state, &user).await?;
    tracing::info!(role = %user.role, "login");
    let key = state.contact_secret.public();
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "token_type": "Bearer",
        "expires_at": expires_at,
        "user": user_view(&user),
        // Phones pin this key and seal complainants' contact details with it.
        "contact_key": {
            "id": key.id(),
            "public_key": base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                key.to_bytes(),
            ),
        },
    })))
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

//! Account management: admins only.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Caller, hash_password_blocking};
use crate::domain::{NewUser, Password, Role, UserUpdate, Username, now_unix};
use crate::error::{ApiError, ApiResult};
use crate::routes::common::{self, user_view};
use crate::state::AppState;

/// Every assigned code must name an existing area.
async fn check_areas_exist(state: &AppState, areas: &[String]) -> Result<(), ApiError> {
    let found = state.store.area_levels(areas).await?;
    let missing: Vec<&String> = areas
        .iter()
        .filter(|code| !found.iter().any(|(c, _)| c == *code))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "unknown_area",
            format!(
                "no such area: {}",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

/// New account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    password: String,
    role: Role,
    #[serde(default)]
    areas: Vec<String>,
}

/// Account changes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default, deserialize_with = "common::not_null")]
    role: Option<Role>,
    #[serde(default, deserialize_with = "common::not_null")]
    password: Option<String>,
    #[serde(default, deserialize_with = "common::not_null")]
    active: Option<bool>,
}

/// New area assignments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetAreas {
    areas: Vec<String>,
}

/// `GET /api/v1/admin/users`.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn list_users(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let users = state.store.list_users().await?;
    Ok(
        HttpResponse::Ok()
            .json(json!({ "users": users.iter().map(user_view).collect::<Vec<_>>() })),
    )
}

/// `POST /api/v1/admin/users`.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateUser>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let CreateUser {
        username,
        password,
        role,
        areas,
    } = body.into_inner();
    let username: Username = username.parse()?;
    let password: Password = password.parse()?;
    check_areas_exist(&state, &areas).await?;
    let password_hash = hash_password_blocking(password).await?;
    let user = state
        .store
        .create_user(&NewUser {
            username: username.into_inner(),
            password_hash,
            role,
            areas,
            created_at: now_unix(),
        })
        .await?;
    tracing::info!(username = %user.username, role = %user.role, "account created");
    Ok(HttpResponse::Created().json(user_view(&user)))
}

/// `GET /api/v1/admin/users/{username}`.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn get_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let username = path.into_inner();
    let user = state.store.user_by_name(&username).await?;
    let user = user.ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))?;
    Ok(HttpResponse::Ok().json(user_view(&user)))
}

/// `PATCH /api/v1/admin/users/{username}`: role, password, active. Deactivating an account or
/// changing its password revokes its tokens.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn update_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<UpdateUser>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let username = path.into_inner();
    let UpdateUser {
        role,
        password,
        active,
    } = body.into_inner();
    let password_hash = match password {
        Some(password) => {
            let password: Password = password.parse()?;
            Some(hash_password_blocking(password).await?)
        }
        None => None,
    };
    let revoke = password_hash.is_some() || active == Some(false);
    let update = UserUpdate {
        role,
        password_hash,
        active,
    };
    let user = state.store.update_user(&username, &update).await?;
    let user = user.ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))?;
    if revoke {
        // A new password or a deactivation ends every session and every device's credential.
        state.store.revoke_user_tokens(user.id, now_unix()).await?;
        state
            .store
            .revoke_device_credentials(user.id, None, now_unix())
            .await?;
    }
    Ok(HttpResponse::Ok().json(user_view(&user)))
}

/// `PUT /api/v1/admin/users/{username}/areas`.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn set_areas(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<SetAreas>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let username = path.into_inner();
    let mut areas = body.into_inner().areas;
    areas.sort();
    areas.dedup();
    check_areas_exist(&state, &areas).await?;
    let user = state.store.set_user_areas(&username, &areas).await?;
    let user = user.ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))?;
    Ok(HttpResponse::Ok().json(user_view(&user)))
}

/// `POST /api/v1/admin/users/{username}/revoke-tokens`.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn revoke_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let username = path.into_inner();
    let user = state.store.user_by_name(&username).await?;
    let user = user.ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))?;
    let revoked = state.store.revoke_user_tokens(user.id, now_unix()).await?;
    let devices = state
        .store
        .revoke_device_credentials(user.id, None, now_unix())
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "revoked": revoked, "device_credentials": devices })))
}

/// The account named in the path, for an admin.
async fn account(
    state: &AppState,
    caller: &Caller,
    username: &str,
) -> ApiResult<crate::domain::User> {
    caller.require_role(&[Role::Admin])?;
    let user = state.store.user_by_name(username).await?;
    user.ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))
}

/// `GET /api/v1/admin/users/{username}/devices`: the devices holding a live credential.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn list_devices(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = account(&state, &caller, &path).await?;
    let devices = state.store.device_credentials(user.id, now_unix()).await?;
    let devices: Vec<_> = devices
        .iter()
        .map(|d| {
            json!({ "device": d.device, "refreshed_at": d.refreshed_at, "expires_at": d.expires_at })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "devices": devices })))
}

/// `DELETE /api/v1/admin/users/{username}/devices/{device}`: revokes the device's credential
/// (a lost or stolen phone); its user logs in with a password again. 404 if it holds none.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn revoke_device(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (username, device) = path.into_inner();
    let user = account(&state, &caller, &username).await?;
    let revoked = state
        .store
        .revoke_device_credentials(user.id, Some(&device), now_unix())
        .await?;
    if revoked == 0 {
        return Err(ApiError::NotFound(format!(
            "`{username}` has no live credential on device `{device}`"
        )));
    }
    Ok(HttpResponse::NoContent().finish())
}

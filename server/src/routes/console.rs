//! The web console: its pages and its files, all embedded in the binary.
//!
//! - Pages: `/` sends the browser to `/console/`; `/console/login` is the login form
//!   (server-rendered, works without script); `/console/` is the application's page, which
//!   needs a session ([`crate::session`]) and carries the session's CSRF token and the account
//!   for the scripts. Every page is sent with the console's Content-Security-Policy.
//! - The console's own scripts and styles (`server/console/app/`), plain ES modules that call
//!   the same API as every other client, with the same role and grid scope.
//! - The browser libraries: MapLibre GL JS (its CSP build, with the worker as its own file) for
//!   the maps and Apache ECharts for the charts, copied from the npm registry by
//!   `scripts/refresh-console-assets.sh` at the versions `console/package-lock.json` pins.
//!   `server/console/vendor/MANIFEST` lists each file with its package, version and sha256.
//!
//! Files are served at `/console/assets/{file}` to anyone (the login page needs them), with a
//! strong ETag from the file's hash; compression is the server's middleware's.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::{check_credentials, issue_token, token_hash};
use crate::domain::now_unix;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::Limit;
use crate::routes::common::user_view;
use crate::session;
use crate::state::AppState;

/// An embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! vendor {
    ($($name:literal => $content_type:literal),+ $(,)?) => {
        /// Every embedded file.
        pub const ASSETS: &[Asset] = &[$(Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/vendor/", $name)),
        }),+];
    };
}

vendor! {
    "maplibre-gl-csp.js" => "text/javascript; charset=utf-8",
    "maplibre-gl-csp-worker.js" => "text/javascript; charset=utf-8",
    "maplibre-gl.css" => "text/css; charset=utf-8",
    "maplibre-gl.LICENSE.txt" => "text/plain; charset=utf-8",
    "echarts.min.js" => "text/javascript; charset=utf-8",
    "echarts.LICENSE.txt" => "text/plain; charset=utf-8",
    "echarts.NOTICE.txt" => "text/plain; charset=utf-8",
}

macro_rules! app {
    ($($name:literal => $content_type:literal),+ $(,)?) => {
        /// The console's own files.
        pub const APP: &[Asset] = &[$(Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/app/", $name)),
        }),+];
    };
}

app! {
    "console.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "app.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "labels.js" => "text/javascript; charset=utf-8",
    "record.js" => "text/javascript; charset=utf-8",
    "map.js" => "text/javascript; charset=utf-8",
    "grids.js" => "text/javascript; charset=utf-8",
    "charts.js" => "text/javascript; charset=utf-8",
    "reports.js" => "text/javascript; charset=utf-8",
    "city.js" => "text/javascript; charset=utf-8",
    "supervision.js" => "text/javascript; charset=utf-8",
    "admin.js" => "text/javascript; charset=utf-8",
}

/// The manifest the refresh script wrote: `file package@version sha256` per line.
pub const MANIFEST: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/console/vendor/MANIFEST"
));

/// An embedded file by name.
pub fn asset(name: &str) -> Option<&'static Asset> {
    APP.iter().chain(ASSETS).find(|a| a.name == name)
}

/// The ETag of a file: its sha256 (as the manifest gives it for the libraries).
fn etag(name: &str) -> Option<&'static str> {
    static APP_HASHES: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    let app = APP_HASHES.get_or_init(|| {
        APP.iter()
            .map(|a| (a.name, sync_core::sha256_hex(a.bytes)))
            .collect()
    });
    if let Some(hash) = app.get(name) {
        return Some(hash.as_str());
    }
    MANIFEST.lines().find_map(|line| {
        let mut parts = line.split(' ');
        (parts.next() == Some(name)).then(|| parts.nth(1)).flatten()
    })
}

/// The login form.
#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    /// Where the console's files are (`/console/v/{version}`).
    assets: String,
    /// What went wrong with the last attempt.
    message: Option<&'a str>,
    /// The name typed last time.
    username: &'a str,
    /// Whether to show the demo accounts (the server runs the demo city).
    demo: bool,
}

/// The application's page.
#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    /// Where the console's files are (`/console/v/{version}`).
    assets: String,
    /// The session's CSRF token.
    csrf: String,
    /// The account, as `GET /api/v1/auth/me` answers it (JSON).
    user: String,
    /// The basemap's tile address, if one is set.
    basemap: Option<String>,
    /// Its attribution.
    attribution: Option<String>,
}

/// An HTML page with the console's security headers.
fn html(status: StatusCode, page: &impl Template) -> ApiResult<HttpResponse> {
    let body = page.render().map_err(ApiError::internal)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            session::CONTENT_SECURITY_POLICY,
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// A 303 to another page.
fn see_other(location: &'static str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The account of the request's session cookie, with the cookie's token.
async fn session_user(
    state: &AppState,
    req: &HttpRequest,
) -> ApiResult<Option<(String, crate::domain::User)>> {
    let Some(token) = session::token(req) else {
        return Ok(None);
    };
    let owner = state
        .store
        .token_owner(&token_hash(&token), now_unix())
        .await?;
    Ok(owner.map(|owner| (token, owner.user)))
}

/// `GET /`: the console.
pub async fn root() -> HttpResponse {
    see_other("/console/")
}

/// `GET /console/`: the application's page, or the login form without a session.
pub async fn page(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let Some((token, user)) = session_user(&state, &req).await? else {
        return Ok(see_other("/console/login"));
    };
    let basemap = state.settings.basemap.as_ref();
    let mut response = html(
        StatusCode::OK,
        &ConsolePage {
            assets: assets_path(),
            csrf: session::csrf_token(&token),
            user: user_view(&user).to_string(),
            basemap: basemap.map(|b| b.template.clone()),
            attribution: state.settings.basemap_attribution.clone(),
        },
    )?;
    if let Some(basemap) = basemap {
        let policy = session::content_security_policy(Some(&basemap.origin));
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_str(&policy).map_err(ApiError::internal)?,
        );
    }
    Ok(response)
}

/// `GET /console/login`: the login form (or the console, for a live session).
pub async fn login_page(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    if session_user(&state, &req).await?.is_some() {
        return Ok(see_other("/console/"));
    }
    html(
        StatusCode::OK,
        &LoginPage {
            assets: assets_path(),
            message: None,
            username: "",
            demo: state.settings.demo,
        },
    )
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// `POST /console/login`: checks the credentials like the API's login (same limit, same
/// argon2), then opens a session: the cookie, and a 303 to the console. A wrong password
/// shows the form again with a message (401); a post from another site's page is refused (403).
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> ApiResult<HttpResponse> {
    let LoginForm { username, password } = form.into_inner();
    let username = username.trim();
    let shown: String = username.chars().take(64).collect();
    let again = |status, message| {
        html(
            status,
            &LoginPage {
                assets: assets_path(),
                message: Some(message),
                username: &shown,
                demo: state.settings.demo,
            },
        )
    };
    if !session::same_origin(&req) {
        return again(StatusCode::FORBIDDEN, "登录请求来自其他网站，已拒绝。");
    }
    let limited = state
        .limits
        .check_request(Limit::Login, &req)
        .and_then(|()| state.limits.check_account(username));
    if let Err(error) = limited {
        let ApiError::TooManyRequests { retry_after_secs } = error else {
            return Err(error);
        };
        let mut response = again(
            StatusCode::TOO_MANY_REQUESTS,
            "登录尝试过于频繁，请稍后再试。",
        )?;
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(retry_after_secs),
        );
        return Ok(response);
    }
    let user = if username.len() > 64 || password.len() > 1024 {
        None
    } else {
        check_credentials(&state, username, password).await?
    };
    let Some(user) = user else {
        return again(StatusCode::UNAUTHORIZED, "用户名或密码错误。");
    };
    let (token, expires_at) = issue_token(&state, &user).await?;
    tracing::info!(role = %user.role, "console login");
    let mut response = see_other("/console/");
    response
        .add_cookie(&session::cookie(&req, &token, expires_at - now_unix()))
        .map_err(ApiError::internal)?;
    Ok(response)
}

/// The version of the console's files: the first 16 hex digits of the sha256 over every file.
/// Pages name their files under `/console/v/{version}/`, so a browser may keep them for good
/// and a new binary's pages name new addresses.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for asset in APP.iter().chain(ASSETS) {
            hasher.update(asset.name.as_bytes());
            hasher.update((asset.bytes.len() as u64).to_le_bytes());
            hasher.update(asset.bytes);
        }
        crate::auth::hex(&hasher.finalize()[..8])
    })
}

/// Where the pages find the console's files.
fn assets_path() -> String {
    format!("/console/v/{}", version())
}

/// A file as a response: its ETag, answered 304 on a match, and `cache_control`.
fn serve(req: &HttpRequest, file: &str, cache_control: &'static str) -> ApiResult<HttpResponse> {
    let Some(asset) = asset(file) else {
        return Err(ApiError::NotFound(format!(
            "no console asset {:?}",
            file.chars().take(64).collect::<String>()
        )));
    };
    let tag = format!("\"{}\"", etag(asset.name).unwrap_or_default());
    let cached = crate::routes::common::if_none_match(req, &tag);
    let mut response = if cached {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    Ok(if cached {
        response.finish()
    } else {
        response.content_type(asset.content_type).body(asset.bytes)
    })
}

/// `GET /console/assets/{file}`: a file at its plain address, revalidated on every use.
pub async fn get_asset(req: HttpRequest, file: web::Path<String>) -> ApiResult<HttpResponse> {
    serve(&req, &file, "no-cache")
}

/// `GET /console/v/{version}/{file}`: a file at the address of this build's version, kept by
/// the browser for good (on a slow link every revalidation is a round trip). Another version
/// (a page from before an upgrade) gets today's file, revalidated.
pub async fn get_versioned(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (asked, file) = path.into_inner();
    let cache_control = if asked == version() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    serve(&req, &file, cache_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console's scripts never turn strings into HTML: user text reaches the page only as
    /// text nodes.
    #[test]
    fn no_console_script_parses_strings_as_html() {
        for asset in APP.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.bytes).unwrap();
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "setHTML",
                "eval(",
                "new Function",
            ] {
                assert!(!text.contains(sink), "{} uses {sink}", asset.name);
            }
        }
    }

    /// The embedded files are the ones the manifest names, byte for byte, at the versions
    /// `console/package-lock.json` pins.
    #[test]
    fn every_embedded_file_matches_its_manifest_line_and_the_lockfile() {
        let lock: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../console/package-lock.json"
        )))
        .unwrap();
        assert_eq!(MANIFEST.lines().count(), ASSETS.len());
        for asset in ASSETS {
            let line = MANIFEST
                .lines()
                .find(|l| l.split(' ').next() == Some(asset.name))
                .unwrap_or_else(|| panic!("{} is not in the manifest", asset.name));
            let [_, package, sha]: [&str; 3] =
                line.split(' ').collect::<Vec<_>>().try_into().unwrap();
            assert_eq!(sync_core::sha256_hex(asset.bytes), sha, "{}", asset.name);
            let (name, version) = package.rsplit_once('@').unwrap();
            assert_eq!(
                lock["packages"][format!("node_modules/{name}")]["version"],
                version,
                "{name} in the lockfile"
            );
        }
    }
}

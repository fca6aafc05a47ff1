//! Passwords (argon2), bearer tokens (random, stored hashed), HTTP Basic for desktop GIS on the
//! OGC API, the [`Caller`] extractor and the [`authenticate`] middleware that checks
//! credentials before anything else about a request.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::{Role, User, now_unix};
use crate::error::ApiError;
use crate::state::AppState;

/// Password hashing failed (only on a broken salt or parameters; never on user input).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// An argon2id PHC string for a password, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether a password matches a PHC string; a malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashes (or verifies) off the async workers: argon2 is deliberately slow.
pub async fn hash_password_blocking(password: crate::domain::Password) -> Result<String, ApiError> {
    web::block(move || hash_password(password.as_str()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// [`verify_password`] on the blocking pool.
pub async fn verify_password_blocking(password: String, phc: String) -> Result<bool, ApiError> {
    web::block(move || verify_password(&password, &phc))
        .await
        .map_err(ApiError::internal)
}

/// A hash verified when the username is unknown, so that a wrong name takes as long as a wrong
/// password. Made once, from a random password nobody knows.
fn dummy_hash() -> String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password(&new_token()).unwrap_or_default())
        .clone()
}

/// The active account these credentials open, or `None` (counted as a failed login). An
/// unknown name costs the same argon2 verification as a wrong password.
pub async fn check_credentials(
    state: &AppState,
    username: &str,
    password: String,
) -> Result<Option<User>, ApiError> {
    let user = state.store.user_by_name(username).await?;
    let phc = match &user {
        Some(user) => user.password_hash.clone(),
        None => web::block(dummy_hash).await.map_err(ApiError::internal)?,
    };
    let matches = verify_password_blocking(password, phc).await?;
    match user {
        Some(user) if matches && user.active => Ok(Some(user)),
        _ => {
            state.metrics.login_failures.inc();
            Ok(None)
        }
    }
}

/// Mints a bearer token for an account whose credentials were just checked, stores its hash
/// for the configured lifetime and counts the login. Returns the token and its expiry (Unix
/// seconds).
pub async fn issue_token(state: &AppState, user: &User) -> Result<(String, i64), ApiError> {
    let token = new_token();
    let now = now_unix();
    let expires_at = now + state.settings.token_ttl.as_secs() as i64;
    state
        .store
        .insert_token(&token_hash(&token), user.id, now, expires_at)
        .await?;
    state.metrics.logins.inc();
    Ok((token, expires_at))
}

/// A new bearer token: 32 random bytes with a recognisable prefix.
pub fn new_token() -> String {
    new_secret("gst")
}

/// A new secret: `prefix`, `_`, and 32 random bytes in unpadded base64url (tokens `gst`, device
/// credentials `gsd`: the prefix tells a leaked one's kind at a glance). Base64url rather than
/// hex because a phone sends its token on every poll: 43 characters instead of 64, 21 bytes
/// less on each request over a 2G link, and nothing in it a header or a URL must escape.
pub fn new_secret(prefix: &str) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// How a token is stored: SHA-256, hex. A leaked database does not leak usable tokens.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The authenticated account behind a request's bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account.
    pub user: User,
    /// The hash of the token used, so logout can revoke exactly it.
    pub token_hash: String,
    /// The account's scope epoch, read with its areas (sync cursors carry it).
    pub scope_epoch: i64,
    /// The change log's head when the token was checked (where a sync feed may stop).
    pub change_head: i64,
    /// Whether the token came in the console's session cookie (not an `Authorization` header).
    pub via_session: bool,
}

impl Caller {
    /// `Ok` if the caller has one of `roles`, else 403.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "role {} may not do this (allowed: {})",
                self.user.role,
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

/// The bearer token of a request's `Authorization` header.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
        Some(token.trim().to_string())
    } else {
        None
    }
}

/// The user name and password of a request's `Authorization: Basic` header (RFC 7617).
pub fn basic(req: &HttpRequest) -> Option<(String, String)> {
    use base64::Engine;
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (username, password) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(username, password)| (username.to_string(), password.to_string()))?;
    Some((username, password))
}

/// Where HTTP Basic is accepted besides bearer tokens: the OGC API, for desktop GIS that can
/// send a user name and password but no custom header.
pub fn basic_accepted(path: &str) -> bool {
    path == "/ogc" || path.starts_with("/ogc/")
}

/// HTTP Basic without argon2 on every request: the first request with a pair of credentials
/// verifies them like a login (and counts against the same per-address limit) and mints a
/// token for them; later requests with the same pair use that token, so a revoked token, a new
/// password or a deactivated account takes effect at once. Keyed by a hash of the pair under a
/// key of this process, so the memory holds no password or unsalted hash of one.
pub struct BasicLogins {
    key: [u8; 32],
    tokens: Mutex<HashMap<[u8; 32], String>>,
}

/// The most credential pairs remembered; beyond it the memory starts over (they log in again).
const MAX_BASIC_LOGINS: usize = 10_000;

impl std::fmt::Debug for BasicLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let remembered = self.tokens.lock().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("BasicLogins")
            .field("remembered", &remembered)
            .finish_non_exhaustive()
    }
}

impl Default for BasicLogins {
    fn default() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        BasicLogins {
            key,
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

impl BasicLogins {
    fn slot(&self, username: &str, password: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        hasher.update((username.len() as u64).to_le_bytes());
        hasher.update(username.as_bytes());
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }

    fn remembered(&self, slot: &[u8; 32]) -> Option<String> {
        self.tokens.lock().ok()?.get(slot).cloned()
    }

    fn remember(&self, slot: [u8; 32], token: String) {
        if let Ok(mut tokens) = self.tokens.lock() {
            if tokens.len() >= MAX_BASIC_LOGINS {
                tokens.clear();
            }
            tokens.insert(slot, token);
        }
    }

    fn forget(&self, slot: &[u8; 32]) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(slot);
        }
    }
}

async fn caller_of_token(state: &AppState, token: &str) -> Result<Option<Caller>, ApiError> {
    let hash = token_hash(token);
    let owner = state.store.token_owner(&hash, now_unix()).await?;
    Ok(owner.map(|owner| Caller {
        user: owner.user,
        token_hash: hash,
        scope_epoch: owner.scope_epoch,
        change_head: owner.change_head,
        via_session: false,
    }))
}

async fn caller_of_basic(
    state: &AppState,
    req: &HttpRequest,
    username: String,
    password: String,
) -> Result<Caller, ApiError> {
    let logins = &state.basic_logins;
    let slot = logins.slot(&username, &password);
    if let Some(token) = logins.remembered(&slot) {
        if let Some(caller) = caller_of_token(state, &token).await? {
            return Ok(caller);
        }
        logins.forget(&slot);
    }
    state
        .limits
        .check_request(crate::rate_limit::Limit::Login, req)?;
    let user = check_credentials(state, &username, password)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let (token, _) = issue_token(state, &user).await?;
    tracing::info!(role = %user.role, "login by HTTP Basic");
    let caller = caller_of_token(state, &token)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    logins.remember(slot, token);
    Ok(caller)
}

impl Caller {
    /// The account behind a request's bearer token (or, on the OGC API, its Basic
    /// credentials; on the rest of the API, the console's session cookie), or 401. A session
    /// cookie on a request that changes state needs its CSRF header, else 403 `csrf_failed`.
    pub fn resolve(req: &HttpRequest) -> Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>> {
        let token = bearer(req);
        let credentials = if token.is_none() && basic_accepted(req.path()) {
            basic(req)
        } else {
            None
        };
        let session = match (&token, &credentials) {
            (None, None) if req.path().starts_with("/api/") => crate::session::token(req),
            _ => None,
        };
        let csrf_refused = session.as_ref().is_some_and(|session| {
            crate::session::changes_state(req.method())
                && !crate::session::csrf_matches(req, session)
        });
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let state = state
                .ok_or_else(|| ApiError::Internal("application state is not configured".into()))?;
            if let Some((username, password)) = credentials {
                return caller_of_basic(&state, &req, username, password).await;
            }
            if let Some(session) = session {
                let caller = caller_of_token(&state, &session)
                    .await?
                    .ok_or(ApiError::Unauthenticated)?;
                if csrf_refused {
                    return Err(ApiError::CsrfFailed);
                }
                return Ok(Caller {
                    via_session: true,
                    ..caller
                });
            }
            let token = token.ok_or(ApiError::Unauthenticated)?;
            caller_of_token(&state, &token)
                .await?
                .ok_or(ApiError::Unauthenticated)
        })
    }
}

/// The caller [`authenticate`] found, or (on a route it does not guard) the one the token
/// names.
impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(caller) = req.extensions().get::<Caller>().cloned() {
            return Box::pin(std::future::ready(Ok(caller)));
        }
        Caller::resolve(req)
    }
}

/// Authenticates a request to a path that needs a token before anything reads its path, query
/// or body: an unknown, expired or missing token is 401 whatever else is wrong with the
/// request. The caller is kept for the handler's [`Caller`].
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if crate::routes::needs_token(req.path()) {
        match Caller::resolve(req.request()).await {
            Ok(caller) => {
                req.extensions_mut().insert(caller);
            }
            Err(error) => {
                let basic = basic_accepted(req.path());
                let mut response = req.error_response(error);
                if response.status() == actix_web::http::StatusCode::UNAUTHORIZED && basic {
                    // Desktop GIS answers this challenge with the account's name and password;
                    // phones and scripts still use their bearer tokens.
                    response.headers_mut().append(
                        actix_web::http::header::WWW_AUTHENTICATE,
                        actix_web::http::header::HeaderValue::from_static(
                            "Basic realm=\"gridsync\", charset=\"UTF-8\"",
                        ),
                    );
                }
                return Ok(response.map_into_right_body());
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_unique_and_stored_only_as_hashes() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 43);
        assert!(
            a[4..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}

//! Passwords (argon2), bearer tokens (random, stored hashed), the [`Caller`] extractor and the
//! [`authenticate`] middleware that checks tokens before anything else about a request.

use std::future::Future;
use std::pin::Pin;

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

/// A new bearer token: 32 random bytes, hex, with a recognisable prefix.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("gst_{}", hex(&bytes))
}

/// How a token is stored: SHA-256, hex. A leaked database does not leak usable tokens.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
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

impl Caller {
    /// The account behind a request's bearer token, or 401.
    pub fn resolve(req: &HttpRequest) -> Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>> {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token.ok_or(ApiError::Unauthenticated)?;
            let state = state
                .ok_or_else(|| ApiError::Internal("application state is not configured".into()))?;
            let hash = token_hash(&token);
            let owner = state.store.token_owner(&hash, now_unix()).await?;
            let owner = owner.ok_or(ApiError::Unauthenticated)?;
            Ok(Caller {
                user: owner.user,
                token_hash: hash,
                scope_epoch: owner.scope_epoch,
                change_head: owner.change_head,
            })
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
            Err(error) => return Ok(req.error_response(error).map_into_right_body()),
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
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}

//! One error type for every handler: `application/problem+json` (RFC 9457) with a stable `code`.
//!
//! The body says what the client can act on; the cause chain of a server-side failure is logged
//! with the request, never sent.

use std::error::Error as StdError;

use actix_web::error::{
    JsonPayloadError, PathError, PayloadError, QueryPayloadError, UrlencodedError,
};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

use crate::store::StoreError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No bearer token, or a token that is unknown, expired or revoked.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong username or password, or an inactive account.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The link cut the request body before its end (a connection lost mid-upload).
    #[error("the request body ended before its length: the connection was cut; send it again")]
    BodyCut,
    /// A device credential that is unknown, expired, revoked or of another device.
    #[error("the device credential is not valid; log in with the account's password")]
    InvalidDeviceCredential,
    /// A device credential presented again after its successor was used: possibly copied, so
    /// the device's credentials are revoked.
    #[error(
        "this device credential was used already; the device's credentials are revoked, log in \
         with the account's password"
    )]
    CredentialReused,
    /// Authenticated, but the role or the area assignment does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// A console request that changes state without its session's CSRF token.
    #[error("this request needs the console session's X-CSRF-Token header")]
    CsrfFailed,
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// Malformed input: a stable code and a human explanation.
    #[error("{detail}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// Well-formed input the server will not accept; `extra` members are merged into the body.
    #[error("{detail}")]
    Unprocessable {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was wrong.
        detail: String,
        /// Further members of the problem object (e.g. per-feature results).
        extra: Option<Map<String, Value>>,
    },
    /// A unique value is taken.
    #[error("{0}")]
    Conflict(String),
    /// The request conflicts with the current state, with a stable code (an area that still
    /// has children, say).
    #[error("{detail}")]
    Refused {
        /// Stable machine-readable code.
        code: &'static str,
        /// What stands in the way.
        detail: String,
    },
    /// `If-Match` named a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The resource is not in a state that allows this (a workflow action out of order): 409
    /// with a stable code; `extra` members are merged into the body.
    #[error("{detail}")]
    InvalidState {
        /// Stable machine-readable code.
        code: &'static str,
        /// What was wrong.
        detail: String,
        /// Further members of the problem object (e.g. the current status).
        extra: Option<Map<String, Value>>,
    },
    /// The body is larger than allowed.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body's media type is not accepted.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many requests from this client; try again after so many seconds.
    #[error("too many requests from this address; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// The database cannot be reached.
    #[error("service unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// A bug or an unexpected failure.
    #[error("internal server error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl ApiError {
    /// A 400 with a code.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// A 422 with a code.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            code,
            detail: detail.into(),
            extra: None,
        }
    }

    /// A 403 with an explanation.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::Forbidden(detail.into())
    }

    /// A 500 from any error.
    pub fn internal(error: impl StdError + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(error))
    }

    /// The stable code sent as `code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::InvalidDeviceCredential => "invalid_device_credential",
            ApiError::BodyCut => "body_cut",
            ApiError::CredentialReused => "credential_reused",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::CsrfFailed => "csrf_failed",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::InvalidState { code, .. } => code,
            ApiError::Conflict(_) => "conflict",
            ApiError::Refused { code, .. } => code,
            ApiError::PreconditionFailed(_) => "version_mismatch",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => ApiError::Conflict(format!("{what} already exists")),
            StoreError::LastAdmin => ApiError::Refused {
                code: "last_admin",
                detail: error.to_string(),
            },
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
            | StoreError::WriterStopped => ApiError::Unavailable(Box::new(error)),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl From<sync_core::SchemaError> for ApiError {
    /// 422 with the schema's stable code (`too_long`, `too_many`, `invalid_record`).
    fn from(error: sync_core::SchemaError) -> Self {
        ApiError::unprocessable(error.code(), error.to_string())
    }
}

impl ApiError {
    /// A record the schema refuses, as 422 with its stable code and the whole cause.
    pub fn from_record_error(error: sync_core::Error) -> Self {
        ApiError::unprocessable(error.code(), cause_chain(&error))
    }
}

impl From<crate::domain::Invalid> for ApiError {
    /// 400 `invalid_username`, `invalid_code` or `weak_password`.
    fn from(error: crate::domain::Invalid) -> Self {
        use crate::domain::Invalid;
        let code = match error {
            Invalid::Username => "invalid_username",
            Invalid::Code => "invalid_code",
            Invalid::Password => "weak_password",
        };
        ApiError::bad_request(code, error.to_string())
    }
}

impl From<JsonPayloadError> for ApiError {
    fn from(error: JsonPayloadError) -> Self {
        match error {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::PayloadTooLarge(error.to_string())
            }
            JsonPayloadError::ContentType => {
                ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
            }
            JsonPayloadError::Payload(PayloadError::Overflow) => {
                ApiError::PayloadTooLarge(error.to_string())
            }
            JsonPayloadError::Payload(PayloadError::Incomplete(_) | PayloadError::Io(_)) => {
                ApiError::BodyCut
            }
            other => ApiError::bad_request("invalid_json", other.to_string()),
        }
    }
}

impl From<UrlencodedError> for ApiError {
    fn from(error: UrlencodedError) -> Self {
        match error {
            UrlencodedError::Overflow { .. } | UrlencodedError::UnknownLength => {
                ApiError::PayloadTooLarge(error.to_string())
            }
            UrlencodedError::ContentType => ApiError::UnsupportedMediaType(
                "expected Content-Type: application/x-www-form-urlencoded".into(),
            ),
            other => ApiError::bad_request("invalid_form", other.to_string()),
        }
    }
}

impl From<QueryPayloadError> for ApiError {
    fn from(error: QueryPayloadError) -> Self {
        ApiError::bad_request("invalid_query", error.to_string())
    }
}

impl From<PathError> for ApiError {
    fn from(error: PathError) -> Self {
        ApiError::bad_request("invalid_path", error.to_string())
    }
}

impl From<PayloadError> for ApiError {
    fn from(error: PayloadError) -> Self {
        match error {
            PayloadError::Overflow => ApiError::PayloadTooLarge(error.to_string()),
            PayloadError::Incomplete(_) | PayloadError::Io(_) => ApiError::BodyCut,
            other => ApiError::bad_request("invalid_body", other.to_string()),
        }
    }
}

/// The whole cause chain as one line, for logs.
pub fn cause_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A problem+json response for a status and code (also used for router-level 404/405).
pub fn problem_response(
    status: StatusCode,
    code: &str,
    detail: &str,
    extra: Option<&Map<String, Value>>,
) -> HttpResponse {
    let mut body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    if let (Some(extra), Some(object)) = (extra, body.as_object_mut()) {
        for (key, value) in extra {
            object.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
    }
    response.body(body.to_string())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated
            | ApiError::InvalidCredentials
            | ApiError::InvalidDeviceCredential
            | ApiError::CredentialReused => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::CsrfFailed => StatusCode::FORBIDDEN,
            ApiError::BodyCut => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) | ApiError::Refused { .. } | ApiError::InvalidState { .. } => {
                StatusCode::CONFLICT
            }
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(code = self.code(), cause = %cause_chain(self), "request failed");
        } else {
            tracing::debug!(code = self.code(), detail = %self, "request rejected");
        }
        let extra = match self {
            ApiError::Unprocessable { extra, .. } | ApiError::InvalidState { extra, .. } => {
                extra.as_ref()
            }
            _ => None,
        };
        let mut response = problem_response(status, self.code(), &self.to_string(), extra);
        if let ApiError::BodyCut = self {
            response.extensions_mut().insert(BodyWasCut);
        }
        if let ApiError::TooManyRequests { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// Marks the answer to a request whose body the link cut, for the metrics (not a client error).
#[derive(Debug, Clone, Copy)]
pub struct BodyWasCut;

/// A request body as far as it arrived: whole, or cut by the link (`cut`), with the bytes that
/// came before the cut — what a resumable upload keeps, so a cut costs the bytes lost, not the
/// whole range. Decodes `Content-Encoding`; over the configured limit is 413.
#[derive(Debug, Clone)]
pub struct ArrivedBody {
    pub bytes: actix_web::web::Bytes,
    pub cut: bool,
}

impl actix_web::FromRequest for ArrivedBody {
    type Error = ApiError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<ArrivedBody, ApiError>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        use futures_util::StreamExt;
        let limit = req
            .app_data::<actix_web::web::Data<crate::state::AppState>>()
            .map_or(256 * 1024, |s| s.settings.max_body_bytes);
        let mut stream = actix_web::dev::Decompress::from_headers(payload.take(), req.headers());
        Box::pin(async move {
            let mut bytes = actix_web::web::BytesMut::new();
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(chunk) => {
                        if bytes.len() + chunk.len() > limit {
                            return Err(ApiError::PayloadTooLarge(format!(
                                "the body is over {limit} bytes"
                            )));
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Err(PayloadError::Incomplete(_) | PayloadError::Io(_)) => {
                        return Ok(ArrivedBody {
                            bytes: bytes.freeze(),
                            cut: true,
                        });
                    }
                    Err(PayloadError::Overflow) => {
                        return Err(ApiError::PayloadTooLarge("the body is too large".into()));
                    }
                    Err(other) => {
                        return Err(ApiError::bad_request("invalid_body", other.to_string()));
                    }
                }
            }
            Ok(ArrivedBody {
                bytes: bytes.freeze(),
                cut: false,
            })
        })
    }
}

/// A request body read whole, with what can go wrong said in the API's terms: too large is 413,
/// a body the link cut is `body_cut` (counted apart from client errors), bad gzip is 400
/// `invalid_body`. Decodes `Content-Encoding` and keeps to the configured limit as
/// `web::Bytes` does.
#[derive(Debug, Clone)]
pub struct Body(pub actix_web::web::Bytes);

impl actix_web::FromRequest for Body {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Body, ApiError>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let bytes = actix_web::web::Bytes::from_request(req, payload);
        Box::pin(async move {
            bytes
                .await
                .map(Body)
                .map_err(|error| match error.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => ApiError::PayloadTooLarge(error.to_string()),
                    Some(PayloadError::Incomplete(_) | PayloadError::Io(_)) => ApiError::BodyCut,
                    _ if error.as_response_error().status_code()
                        == StatusCode::PAYLOAD_TOO_LARGE =>
                    {
                        ApiError::PayloadTooLarge(error.to_string())
                    }
                    _ => ApiError::bad_request("invalid_body", error.to_string()),
                })
        })
    }
}

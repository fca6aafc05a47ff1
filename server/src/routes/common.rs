//! What the handlers share: the GeoJSON of an area, versions as `ETag`s and `If-Match`, times,
//! boxes and paging cursors in query strings, JSON bodies, and the views of accounts and records
//! shown to clients.

use actix_web::HttpRequest;
use actix_web::http::header;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use sync_core::Record;

use crate::coords::Crs;
use crate::domain::{AreaRecord, User};
use crate::edits::Expect;
use crate::error::{ApiError, ApiResult};

/// A body field that must be present and may be `null` (serde takes a missing `Option` for
/// `None`): `#[serde(deserialize_with = "required_nullable")]`.
pub fn required_nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// A body field that may be left out but is never `null`:
/// `#[serde(default, deserialize_with = "not_null")]`.
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// `If-Match`: `"12"`, `W/"12"` or `12` name a version; `*` only asks that the area exists.
pub fn if_match(request: &HttpRequest) -> ApiResult<Expect> {
    let Some(value) = request.headers().get(header::IF_MATCH) else {
        return Ok(Expect::Present);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid_if_match", "If-Match is not text"))?
        .trim();
    if text == "*" {
        return Ok(Expect::Present);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Expect::Version)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_if_match",
                "If-Match must be the ETag of the area (its version, such as \"12\")",
            )
        })
}

/// The `ETag` of an area.
pub fn etag(area: &AreaRecord) -> String {
    format!("\"{}\"", area.version)
}

pub fn body_json(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))
}

/// Parses `min_lon,min_lat,max_lon,max_lat` given in `crs` into WGS-84.
pub fn parse_bbox(text: &str, crs: Crs) -> Result<[f64; 4], ApiError> {
    let invalid =
        || ApiError::bad_request("invalid_bbox", "bbox is min_lon,min_lat,max_lon,max_lat");
    let numbers: Vec<f64> = text
        .split(',')
        .map(|part| part.trim().parse::<f64>().map_err(|_| invalid()))
        .collect::<Result<_, _>>()?;
    let [a, b, c, d] = numbers[..] else {
        return Err(invalid());
    };
    if [a, b, c, d].iter().any(|v| !v.is_finite()) || a > c || b > d {
        return Err(invalid());
    }
    let (a, b) = crs.to_wgs84(a, b);
    let (c, d) = crs.to_wgs84(c, d);
    Ok([a, b, c, d])
}

/// Unix milliseconds as RFC 3339 (UTC).
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// RFC 3339 (or Unix milliseconds) as Unix milliseconds.
pub fn parse_time(text: &str) -> ApiResult<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_datetime",
                format!("`{text}` is not an RFC 3339 time such as 2026-11-01T00:00:00Z: {e}"),
            )
        })
}

/// Reads a `next_cursor` back.
pub fn parse_cursor(cursor: &str) -> ApiResult<(i64, String)> {
    let bad = || ApiError::bad_request("invalid_cursor", "the cursor is not one this server gave");
    let (at, id) = cursor.split_once('_').ok_or_else(bad)?;
    let at = at.parse::<i64>().map_err(|_| bad())?;
    uuid::Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((at, id.to_string()))
}

/// A record for a caller: the document as it is (it holds no personal data: a complainant's
/// details are kept beside it, `GET /api/v1/records/{id}/complainant`), plus the attachments
/// whose bytes the server does not hold yet.
pub fn record_view(record: &Record, missing_blobs: &[String]) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Some(v) = value.as_object_mut() {
        v.insert("missing_blobs".into(), json!(missing_blobs));
    }
    value
}

/// An account as shown to clients (never the password hash).
pub fn user_view(user: &User) -> Value {
    json!({
        "username": user.username,
        "role": user.role,
        "active": user.active,
        "areas": user.areas,
        "created_at": user.created_at,
    })
}

/// The most bytes a body sent to a public endpoint (Open311, the resident form) may have:
/// room for every field at its schema limit, percent-encoded, nothing like the staff
/// endpoints' limit.
pub const PUBLIC_BODY_BYTES: usize = 256 * 1024;

type Extracted<T> = std::pin::Pin<Box<dyn std::future::Future<Output = ApiResult<T>>>>;

/// A JSON body of a public endpoint, read only up to [`PUBLIC_BODY_BYTES`] (413 beyond).
pub struct PublicJson<T>(pub T);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for PublicJson<T> {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body =
            actix_web::dev::JsonBody::<T>::new(req, payload, None, false).limit(PUBLIC_BODY_BYTES);
        Box::pin(async move { Ok(PublicJson(body.await?)) })
    }
}

/// A form-encoded body of a public endpoint, read only up to [`PUBLIC_BODY_BYTES`] (413
/// beyond; 415 for another media type; 400 `invalid_form` when it does not parse).
pub struct PublicForm<T>(pub T);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for PublicForm<T> {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::error::UrlencodedError;
        let body = actix_web::dev::UrlEncoded::<T>::new(req, payload).limit(PUBLIC_BODY_BYTES);
        Box::pin(async move {
            body.await.map(PublicForm).map_err(|error| match error {
                UrlencodedError::Overflow { .. } | UrlencodedError::UnknownLength => {
                    ApiError::PayloadTooLarge(error.to_string())
                }
                UrlencodedError::ContentType => ApiError::UnsupportedMediaType(
                    "expected Content-Type: application/x-www-form-urlencoded".into(),
                ),
                other => ApiError::bad_request("invalid_form", other.to_string()),
            })
        })
    }
}

/// Whether a request's `If-None-Match` names `tag` (a quoted entity tag), so the answer is 304.
pub fn if_none_match(req: &actix_web::HttpRequest, tag: &str) -> bool {
    req.headers()
        .get(actix_web::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag))
}

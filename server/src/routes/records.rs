//! The records API: staff intake, listing (JSON or GeoJSON), one record, its automerge document
//! and its audit history.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use sync_core::{NewRecord, Writer};

use crate::auth::Caller;
use crate::domain::Role;
use crate::error::{ApiError, ApiResult};
use crate::records::{self, AccountAuthority, Author};
use crate::routes::common::{parse_cursor, record_view};
use crate::state::AppState;
use crate::store::{RecordQuery, RecordRow};

/// The most rows one page of the listing returns.
pub const MAX_PAGE: i64 = 500;

/// Roles that take complaints in by hand (hotline operators sit with the dispatchers).
const INTAKE_ROLES: &[Role] = &[
    Role::Dispatcher,
    Role::Admin,
    Role::GridWorker,
    Role::GridLeader,
];

/// `POST /api/v1/records`: a record entered by staff (hotline, suggestion box), the same kind
/// of document the phones make. The owner grid is decided at once.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewRecord>,
) -> ApiResult<HttpResponse> {
    caller.require_role(INTAKE_ROLES)?;
    let writer = Writer::new(caller.user.username.clone(), "web");
    let (record, contact) = body.into_inner().into_parts(&writer)?;
    record.validate()?;
    let author = Author::Account(caller.user.clone());
    let stored = records::create_record(&state, author, "web", &record, contact.as_ref()).await?;
    Ok(HttpResponse::Created().json(record_view(&stored, &[])))
}

/// `?crs=&partial=&channel=` of a records import.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    #[serde(default)]
    crs: crate::coords::Crs,
    #[serde(default)]
    partial: bool,
    /// The channel of features that do not say (default `suggestion_box`).
    channel: Option<String>,
}

/// `POST /api/v1/records/import`: records from a GeoJSON FeatureCollection of points (a
/// suggestion-box batch, an export from another system). Messy files are repaired and the
/// repairs reported per feature; a feature that cannot be read is rejected with its reason,
/// and then nothing is imported unless `partial=true`. The records are created in one
/// transaction.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username, bytes = body.len()))]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    use crate::record_import::{PointResult, check_point};
    caller.require_role(INTAKE_ROLES)?;
    let ImportQuery {
        crs,
        partial,
        channel,
    } = query.into_inner();
    let channel = channel.unwrap_or_else(|| "suggestion_box".into());
    if channel.parse::<sync_core::Channel>().is_err() {
        return Err(ApiError::bad_request(
            "invalid_filter",
            format!("unknown channel {channel:?}"),
        ));
    }
    // A byte-order mark, as spreadsheet exports write.
    let bytes = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
    let features = crate::import::features_of(bytes)?;
    if features.len() > 10_000 {
        return Err(ApiError::PayloadTooLarge(
            "at most 10000 records per import".into(),
        ));
    }
    let writer = Writer::new(caller.user.username.clone(), "import");
    let mut results = Vec::with_capacity(features.len());
    let mut records = Vec::new();
    let catalogue = state.store.categories().await?;
    let category_refusal = |record: &sync_core::Record| {
        crate::workflow::catalogue::filing_refusal(&catalogue, record)
            .map(|r| crate::import::Rejection::new(r.code, r.detail))
    };
    for (index, feature) in features.iter().enumerate() {
        let checked = check_point(feature, crs, &channel).and_then(|(new, repairs)| {
            match new
                .into_parts(&writer)
                .and_then(|(record, contact)| record.validate().map(|()| (record, contact)))
            {
                Ok((record, _)) if let Some(refusal) = category_refusal(&record) => {
                    Err((refusal, repairs))
                }
                Ok(parts) => Ok((parts, repairs)),
                Err(e) => Err((
                    crate::import::Rejection::new(e.code(), e.to_string()),
                    repairs,
                )),
            }
        });
        match checked {
            Ok(((record, contact), repairs)) => {
                results.push(PointResult {
                    index,
                    status: "valid",
                    id: Some(record.id.to_string()),
                    error: None,
                    repairs,
                });
                records.push((record, contact));
            }
            Err((rejection, repairs)) => results.push(PointResult {
                index,
                status: "rejected",
                id: None,
                error: Some(rejection),
                repairs,
            }),
        }
    }
    let rejected = results.iter().filter(|r| r.error.is_some()).count();
    if rejected > 0 && !partial {
        for result in &mut results {
            result.id = None;
        }
        let mut extra = serde_json::Map::new();
        extra.insert(
            "results".into(),
            serde_json::to_value(&results).map_err(ApiError::internal)?,
        );
        return Err(ApiError::Unprocessable {
            code: "import_rejected",
            detail: format!(
                "{rejected} of {} features are invalid; nothing was imported (use partial=true to import the valid ones)",
                results.len()
            ),
            extra: Some(extra),
        });
    }
    if !records.is_empty() {
        records::create_records(&state, &caller.user, "import", &records).await?;
    }
    for result in results.iter_mut().filter(|r| r.error.is_none()) {
        result.status = "imported";
    }
    Ok(HttpResponse::Ok().json(json!({
        "imported": records.len(),
        "rejected": rejected,
        "results": results,
    })))
}

/// Filters of `GET /api/v1/records`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A grid or region code: records owned anywhere in its subtree.
    grid: Option<String>,
    /// Only the unassigned queue (records outside every grid).
    #[serde(default)]
    unassigned: bool,
    kind: Option<String>,
    status: Option<String>,
    channel: Option<String>,
    /// Created at or after (Unix milliseconds).
    from: Option<i64>,
    /// Created before (Unix milliseconds).
    to: Option<i64>,
    /// Only records inside `min_lon,min_lat,max_lon,max_lat` (WGS-84).
    bbox: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    limit: Option<i64>,
    /// `json` (default) or `geojson`.
    format: Option<String>,
}

/// An optional filter value that must parse as `T`.
pub fn parse_enum<T: std::str::FromStr>(
    value: &Option<String>,
    field: &str,
) -> ApiResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => v
            .parse::<T>()
            .map(|_| Some(v.clone()))
            .map_err(|_| ApiError::bad_request("invalid_filter", format!("unknown {field} {v:?}"))),
    }
}

/// `GET /api/v1/records`: records in the caller's scope, newest first, with cursor paging.
#[tracing::instrument(skip(state, caller, query), fields(caller = %caller.user.username))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let map = state.grids.snapshot().await?;
    let authority = AccountAuthority {
        user: &caller.user,
        map: &map,
    };
    let owners = match &q.grid {
        Some(code) => {
            if !map.user_can_see(&caller.user, code) {
                return Err(ApiError::forbidden(format!(
                    "area {code} is outside your areas"
                )));
            }
            Some(map.codes_within(std::slice::from_ref(code)))
        }
        None => None,
    };
    if q.unassigned && !matches!(authority.scope(), crate::store::RecordScope::All) {
        return Err(ApiError::forbidden(
            "the unassigned queue is for dispatchers",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be 1..={MAX_PAGE}"),
        ));
    }
    let geojson = match q.format.as_deref() {
        None | Some("json") => false,
        Some("geojson") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_format",
                format!("unknown format {other:?}"),
            ));
        }
    };
    let query = RecordQuery {
        scope: authority.scope(),
        owners,
        unassigned: q.unassigned,
        kind: parse_enum::<sync_core::Kind>(&q.kind, "kind")?,
        status: parse_enum::<sync_core::Status>(&q.status, "status")?,
        channel: parse_enum::<sync_core::Channel>(&q.channel, "channel")?,
        created_from: q.from,
        created_to: q.to,
        bbox: q
            .bbox
            .as_deref()
            .map(|b| crate::routes::common::parse_bbox(b, crate::coords::Crs::Wgs84))
            .transpose()?,
        after: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: limit + 1,
    };
    let mut rows = state.store.list_records(&query).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| format!("{}_{}", r.created_at, r.id))
    } else {
        None
    };
    if geojson {
        let features: Vec<Value> = rows.iter().map(feature).collect();
        return Ok(HttpResponse::Ok()
            .content_type("application/geo+json")
            .json(json!({ "type": "FeatureCollection", "features": features, "next_cursor": next_cursor })));
    }
    let records: Vec<Value> = rows.iter().map(row_view).collect();
    Ok(HttpResponse::Ok().json(json!({ "records": records, "next_cursor": next_cursor })))
}

fn row_view(r: &RecordRow) -> Value {
    json!({
        "id": r.id, "kind": r.kind, "status": r.status, "channel": r.channel,
        "category": r.category, "title": r.title, "owner_grid": r.owner_grid,
        "claimed_grid": r.claimed_grid, "lon": r.lon, "lat": r.lat,
        "created_by": r.created_by, "created_at": r.created_at, "updated_at": r.updated_at,
    })
}

fn feature(r: &RecordRow) -> Value {
    let geometry = match (r.lon, r.lat) {
        (Some(lon), Some(lat)) => json!({ "type": "Point", "coordinates": [lon, lat] }),
        _ => Value::Null,
    };
    let mut properties = row_view(r);
    if let Some(p) = properties.as_object_mut() {
        p.remove("lon");
        p.remove("lat");
    }
    json!({ "type": "Feature", "id": r.id, "geometry": geometry, "properties": properties })
}

/// `GET /api/v1/records/{id}`.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (_, record) = records::visible(&state, &caller.user, &id).await?;
    let mut missing = Vec::new();
    for sha in record.attachments.keys() {
        if !state
            .store
            .blob_state(sha)
            .await?
            .is_some_and(|b| b.complete)
        {
            missing.push(sha.clone());
        }
    }
    Ok(HttpResponse::Ok().json(record_view(&record, &missing)))
}

/// `GET /api/v1/records/{id}/automerge`: the document as one compact automerge save, for export
/// and other automerge implementations. No document holds personal data (a complainant's
/// details are kept beside it), so whoever may read the record may have it whole.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn automerge(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (mut doc, _) = records::visible(&state, &caller.user, &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(doc.save()))
}

/// `GET /api/v1/records/{id}/history`: who changed which fields, when, from which device.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn history(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (mut doc, record) = records::visible(&state, &caller.user, &id).await?;
    Ok(HttpResponse::Ok().json(json!({ "id": record.id, "changes": doc.history() })))
}

/// `GET /api/v1/records/{id}/complainant`: the complainant's name and phone, for the desk,
/// admins and the department leading the open case; every read is logged.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn complainant(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    match records::contact::read(&state, &caller.user, &id).await? {
        Some(contact) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(contact)),
        None => Err(ApiError::NotFound(
            "the complainant left no contact details".into(),
        )),
    }
}

/// `PUT /api/v1/records/{id}/complainant`: the desk corrects (or clears) a complainant's name
/// and phone; logged.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn put_complainant(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    // An object, not serde's positional array form of a struct.
    let body = body.into_inner();
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body is an object {\"name\", \"phone\"}",
        ));
    }
    let contact: sync_core::Contact = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    records::contact::write(&state, &caller.user, &id, contact).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/records/{id}/complainant/access`: who read or wrote the complainant's details,
/// when, in which role (admins and supervisors).
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn complainant_access(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let log = records::contact::access_log(&state, &caller.user, &id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "access": log })))
}

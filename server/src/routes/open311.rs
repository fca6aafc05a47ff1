//! Open311 GeoReport v2 under `/open311/v2/`: discovery, services (our complaint
//! categories) and their definitions, service requests (form-encoded POST, anonymous or with an
//! API key; GET with the standard filters; one request; tokens), each as `.json` or `.xml`;
//! and the public resident form `POST /api/v1/public/complaints`. Public: no bearer token.
//!
//! Statuses map to Open311's two: `closed` is closed, every other status is open, and the
//! detailed status is in `status_notes`. `expected_datetime` is the lead department's deadline,
//! `agency_responsible` the lead department's name. A new request is answered with the open
//! complaints of the same category within the configured radius (`duplicates`, and a sentence
//! in `service_notice`).
//!
//! The XML is written by hand (`to_xml`): GeoReport's XML is a fixed, shallow shape (a root, a
//! list, flat elements), which a dozen lines with escaping write exactly; a serializer crate
//! would need a mirror of every JSON shape as a typed struct.

use std::collections::HashMap;
use std::fmt::Write as _;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use sync_core::{Channel, ComplainantType, Crs, NewComplainant, RecordDoc, now_ms};

use crate::auth::{Caller, token_hash};
use crate::domain::Role;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::Limit;
use crate::records::{self, PublicIntake};
use crate::routes::common::{PublicForm, PublicJson};
use crate::state::AppState;
use crate::store::{RecordQuery, RecordRow, RecordScope};
use crate::workflow::calendar::CST_OFFSET_MS;
use crate::workflow::catalogue::Category;

/// The most requests one `GET requests` answers.
pub const MAX_REQUESTS: i64 = 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// The key in `workflow_settings` holding the trusted clients' API key hashes.
const API_KEYS: &str = "open311_api_keys";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Json,
    Xml,
}

fn format_of(text: &str) -> ApiResult<Format> {
    match text {
        "json" => Ok(Format::Json),
        "xml" => Ok(Format::Xml),
        other => Err(ApiError::NotFound(format!(
            "no format {other:?}; use .json or .xml"
        ))),
    }
}

/// A W3C datetime in China Standard Time, to the second (`2026-10-01T08:30:00+08:00`).
pub fn w3c(ms: i64) -> String {
    let cst = time::UtcOffset::from_whole_seconds((CST_OFFSET_MS / 1000) as i32)
        .unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .map(|t| t.to_offset(cst))
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Parses a W3C datetime with seconds (`YYYY-MM-DDTHH:MM:SS`, an optional fraction, and `Z` or
/// `±HH:MM`) into Unix milliseconds; fractions of a second are dropped.
pub fn parse_w3c(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp() * 1000)
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The element each item of a list is written as, after GeoReport v2's XML.
fn item_of(list: &str) -> &'static str {
    match list {
        "services" => "service",
        "service_requests" => "request",
        "attributes" => "attribute",
        "values" => "value",
        "endpoints" => "endpoint",
        "formats" => "format",
        "errors" => "error",
        "duplicates" => "duplicate",
        _ => "item",
    }
}

/// A JSON value as XML elements: objects become elements, a list repeats the element its name
/// calls for ([`item_of`]: `<services><service>…`, `<attributes><attribute>…`).
fn to_xml(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => {
            let _ = write!(out, "<{name}/>");
        }
        Value::Object(map) => {
            let _ = write!(out, "<{name}>");
            for (key, v) in map {
                to_xml(out, key, v);
            }
            let _ = write!(out, "</{name}>");
        }
        Value::Array(items) => {
            let _ = write!(out, "<{name}>");
            for v in items {
                to_xml(out, item_of(name), v);
            }
            let _ = write!(out, "</{name}>");
        }
        Value::String(s) => {
            let _ = write!(out, "<{name}>{}</{name}>", xml_escape(s));
        }
        other => {
            let _ = write!(out, "<{name}>{other}</{name}>");
        }
    }
}

/// A document with its XML declaration.
fn xml_document(root: &str, value: &Value) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    to_xml(&mut xml, root, value);
    xml
}

/// Answers `value` in the format: JSON as is; XML under `root`.
fn answer(
    format: Format,
    status: actix_web::http::StatusCode,
    root: &str,
    value: &Value,
) -> HttpResponse {
    match format {
        Format::Json => HttpResponse::build(status).json(value),
        Format::Xml => HttpResponse::build(status)
            .content_type("text/xml; charset=utf-8")
            .body(xml_document(root, value)),
    }
}

fn ok(format: Format, root: &str, value: &Value) -> HttpResponse {
    answer(format, actix_web::http::StatusCode::OK, root, value)
}

/// The HTTP status GeoReport v2 gives an error: 404 for what does not exist, 403 for a wrong
/// api_key, 400 for every other request that cannot be fulfilled. Statuses of HTTP itself
/// (405 with its `Allow`, 413, 415, 429 with its `Retry-After`) and server errors stay.
fn open311_status(status: StatusCode) -> StatusCode {
    match status.as_u16() {
        403 | 404 | 405 | 413 | 415 | 429 => status,
        400..=499 => StatusCode::BAD_REQUEST,
        _ => status,
    }
}

/// An error as GeoReport v2 writes it: a list of `{code, description}` (`<errors><error>…` in
/// XML); the code is the server's stable code (`unknown_attribute`, `not_found` …), which the
/// specification allows in place of the HTTP status for more specific identifiers.
fn open311_error(xml: bool, status: StatusCode, code: &str, description: &str) -> HttpResponse {
    let value = json!([{ "code": code, "description": description }]);
    answer(
        if xml { Format::Xml } else { Format::Json },
        status,
        "errors",
        &value,
    )
}

/// Middleware: every error under `/open311/` (the handlers', the extractors', an unknown path or
/// method) is answered in GeoReport v2's error format, in XML for a `.xml` resource and JSON
/// otherwise, instead of the rest of the API's problem documents; its headers are kept.
pub async fn errors_as_open311(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let open311 = req.path().starts_with("/open311/");
    let xml = req.path().ends_with(".xml");
    let response = next.call(req).await?.map_into_boxed_body();
    let is_problem = response
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if !open311 || !is_problem {
        return Ok(response);
    }
    let (request, response) = response.into_parts();
    let status = response.status();
    let headers = response.headers().clone();
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap_or_default();
    let problem: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let code = problem["code"].as_str().unwrap_or("error");
    let description = problem["detail"]
        .as_str()
        .or(status.canonical_reason())
        .unwrap_or("error");
    let mut answer = open311_error(xml, open311_status(status), code, description);
    for (name, value) in headers.iter() {
        if name != actix_web::http::header::CONTENT_TYPE
            && name != actix_web::http::header::CONTENT_LENGTH
        {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(request, answer).map_into_boxed_body())
}

/// `GET /open311/v2/discovery.{format}`.
#[tracing::instrument(skip(req))]
pub async fn discovery(req: HttpRequest, format: web::Path<String>) -> ApiResult<HttpResponse> {
    let format = format_of(&format)?;
    let info = req.connection_info();
    let base = format!("{}://{}/open311/v2/", info.scheme(), info.host());
    let value = json!({
        "changeset": "2026-12-07T00:00:00+08:00",
        "contact": "gridsync 接诉即办",
        "key_service": "POST /api/v1/admin/open311-keys (admin)",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": base,
            "changeset": "2026-12-07T00:00:00+08:00",
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    });
    Ok(ok(format, "discovery", &value))
}

/// Our services: the catalogue's active categories a resident can file under — every active
/// category below the top level, and a top-level one with no active category under it.
fn services_of(all: &[Category]) -> Vec<&Category> {
    let has_active_child = |code: &str| {
        let prefix = format!("{code}.");
        all.iter().any(|c| c.active && c.code.starts_with(&prefix))
    };
    all.iter()
        .filter(|c| c.active && (c.level > 1 || !has_active_child(&c.code)))
        .collect()
}

/// The service `code`, if the catalogue offers it.
async fn find_service(state: &AppState, code: &str) -> ApiResult<Option<Category>> {
    let all = state.store.categories().await?;
    Ok(services_of(&all)
        .into_iter()
        .find(|c| c.code == code)
        .cloned())
}

/// The top-level name a service is grouped under.
fn group_of(category: &Category, all: &[Category]) -> String {
    let top = category.code.split('.').next().unwrap_or(&category.code);
    all.iter()
        .find(|c| c.code == top)
        .map_or_else(|| top.to_string(), |c| c.name.clone())
}

fn service(category: &Category, all: &[Category]) -> Value {
    json!({
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": !category.attributes.is_empty(),
        "type": "realtime",
        "keywords": category.keywords.join(","),
        "group": group_of(category, all),
    })
}

/// `GET /open311/v2/services.{format}`.
#[tracing::instrument(skip(state))]
pub async fn services(
    state: web::Data<AppState>,
    format: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let format = format_of(&format)?;
    let all = state.store.categories().await?;
    let list: Vec<Value> = services_of(&all)
        .into_iter()
        .map(|c| service(c, &all))
        .collect();
    Ok(ok(format, "services", &Value::Array(list)))
}

/// `GET /open311/v2/services/{service_code}.{format}`: the service's extra questions.
#[tracing::instrument(skip(state))]
pub async fn service_definition(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (code, format) = path.into_inner();
    let format = format_of(&format)?;
    let category = find_service(&state, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no service {code:?}")))?;
    let mut attributes = category.attributes.clone();
    attributes.sort_by_key(|a| a.order);
    let attributes: Vec<Value> = attributes
        .iter()
        .map(|a| {
            json!({
                "variable": true,
                "code": a.code,
                "datatype": a.datatype,
                "required": a.required,
                "datatype_description": a.datatype_description,
                "order": a.order,
                "description": a.description,
                "values": a.values,
            })
        })
        .collect();
    let value = json!({ "service_code": code, "attributes": attributes });
    Ok(ok(format, "service_definition", &value))
}

/// Takes a complaint in and answers its id and the open complaints nearby it may repeat.
async fn take_in(state: &AppState, intake: PublicIntake) -> ApiResult<(String, Vec<String>)> {
    let (category, point) = (intake.category.clone(), intake.point);
    let record = records::take_in_public(state, intake).await?;
    let id = record.id.to_string();
    let hints = records::duplicate_hints(state, &category, point, &id).await?;
    Ok((id, hints))
}

fn field<'a>(form: &HashMap<&str, &'a str>, name: &str) -> Option<&'a str> {
    form.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn coordinate(form: &HashMap<&str, &str>, name: &str, range: f64) -> ApiResult<f64> {
    let text = field(form, name)
        .ok_or_else(|| ApiError::bad_request("missing_location", "lat and long are required"))?;
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && v.abs() <= range)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_location",
                format!("{name} {text:?} is not a coordinate"),
            )
        })
}

async fn client_of(state: &AppState, api_key: Option<&str>) -> ApiResult<String> {
    let Some(key) = api_key else {
        return Ok("open311:anonymous".into());
    };
    let keys: HashMap<String, String> = match state.store.setting(API_KEYS).await? {
        Some(text) => serde_json::from_str(&text).map_err(ApiError::internal)?,
        None => HashMap::new(),
    };
    let hash = token_hash(key);
    keys.into_iter()
        .find(|(_, h)| *h == hash)
        .map(|(client, _)| format!("open311:{client}"))
        .ok_or_else(|| ApiError::forbidden("unknown api_key"))
}

/// The answers to a service's questions in a form: `attribute[code]=value`, and a
/// multivaluelist's `attribute[code][]=value` repeated (joined with commas, as
/// [`Category::read_answers`] reads them).
fn answers_in(pairs: &[(String, String)]) -> std::collections::BTreeMap<String, String> {
    let mut given: std::collections::BTreeMap<String, String> = Default::default();
    for (key, value) in pairs {
        let Some(inner) = key.strip_prefix("attribute[") else {
            continue;
        };
        if let Some(code) = inner.strip_suffix("][]") {
            let entry = given.entry(code.to_string()).or_default();
            if !entry.is_empty() {
                entry.push(',');
            }
            entry.push_str(value);
        } else if let Some(code) = inner.strip_suffix(']') {
            given.insert(code.to_string(), value.clone());
        }
    }
    given
}

/// The description with the answers to the service's questions after it, one per line.
fn with_answers(description: &str, answers: &[(String, String)]) -> String {
    if description.trim().is_empty() {
        // Still refused as a missing description by intake.
        return String::new();
    }
    let mut text = description.to_string();
    for (question, answer) in answers {
        let _ = write!(text, "\n{question}：{answer}");
    }
    text
}

/// What a GeoReport v2 request form asks for `category`, read and checked without the database:
/// the answers to the service's questions (400 with the catalogue's code), `lat` and `long`
/// (400 `missing_location` / `invalid_location`), the complainant's name and phone (anonymous
/// when neither is given), the description with the answers after it. A later field of the
/// same name wins, as in the form's map; `attribute[...]` fields are read in order.
pub fn request_intake(
    pairs: &[(String, String)],
    category: &Category,
    author: String,
) -> ApiResult<PublicIntake> {
    let given = answers_in(pairs);
    let form: HashMap<&str, &str> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let answers = category
        .read_answers(&given)
        .map_err(|e| ApiError::bad_request(e.code, e.detail))?;
    let lat = coordinate(&form, "lat", 90.0)?;
    let lon = coordinate(&form, "long", 180.0)?;
    let name = [field(&form, "first_name"), field(&form, "last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let phone = field(&form, "phone").map(str::to_string);
    let anonymous = name.is_empty() && phone.is_none();
    Ok(PublicIntake {
        category: category.code.clone(),
        point: (lon, lat),
        description: with_answers(field(&form, "description").unwrap_or_default(), &answers),
        title: None,
        complainant: NewComplainant {
            anonymous,
            kind: ComplainantType::Person,
            name: (!name.is_empty()).then_some(name),
            phone,
        },
        author,
        channel: Channel::Open311,
    })
}

/// `POST /open311/v2/requests.{format}`: form-encoded; `api_key` optional (anonymous allowed).
#[tracing::instrument(skip(state, req, form))]
pub async fn create_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    format: web::Path<String>,
    form: PublicForm<Vec<(String, String)>>,
) -> ApiResult<HttpResponse> {
    state.limits.check_request(Limit::Intake, &req)?;
    let format = format_of(&format)?;
    let pairs = form.0;
    let form: HashMap<&str, &str> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let author = client_of(&state, field(&form, "api_key")).await?;
    let code = field(&form, "service_code")
        .ok_or_else(|| ApiError::bad_request("missing_service_code", "service_code is required"))?;
    // A service that does not exist is 404, as GeoReport v2 says.
    let Some(category) = find_service(&state, code).await? else {
        return Err(ApiError::NotFound(format!("no service {code:?}")));
    };
    let intake = request_intake(&pairs, &category, author)?;
    let (id, hints) = take_in(&state, intake).await?;
    let notice = if hints.is_empty() {
        "received".to_string()
    } else {
        format!(
            "received; {} open request(s) of this service nearby may be the same",
            hints.len()
        )
    };
    let value = json!([{
        "service_request_id": id,
        "service_notice": notice,
        "account_id": Value::Null,
        "duplicates": hints,
    }]);
    Ok(answer(
        format,
        actix_web::http::StatusCode::CREATED,
        "service_requests",
        &value,
    ))
}

async fn request_view(state: &AppState, row: &RecordRow, names: &Names) -> ApiResult<Value> {
    let case = state.store.case_row(&row.id).await?;
    let lead = case.as_ref().and_then(|c| c.lead_department.clone());
    let expected = case.as_ref().and_then(|c| c.deadline);
    Ok(json!({
        "service_request_id": row.id,
        "status": if row.status == "closed" { "closed" } else { "open" },
        "status_notes": row.status,
        "service_name": names.categories.get(&row.category).unwrap_or(&row.category),
        "service_code": row.category,
        "description": row.title,
        "agency_responsible": lead.map(|l| names.departments.get(&l).cloned().unwrap_or(l)),
        "service_notice": Value::Null,
        "requested_datetime": w3c(row.created_at),
        "updated_datetime": w3c(row.updated_at),
        "expected_datetime": expected.map(w3c),
        "address": Value::Null,
        "address_id": Value::Null,
        "zipcode": Value::Null,
        "lat": row.lat,
        "long": row.lon,
        "media_url": Value::Null,
    }))
}

/// The names requests are shown with: departments' and categories'.
struct Names {
    departments: HashMap<String, String>,
    categories: HashMap<String, String>,
}

async fn department_names(state: &AppState) -> ApiResult<Names> {
    Ok(Names {
        departments: state
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect(),
        categories: state
            .store
            .categories()
            .await?
            .into_iter()
            .map(|c| (c.code, c.name))
            .collect(),
    })
}

async fn row_of(state: &AppState, id: &str) -> ApiResult<Option<RecordRow>> {
    let Ok(uuid) = uuid::Uuid::parse_str(id) else {
        return Ok(None);
    };
    let Some(stored) = state.store.record_doc(&uuid.to_string()).await? else {
        return Ok(None);
    };
    let record = RecordDoc::load(&stored.doc)
        .and_then(|d| d.record())
        .map_err(ApiError::internal)?;
    if record.kind != sync_core::Kind::Complaint {
        return Ok(None);
    }
    let mut row = crate::records::record_row(&record, record.created_at);
    row.updated_at = record
        .timeline
        .iter()
        .map(|e| e.at)
        .max()
        .unwrap_or(record.created_at);
    Ok(Some(row))
}

/// Filters of `GET requests`.
#[derive(Debug, Deserialize)]
pub struct RequestsQuery {
    service_request_id: Option<String>,
    service_code: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    status: Option<String>,
    #[allow(dead_code)]
    jurisdiction_id: Option<String>,
}

/// The creation window of a request search: the given bounds, a missing bound 90 days from the
/// other, or the 90 days up to `now` when neither is given. `now` is read once by the caller, so
/// the default window is exactly 90 days long.
fn creation_window(start: Option<i64>, end: Option<i64>, now: i64) -> ApiResult<(i64, i64)> {
    let (start, end) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, s + 90 * DAY_MS),
        (None, Some(e)) => (e - 90 * DAY_MS, e),
        (None, None) => (now - 90 * DAY_MS, now),
    };
    if end < start || end - start > 90 * DAY_MS {
        return Err(ApiError::bad_request(
            "invalid_date",
            "the window runs forwards and spans at most 90 days",
        ));
    }
    Ok((start, end))
}

/// `GET /open311/v2/requests.{format}`: by ids, or by service codes, status (open, closed)
/// and a creation window (at most 90 days; the last 90 days by default), newest first.
#[tracing::instrument(skip(state))]
pub async fn list_requests(
    state: web::Data<AppState>,
    format: web::Path<String>,
    query: web::Query<RequestsQuery>,
) -> ApiResult<HttpResponse> {
    let format = format_of(&format)?;
    let q = query.into_inner();
    let names = department_names(&state).await?;
    // Every parameter is checked, even those `service_request_id` overrides.
    let date = |text: &Option<String>, name: &str| -> ApiResult<Option<i64>> {
        text.as_deref()
            .map(|t| {
                parse_w3c(t).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_date",
                        format!("{name} {t:?} is not a W3C datetime"),
                    )
                })
            })
            .transpose()
    };
    let (start, end) = (
        date(&q.start_date, "start_date")?,
        date(&q.end_date, "end_date")?,
    );
    let (start, end) = creation_window(start, end, now_ms())?;
    let statuses: Vec<&str> = q
        .status
        .as_deref()
        .map(|s| s.split(',').map(str::trim).collect())
        .unwrap_or_default();
    if statuses.iter().any(|s| !["open", "closed"].contains(s)) {
        return Err(ApiError::bad_request(
            "invalid_status",
            "status is open or closed",
        ));
    }
    let mut views = Vec::new();
    if let Some(ids) = &q.service_request_id {
        for id in ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .take(MAX_REQUESTS as usize)
        {
            if let Some(row) = row_of(&state, id).await? {
                views.push(request_view(&state, &row, &names).await?);
            }
        }
        return Ok(ok(format, "service_requests", &Value::Array(views)));
    }
    let codes: Vec<&str> = q
        .service_code
        .as_deref()
        .map(|s| s.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let rows = state
        .store
        .list_records(&RecordQuery {
            kind: Some("complaint".into()),
            created_from: Some(start),
            created_to: Some(end + 1),
            ..RecordQuery::within(RecordScope::All, MAX_REQUESTS)
        })
        .await?;
    for row in rows {
        let open = if row.status == "closed" {
            "closed"
        } else {
            "open"
        };
        if (!codes.is_empty() && !codes.contains(&row.category.as_str()))
            || (!statuses.is_empty() && !statuses.contains(&open))
        {
            continue;
        }
        views.push(request_view(&state, &row, &names).await?);
    }
    Ok(ok(format, "service_requests", &Value::Array(views)))
}

/// `GET /open311/v2/requests/{id}.{format}`.
#[tracing::instrument(skip(state))]
pub async fn get_request(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, format) = path.into_inner();
    let format = format_of(&format)?;
    let row = row_of(&state, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no request {id:?}")))?;
    let view = request_view(&state, &row, &department_names(&state).await?).await?;
    Ok(ok(format, "service_requests", &json!([view])))
}

/// `GET /open311/v2/tokens/{token}.{format}`: a request's id from its token (the token is the id:
/// requests are stored at once).
#[tracing::instrument(skip(state))]
pub async fn token(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (token, format) = path.into_inner();
    let format = format_of(&format)?;
    row_of(&state, &token)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no token {token:?}")))?;
    Ok(ok(
        format,
        "service_requests",
        &json!([{ "service_request_id": token, "token": token }]),
    ))
}

/// A trusted client's name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    client: String,
}

/// `POST /api/v1/admin/open311-keys`: issues an API key for a trusted Open311 client (shown once;
/// stored hashed). A second key for the same client replaces the first.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn issue_key(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewKey>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&[Role::Admin])?;
    let client = body.into_inner().client;
    client.parse::<crate::domain::Username>().map_err(|_| {
        ApiError::bad_request(
            "invalid_client",
            "a client name is 1 to 64 ASCII letters, digits, '_', '-' or '.'",
        )
    })?;
    let mut keys: HashMap<String, String> = match state.store.setting(API_KEYS).await? {
        Some(text) => serde_json::from_str(&text).map_err(ApiError::internal)?,
        None => HashMap::new(),
    };
    let key = crate::auth::new_token();
    keys.insert(client.clone(), token_hash(&key));
    let text = serde_json::to_string(&keys).map_err(ApiError::internal)?;
    state.store.put_setting(API_KEYS, &text).await?;
    Ok(HttpResponse::Created().json(json!({ "client": client, "api_key": key })))
}

/// A resident's complaint from the public form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicComplaint {
    category: String,
    description: String,
    title: Option<String>,
    lon: f64,
    lat: f64,
    /// WGS-84 (default) or GCJ-02 as Chinese web maps report it.
    #[serde(default)]
    crs: Option<Crs>,
    /// Omitted: anonymous. A name and phone given here are kept beside the record, never in
    /// it.
    complainant: Option<NewComplainant>,
    /// Answers to the category's questions (its Open311 service definition), by code.
    #[serde(default)]
    attributes: std::collections::BTreeMap<String, String>,
}

/// `POST /api/v1/public/complaints`: the resident form (anonymous allowed; a person, legal person
/// or organisation). Answers the new id and the open complaints nearby of the same category.
#[tracing::instrument(skip(state, req, body))]
pub async fn public_complaint(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: PublicJson<PublicComplaint>,
) -> ApiResult<HttpResponse> {
    state.limits.check_request(Limit::Intake, &req)?;
    let c = body.0;
    let category =
        crate::workflow::service::catalogue_category(state.store.as_ref(), &c.category, true)
            .await?;
    let answers = category.read_answers(&c.attributes)?;
    if !(c.lon.is_finite() && c.lat.is_finite() && c.lon.abs() <= 180.0 && c.lat.abs() <= 90.0) {
        return Err(ApiError::bad_request(
            "invalid_location",
            "lon and lat are WGS-84 degrees",
        ));
    }
    let point = match c.crs.unwrap_or(Crs::Wgs84) {
        Crs::Wgs84 => (c.lon, c.lat),
        Crs::Gcj02 => crate::coords::gcj02_to_wgs84(c.lon, c.lat),
    };
    let complainant = c.complainant.unwrap_or(NewComplainant {
        anonymous: true,
        kind: ComplainantType::Person,
        name: None,
        phone: None,
    });
    let (id, duplicates) = take_in(
        &state,
        PublicIntake {
            category: c.category,
            point,
            description: with_answers(&c.description, &answers),
            title: c.title,
            complainant,
            author: "public-form".into(),
            channel: Channel::Web,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(json!({ "id": id, "duplicates": duplicates })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_window_is_the_ninety_days_up_to_now() {
        let now = 1_790_000_000_123;
        let (start, end) = creation_window(None, None, now).unwrap();
        assert_eq!((start, end), (now - 90 * DAY_MS, now));
    }

    #[test]
    fn a_missing_bound_is_ninety_days_from_the_other() {
        assert_eq!(creation_window(Some(0), None, 5).unwrap(), (0, 90 * DAY_MS));
        assert_eq!(
            creation_window(None, Some(90 * DAY_MS), 5).unwrap(),
            (0, 90 * DAY_MS)
        );
    }

    #[test]
    fn a_window_longer_than_ninety_days_or_backwards_is_refused() {
        assert!(creation_window(Some(0), Some(90 * DAY_MS + 1), 5).is_err());
        assert!(creation_window(Some(10), Some(9), 5).is_err());
        assert!(creation_window(Some(0), Some(90 * DAY_MS), 5).is_ok());
    }

    #[test]
    fn w3c_times_are_read_with_any_offset_and_written_in_china_standard_time() {
        let noon_utc = parse_w3c("2026-10-01T12:00:00Z").unwrap();
        assert_eq!(parse_w3c("2026-10-01T20:00:00+08:00"), Some(noon_utc));
        assert_eq!(parse_w3c("2026-10-01T04:00:00.250-08:00"), Some(noon_utc));
        assert_eq!(w3c(noon_utc), "2026-10-01T20:00:00+08:00");
        assert_eq!(parse_w3c("2026-10-01"), None);
        assert_eq!(parse_w3c("2026-13-01T00:00:00Z"), None);
    }

    /// A service asking one question of each Open311 datatype, two of them required.
    fn service() -> Category {
        let attributes = serde_json::from_value(json!([
            {"code": "where", "datatype": "string", "required": true, "description": "Where?"},
            {"code": "depth", "datatype": "number", "description": "How deep (cm)?"},
            {"code": "since", "datatype": "datetime", "description": "Since when?"},
            {"code": "kind", "datatype": "singlevaluelist", "required": true, "description": "Kind",
             "values": [{"key": "pothole", "name": "坑洼"}, {"key": "crack", "name": "裂缝"}]},
            {"code": "near", "datatype": "multivaluelist", "description": "Near",
             "values": [{"key": "school", "name": "学校"}, {"key": "market", "name": "市场"}]}
        ]))
        .unwrap();
        Category {
            code: "municipal.roads".into(),
            parent: Some("municipal".into()),
            level: 2,
            name: "道路".into(),
            name_en: None,
            description: String::new(),
            department: None,
            deadline_class: None,
            keywords: Vec::new(),
            attributes,
            active: true,
            updated_at: 0,
            updated_by: "admin".into(),
        }
    }

    /// A form field a client may send, with a value that may or may not make sense for it.
    fn form_field() -> impl proptest::strategy::Strategy<Value = (String, String)> {
        use proptest::prelude::*;
        let key = proptest::sample::select(vec![
            "lat",
            "long",
            "description",
            "first_name",
            "last_name",
            "phone",
            "attribute[where]",
            "attribute[depth]",
            "attribute[since]",
            "attribute[kind]",
            "attribute[near][]",
            "attribute[nope]",
            "attribute[",
        ]);
        let value = prop_oneof![
            Just("43.88".to_string()),
            Just("125.32".to_string()),
            Just("NaN".to_string()),
            Just("1e999".to_string()),
            Just("-91".to_string()),
            Just("pothole".to_string()),
            Just("school".to_string()),
            Just("2026-10-01T20:00:00+08:00".to_string()),
            Just("13912345678".to_string()),
            Just(" ".to_string()),
            "\\PC{0,40}",
        ];
        (key.prop_map(str::to_string), value)
    }

    proptest::proptest! {
        /// Whatever a form holds, it is read into a complaint the schema accepts or refused
        /// with a client error, never a server error; an accepted one is on the globe, of the
        /// service asked for, and anonymous exactly when it names nobody and no phone.
        #[test]
        fn any_request_form_is_a_valid_complaint_or_a_client_error(
            complete in proptest::bool::ANY,
            extra in proptest::collection::vec(form_field(), 0..8)
        ) {
            use actix_web::ResponseError as _;
            // Half the forms start complete, so what follows (a later field wins, answers to a
            // multivaluelist add up) is read on top of a form that would be accepted.
            let base = [
                ("lat", "43.88"),
                ("long", "125.32"),
                ("description", "路面坑洼"),
                ("attribute[where]", "north gate"),
                ("attribute[kind]", "pothole"),
            ];
            let pairs: Vec<(String, String)> = base
                .iter()
                .filter(|_| complete)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain(extra)
                .collect();
            let intake = match request_intake(&pairs, &service(), "open311:anonymous".into()) {
                Ok(intake) => intake,
                Err(error) => {
                    proptest::prop_assert!(error.status_code().is_client_error());
                    return Ok(());
                }
            };
            let (lon, lat) = intake.point;
            proptest::prop_assert!(lon.abs() <= 180.0 && lat.abs() <= 90.0);
            proptest::prop_assert_eq!(&intake.category, "municipal.roads");
            proptest::prop_assert_eq!(
                intake.complainant.anonymous,
                intake.complainant.name.is_none() && intake.complainant.phone.is_none()
            );
            match crate::records::public_record(intake) {
                Ok((record, contact, _)) => {
                    proptest::prop_assert!(record.validate().is_ok());
                    let has_contact = record.complainant.as_ref().is_some_and(|c| c.has_contact);
                    proptest::prop_assert_eq!(has_contact, contact.is_some());
                }
                Err(error) => proptest::prop_assert!(error.status_code().is_client_error()),
            }
        }

        #[test]
        fn a_w3c_time_reads_back_to_its_second(ms in -10_000_000_000_000i64..10_000_000_000_000) {
            proptest::prop_assert_eq!(parse_w3c(&w3c(ms)), Some(ms.div_euclid(1000) * 1000));
        }
    }
}

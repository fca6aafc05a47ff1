//! OGC API – Features for QGIS and other GIS clients, under `/ogc/`.
//!
//! - Part 1 (Core, GeoJSON, OpenAPI 3.0): landing page, conformance, collections `grids`,
//!   `regions` and `records` (points), items with `bbox`, `limit`, `offset` paging links and
//!   `datetime`, single items.
//! - Part 2 (CRS by reference): CRS84 by default; GCJ-02 (the offset system of Chinese web
//!   maps) on request with `crs` / `bbox-crs`, answered with `Content-Crs`.
//! - Part 4 (create, replace, update, delete) on `grids` and `regions` for the gis and admin
//!   roles, through the same checked edits as the REST API ([`crate::edits`]); `If-Match` with
//!   an item's `ETag` guards against lost updates. `records` is read-only.
//!
//! `datetime` on `grids`/`regions` asks for the map as it stood at an instant (or at the end of
//! an interval); on `records` it filters by creation time. The landing page, conformance and
//! API definition are public; collections and items need a token, like the rest of the API.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::coords::Crs;
use crate::domain::MAP_EDITORS;
use crate::domain::{AreaFilter, AreaRecord, Level};
use crate::edits::{self, EditInput, EditOptions};
use crate::edits::{patched, upsert_of};
use crate::error::{ApiError, ApiResult};
use crate::geometry::area_feature;
use crate::records::AccountAuthority;
use crate::routes::common::{
    body_json, etag, if_match, parse_bbox, parse_cursor, parse_time, rfc3339,
};
use crate::state::AppState;
use crate::store::RecordQuery;
use crate::topology::DEFAULT_TOLERANCE_M2;
use sync_core::Authority;

/// WGS-84 longitude/latitude.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
/// GCJ-02 has no registered URI; this one is the server's own.
pub const GCJ02: &str = "urn:gridsync:def:crs:GCJ02";
/// Largest page.
pub const MAX_LIMIT: usize = 10_000;
/// Default page.
pub const DEFAULT_LIMIT: usize = 100;

const GEOJSON: &str = "application/geo+json";
const COLLECTIONS: [&str; 3] = ["grids", "regions", "records"];

fn crs_of(uri: Option<&str>) -> ApiResult<Crs> {
    match uri.map(str::trim) {
        None | Some("") | Some(CRS84) | Some("CRS84") | Some("wgs84") => Ok(Crs::Wgs84),
        Some(GCJ02) | Some("gcj02") => Ok(Crs::Gcj02),
        Some(other) => Err(ApiError::bad_request(
            "unsupported_crs",
            format!("unsupported crs {other:?}: use {CRS84} or {GCJ02}"),
        )),
    }
}

fn crs_uri(crs: Crs) -> &'static str {
    match crs {
        Crs::Wgs84 => CRS84,
        Crs::Gcj02 => GCJ02,
    }
}

/// The server's base URL as the client reached it.
fn base(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}/ogc", info.scheme(), info.host())
}

/// `GET /ogc` and `/ogc/`: the landing page.
pub async fn landing(request: HttpRequest) -> HttpResponse {
    let base = base(&request);
    HttpResponse::Ok().json(json!({
        "title": "gridsync",
        "description": "Grid boundaries, regions and records of the grid governance system",
        "links": [
            { "href": format!("{base}/"), "rel": "self", "type": "application/json", "title": "This document" },
            { "href": format!("{base}/api"), "rel": "service-desc", "type": OPENAPI_JSON, "title": "The API definition (OpenAPI 3.0, JSON)" },
            { "href": format!("{base}/api?f=yaml"), "rel": "service-desc", "type": OPENAPI_YAML, "title": "The API definition (OpenAPI 3.0, YAML)" },
            { "href": format!("{base}/conformance"), "rel": "conformance", "type": "application/json", "title": "Conformance classes" },
            { "href": format!("{base}/collections"), "rel": "data", "type": "application/json", "title": "Collections" },
        ],
    }))
}

/// `GET /ogc/conformance`.
pub async fn conformance() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "conformsTo": [
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
            "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
            "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
            "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
            "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
        ]
    }))
}

/// The OGC API's own definition (OpenAPI 3.0), read once from `ogc-api.yaml`.
fn api_definition() -> &'static Value {
    static DEFINITION: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DEFINITION.get_or_init(|| {
        serde_norway::from_str(include_str!("../../../ogc-api.yaml"))
            .expect("ogc-api.yaml is a YAML document (checked by the tests)")
    })
}

/// Media type of the API definition in JSON (what QGIS asks for).
pub const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.0";
/// Media type of the API definition in YAML.
pub const OPENAPI_YAML: &str = "application/vnd.oai.openapi;version=3.0";

/// Whether a request asks for YAML: `f=yaml`, or (without `f`) an `Accept` naming YAML or the
/// YAML OpenAPI type and no JSON type. JSON otherwise; an `f` other than json or yaml is 400.
fn wants_yaml(request: &HttpRequest) -> ApiResult<bool> {
    let f = form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(k, _)| k == "f")
        .map(|(_, v)| v.into_owned());
    match f.as_deref() {
        Some("yaml") => return Ok(true),
        Some("json") => return Ok(false),
        Some(_) => {
            return Err(ApiError::bad_request(
                "unsupported_format",
                "the API definition is f=json or f=yaml",
            ));
        }
        None => {}
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(!accept.contains("json")
        && (accept.contains("yaml") || accept.contains("application/vnd.oai.openapi")))
}

/// `GET /ogc/api`: the OGC API's definition, OpenAPI 3.0, in JSON or YAML by `f` or `Accept`,
/// its server the address the client reached.
pub async fn api(request: HttpRequest) -> ApiResult<HttpResponse> {
    let yaml = wants_yaml(&request)?;
    let mut definition = api_definition().clone();
    definition["servers"] = json!([{ "url": base(&request) }]);
    Ok(if yaml {
        let text = serde_norway::to_string(&definition).map_err(ApiError::internal)?;
        HttpResponse::Ok().content_type(OPENAPI_YAML).body(text)
    } else {
        HttpResponse::Ok()
            .content_type(OPENAPI_JSON)
            .body(definition.to_string())
    })
}

fn collection_json(base: &str, id: &str, bbox: Option<[f64; 4]>) -> Value {
    let (title, description) = match id {
        "grids" => (
            "Grids",
            "网格: the units grid workers walk; editable by GIS staff",
        ),
        "regions" => (
            "Regions",
            "City, county, township and village areas above the grids; editable by GIS staff",
        ),
        _ => (
            "Records",
            "Complaints and risk inspections as points, within the caller's scope (read-only)",
        ),
    };
    let mut extent = json!({ "temporal": { "interval": [[null, null]] } });
    if let Some(b) = bbox {
        extent["spatial"] = json!({ "bbox": [b], "crs": CRS84 });
    }
    json!({
        "id": id,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": [CRS84, GCJ02],
        "storageCrs": CRS84,
        "extent": extent,
        "links": [
            { "href": format!("{base}/collections/{id}"), "rel": "self", "type": "application/json" },
            { "href": format!("{base}/collections/{id}/items"), "rel": "items", "type": GEOJSON },
        ],
    })
}

fn check_collection(id: &str) -> ApiResult<()> {
    if COLLECTIONS.contains(&id) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "no collection `{id}` (grids, regions, records)"
        )))
    }
}

/// What the caller may do with a collection's items (`Allow` of `OPTIONS`): GIS clients such
/// as QGIS 3.30+ offer editing from it. Areas are editable by the map's editors; records never
/// through this API.
fn allowed(caller: &Caller, collection: &str, one_item: bool) -> &'static str {
    let edits = collection != "records" && MAP_EDITORS.contains(&caller.user.role);
    match (edits, one_item) {
        (true, false) => "GET, POST, OPTIONS",
        (true, true) => "GET, PUT, PATCH, DELETE, OPTIONS",
        (false, _) => "GET, OPTIONS",
    }
}

fn allow_response(allow: &'static str) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ALLOW, allow))
        .finish()
}

/// `OPTIONS /ogc/collections/{collection}/items`: the methods the caller's role may use.
pub async fn items_options(caller: Caller, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let collection = path.into_inner();
    check_collection(&collection)?;
    Ok(allow_response(allowed(&caller, &collection, false)))
}

/// `OPTIONS /ogc/collections/{collection}/items/{id}`: the methods the caller's role may use on
/// an item of the collection (whether or not that item exists: QGIS asks with a made-up id
/// when a layer is empty).
pub async fn item_options(
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, _) = path.into_inner();
    check_collection(&collection)?;
    Ok(allow_response(allowed(&caller, &collection, true)))
}

/// `GET /ogc/collections`.
pub async fn collections(
    state: web::Data<AppState>,
    _caller: Caller,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    let base = base(&request);
    let extent = state.grids.snapshot().await?.extent;
    Ok(HttpResponse::Ok().json(json!({
        "links": [{ "href": format!("{base}/collections"), "rel": "self", "type": "application/json" }],
        "collections": COLLECTIONS.iter().map(|id| collection_json(&base, id, extent)).collect::<Vec<_>>(),
    })))
}

/// `GET /ogc/collections/{collection}`.
pub async fn collection(
    state: web::Data<AppState>,
    _caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    check_collection(&id)?;
    let extent = state.grids.snapshot().await?.extent;
    Ok(HttpResponse::Ok().json(collection_json(&base(&request), &id, extent)))
}

/// Query parameters of `items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    bbox: Option<String>,
    #[serde(rename = "bbox-crs")]
    bbox_crs: Option<String>,
    crs: Option<String>,
    datetime: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    /// Paging of `records` (from a `next` link).
    cursor: Option<String>,
    /// Only `json`.
    f: Option<String>,
}

/// `datetime`: an instant, or an interval `start/end` with `..` or empty for open ends.
/// Returns `(start, end)` in Unix milliseconds (both the instant for an instant).
fn parse_datetime(text: &str) -> ApiResult<(Option<i64>, Option<i64>)> {
    let side = |s: &str| -> ApiResult<Option<i64>> {
        match s.trim() {
            "" | ".." => Ok(None),
            t => parse_time(t).map(Some),
        }
    };
    match text.split_once('/') {
        Some((start, end)) => {
            let (start, end) = (side(start)?, side(end)?);
            if let (Some(s), Some(e)) = (start, end)
                && s > e
            {
                return Err(ApiError::bad_request(
                    "invalid_datetime",
                    "the interval ends before it starts",
                ));
            }
            Ok((start, end))
        }
        None => {
            let at = parse_time(text)?;
            Ok((Some(at), Some(at)))
        }
    }
}

fn parse_ogc_bbox(text: &str, crs: Crs) -> ApiResult<[f64; 4]> {
    let numbers: Vec<&str> = text.split(',').collect();
    // A 6-number (3D) box keeps its horizontal corners.
    let text = if numbers.len() == 6 {
        format!(
            "{},{},{},{}",
            numbers[0], numbers[1], numbers[3], numbers[4]
        )
    } else {
        text.to_string()
    };
    parse_bbox(&text, crs)
}

fn link(href: String, rel: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": GEOJSON })
}

/// Re-encodes the query with some parameters replaced, for paging links.
fn with_params(request: &HttpRequest, set: &[(&str, String)]) -> String {
    let mut pairs: Vec<(String, String)> =
        form_urlencoded::parse(request.query_string().as_bytes())
            .into_owned()
            .filter(|(k, _)| !set.iter().any(|(s, _)| s == k))
            .collect();
    pairs.extend(set.iter().map(|(k, v)| (k.to_string(), v.clone())));
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `GET /ogc/collections/{collection}/items`.
#[tracing::instrument(skip(state, caller, request, query), fields(caller = %caller.user.username))]
pub async fn items(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ItemsQuery>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    check_collection(&id)?;
    let q = query.into_inner();
    if q.f
        .as_deref()
        .is_some_and(|f| f != "json" && f != "geojson")
    {
        return Err(ApiError::bad_request(
            "unsupported_format",
            "only f=json (GeoJSON) is served",
        ));
    }
    let crs = crs_of(q.crs.as_deref())?;
    let bbox_crs = crs_of(q.bbox_crs.as_deref())?;
    let bbox = q
        .bbox
        .as_deref()
        .map(|b| parse_ogc_bbox(b, bbox_crs))
        .transpose()?;
    // A limit above the maximum is served as the maximum (OGC API – Features, /req/core/fc-limit-response-1).
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    if limit == 0 {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit is 1 to {MAX_LIMIT}"),
        ));
    }
    let datetime = q.datetime.as_deref().map(parse_datetime).transpose()?;
    let base = base(&request);
    let self_href = format!("{base}/collections/{id}/items?{}", request.query_string());
    let mut links = vec![
        link(self_href, "self"),
        json!({ "href": format!("{base}/collections/{id}"), "rel": "collection", "type": "application/json" }),
    ];

    let (features, matched) = if id == "records" {
        if q.offset.is_some() {
            return Err(ApiError::bad_request(
                "invalid_query",
                "records page with the cursor of the next link, not offset",
            ));
        }
        let map = state.grids.snapshot().await?;
        let authority = AccountAuthority {
            user: &caller.user,
            map: &map,
        };
        let (from, to) = datetime.unwrap_or((None, None));
        let query = RecordQuery {
            created_from: from,
            // `to` is inclusive in OGC; the store's bound is exclusive.
            created_to: to.map(|t| t + 1),
            bbox,
            after: q.cursor.as_deref().map(parse_cursor).transpose()?,
            ..RecordQuery::within(authority.scope(), limit as i64 + 1)
        };
        let matched = state.store.count_records(&query, i64::MAX).await?;
        let mut rows = state.store.list_records(&query).await?;
        if rows.len() > limit {
            rows.truncate(limit);
            if let Some(last) = rows.last() {
                let next = with_params(
                    &request,
                    &[("cursor", format!("{}_{}", last.created_at, last.id))],
                );
                links.push(link(
                    format!("{base}/collections/{id}/items?{next}"),
                    "next",
                ));
            }
        }
        let features = rows
            .iter()
            .map(|r| {
                let geometry = match (r.lon, r.lat) {
                    (Some(lon), Some(lat)) => {
                        let (x, y) = crs.from_wgs84(lon, lat);
                        json!({ "type": "Point", "coordinates": [x, y] })
                    }
                    _ => Value::Null,
                };
                json!({
                    "type": "Feature",
                    "id": r.id,
                    "geometry": geometry,
                    "properties": {
                        "kind": r.kind, "status": r.status, "channel": r.channel,
                        "category": r.category, "title": r.title,
                        "owner_grid": r.owner_grid, "claimed_grid": r.claimed_grid,
                        "created_at": rfc3339(r.created_at), "updated_at": rfc3339(r.updated_at),
                    },
                })
            })
            .collect::<Vec<_>>();
        (features, matched as usize)
    } else {
        let filter = AreaFilter {
            parent: None,
            level: (id == "grids").then_some(Level::Grid),
            bbox,
        };
        let at = datetime.and_then(|(_, end)| end);
        let snapshot = state.grids.snapshot().await?;
        let in_collection = |level: Level| (id == "grids") == (level == Level::Grid);
        let offset = q.offset.unwrap_or(0);
        let (matched, page): (usize, Vec<AreaRecord>) = match (datetime, at) {
            (Some(_), Some(at)) => {
                let areas = state.store.areas_as_of(at, &filter).await?;
                let visible: Vec<AreaRecord> = areas
                    .into_iter()
                    .filter(|a| in_collection(a.level))
                    .filter(|a| snapshot.user_can_see(&caller.user, &a.code))
                    .collect();
                let matched = visible.len();
                (
                    matched,
                    visible.into_iter().skip(offset).take(limit).collect(),
                )
            }
            _ => {
                // The codes of the whole layer, then the outlines of one page only: a page of a
                // 20,000-grid layer does not read 20,000 outlines.
                let visible: Vec<String> = state
                    .store
                    .list_area_codes(&filter)
                    .await?
                    .into_iter()
                    .filter(|(code, level)| {
                        in_collection(*level) && snapshot.user_can_see(&caller.user, code)
                    })
                    .map(|(code, _)| code)
                    .collect();
                let from = offset.min(visible.len());
                let to = offset.saturating_add(limit).min(visible.len());
                let page = state.store.areas_by_codes(&visible[from..to]).await?;
                (visible.len(), page)
            }
        };
        if offset + page.len() < matched {
            let next = with_params(&request, &[("offset", (offset + limit).to_string())]);
            links.push(link(
                format!("{base}/collections/{id}/items?{next}"),
                "next",
            ));
        }
        if offset > 0 {
            let prev = with_params(
                &request,
                &[("offset", offset.saturating_sub(limit).to_string())],
            );
            links.push(link(
                format!("{base}/collections/{id}/items?{prev}"),
                "prev",
            ));
        }
        let features = page
            .iter()
            .map(|a| area_feature(a, crs, Some(state.settings.coordinate_decimals)))
            .collect::<ApiResult<Vec<_>>>()?;
        (features, matched)
    };
    let body = json!({
        "type": "FeatureCollection",
        "timeStamp": rfc3339(sync_core::now_ms()),
        "numberMatched": matched,
        "numberReturned": features.len(),
        "features": features,
        "links": links,
    });
    Ok(HttpResponse::Ok()
        .content_type(GEOJSON)
        .insert_header(("Content-Crs", format!("<{}>", crs_uri(crs))))
        .json(body))
}

/// `?crs=` of one item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    crs: Option<String>,
    f: Option<String>,
}

/// `GET /ogc/collections/{collection}/items/{id}`.
#[tracing::instrument(skip(state, caller, request), fields(caller = %caller.user.username))]
pub async fn item(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<ItemQuery>,
) -> ApiResult<HttpResponse> {
    let (collection, code) = path.into_inner();
    check_collection(&collection)?;
    if query
        .f
        .as_deref()
        .is_some_and(|f| f != "json" && f != "geojson")
    {
        return Err(ApiError::bad_request(
            "unsupported_format",
            "only f=json (GeoJSON) is served",
        ));
    }
    let crs = crs_of(query.crs.as_deref())?;
    let base = base(&request);
    if collection == "records" {
        let map = state.grids.snapshot().await?;
        let authority = AccountAuthority {
            user: &caller.user,
            map: &map,
        };
        let stored = match uuid::Uuid::parse_str(&code) {
            Ok(_) => state.store.record_doc(&code).await?,
            Err(_) => None,
        };
        let record = stored
            .map(|s| sync_core::RecordDoc::load(&s.doc).and_then(|d| d.record()))
            .transpose()
            .map_err(ApiError::internal)?
            .filter(|r| authority.in_scope(r))
            .ok_or_else(|| ApiError::NotFound(format!("no record `{code}`")))?;
        let geometry = match crate::records::wgs84_point(&record) {
            Some((lon, lat)) => {
                let (x, y) = crs.from_wgs84(lon, lat);
                json!({ "type": "Point", "coordinates": [x, y] })
            }
            None => Value::Null,
        };
        return Ok(HttpResponse::Ok()
            .content_type(GEOJSON)
            .insert_header(("Content-Crs", format!("<{}>", crs_uri(crs))))
            .json(json!({
                "type": "Feature",
                "id": code,
                "geometry": geometry,
                "properties": {
                    "kind": record.kind.as_str(), "status": record.workflow.status.as_str(),
                    "channel": record.channel.as_str(), "category": record.category,
                    "title": record.title,
                    "owner_grid": record.owner_grid.as_ref().and_then(|o| o.code.clone()),
                    "created_at": rfc3339(record.created_at),
                },
                "links": [
                    { "href": format!("{base}/collections/records/items/{code}"), "rel": "self", "type": GEOJSON },
                    { "href": format!("{base}/collections/records"), "rel": "collection", "type": "application/json" },
                ],
            })));
    }
    let area = state
        .store
        .area(&code)
        .await?
        .filter(|a| (collection == "grids") == (a.level == Level::Grid))
        .ok_or_else(|| ApiError::NotFound(format!("no {collection} item `{code}`")))?;
    let snapshot = state.grids.snapshot().await?;
    if !snapshot.user_can_see(&caller.user, &code) {
        return Err(ApiError::forbidden(format!(
            "area {code} is outside your assigned areas"
        )));
    }
    let mut body = area_feature(&area, crs, Some(state.settings.coordinate_decimals))?;
    body["links"] = json!([
        { "href": format!("{base}/collections/{collection}/items/{code}"), "rel": "self", "type": GEOJSON },
        { "href": format!("{base}/collections/{collection}"), "rel": "collection", "type": "application/json" },
    ]);
    Ok(HttpResponse::Ok()
        .content_type(GEOJSON)
        .insert_header((header::ETAG, etag(&area)))
        .insert_header(("Content-Crs", format!("<{}>", crs_uri(crs))))
        .json(body))
}

/// The CRS of a transaction's body (`Content-Crs`, Part 4), CRS84 by default.
fn content_crs(request: &HttpRequest) -> ApiResult<Crs> {
    let value = request.headers().get("Content-Crs").map(|v| {
        v.to_str()
            .unwrap_or_default()
            .trim()
            .trim_matches(['<', '>'])
    });
    crs_of(value)
}

fn editable(collection: &str) -> ApiResult<()> {
    check_collection(collection)?;
    if collection == "records" {
        return Err(ApiError::Refused {
            code: "read_only_collection",
            detail: "records change through sync and the records API, not OGC transactions".into(),
        });
    }
    Ok(())
}

/// A transaction's reason: the `X-Gridsync-Reason` header.
fn reason(request: &HttpRequest) -> String {
    request
        .headers()
        .get("X-Gridsync-Reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(2_000)
        .collect()
}

fn options() -> EditOptions {
    EditOptions {
        dry_run: false,
        tolerance_m2: DEFAULT_TOLERANCE_M2,
    }
}

/// The level a collection holds, for a body that does not say.
fn fit_level(collection: &str, upsert: &mut edits::Upsert) -> ApiResult<()> {
    match (collection, upsert.level) {
        ("grids", None) => upsert.level = Some(Level::Grid),
        ("grids", Some(Level::Grid)) => {}
        ("regions", Some(level)) if level != Level::Grid => {}
        ("regions", None) if upsert.parent.is_none() && !upsert.keep_parent => {
            upsert.level = Some(Level::City)
        }
        ("regions", None) => {}
        _ => {
            return Err(ApiError::unprocessable(
                "wrong_collection",
                format!(
                    "a {collection} item cannot have this level: grids hold level grid, regions the levels above"
                ),
            ));
        }
    }
    Ok(())
}

/// `POST /ogc/collections/{collection}/items`: creates an area (201 with `Location`).
#[tracing::instrument(skip(state, caller, request, body), fields(caller = %caller.user.username))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let collection = path.into_inner();
    editable(&collection)?;
    caller.require_role(&MAP_EDITORS)?;
    let mut upsert = upsert_of(&body_json(&body)?, content_crs(&request)?, None)?;
    fit_level(&collection, &mut upsert)?;
    let code = upsert.code.clone();
    let input = EditInput::create(upsert, reason(&request));
    let report = edits::run(&state, &caller.user.username, input, options()).await?;
    let mut response = HttpResponse::Created();
    response.insert_header((
        header::LOCATION,
        format!("{}/collections/{collection}/items/{code}", base(&request)),
    ));
    if let Some(version) = report.map_version {
        response.insert_header((header::ETAG, format!("\"{version}\"")));
    }
    Ok(response.json(report))
}

/// `PUT /ogc/collections/{collection}/items/{id}`: replaces an area.
#[tracing::instrument(skip(state, caller, request, body), fields(caller = %caller.user.username))]
pub async fn replace(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (collection, code) = path.into_inner();
    editable(&collection)?;
    caller.require_role(&MAP_EDITORS)?;
    let expect = if_match(&request)?;
    let mut upsert = upsert_of(&body_json(&body)?, content_crs(&request)?, Some(&code))?;
    fit_level(&collection, &mut upsert)?;
    let input = EditInput::rewrite("replace", upsert, expect, reason(&request));
    answer(&state, &caller, input).await
}

/// `PATCH /ogc/collections/{collection}/items/{id}`: a merge patch of properties (name,
/// parent) and/or the geometry.
#[tracing::instrument(skip(state, caller, request, body), fields(caller = %caller.user.username))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (collection, code) = path.into_inner();
    editable(&collection)?;
    caller.require_role(&MAP_EDITORS)?;
    let expect = if_match(&request)?;
    let upsert = patched(&state, &code, &body_json(&body)?, content_crs(&request)?).await?;
    let input = EditInput::rewrite("update", upsert, expect, reason(&request));
    answer(&state, &caller, input).await
}

/// `DELETE /ogc/collections/{collection}/items/{id}`: retires an area.
#[tracing::instrument(skip(state, caller, request), fields(caller = %caller.user.username))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (collection, code) = path.into_inner();
    editable(&collection)?;
    caller.require_role(&MAP_EDITORS)?;
    let input = EditInput::retire(code, if_match(&request)?, reason(&request));
    answer(&state, &caller, input).await
}

async fn answer(state: &AppState, caller: &Caller, input: EditInput) -> ApiResult<HttpResponse> {
    let report = edits::run(state, &caller.user.username, input, options()).await?;
    let mut response = HttpResponse::Ok();
    if let (Some(version), [only]) = (report.map_version, report.areas.as_slice())
        && only.action != "retired"
    {
        response.insert_header((header::ETAG, format!("\"{version}\"")));
    }
    Ok(response.json(report))
}

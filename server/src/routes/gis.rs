//! Boundary editing over REST: create, replace, update, retire, split and merge areas, their
//! version history, and the coverage report. Every edit runs through [`crate::edits::run`].
//!
//! Common query parameters of an edit: `dry_run` (check and preview the re-ownership, write
//! nothing), `reason` (kept with the version), `tolerance_m2` (default 1 m²) and `crs` (of the
//! geometry sent). `If-Match` with the version from an area's `ETag` makes a replace, update or
//! retire fail with 412 when someone else edited the area first.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use geo::MultiPolygon;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::coords::Crs;
use crate::domain::AreaRecord;
use crate::edits::{self, EditInput, EditOptions, Expect, Problem, Upsert};
use crate::error::{ApiError, ApiResult};
use crate::geometry;
use crate::import::{self, Rejection};
use crate::routes::grids::{MAP_EDITORS, feature};
use crate::state::AppState;
use crate::topology::{self, DEFAULT_TOLERANCE_M2};

/// Query parameters of every edit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditQuery {
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    tolerance_m2: Option<f64>,
    #[serde(default)]
    crs: Crs,
}

impl EditQuery {
    fn options(&self) -> ApiResult<EditOptions> {
        let tolerance_m2 = self.tolerance_m2.unwrap_or(DEFAULT_TOLERANCE_M2);
        if !tolerance_m2.is_finite() || tolerance_m2 < 0.0 {
            return Err(ApiError::bad_request(
                "invalid_tolerance",
                "tolerance_m2 must be a non-negative number of square metres",
            ));
        }
        Ok(EditOptions {
            dry_run: self.dry_run,
            tolerance_m2,
        })
    }

    fn reason(&self) -> ApiResult<String> {
        let reason = self.reason.clone().unwrap_or_default();
        if reason.len() > 2_000 {
            return Err(ApiError::bad_request(
                "invalid_reason",
                "reason is at most 2000 bytes",
            ));
        }
        Ok(reason)
    }
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

/// A checked feature as an upsert, or a 422 naming what is wrong with it.
pub fn upsert_of(feature: &Value, crs: Crs, path_code: Option<&str>) -> ApiResult<Upsert> {
    let mut feature = feature.clone();
    // The path names the area; a body without a code takes it.
    if let (Some(code), Some(properties)) = (
        path_code,
        feature.get_mut("properties").and_then(Value::as_object_mut),
    ) {
        properties
            .entry("code")
            .or_insert_with(|| Value::String(code.to_string()));
    }
    if let (Some(code), Some(object)) = (path_code, feature.as_object_mut())
        && !object.get("properties").is_some_and(Value::is_object)
    {
        object.insert("properties".into(), json!({ "code": code }));
    }
    let valid = import::check_feature(&feature, crs).map_err(rejection)?;
    if let Some(code) = path_code
        && valid.code != code
    {
        return Err(ApiError::unprocessable(
            "code_mismatch",
            format!(
                "the body's properties.code {} is not the area {code} of the path",
                valid.code
            ),
        ));
    }
    Ok(Upsert {
        keep_parent: feature
            .get("properties")
            .and_then(|p| p.get("parent"))
            .is_none(),
        code: valid.code,
        name: valid.name,
        level: valid.level,
        parent: valid.parent,
        geometry: valid.geometry,
        repairs: valid.repairs,
    })
}

/// A feature's rejection as a 422.
pub fn rejection(rejection: Rejection) -> ApiError {
    let mut extra = serde_json::Map::new();
    if let Some(at) = rejection.location {
        extra.insert("location".into(), json!(at));
    }
    ApiError::Unprocessable {
        code: rejection.code,
        detail: rejection.detail,
        extra: Some(extra),
    }
}

async fn respond(
    state: &AppState,
    caller: &Caller,
    input: EditInput,
    query: &EditQuery,
) -> ApiResult<HttpResponse> {
    let report = edits::run(state, &caller.user.username, input, query.options()?).await?;
    let status = if report.dry_run {
        actix_web::http::StatusCode::OK
    } else if report.areas.iter().any(|a| a.action == "created") {
        actix_web::http::StatusCode::CREATED
    } else {
        actix_web::http::StatusCode::OK
    };
    let mut response = HttpResponse::build(status);
    if let (false, Some(version), [only]) =
        (report.dry_run, report.map_version, report.areas.as_slice())
        && only.action != "retired"
    {
        response.insert_header((header::ETAG, format!("\"{version}\"")));
        response.insert_header((header::LOCATION, format!("/api/v1/grids/{}", only.code)));
    }
    Ok(response.json(report))
}

fn body_json(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))
}

/// `POST /api/v1/grids`: creates one area from a GeoJSON Feature.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EditQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.require_role(&MAP_EDITORS)?;
    let upsert = upsert_of(&body_json(&body)?, query.crs, None)?;
    let input = EditInput::create(upsert, query.reason()?);
    respond(&state, &caller, input, &query).await
}

/// `POST /api/v1/grids/batch`: creates or replaces several areas in one edit, as when a shared
/// boundary moves (both sides change at once, so there is never an overlap or a gap between
/// them). Each feature whose code exists replaces it (at `properties.version` when given);
/// the others are created.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn batch(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EditQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.require_role(&MAP_EDITORS)?;
    let features = import::features_of(&body)
        .map_err(|e| ApiError::bad_request("invalid_geojson", e.to_string()))?;
    if features.is_empty() {
        return Err(ApiError::unprocessable(
            "empty_edit",
            "the FeatureCollection has no features",
        ));
    }
    let mut upserts = Vec::with_capacity(features.len());
    let mut expect = Vec::with_capacity(features.len());
    for (index, feature) in features.iter().enumerate() {
        let upsert = upsert_of(feature, query.crs, None).map_err(|e| match e {
            ApiError::Unprocessable {
                code,
                detail,
                extra,
            } => ApiError::Unprocessable {
                code,
                detail: format!("feature {index}: {detail}"),
                extra,
            },
            other => other,
        })?;
        let version = feature
            .get("properties")
            .and_then(|p| p.get("version"))
            .and_then(Value::as_i64);
        // At `properties.version` when given; otherwise created or replaced, whichever applies.
        expect.push((
            upsert.code.clone(),
            version.map_or(Expect::Any, Expect::Version),
        ));
        if upserts.iter().any(|u: &Upsert| u.code == upsert.code) {
            return Err(ApiError::unprocessable(
                "duplicate_code",
                format!("area {} appears twice", upsert.code),
            ));
        }
        upserts.push(upsert);
    }
    let input = EditInput {
        operation: "replace",
        upserts,
        retire: Vec::new(),
        expect,
        reason: query.reason()?,
    };
    respond(&state, &caller, input, &query).await
}

/// `PUT /api/v1/grids/{code}`: replaces an area's geometry and properties.
#[tracing::instrument(skip(state, caller, body, request), fields(caller = %caller.user.username))]
pub async fn replace(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<EditQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.require_role(&MAP_EDITORS)?;
    let code = path.into_inner();
    let expect = if_match(&request)?;
    let upsert = upsert_of(&body_json(&body)?, query.crs, Some(&code))?;
    let input = EditInput::rewrite("replace", upsert, expect, query.reason()?);
    respond(&state, &caller, input, &query).await
}

/// `PATCH /api/v1/grids/{code}`: a JSON merge patch of `properties` (name, parent) and/or
/// `geometry`.
#[tracing::instrument(skip(state, caller, body, request), fields(caller = %caller.user.username))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<EditQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.require_role(&MAP_EDITORS)?;
    let code = path.into_inner();
    let expect = if_match(&request)?;
    let patch = body_json(&body)?;
    let input = EditInput::rewrite(
        "update",
        patched(&state, &code, &patch, query.crs).await?,
        expect,
        query.reason()?,
    );
    respond(&state, &caller, input, &query).await
}

/// The current area with a merge patch applied, as an upsert.
pub async fn patched(state: &AppState, code: &str, patch: &Value, crs: Crs) -> ApiResult<Upsert> {
    let Some(patch) = patch.as_object() else {
        return Err(ApiError::bad_request(
            "invalid_patch",
            "the patch must be a JSON object with properties and/or geometry",
        ));
    };
    if let Some(key) = patch
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "id" | "properties" | "geometry"))
    {
        return Err(ApiError::bad_request(
            "invalid_patch",
            format!("unknown member `{key}`: a patch has properties and/or geometry"),
        ));
    }
    let current = state
        .store
        .area(code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no area `{code}`")))?;
    let mut feature = feature(&current, crs)?;
    if let Some(geometry) = patch.get("geometry") {
        feature["geometry"] = geometry.clone();
    }
    if let Some(properties) = patch.get("properties") {
        let Some(properties) = properties.as_object() else {
            return Err(ApiError::bad_request(
                "invalid_patch",
                "properties must be an object",
            ));
        };
        for (key, value) in properties {
            match key.as_str() {
                "name" | "parent" => {
                    feature["properties"][key] = value.clone();
                }
                "code" | "level" | "version" | "updated_at" => {}
                other => {
                    return Err(ApiError::bad_request(
                        "invalid_patch",
                        format!("property `{other}` cannot be patched (name, parent)"),
                    ));
                }
            }
        }
    }
    // The current geometry is sent back in `crs`; a patched one is in `crs` too.
    let mut upsert = upsert_of(&feature, crs, Some(code))?;
    upsert.keep_parent = false;
    upsert.level = Some(current.level);
    Ok(upsert)
}

/// `DELETE /api/v1/grids/{code}`: retires an area (its history stays).
#[tracing::instrument(skip(state, caller, request), fields(caller = %caller.user.username))]
pub async fn retire(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<EditQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&MAP_EDITORS)?;
    let code = path.into_inner();
    let input = EditInput::retire(code, if_match(&request)?, query.reason()?);
    respond(&state, &caller, input, &query).await
}

/// The body of a split: the parts, as a FeatureCollection's features or a `parts` array.
#[derive(Debug, Deserialize)]
struct SplitBody {
    #[serde(alias = "features")]
    parts: Vec<Value>,
}

/// `POST /api/v1/grids/{code}/split`: replaces an area by parts that tile it exactly (within
/// the tolerance). The parts take the area's level and parent; a part may keep the area's code.
#[tracing::instrument(skip(state, caller, body, request), fields(caller = %caller.user.username))]
pub async fn split(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<EditQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.require_role(&MAP_EDITORS)?;
    let code = path.into_inner();
    let expect = if_match(&request)?;
    let SplitBody { parts } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_split",
            format!("a split is {{\"parts\": [Feature, ...]}} or a FeatureCollection: {e}"),
        )
    })?;
    if parts.len() < 2 {
        return Err(ApiError::unprocessable(
            "invalid_split",
            "a split needs at least two parts",
        ));
    }
    let original = state
        .store
        .area(&code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no area `{code}`")))?;
    let original_geometry =
        geometry::from_stored(&original.geometry).map_err(|e| ApiError::Internal(e.into()))?;
    let mut upserts = Vec::with_capacity(parts.len());
    let mut expects = vec![(code.clone(), expect)];
    for part in &parts {
        let mut upsert = upsert_of(part, query.crs, None)?;
        upsert.level = Some(original.level);
        upsert.parent = original.parent.clone();
        upsert.keep_parent = false;
        if upsert.code != code {
            expects.push((upsert.code.clone(), Expect::Absent));
        }
        upserts.push(upsert);
    }
    let tolerance = query.options()?.tolerance_m2;
    let problems = {
        let geometries: Vec<(String, MultiPolygon)> = upserts
            .iter()
            .map(|u| (u.code.clone(), u.geometry.clone()))
            .collect();
        let code = code.clone();
        web::block(move || split_problems(&code, &original_geometry, &geometries, tolerance))
            .await
            .map_err(ApiError::internal)?
    };
    if !problems.is_empty() {
        return Err(edits::rejected(problems));
    }
    let keeps_code = upserts.iter().any(|u| u.code == code);
    let input = EditInput {
        operation: "split",
        upserts,
        retire: if keeps_code { Vec::new() } else { vec![code] },
        expect: expects,
        reason: query.reason()?,
    };
    respond(&state, &caller, input, &query).await
}

/// Parts outside the original, and the original's area no part covers.
fn split_problems(
    code: &str,
    original: &MultiPolygon,
    parts: &[(String, MultiPolygon)],
    tolerance: f64,
) -> Vec<Problem> {
    let report = topology::coverage(original, parts, tolerance);
    let outside = report.outside.into_iter().map(|o| Problem {
        code: "outside_original",
        area: o.code,
        with: Some(code.to_string()),
        piece: o.piece,
    });
    let gaps = report.gaps.into_iter().map(|piece| Problem {
        code: "split_gap",
        area: code.to_string(),
        with: None,
        piece,
    });
    outside.chain(gaps).collect()
}

/// The body of a merge.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    /// The areas to merge (siblings).
    codes: Vec<String>,
    /// The merged area: one of `codes` or a new code, and its name.
    into: MergeInto,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeInto {
    code: String,
    name: String,
}

/// `POST /api/v1/grids/merge`: merges sibling areas into one (their union); the children of
/// the merged areas move under it.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn merge(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EditQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.require_role(&MAP_EDITORS)?;
    let MergeBody { codes, into } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_merge",
            format!("a merge is {{\"codes\": [...], \"into\": {{\"code\", \"name\"}}}}: {e}"),
        )
    })?;
    let mut unique = codes.clone();
    unique.sort();
    unique.dedup();
    if unique.len() < 2 || unique.len() != codes.len() {
        return Err(ApiError::unprocessable(
            "invalid_merge",
            "a merge needs at least two different areas",
        ));
    }
    let mut areas = Vec::with_capacity(codes.len());
    for code in &codes {
        areas.push(
            state
                .store
                .area(code)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no area `{code}`")))?,
        );
    }
    let first = &areas[0];
    if areas
        .iter()
        .any(|a| a.parent != first.parent || a.level != first.level)
    {
        return Err(ApiError::unprocessable(
            "invalid_merge",
            "only areas of the same level under the same parent can be merged",
        ));
    }
    let (level, parent) = (first.level, first.parent.clone());
    let geometries = areas
        .iter()
        .map(|a| geometry::from_stored(&a.geometry))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Internal(e.into()))?;
    let union: MultiPolygon = web::block(move || geo::unary_union(geometries.iter()))
        .await
        .map_err(ApiError::internal)?;
    let mut expect: Vec<(String, Expect)> =
        codes.iter().map(|c| (c.clone(), Expect::Present)).collect();
    if !codes.contains(&into.code) {
        expect.push((into.code.clone(), Expect::Absent));
    }
    let merged = Upsert {
        code: into.code.clone(),
        name: into.name,
        level: Some(level),
        parent,
        keep_parent: false,
        geometry: union,
        repairs: Vec::new(),
    };
    // Children of the merged areas move under the result, unchanged otherwise.
    let mut upserts = vec![merged];
    for code in &codes {
        let children = state
            .store
            .list_areas(&crate::domain::AreaFilter {
                parent: Some(code.clone()),
                ..Default::default()
            })
            .await?;
        for child in children {
            let geometry =
                geometry::from_stored(&child.geometry).map_err(|e| ApiError::Internal(e.into()))?;
            upserts.push(Upsert {
                code: child.code,
                name: child.name,
                level: Some(child.level),
                parent: Some(into.code.clone()),
                keep_parent: false,
                geometry,
                repairs: Vec::new(),
            });
        }
    }
    let input = EditInput {
        operation: "merge",
        upserts,
        retire: codes.into_iter().filter(|c| *c != into.code).collect(),
        expect,
        reason: query.reason()?,
    };
    respond(&state, &caller, input, &query).await
}

/// `GET /api/v1/grids/{code}/versions`: every version of an area, oldest first.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn versions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<CrsQuery>,
) -> ApiResult<HttpResponse> {
    let code = path.into_inner();
    let snapshot = state.grids.snapshot().await?;
    if !caller.user.role.sees_whole_map() && !snapshot.user_can_see(&caller.user, &code) {
        return Err(ApiError::forbidden(format!(
            "area {code} is outside your assigned areas"
        )));
    }
    let history = state.store.area_history(&code).await?;
    if history.is_empty() {
        return Err(ApiError::NotFound(format!("no area `{code}`")));
    }
    let versions = history
        .iter()
        .map(|v| {
            let mut f = feature(&v.area, query.crs)?;
            let p = &mut f["properties"];
            p["retired"] = json!(v.retired);
            p["valid_from"] = json!(rfc3339(v.valid_from));
            p["valid_to"] = json!(v.valid_to.map(rfc3339));
            p["operation"] = json!(v.operation);
            p["actor"] = json!(v.actor);
            p["reason"] = json!(v.reason);
            Ok(f)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(json!({ "type": "FeatureCollection", "code": code, "features": versions })))
}

/// `?crs=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrsQuery {
    #[serde(default)]
    crs: Crs,
}

/// `?tolerance_m2=&crs=` of a coverage report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageQuery {
    #[serde(default)]
    tolerance_m2: Option<f64>,
    #[serde(default)]
    crs: Crs,
}

/// `GET /api/v1/grids/{code}/coverage`: how the area's children divide it: the share covered,
/// the gaps (as polygons), overlaps between children and children sticking out.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn coverage(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<CoverageQuery>,
) -> ApiResult<HttpResponse> {
    let code = path.into_inner();
    let area = state
        .store
        .area(&code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no area `{code}`")))?;
    let snapshot = state.grids.snapshot().await?;
    if !snapshot.user_can_see(&caller.user, &code) {
        return Err(ApiError::forbidden(format!(
            "area {code} is outside your assigned areas"
        )));
    }
    let tolerance = query.tolerance_m2.unwrap_or(DEFAULT_TOLERANCE_M2);
    if !tolerance.is_finite() || tolerance < 0.0 {
        return Err(ApiError::bad_request(
            "invalid_tolerance",
            "tolerance_m2 must be a non-negative number of square metres",
        ));
    }
    let children = state
        .store
        .list_areas(&crate::domain::AreaFilter {
            parent: Some(code.clone()),
            ..Default::default()
        })
        .await?;
    let parent = geometry::from_stored(&area.geometry).map_err(|e| ApiError::Internal(e.into()))?;
    let children = children
        .iter()
        .map(|c| geometry::from_stored(&c.geometry).map(|g| (c.code.clone(), g)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Internal(e.into()))?;
    let count = children.len();
    let report = web::block(move || topology::coverage(&parent, &children, tolerance))
        .await
        .map_err(ApiError::internal)?;
    let crs = query.crs;
    let polygon =
        |p: &topology::Piece| geometry::to_geojson(&MultiPolygon(vec![p.geometry.clone()]), crs);
    let at = |p: &topology::Piece| {
        let (x, y) = crs.from_wgs84(p.at[0], p.at[1]);
        [x, y]
    };
    Ok(HttpResponse::Ok().json(json!({
        "code": code,
        "level": area.level,
        "children": count,
        "tolerance_m2": tolerance,
        "area_m2": report.area_m2,
        "covered_m2": report.covered_m2,
        "covered_share": report.covered_share,
        "gaps": report.gaps.iter().map(|g| json!({
            "area_m2": g.area_m2, "at": at(g), "geometry": polygon(g),
        })).collect::<Vec<_>>(),
        "overlaps": report.overlaps.iter().map(|o| json!({
            "codes": o.codes, "area_m2": o.piece.area_m2, "at": at(&o.piece),
            "geometry": polygon(&o.piece),
        })).collect::<Vec<_>>(),
        "outside": report.outside.iter().map(|o| json!({
            "code": o.code, "area_m2": o.piece.area_m2, "at": at(&o.piece),
            "geometry": polygon(&o.piece),
        })).collect::<Vec<_>>(),
    })))
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

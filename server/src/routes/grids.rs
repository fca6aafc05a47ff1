//! The grid map over REST: import, list and fetch areas; create, replace, update, retire,
//! split and merge them (every edit runs through [`crate::edits::run`]); their version history
//! and the coverage report.
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
use crate::domain::{AreaFilter, Level, MAP_EDITORS};
use crate::edits::{self, EditInput, EditOptions, Expect, Upsert};
use crate::error::{ApiError, ApiResult};
use crate::geometry::{self, area_feature};
use crate::import;
use crate::routes::common::{body_json, etag, if_match, parse_bbox, parse_time, rfc3339};
use crate::state::AppState;
use crate::topology::{self, DEFAULT_TOLERANCE_M2};

/// `?crs=&partial=&dry_run=` of an import, and which properties hold code, name, parent and
/// level.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    #[serde(default)]
    crs: Crs,
    #[serde(default)]
    partial: bool,
    #[serde(default)]
    dry_run: bool,
    code_property: Option<String>,
    name_property: Option<String>,
    parent_property: Option<String>,
    level_property: Option<String>,
}

/// `POST /api/v1/grids/import`.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username, bytes = body.len()))]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.require_role(&MAP_EDITORS)?;
    let q = query.into_inner();
    for (name, value) in [
        ("code_property", &q.code_property),
        ("name_property", &q.name_property),
        ("parent_property", &q.parent_property),
        ("level_property", &q.level_property),
    ] {
        if value
            .as_deref()
            .is_some_and(|v| v.is_empty() || v.chars().count() > 200)
        {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("{name} names a property: 1 to 200 characters"),
            ));
        }
    }
    let options = import::ImportOptions {
        crs: q.crs,
        partial: q.partial,
        dry_run: q.dry_run,
        mapping: import::AttributeMapping {
            code: q.code_property,
            name: q.name_property,
            parent: q.parent_property,
            level: q.level_property,
        },
    };
    let report = import::import_areas(&state, &caller.user.username, &body, options).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// `?parent=&level=&bbox=&crs=` of a listing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    parent: Option<String>,
    level: Option<Level>,
    /// `min_lon,min_lat,max_lon,max_lat` in `crs`.
    bbox: Option<String>,
    #[serde(default)]
    crs: Crs,
    /// RFC 3339 time (or Unix milliseconds): the map as it stood then.
    as_of: Option<String>,
}

/// `GET /api/v1/grids`: a FeatureCollection of the areas the caller may see.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let ListQuery {
        parent,
        level,
        bbox,
        crs,
        as_of,
    } = query.into_inner();
    let bbox = bbox.as_deref().map(|b| parse_bbox(b, crs)).transpose()?;
    let filter = AreaFilter {
        parent,
        level,
        bbox,
    };
    let records = match as_of.as_deref().map(parse_time).transpose()? {
        Some(at) => state.store.areas_as_of(at, &filter).await?,
        None => state.store.list_areas(&filter).await?,
    };
    let snapshot = state.grids.snapshot().await?;
    let features = records
        .iter()
        .filter(|r| snapshot.user_can_see(&caller.user, &r.code))
        .map(|r| area_feature(r, crs, Some(state.settings.coordinate_decimals)))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(json!({
            "type": "FeatureCollection",
            "map_version": snapshot.version(),
            "crs_name": crs,
            "features": features,
        })))
}

/// `?crs=` of a single fetch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    #[serde(default)]
    crs: Crs,
    /// RFC 3339 time (or Unix milliseconds): the area as it stood then.
    as_of: Option<String>,
}

/// `GET /api/v1/grids/{code}`: one area as a Feature.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<GetQuery>,
) -> ApiResult<HttpResponse> {
    let code = path.into_inner();
    let record = match query.as_of.as_deref().map(parse_time).transpose()? {
        // The area's own versions, not the whole map as of then.
        Some(at) => state
            .store
            .area_history(&code)
            .await?
            .into_iter()
            .find(|v| v.valid_from <= at && v.valid_to.is_none_or(|to| to > at) && !v.retired)
            .map(|v| v.area),
        None => state.store.area(&code).await?,
    };
    let record = record.ok_or_else(|| ApiError::NotFound(format!("no area `{code}`")))?;
    let snapshot = state.grids.snapshot().await?;
    if !snapshot.user_can_see(&caller.user, &record.code) {
        return Err(ApiError::forbidden(format!(
            "area {code} is outside your assigned areas"
        )));
    }
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .insert_header((actix_web::http::header::ETAG, etag(&record)))
        .json(area_feature(
            &record,
            query.crs,
            Some(state.settings.coordinate_decimals),
        )?))
}

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

/// `POST /api/v1/grids`: creates one area from a GeoJSON Feature.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EditQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.require_role(&MAP_EDITORS)?;
    let upsert = edits::upsert_of(&body_json(&body)?, query.crs, None)?;
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
    let features = import::features_of(&body)?;
    if features.is_empty() {
        return Err(ApiError::unprocessable(
            "empty_edit",
            "the FeatureCollection has no features",
        ));
    }
    let mut upserts = Vec::with_capacity(features.len());
    let mut expect = Vec::with_capacity(features.len());
    for (index, feature) in features.iter().enumerate() {
        let upsert = edits::upsert_of(feature, query.crs, None).map_err(|e| match e {
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
    let upsert = edits::upsert_of(&body_json(&body)?, query.crs, Some(&code))?;
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
        edits::patched(&state, &code, &patch, query.crs).await?,
        expect,
        query.reason()?,
    );
    respond(&state, &caller, input, &query).await
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
    let mut upserts = Vec::with_capacity(parts.len());
    for part in &parts {
        upserts.push(edits::upsert_of(part, query.crs, None)?);
    }
    let tolerance = query.options()?.tolerance_m2;
    let input =
        edits::plan_split(&state, &code, expect, upserts, tolerance, query.reason()?).await?;
    respond(&state, &caller, input, &query).await
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
    let input = edits::plan_merge(&state, codes, into.code, into.name, query.reason()?).await?;
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
            let mut f = area_feature(&v.area, query.crs, Some(state.settings.coordinate_decimals))?;
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
    let polygon = |p: &topology::Piece| {
        geometry::to_geojson_rounded(
            &MultiPolygon(vec![p.geometry.clone()]),
            crs,
            Some(state.settings.coordinate_decimals),
        )
    };
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

/// `GET /api/v1/grids/{code}/register` (网格台账): an area's households, population and people
/// by title, and what lies open in it in the caller's scope — hazards by risk level and status,
/// complaints by status, and the cases past a deadline.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn get_register(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    use std::collections::BTreeMap;

    use crate::records::AccountAuthority;
    use crate::store::RecordQuery;
    let code = path.into_inner();
    let area = state
        .store
        .area(&code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no area `{code}`")))?;
    let map = state.grids.snapshot().await?;
    if !map.user_can_see(&caller.user, &area.code) {
        return Err(ApiError::forbidden(format!(
            "area {code} is outside your assigned areas"
        )));
    }
    let register = state.store.grid_register(&code).await?;
    let now = sync_core::now_ms();
    let authority = AccountAuthority {
        user: &caller.user,
        map: &map,
    };
    let rows = state
        .store
        .list_records(&RecordQuery {
            owners: Some(map.codes_within(std::slice::from_ref(&code))),
            ..RecordQuery::within(authority.scope(), REGISTER_RECORDS)
        })
        .await?;
    let open: Vec<_> = rows
        .iter()
        .filter(|r| !matches!(r.status.as_str(), "closed" | "resolved_in_grid"))
        .collect();
    let count = |kind: &str| {
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        for r in open.iter().filter(|r| r.kind == kind) {
            *by.entry(r.status.clone()).or_default() += 1;
        }
        by
    };
    let mut by_level: BTreeMap<String, u64> = BTreeMap::new();
    for r in open.iter().filter(|r| r.kind == "risk_inspection") {
        *by_level
            .entry(r.risk_level.clone().unwrap_or_default())
            .or_default() += 1;
    }
    let ids: Vec<String> = open.iter().map(|r| r.id.clone()).collect();
    let overdue = state
        .store
        .case_rows(&ids)
        .await?
        .iter()
        .filter(|c| !crate::workflow::scheduler::overdue(c, now).is_empty())
        .count();
    // Each person with an account: what they recorded per day over the last 30 days, and
    // when they were last seen.
    let mut people = register
        .as_ref()
        .map(|r| r.people.clone())
        .unwrap_or_default();
    // People's phone numbers (a 村民代表 is a resident) go only to those who run the grid:
    // its leaders, the desk, GIS staff and admins; workers, departments and supervisors read
    // names and titles.
    if !matches!(
        caller.user.role,
        crate::domain::Role::GridLeader
            | crate::domain::Role::Dispatcher
            | crate::domain::Role::Gis
            | crate::domain::Role::Admin
    ) {
        for person in &mut people {
            person.phone = None;
        }
    }
    let today = crate::workflow::calendar::Date::of_instant(now);
    let first = crate::workflow::calendar::Date::from_days(today.days() - 29);
    let mut activity = Vec::new();
    for person in &people {
        let Some(username) = &person.username else {
            continue;
        };
        let (days, last_seen) = state.store.activity(username, first.start_ms()).await?;
        let per_day: Vec<i64> = (first.days()..=today.days())
            .map(|d| {
                days.iter()
                    .find(|(day, _)| *day == i64::from(d))
                    .map_or(0, |(_, n)| *n)
            })
            .collect();
        activity.push(json!({
            "username": username,
            "title": person.title,
            "name": person.name,
            "from": first.to_string(),
            "records_per_day": per_day,
            "last_seen": last_seen,
        }));
    }
    // The area's three rates and rectification rate this month, and its hazard figures, as
    // the monthly report counts them.
    let month = crate::workflow::report::Month {
        year: today.ymd().0,
        month: today.ymd().1,
    };
    let (from, to) = month.bounds();
    let cases = state.store.cases_between(from, to).await?;
    let evaluations = state.store.evaluations_between(from, to).await?;
    let rates = crate::workflow::rates::compute(
        &cases,
        &evaluations,
        from,
        to,
        &crate::workflow::rates::RateSettings::default(),
        |g| map.region_path(g),
    );
    let own = rates.regions.iter().find(|g| g.code == area.code);
    let hazards = crate::workflow::hazards::compute(
        &state.store.hazards_created_between(from, to).await?,
        &state.store.hazard_steps_between(from, to).await?,
        &state.store.hazard_misses_between(from, to).await?,
        (from, to),
        &crate::workflow::rates::RateSettings::default(),
        |g| map.region_path(g),
        &crate::workflow::hazards::Names {
            region: &|c| c.to_string(),
            department: &|c| c.to_string(),
        },
    );
    let own_hazards = hazards.by_region.iter().find(|g| g.code == area.code);
    let rates = json!({
        "month": month.to_string(),
        "response": own.map(|g| g.response),
        "resolution": own.map(|g| g.resolution),
        "satisfaction": own.map(|g| g.satisfaction),
        "rectification": own_hazards.map(|g| g.rectification),
        "hazards": own_hazards.map(|g| g.tally),
    });
    Ok(HttpResponse::Ok().json(json!({
        "code": area.code,
        "name": area.name,
        "level": area.level.as_str(),
        "rates": rates,
        "households": register.as_ref().and_then(|r| r.households),
        "population": register.as_ref().and_then(|r| r.population),
        "people": people,
        "activity": activity,
        "open_hazards": { "by_level": by_level, "by_status": count("risk_inspection") },
        "open_complaints": { "by_status": count("complaint") },
        "overdue": overdue,
        "records_read": rows.len(),
    })))
}

/// The most records of an area the register reads.
const REGISTER_RECORDS: i64 = 10_000;

/// A register's editable entries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    households: Option<i64>,
    population: Option<i64>,
    #[serde(default)]
    people: Vec<crate::store::GridPerson>,
}

/// `PUT /api/v1/grids/{code}/register` (admins and GIS staff): an area's households,
/// population and people by title, replaced whole.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username))]
pub async fn put_register(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<RegisterBody>,
) -> ApiResult<HttpResponse> {
    caller.require_role(&MAP_EDITORS)?;
    let code = path.into_inner();
    state
        .store
        .area(&code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no area `{code}`")))?;
    let RegisterBody {
        households,
        population,
        people,
    } = body.into_inner();
    let count_ok = |v: Option<i64>| v.is_none_or(|v| (0..=100_000_000).contains(&v));
    if !count_ok(households) || !count_ok(population) {
        return Err(ApiError::unprocessable(
            "invalid_register",
            "households and population are counts from 0 to 100000000",
        ));
    }
    let text_ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
    let person_ok = |p: &crate::store::GridPerson| {
        text_ok(&p.title, 20)
            && text_ok(&p.name, 50)
            && p.phone.as_deref().is_none_or(|v| text_ok(v, 40))
    };
    if people.len() > 100 || !people.iter().all(person_ok) {
        return Err(ApiError::unprocessable(
            "invalid_register",
            "at most 100 people, each with a title of 1 to 20 and a name of 1 to 50 characters",
        ));
    }
    for person in &people {
        if let Some(username) = &person.username
            && state.store.user_by_name(username).await?.is_none()
        {
            return Err(ApiError::unprocessable(
                "unknown_user",
                format!("no account {username:?}"),
            ));
        }
    }
    let register = crate::store::GridRegister {
        area_code: code,
        households,
        population,
        people,
        updated_at: sync_core::now_ms(),
        updated_by: caller.user.username.clone(),
    };
    state.store.put_grid_register(&register).await?;
    Ok(HttpResponse::Ok().json(register))
}

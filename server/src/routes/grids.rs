//! The grid map: import, list, fetch.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::coords::Crs;
use crate::domain::{AreaFilter, AreaRecord, Level, Role};
use crate::error::{ApiError, ApiResult};
use crate::geometry;
use crate::import::{self, CollectionError};
use crate::reown::{self, ReownReport};
use crate::routes::gis::{etag, parse_time};
use crate::state::AppState;

/// Roles that may change the grid map.
pub const MAP_EDITORS: [Role; 2] = [Role::Gis, Role::Admin];

/// `?crs=&partial=` of an import.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    #[serde(default)]
    crs: Crs,
    #[serde(default)]
    partial: bool,
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
    let ImportQuery { crs, partial } = query.into_inner();
    let features = import::features_of(&body).map_err(|e| match e {
        CollectionError::NotJson(_) => ApiError::bad_request("invalid_json", e.to_string()),
        CollectionError::NotFeatureCollection => {
            ApiError::bad_request("invalid_geojson", e.to_string())
        }
    })?;
    // Geometry validation is CPU work proportional to the vertices: keep it off the workers.
    let checked = web::block(move || {
        features
            .iter()
            .map(|f| import::check(f, crs))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(ApiError::internal)?;
    let codes = import::referenced_codes(&checked);
    let existing: HashMap<String, Level> =
        state.store.area_levels(&codes).await?.into_iter().collect();
    let mut plan = import::plan(checked, &existing);
    let rejected = plan.rejected();
    if rejected > 0 && !partial {
        let mut extra = Map::new();
        extra.insert(
            "results".into(),
            serde_json::to_value(&plan.results).map_err(ApiError::internal)?,
        );
        return Err(ApiError::Unprocessable {
            code: "import_rejected",
            detail: format!(
                "{rejected} of {} features are invalid; nothing was imported (use partial=true to import the valid ones)",
                plan.results.len()
            ),
            extra: Some(extra),
        });
    }
    let (version, reownership) = if plan.accepted.is_empty() {
        (state.store.map_version().await?, ReownReport::default())
    } else {
        let actor = &caller.user.username;
        let imported = state
            .store
            .import_areas(&plan.accepted, actor, sync_core::now_ms())
            .await?;
        // Records where the areas lie now or lay before get their owner under the new map
        // (a record in the unassigned queue finds the grid just imported around it).
        let reownership = reown::run_job(
            &state,
            imported.job,
            &imported.boxes,
            &format!("import by {actor}"),
        )
        .await?;
        (imported.map_version, reownership)
    };
    for result in plan.results.iter_mut().filter(|r| r.error.is_none()) {
        result.status = "imported";
    }
    state
        .metrics
        .imported_areas
        .fetch_add(plan.accepted.len() as u64, Ordering::Relaxed);
    tracing::info!(
        imported = plan.accepted.len(),
        rejected,
        version,
        "grid map imported"
    );
    Ok(HttpResponse::Ok().json(json!({
        "map_version": version,
        "imported": plan.accepted.len(),
        "rejected": rejected,
        "results": plan.results,
        "reownership": reownership,
    })))
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

/// An area as a GeoJSON Feature in `crs`.
pub fn feature(record: &AreaRecord, crs: Crs) -> ApiResult<Value> {
    let geometry = geometry::from_stored(&record.geometry).map_err(|e| {
        ApiError::Internal(format!("stored geometry of {}: {e}", record.code).into())
    })?;
    Ok(json!({
        "type": "Feature",
        "id": record.code,
        "geometry": geometry::to_geojson(&geometry, crs),
        "properties": {
            "code": record.code,
            "name": record.name,
            "level": record.level,
            "parent": record.parent,
            "version": record.version,
            "updated_at": record.updated_at,
        },
    }))
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
        .map(|r| feature(r, crs))
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
        .json(feature(&record, query.crs)?))
}

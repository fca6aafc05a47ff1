//! Ownership lookups: which area owns a point.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::coords::Crs;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The most points one batch may carry.
pub const MAX_BATCH_POINTS: usize = 100_000;

/// `?lon=&lat=&crs=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocateQuery {
    lon: f64,
    lat: f64,
    #[serde(default)]
    crs: Crs,
}

fn check_point(lon: f64, lat: f64) -> Result<(), String> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err("coordinates must be finite numbers".into());
    }
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(format!(
            "({lon}, {lat}) is outside lon -180..180, lat -90..90"
        ));
    }
    Ok(())
}

/// `GET /api/v1/locate`: the owner of one point (see `geo_index` for the rule) and its path to
/// the root; `{"grid": null, "path": []}` outside every area. Every authenticated role may ask:
/// the answer carries codes and names, no geometry.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn locate(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<LocateQuery>,
) -> ApiResult<HttpResponse> {
    let LocateQuery { lon, lat, crs } = query.into_inner();
    check_point(lon, lat).map_err(|e| ApiError::bad_request("invalid_coordinates", e))?;
    let (wlon, wlat) = crs.to_wgs84(lon, lat);
    let snapshot = state.grids.snapshot().await?;
    state.metrics.located_points.inc();
    let owner = snapshot.index.locate(wlon, wlat);
    let (grid, path) = match owner {
        Some(id) => (
            snapshot.describe(id),
            snapshot
                .index
                .path(id)
                .into_iter()
                .map(|id| snapshot.describe(id))
                .collect(),
        ),
        None => {
            state.metrics.unassigned_points.inc();
            (Value::Null, Vec::new())
        }
    };
    Ok(HttpResponse::Ok().json(json!({
        "grid": grid,
        "path": path,
        "map_version": snapshot.version(),
        "wgs84": { "lon": wlon, "lat": wlat },
    })))
}

/// One point of a batch.
#[derive(Debug, Deserialize)]
pub struct BatchPoint {
    lon: f64,
    lat: f64,
}

/// `?crs=` of a batch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchQuery {
    #[serde(default)]
    crs: Crs,
}

/// `POST /api/v1/locate/batch`: owners' codes (or null) in input order.
#[tracing::instrument(skip(state, caller, body), fields(caller = %caller.user.username, points = body.len()))]
pub async fn batch(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<BatchQuery>,
    body: web::Json<Vec<BatchPoint>>,
) -> ApiResult<HttpResponse> {
    let crs = query.crs;
    let points = body.into_inner();
    if points.len() > MAX_BATCH_POINTS {
        return Err(ApiError::unprocessable(
            "too_many_points",
            format!(
                "{} points; a batch holds at most {MAX_BATCH_POINTS}",
                points.len()
            ),
        ));
    }
    for (index, point) in points.iter().enumerate() {
        check_point(point.lon, point.lat).map_err(|e| {
            ApiError::bad_request("invalid_coordinates", format!("point {index}: {e}"))
        })?;
    }
    let snapshot = state.grids.snapshot().await?;
    let version = snapshot.version();
    let count = points.len() as u64;
    let (owners, unassigned) = web::block(move || {
        let mut unassigned = 0u64;
        let owners: Vec<Option<String>> = points
            .iter()
            .map(|p| {
                let (lon, lat) = crs.to_wgs84(p.lon, p.lat);
                let owner = snapshot
                    .index
                    .locate(lon, lat)
                    .map(|id| snapshot.index.area(id).code.clone());
                unassigned += u64::from(owner.is_none());
                owner
            })
            .collect();
        (owners, unassigned)
    })
    .await
    .map_err(ApiError::internal)?;
    state.metrics.located_points.inc_by(count);
    state.metrics.unassigned_points.inc_by(unassigned);
    Ok(HttpResponse::Ok().json(json!({ "map_version": version, "owners": owners })))
}

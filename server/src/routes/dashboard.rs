//! What the city screen (一屏观全城) reads: the live figures of the caller's area
//! (`GET /api/v1/dashboard`) and the grids' outlines, simplified for drawing a whole city at
//! once (`GET /api/v1/grids/outlines`). The desk, supervisors and admins read the whole city
//! (they read every record); a grid leader, their own grids.

use std::collections::{BTreeMap, HashSet};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use geo::{MultiPolygon, Polygon, Simplify};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::coords::Crs;
use crate::domain::{AreaFilter, Level, Role};
use crate::error::{ApiError, ApiResult};
use crate::records::AccountAuthority;
use crate::state::AppState;
use crate::store::RecordScope;

/// Who reads the city screen: the desk, supervisors and admins, and grid leaders for their
/// grids.
const READERS: &[Role] = &[
    Role::Dispatcher,
    Role::Supervisor,
    Role::Admin,
    Role::GridLeader,
];

/// How many of the latest changed records the screen lists.
const LATEST: usize = 12;

/// Whether a record owned by `owner` lies in `scope` (records not yet owned only for those who
/// see every record).
fn in_scope(scope: &RecordScope, codes: &HashSet<&str>, owner: Option<&str>) -> bool {
    match scope {
        RecordScope::All => true,
        RecordScope::Areas { .. } => owner.is_some_and(|o| codes.contains(o)),
        RecordScope::Department(_) => false,
    }
}

/// `GET /api/v1/dashboard`: today's intake, what is open and overdue, open complaints and
/// hazards per grid, and the records changed last, in the caller's areas.
#[tracing::instrument(skip(state, caller), fields(caller = %caller.user.username))]
pub async fn dashboard(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.require_role(READERS)?;
    let map = state.grids.snapshot().await?;
    let authority = AccountAuthority {
        user: &caller.user,
        map: &map,
    };
    let scope = authority.scope();
    let codes: HashSet<&str> = match &scope {
        RecordScope::Areas { codes, .. } => codes.iter().map(String::as_str).collect(),
        _ => HashSet::new(),
    };
    let now = sync_core::now_ms();
    let today = crate::workflow::calendar::Date::of_instant(now).start_ms();

    // [complaints, hazards], as everywhere below.
    let slot = |kind: &str| usize::from(kind == "risk_inspection");
    let mut open = [0i64; 2];
    let mut grids: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    for count in state.store.record_counts_by_grid(None).await? {
        if !in_scope(&scope, &codes, count.owner_grid.as_deref()) {
            continue;
        }
        open[slot(&count.kind)] += count.count;
        if let Some(grid) = count.owner_grid {
            grids.entry(grid).or_default()[slot(&count.kind)] += count.count;
        }
    }
    let mut intake = [0i64; 2];
    for count in state.store.record_counts_by_grid(Some(today)).await? {
        if in_scope(&scope, &codes, count.owner_grid.as_deref()) {
            intake[slot(&count.kind)] += count.count;
        }
    }
    let pair =
        |[complaints, hazards]: [i64; 2]| json!({ "complaints": complaints, "hazards": hazards });
    let overdue = state
        .store
        .cases_due(now)
        .await?
        .iter()
        .filter(|c| in_scope(&scope, &codes, c.owner_grid.as_deref()))
        .filter(|c| !crate::workflow::scheduler::overdue(c, now).is_empty())
        .count();
    let owners = match &scope {
        RecordScope::All => None,
        RecordScope::Areas { codes, .. } => Some(codes.as_slice()),
        RecordScope::Department(_) => Some(&[][..]),
    };
    let latest: Vec<_> = state
        .store
        .recently_changed(owners, LATEST as i64)
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "title": r.title,
                "kind": r.kind,
                "status": r.status,
                "owner_grid": r.owner_grid,
                "updated_at": r.updated_at,
            })
        })
        .collect();
    let grids: serde_json::Map<String, serde_json::Value> = grids
        .into_iter()
        .map(|(code, counts)| (code, pair(counts)))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "generated_at": now,
            "today": pair(intake),
            "open": pair(open),
            "overdue": overdue,
            "grids": grids,
            "latest": latest,
        })))
}

/// `?level=&tolerance_m=` of the outlines.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlinesQuery {
    level: Option<Level>,
    tolerance_m: Option<f64>,
}

/// Metres per degree of latitude (and of longitude at the equator), for the tolerance.
const METRES_PER_DEGREE: f64 = 111_320.0;

/// A polygon simplified (Ramer–Douglas–Peucker), or as it was when simplifying would leave a
/// ring of fewer than four points.
fn simplified(polygon: &Polygon<f64>, epsilon: f64) -> Polygon<f64> {
    let simple = polygon.simplify(epsilon);
    let valid = simple.exterior().0.len() >= 4 && simple.interiors().iter().all(|r| r.0.len() >= 4);
    if valid { simple } else { polygon.clone() }
}

/// `GET /api/v1/grids/outlines`: the outlines of the areas of a level (grids by default) the
/// caller may see, simplified to `tolerance_m` metres (default 10) with 5 decimals, each with
/// its code and parent only: what a screen needs to draw a whole city. Its ETag names the map
/// version, the tolerance and the caller's scope, so a screen that refreshes gets 304 until
/// the map changes.
#[tracing::instrument(skip(state, caller, req), fields(caller = %caller.user.username))]
pub async fn outlines(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    query: web::Query<OutlinesQuery>,
) -> ApiResult<HttpResponse> {
    let OutlinesQuery { level, tolerance_m } = query.into_inner();
    let tolerance = tolerance_m.unwrap_or(10.0);
    if !(0.0..=1000.0).contains(&tolerance) {
        return Err(ApiError::bad_request(
            "invalid_tolerance",
            "tolerance_m must be 0..=1000",
        ));
    }
    let level = level.unwrap_or(Level::Grid);
    let map = state.grids.snapshot().await?;
    let tag = format!(
        "\"outlines-{}-{}-{:?}-{}-{}\"",
        map.version(),
        tolerance,
        level,
        caller.user.id,
        caller.scope_epoch
    );
    let cached = crate::routes::common::if_none_match(&req, &tag);
    if cached {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish());
    }
    let areas = state
        .store
        .list_areas(&AreaFilter {
            level: Some(level),
            ..AreaFilter::default()
        })
        .await?;
    let user = caller.user.clone();
    let features = web::block(move || {
        let epsilon = tolerance / METRES_PER_DEGREE;
        areas
            .iter()
            .filter(|a| map.user_can_see(&user, &a.code))
            .filter_map(|a| {
                let shape = crate::geometry::from_stored(&a.geometry).ok()?;
                let shape = MultiPolygon(shape.0.iter().map(|p| simplified(p, epsilon)).collect());
                let geometry = crate::geometry::to_geojson_rounded(&shape, Crs::Wgs84, Some(5));
                Some(json!({
                    "type": "Feature",
                    "id": a.code,
                    "properties": { "code": a.code, "parent": a.parent },
                    "geometry": geometry,
                }))
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .content_type("application/geo+json")
        .json(json!({
            "type": "FeatureCollection",
            "tolerance_m": tolerance,
            "features": features,
        })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, polygon};

    #[test]
    fn simplifying_drops_points_within_the_tolerance_and_keeps_rings_valid() {
        // A square with a 1 m bump on one side: gone at 10 m, kept at 0.1 m.
        let bump = 1.0 / METRES_PER_DEGREE;
        let square = polygon![
            (x: 0.0, y: 0.0), (x: 0.0005, y: -bump), (x: 0.001, y: 0.0),
            (x: 0.001, y: 0.001), (x: 0.0, y: 0.001), (x: 0.0, y: 0.0),
        ];
        assert_eq!(
            simplified(&square, 10.0 / METRES_PER_DEGREE)
                .exterior()
                .0
                .len(),
            5
        );
        assert_eq!(
            simplified(&square, 0.1 / METRES_PER_DEGREE)
                .exterior()
                .0
                .len(),
            6
        );
        // A sliver that would collapse stays as it was.
        let sliver = Polygon::new(
            LineString::from(vec![(0.0, 0.0), (0.001, 0.0), (0.0, 0.000_001), (0.0, 0.0)]),
            vec![],
        );
        assert_eq!(simplified(&sliver, 10.0 / METRES_PER_DEGREE), sliver);
    }
}

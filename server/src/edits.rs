//! Boundary edits: create, replace, update, split, merge and retire areas, checked against the
//! whole proposed map before anything is written.
//!
//! Every edit goes through [`run`]:
//! 1. Optimistic concurrency: each touched area's version is compared with what the editor
//!    read (`If-Match`); the store compares again inside the writing transaction.
//! 2. Levels and parents resolve as on import (an area keeps its level; a parent must exist in
//!    the proposed map and be of a shallower level).
//! 3. Topology on the proposed map (see [`crate::topology`]): each written area lies within its
//!    parent, overlaps none of its siblings, and still contains its own children, all beyond a
//!    tolerance in m²; an area with children cannot be retired.
//! 4. A dry run stops here and previews the re-ownership against the proposed map. Otherwise
//!    the edit is written (a new map version, a version row per area, a queued re-ownership
//!    job, one transaction), the index is rebuilt, and the job runs.

use std::collections::HashMap;
use std::sync::Arc;

use geo::MultiPolygon;
use serde::Serialize;
use serde_json::{Value, json};

use crate::coords::Crs;
use crate::domain::{AreaRecord, Level};
use crate::error::{ApiError, ApiResult};
use crate::geometry::{self, Repair};
use crate::import::{self, Rejection};
use crate::reown::{self, ReownReport};
use crate::state::{AppState, MapSnapshot};
use crate::store::{AreaEdit, EditOutcome};
use crate::topology::{self, Piece};

/// What the editor read of an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The code must be new.
    Absent,
    /// The area must exist (no `If-Match` given).
    Present,
    /// The area must be at this version (`If-Match`).
    Version(i64),
    /// Either: create it if absent, replace it if present (a batch without versions).
    Any,
}

/// An area to write.
#[derive(Debug, Clone)]
pub struct Upsert {
    pub code: String,
    pub name: String,
    /// `None`: keep the existing level, or one below the parent.
    pub level: Option<Level>,
    /// `None` with `keep_parent`: keep the existing parent.
    pub parent: Option<String>,
    /// Keep the stored parent when `parent` is `None` (a replace that does not mention it).
    pub keep_parent: bool,
    /// WGS-84.
    pub geometry: MultiPolygon,
    /// Faults repaired on the way in.
    pub repairs: Vec<Repair>,
}

/// One edit, as the routes build it.
#[derive(Debug, Clone)]
pub struct EditInput {
    /// `create`, `replace`, `update`, `split`, `merge`, `retire`.
    pub operation: &'static str,
    pub upserts: Vec<Upsert>,
    pub retire: Vec<String>,
    pub expect: Vec<(String, Expect)>,
    pub reason: String,
}

impl EditInput {
    /// Creates one area (its code must be new).
    pub fn create(upsert: Upsert, reason: String) -> Self {
        EditInput {
            operation: "create",
            expect: vec![(upsert.code.clone(), Expect::Absent)],
            upserts: vec![upsert],
            retire: Vec::new(),
            reason,
        }
    }

    /// Writes one existing area (`replace` or `update`), as the editor read it.
    pub fn rewrite(
        operation: &'static str,
        upsert: Upsert,
        expect: Expect,
        reason: String,
    ) -> Self {
        EditInput {
            operation,
            expect: vec![(upsert.code.clone(), expect)],
            upserts: vec![upsert],
            retire: Vec::new(),
            reason,
        }
    }

    /// Retires one area, as the editor read it.
    pub fn retire(code: String, expect: Expect, reason: String) -> Self {
        EditInput {
            operation: "retire",
            upserts: Vec::new(),
            expect: vec![(code.clone(), expect)],
            retire: vec![code],
            reason,
        }
    }
}

/// How to run an edit.
#[derive(Debug, Clone, Copy)]
pub struct EditOptions {
    /// Check and preview only.
    pub dry_run: bool,
    /// Overlaps, gaps and overhangs smaller than this (m²) are ignored.
    pub tolerance_m2: f64,
}

/// One area's part in an edit.
#[derive(Debug, Clone, Serialize)]
pub struct AreaChange {
    pub code: String,
    /// `created`, `replaced` or `retired`.
    pub action: &'static str,
    /// The map version written (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<Repair>,
}

/// What an edit did (or would do).
#[derive(Debug, Clone, Serialize)]
pub struct EditReport {
    pub operation: &'static str,
    pub dry_run: bool,
    /// The new map version (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_version: Option<i64>,
    pub areas: Vec<AreaChange>,
    pub reownership: ReownReport,
}

/// One topology finding that stops an edit.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `outside_parent`, `sibling_overlap`, `children_outside`, `split_gap`, `outside_original`.
    pub code: &'static str,
    /// The area written.
    pub area: String,
    /// The other area involved (parent, sibling, child, original).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    #[serde(flatten)]
    pub piece: Piece,
}

/// Problems as the 422 answer.
pub fn rejected(problems: Vec<Problem>) -> ApiError {
    let detail = problems
        .iter()
        .take(3)
        .map(|p| {
            format!(
                "{} {}{}: {:.1} m² around {:.6}, {:.6}",
                p.area,
                p.code,
                p.with
                    .as_deref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default(),
                p.piece.area_m2,
                p.piece.at[0],
                p.piece.at[1]
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut extra = serde_json::Map::new();
    extra.insert(
        "problems".into(),
        serde_json::to_value(&problems).unwrap_or_default(),
    );
    ApiError::Unprocessable {
        code: "topology_rejected",
        detail: format!("{} topology problem(s): {detail}", problems.len()),
        extra: Some(extra),
    }
}

fn stored_geometry(area: &AreaRecord) -> ApiResult<MultiPolygon> {
    geometry::from_stored(&area.geometry)
        .map_err(|e| ApiError::Internal(format!("stored geometry of {}: {e}", area.code).into()))
}

fn check_expectations(
    current: &HashMap<String, AreaRecord>,
    expect: &[(String, Expect)],
) -> ApiResult<()> {
    for (code, expect) in expect {
        let found = current.get(code).map(|a| a.version);
        match (expect, found) {
            (Expect::Absent, Some(_)) => {
                return Err(ApiError::Refused {
                    code: "area_exists",
                    detail: format!("area {code} already exists"),
                });
            }
            (Expect::Present | Expect::Version(_), None) => {
                return Err(ApiError::NotFound(format!("no area `{code}`")));
            }
            (Expect::Version(v), Some(found)) if *v != found => {
                return Err(ApiError::PreconditionFailed(format!(
                    "area {code} is at version {found}, not {v}: read it again and redo the edit"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Resolves levels and parents of the upserts against the proposed map.
fn resolve(input: &EditInput, current: &HashMap<String, AreaRecord>) -> ApiResult<Vec<AreaRecord>> {
    let mut proposed_levels: HashMap<&str, Level> =
        current.iter().map(|(c, a)| (c.as_str(), a.level)).collect();
    for code in &input.retire {
        proposed_levels.remove(code.as_str());
    }
    // Levels of new areas first (a split's parts and a merge's result are siblings of what
    // they replace, so their parents are already known).
    let mut records = Vec::with_capacity(input.upserts.len());
    for upsert in &input.upserts {
        let existing = current.get(&upsert.code);
        let parent = match (&upsert.parent, existing) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(e)) if upsert.keep_parent => e.parent.clone(),
            (None, _) => None,
        };
        if parent.as_deref() == Some(upsert.code.as_str()) {
            return Err(ApiError::unprocessable(
                "parent_cycle",
                format!("area {} cannot be its own parent", upsert.code),
            ));
        }
        let parent_level = match &parent {
            Some(p) => Some(
                proposed_levels
                    .get(p.as_str())
                    .copied()
                    .or_else(|| {
                        input
                            .upserts
                            .iter()
                            .find(|u| &u.code == p)
                            .and_then(|u| u.level)
                    })
                    .ok_or_else(|| {
                        ApiError::unprocessable(
                            "unknown_parent",
                            format!("parent {p} of {} is not on the map", upsert.code),
                        )
                    })?,
            ),
            None => None,
        };
        let level = match (existing, upsert.level) {
            (Some(e), Some(given)) if e.level != given => {
                return Err(ApiError::unprocessable(
                    "level_change",
                    format!(
                        "area {} is a {}; an area keeps its level (create a new code instead)",
                        upsert.code, e.level
                    ),
                ));
            }
            (Some(e), _) => e.level,
            (None, Some(given)) => given,
            (None, None) => parent_level.and_then(Level::child).unwrap_or(Level::Grid),
        };
        if let Some(parent_level) = parent_level
            && parent_level >= level
        {
            return Err(ApiError::unprocessable(
                "level_not_below_parent",
                format!(
                    "area {} ({level}) must be below its parent ({parent_level})",
                    upsert.code
                ),
            ));
        }
        proposed_levels.insert(upsert.code.as_str(), level);
        records.push(AreaRecord {
            code: upsert.code.clone(),
            name: upsert.name.clone(),
            level,
            parent,
            geometry: geometry::to_geojson(&upsert.geometry, Crs::Wgs84).to_string(),
            bbox: geometry::bbox(&upsert.geometry),
            version: 0,
            updated_at: 0,
        });
    }
    Ok(records)
}

/// The topology problems of writing `records` into the proposed map.
fn topology_problems(
    records: &[AreaRecord],
    geometries: &HashMap<String, MultiPolygon>,
    proposed: &HashMap<String, AreaRecord>,
    tolerance: f64,
) -> ApiResult<Vec<Problem>> {
    let geometry_of = |area: &AreaRecord| -> ApiResult<MultiPolygon> {
        match geometries.get(&area.code) {
            Some(g) => Ok(g.clone()),
            None => stored_geometry(area),
        }
    };
    let mut problems = Vec::new();
    for record in records {
        let own = &geometries[&record.code];
        if let Some(parent) = record.parent.as_ref().and_then(|p| proposed.get(p)) {
            for piece in topology::outside(own, &geometry_of(parent)?, tolerance) {
                problems.push(Problem {
                    code: "outside_parent",
                    area: record.code.clone(),
                    with: Some(parent.code.clone()),
                    piece,
                });
            }
        }
        let boxes_meet = |b: &[f64; 4]| {
            b[0] <= record.bbox[2]
                && record.bbox[0] <= b[2]
                && b[1] <= record.bbox[3]
                && record.bbox[1] <= b[3]
        };
        for other in proposed.values() {
            if other.code == record.code {
                continue;
            }
            if other.parent == record.parent && boxes_meet(&other.bbox) {
                // Each pair of written siblings once.
                if geometries.contains_key(&other.code) && other.code < record.code {
                    continue;
                }
                for piece in topology::overlap(own, &geometry_of(other)?, tolerance) {
                    problems.push(Problem {
                        code: "sibling_overlap",
                        area: record.code.clone(),
                        with: Some(other.code.clone()),
                        piece,
                    });
                }
            }
            if other.parent.as_deref() == Some(record.code.as_str()) {
                for piece in topology::outside(&geometry_of(other)?, own, tolerance) {
                    problems.push(Problem {
                        code: "children_outside",
                        area: record.code.clone(),
                        with: Some(other.code.clone()),
                        piece,
                    });
                }
            }
        }
    }
    Ok(problems)
}

/// Checks, previews or applies an edit by `actor` (a username).
pub async fn run(
    state: &AppState,
    actor: &str,
    input: EditInput,
    options: EditOptions,
) -> ApiResult<EditReport> {
    let (map_version, areas) = state.store.map_snapshot().await?;
    let current: HashMap<String, AreaRecord> =
        areas.into_iter().map(|a| (a.code.clone(), a)).collect();
    check_expectations(&current, &input.expect)?;
    for code in &input.retire {
        if !current.contains_key(code) {
            return Err(ApiError::NotFound(format!("no area `{code}`")));
        }
    }
    let records = resolve(&input, &current)?;
    let mut proposed = current.clone();
    for code in &input.retire {
        proposed.remove(code);
    }
    for record in &records {
        proposed.insert(record.code.clone(), record.clone());
    }
    for code in &input.retire {
        if let Some(child) = proposed
            .values()
            .find(|a| a.parent.as_deref() == Some(code.as_str()))
        {
            return Err(ApiError::Refused {
                code: "has_children",
                detail: format!(
                    "area {code} still has children (such as {}): retire or move them first",
                    child.code
                ),
            });
        }
    }
    let geometries: HashMap<String, MultiPolygon> = input
        .upserts
        .iter()
        .map(|u| (u.code.clone(), u.geometry.clone()))
        .collect();
    let tolerance = options.tolerance_m2;
    let (problems, proposed) = {
        let (records, geometries) = (records.clone(), geometries);
        actix_web::web::block(move || {
            topology_problems(&records, &geometries, &proposed, tolerance).map(|p| (p, proposed))
        })
        .await
        .map_err(ApiError::internal)??
    };
    if !problems.is_empty() {
        return Err(rejected(problems));
    }

    // Only records inside the old or new box of a changed area can change owner.
    let mut boxes = Vec::new();
    for record in &records {
        boxes.push(match current.get(&record.code) {
            Some(old) => topology::union_box(old.bbox, record.bbox),
            None => record.bbox,
        });
    }
    for code in &input.retire {
        boxes.push(current[code].bbox);
    }
    let repairs: HashMap<&str, &Vec<Repair>> = input
        .upserts
        .iter()
        .map(|u| (u.code.as_str(), &u.repairs))
        .collect();
    let changes = |version: Option<i64>| -> Vec<AreaChange> {
        records
            .iter()
            .map(|r| AreaChange {
                code: r.code.clone(),
                action: if current.contains_key(&r.code) {
                    "replaced"
                } else {
                    "created"
                },
                version,
                repairs: repairs
                    .get(r.code.as_str())
                    .map(|r| (*r).clone())
                    .unwrap_or_default(),
            })
            .chain(input.retire.iter().map(|code| AreaChange {
                code: code.clone(),
                action: "retired",
                version,
                repairs: Vec::new(),
            }))
            .collect()
    };

    if options.dry_run {
        let all: Vec<AreaRecord> = proposed.into_values().collect();
        let next = map_version + 1;
        let map = actix_web::web::block(move || MapSnapshot::build(next, &all))
            .await
            .map_err(ApiError::internal)?;
        let reownership = reown::preview(state.store.as_ref(), Arc::new(map), &boxes).await?;
        return Ok(EditReport {
            operation: input.operation,
            dry_run: true,
            map_version: None,
            areas: changes(None),
            reownership,
        });
    }

    let edit = AreaEdit {
        upserts: records.clone(),
        retire: input.retire.clone(),
        expect: input
            .expect
            .iter()
            .filter_map(|(code, e)| match e {
                Expect::Absent => Some((code.clone(), None)),
                Expect::Version(v) => Some((code.clone(), Some(*v))),
                Expect::Present | Expect::Any => None,
            })
            .collect(),
        operation: input.operation.to_string(),
        actor: actor.to_string(),
        reason: input.reason.clone(),
        now_ms: sync_core::now_ms(),
        reown_boxes: boxes.clone(),
    };
    let (version, job) = match state.store.edit_areas(&edit).await? {
        EditOutcome::Applied { map_version, job } => (map_version, job),
        EditOutcome::Stale { code, current } => {
            return Err(match current {
                Some(v) => ApiError::PreconditionFailed(format!(
                    "area {code} changed meanwhile (now version {v}): read it again"
                )),
                None => ApiError::NotFound(format!("area `{code}` was retired meanwhile")),
            });
        }
    };
    tracing::info!(
        operation = input.operation,
        actor,
        version,
        "boundary edit applied"
    );
    state.metrics.boundary_edits.inc();
    let note = if input.reason.is_empty() {
        edit_words(actor, input.operation)
    } else {
        format!("{}：{}", edit_words(actor, input.operation), input.reason)
    };
    let reownership = reown::run_job(state, job, &boxes, &note).await?;
    Ok(EditReport {
        operation: input.operation,
        dry_run: false,
        map_version: Some(version),
        areas: changes(Some(version)),
        reownership,
    })
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
    let valid = import::check_feature(&feature, crs, &import::AttributeMapping::default())
        .map_err(feature_rejection)?;
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
pub fn feature_rejection(rejection: Rejection) -> ApiError {
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
    let mut feature = geometry::area_feature(&current, crs, None)?;
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

/// A split of area `code` into `parts` that tile it within `tolerance` m²: the parts take its
/// level and parent, and one part may keep its code. Refused (422) when a part lies outside the
/// area or the parts leave some of it uncovered.
pub async fn plan_split(
    state: &AppState,
    code: &str,
    expect: Expect,
    parts: Vec<Upsert>,
    tolerance: f64,
    reason: String,
) -> ApiResult<EditInput> {
    let code = code.to_string();
    let original = state
        .store
        .area(&code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no area `{code}`")))?;
    let original_geometry =
        geometry::from_stored(&original.geometry).map_err(|e| ApiError::Internal(e.into()))?;
    let mut upserts = Vec::with_capacity(parts.len());
    let mut expects = vec![(code.clone(), expect)];
    for mut upsert in parts {
        upsert.level = Some(original.level);
        upsert.parent = original.parent.clone();
        upsert.keep_parent = false;
        if upsert.code != code {
            expects.push((upsert.code.clone(), Expect::Absent));
        }
        upserts.push(upsert);
    }
    let problems = {
        let geometries: Vec<(String, MultiPolygon)> = upserts
            .iter()
            .map(|u| (u.code.clone(), u.geometry.clone()))
            .collect();
        let code = code.clone();
        actix_web::web::block(move || {
            split_problems(&code, &original_geometry, &geometries, tolerance)
        })
        .await
        .map_err(ApiError::internal)?
    };
    if !problems.is_empty() {
        return Err(rejected(problems));
    }
    let keeps_code = upserts.iter().any(|u| u.code == code);
    let input = EditInput {
        operation: "split",
        upserts,
        retire: if keeps_code { Vec::new() } else { vec![code] },
        expect: expects,
        reason,
    };
    Ok(input)
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

/// A merge of sibling areas `codes` into one area `into_code` named `into_name` (their union);
/// the children of the merged areas move under it, unchanged otherwise.
pub async fn plan_merge(
    state: &AppState,
    codes: Vec<String>,
    into_code: String,
    into_name: String,
    reason: String,
) -> ApiResult<EditInput> {
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
    let union: MultiPolygon = actix_web::web::block(move || geo::unary_union(geometries.iter()))
        .await
        .map_err(ApiError::internal)?;
    let mut expect: Vec<(String, Expect)> =
        codes.iter().map(|c| (c.clone(), Expect::Present)).collect();
    if !codes.contains(&into_code) {
        expect.push((into_code.clone(), Expect::Absent));
    }
    let merged = Upsert {
        code: into_code.clone(),
        name: into_name,
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
                parent: Some(into_code.clone()),
                keep_parent: false,
                geometry,
                repairs: Vec::new(),
            });
        }
    }
    let input = EditInput {
        operation: "merge",
        upserts,
        retire: codes.into_iter().filter(|c| *c != into_code).collect(),
        expect,
        reason,
    };
    Ok(input)
}

/// What a boundary edit was, as a record's timeline says it: `gis 拆分网格`.
pub fn edit_words(actor: &str, operation: &str) -> String {
    let what = match operation {
        "create" => "新建网格",
        "retire" => "撤销网格",
        "split" => "拆分网格",
        "merge" => "合并网格",
        "replace" | "update" => "修改网格边界",
        "import" => "导入网格",
        other => other,
    };
    format!("{actor} {what}")
}

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

use crate::coords::Crs;
use crate::domain::{AreaRecord, Level};
use crate::error::{ApiError, ApiResult};
use crate::geometry::{self, Repair};
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
    state
        .metrics
        .boundary_edits
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let note = if input.reason.is_empty() {
        format!("{} by {actor}", input.operation)
    } else {
        format!("{} by {actor}: {}", input.operation, input.reason)
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

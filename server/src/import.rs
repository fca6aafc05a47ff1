//! Planning a grid-map import: validate every feature, resolve levels and parents, and decide per
//! feature whether it can be written. Pure except for the existing levels it is handed.
//!
//! Rules, in the order they are checked for each feature:
//! 1. `properties.code` is 1–64 of ASCII letters, digits, `_`, `-`, `.` (a JSON integer is
//!    accepted and read as its decimal digits, as GIS exports of division codes often have them);
//!    `properties.name` is a non-empty string; `parent` (optional) is a code; `level` (optional)
//!    is one of city, county, township, village, grid.
//! 2. The geometry is a valid Polygon or MultiPolygon (see [`crate::geometry`]).
//! 3. A code appears once per import.
//! 4. The level is the given one; else one below the parent's; else, with no parent, the
//!    existing area's level, or `grid` for a new area. The parent must exist (in the database or
//!    earlier or later in the same import), must not be the area itself, and must be of a
//!    shallower level. An existing area keeps its level (import under a new code to change it).

use std::collections::HashMap;

use geo::MultiPolygon;
use serde::Serialize;
use serde_json::Value;

use crate::coords::Crs;
use crate::domain::{AreaRecord, Level};
use crate::geometry::{self, GeometryError, Repair};

/// A rejected feature's reason.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rejection {
    /// Stable code.
    pub code: &'static str,
    /// Explanation.
    pub detail: String,
    /// `[lon, lat]` of the fault, when it is at one place (a self-intersection, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<[f64; 2]>,
}

impl Rejection {
    /// A reason with no location.
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Rejection {
            code,
            detail: detail.into(),
            location: None,
        }
    }
}

impl From<GeometryError> for Rejection {
    fn from(error: GeometryError) -> Self {
        Rejection {
            code: error.code(),
            detail: error.to_string(),
            location: error.location(),
        }
    }
}

/// A feature that passed every check.
#[derive(Debug, Clone)]
pub struct ValidFeature {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Parent code.
    pub parent: Option<String>,
    /// Level given in the properties.
    pub level: Option<Level>,
    /// WGS-84 geometry.
    pub geometry: MultiPolygon,
    /// Faults fixed on the way in.
    pub repairs: Vec<Repair>,
}

/// The outcome for one feature, in input order.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureResult {
    /// Position in the input's `features`.
    pub index: usize,
    /// The feature's code when it could be read.
    pub code: Option<String>,
    /// `imported`, `valid` (would have been imported, but the import was rolled back) or
    /// `rejected`.
    pub status: &'static str,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Rejection>,
    /// Faults that were repaired (duplicate vertices, an open ring, ring orientation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<Repair>,
}

/// A whole import, checked.
#[derive(Debug)]
pub struct ImportPlan {
    /// One per input feature.
    pub results: Vec<FeatureResult>,
    /// The areas to write (with version and timestamp to be set by the store).
    pub accepted: Vec<AreaRecord>,
}

impl ImportPlan {
    /// How many features were rejected.
    pub fn rejected(&self) -> usize {
        self.results.iter().filter(|r| r.error.is_some()).count()
    }
}

/// Why a body is not a FeatureCollection at all (answered with 400, nothing per feature).
#[derive(Debug, thiserror::Error)]
pub enum CollectionError {
    /// Not JSON.
    #[error("body is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not a FeatureCollection with a `features` array.
    #[error("body must be a GeoJSON FeatureCollection with a features array")]
    NotFeatureCollection,
}

fn code_property(
    properties: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, Rejection> {
    match properties.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.parse::<crate::domain::Code>().is_ok() => Ok(Some(s.clone())),
        Some(Value::Number(n)) if n.is_u64() => Ok(Some(n.to_string())),
        Some(other) => Err(Rejection::new(
            "invalid_code",
            format!(
                "properties.{key} must be 1 to 64 ASCII letters, digits, '_', '-' or '.', not {other}"
            ),
        )),
    }
}

/// A feature checked on its own: its code when readable, and the outcome.
pub type Checked = (Option<String>, Result<ValidFeature, Rejection>);

/// [`check_feature`], keeping the code of a rejected feature when it can be read.
pub fn check(feature: &Value, crs: Crs) -> Checked {
    let code = feature
        .get("properties")
        .and_then(|p| code_property(p.as_object()?, "code").ok().flatten());
    (code, check_feature(feature, crs))
}

/// Validates one feature on its own.
pub fn check_feature(feature: &Value, crs: Crs) -> Result<ValidFeature, Rejection> {
    let object = feature
        .as_object()
        .filter(|o| o.get("type").and_then(Value::as_str) == Some("Feature"))
        .ok_or_else(|| {
            Rejection::new(
                "not_a_feature",
                "each member of features must be a GeoJSON Feature",
            )
        })?;
    let empty = serde_json::Map::new();
    let properties = match object.get("properties") {
        Some(Value::Object(p)) => p,
        None | Some(Value::Null) => &empty,
        Some(_) => {
            return Err(Rejection::new(
                "invalid_properties",
                "properties must be an object",
            ));
        }
    };
    let code = code_property(properties, "code")?
        .ok_or_else(|| Rejection::new("missing_code", "properties.code is required"))?;
    let name = match properties.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => s.clone(),
        _ => {
            return Err(Rejection::new(
                "missing_name",
                "properties.name must be a non-empty string of at most 200 bytes",
            ));
        }
    };
    let parent = code_property(properties, "parent")?;
    let level = match properties.get("level") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.parse::<Level>().map_err(|e| {
            Rejection::new(
                "invalid_level",
                format!("{e}: use city, county, township, village or grid"),
            )
        })?),
        Some(other) => {
            return Err(Rejection::new(
                "invalid_level",
                format!("level must be a string, not {other}"),
            ));
        }
    };
    let geometry = match object.get("geometry") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            serde_json::from_value::<geojson::Geometry>(value.clone())
                .map_err(|e| Rejection::new("invalid_geometry", e.to_string()))?,
        ),
    };
    let repaired = geometry::parse_geometry_repaired(geometry.as_ref(), crs)?;
    Ok(ValidFeature {
        code,
        name,
        parent,
        level,
        geometry: repaired.geometry,
        repairs: repaired.repairs,
    })
}

/// The `features` array of a FeatureCollection body.
pub fn features_of(body: &[u8]) -> Result<Vec<Value>, CollectionError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| CollectionError::NotJson(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(CollectionError::NotFeatureCollection);
    };
    if object.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(CollectionError::NotFeatureCollection);
    }
    match object.remove("features") {
        Some(Value::Array(features)) => Ok(features),
        _ => Err(CollectionError::NotFeatureCollection),
    }
}

/// Every code an import needs the stored level of: its features' codes and parents.
pub fn referenced_codes(checked: &[Checked]) -> Vec<String> {
    let mut codes: Vec<String> = checked
        .iter()
        .filter_map(|(_, result)| result.as_ref().ok())
        .flat_map(|f| std::iter::once(f.code.clone()).chain(f.parent.clone()))
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

/// Resolves levels and parents over the whole import and produces the plan.
pub fn plan(checked: Vec<Checked>, existing: &HashMap<String, Level>) -> ImportPlan {
    let (codes, mut outcome): (Vec<Option<String>>, Vec<Result<ValidFeature, Rejection>>) =
        checked.into_iter().unzip();
    // Codes of features rejected on their own, so their children say why.
    let rejected_codes: std::collections::HashSet<String> = codes
        .iter()
        .zip(&outcome)
        .filter(|(_, result)| result.is_err())
        .filter_map(|(code, _)| code.clone())
        .collect();
    // Rule 3: a code appears once.
    let mut first_index: HashMap<String, usize> = HashMap::new();
    for (index, result) in outcome.iter_mut().enumerate() {
        if let Ok(feature) = result {
            if let Some(first) = first_index.get(&feature.code) {
                *result = Err(Rejection::new(
                    "duplicate_code",
                    format!("code {} already appears at feature {first}", feature.code),
                ));
            } else {
                first_index.insert(feature.code.clone(), index);
            }
        }
    }
    // Rule 4: levels, resolved through parents in the batch (memoised, cycle-safe).
    let mut resolved: HashMap<usize, Result<Level, Rejection>> = HashMap::new();
    for index in 0..outcome.len() {
        let _ = resolve(
            index,
            &outcome,
            &first_index,
            existing,
            &rejected_codes,
            &mut resolved,
            &mut Vec::new(),
        );
    }
    let mut results = Vec::with_capacity(outcome.len());
    let mut accepted = Vec::new();
    for (index, (result, code)) in outcome.into_iter().zip(codes).enumerate() {
        let result = result.and_then(|feature| {
            resolved
                .remove(&index)
                .unwrap_or_else(|| Err(Rejection::new("internal", "unresolved")))
                .map(|level| (feature, level))
        });
        match result {
            Ok((feature, level)) => {
                results.push(FeatureResult {
                    index,
                    code: Some(feature.code.clone()),
                    status: "valid",
                    error: None,
                    repairs: feature.repairs.clone(),
                });
                accepted.push(AreaRecord {
                    bbox: geometry::bbox(&feature.geometry),
                    geometry: geometry::to_geojson(&feature.geometry, Crs::Wgs84).to_string(),
                    code: feature.code,
                    name: feature.name,
                    level,
                    parent: feature.parent,
                    version: 0,
                    updated_at: 0,
                });
            }
            Err(rejection) => results.push(FeatureResult {
                index,
                code,
                status: "rejected",
                error: Some(rejection),
                repairs: Vec::new(),
            }),
        }
    }
    ImportPlan { results, accepted }
}

fn resolve(
    index: usize,
    features: &[Result<ValidFeature, Rejection>],
    by_code: &HashMap<String, usize>,
    existing: &HashMap<String, Level>,
    rejected_codes: &std::collections::HashSet<String>,
    resolved: &mut HashMap<usize, Result<Level, Rejection>>,
    visiting: &mut Vec<usize>,
) -> Result<Level, Rejection> {
    if let Some(done) = resolved.get(&index) {
        return done.clone();
    }
    let Ok(feature) = &features[index] else {
        return Err(Rejection::new("rejected", "feature was rejected"));
    };
    if visiting.contains(&index) {
        return Err(Rejection::new(
            "parent_cycle",
            format!("{} is its own ancestor", feature.code),
        ));
    }
    visiting.push(index);
    let parent_level = match &feature.parent {
        None => Ok(None),
        Some(parent) if *parent == feature.code => Err(Rejection::new(
            "parent_cycle",
            format!("{} names itself as parent", feature.code),
        )),
        Some(parent) => match by_code.get(parent) {
            Some(&parent_index) => {
                match resolve(
                    parent_index,
                    features,
                    by_code,
                    existing,
                    rejected_codes,
                    resolved,
                    visiting,
                ) {
                    Ok(level) => Ok(Some(level)),
                    Err(e) if e.code == "parent_cycle" => Err(e),
                    Err(_) => Err(Rejection::new(
                        "parent_rejected",
                        format!("parent {parent} was rejected"),
                    )),
                }
            }
            None => match existing.get(parent) {
                Some(&level) => Ok(Some(level)),
                None if rejected_codes.contains(parent) => Err(Rejection::new(
                    "parent_rejected",
                    format!("parent {parent} was rejected"),
                )),
                None => Err(Rejection::new(
                    "unknown_parent",
                    format!("no area {parent} exists or is imported"),
                )),
            },
        },
    };
    visiting.pop();
    let result = parent_level.and_then(|parent_level| {
        let stored = existing.get(&feature.code).copied();
        let level = match (feature.level, parent_level) {
            (Some(level), _) => level,
            (None, Some(parent)) => parent.child().ok_or_else(|| {
                Rejection::new("level_not_below_parent", "a grid cannot have children")
            })?,
            (None, None) => stored.unwrap_or(Level::Grid),
        };
        if let Some(parent) = parent_level
            && parent >= level
        {
            return Err(Rejection::new(
                "level_not_below_parent",
                format!("a {level} cannot be a child of a {parent}"),
            ));
        }
        if let Some(stored) = stored
            && stored != level
        {
            return Err(Rejection::new(
                "level_change",
                format!(
                    "{} is stored as a {stored}; import under a new code to change its level",
                    feature.code
                ),
            ));
        }
        Ok(level)
    });
    resolved.insert(index, result.clone());
    result
}

impl From<CollectionError> for crate::error::ApiError {
    /// The one mapping of a body that is not a FeatureCollection to an answer: 400
    /// `invalid_json` when it is not JSON at all, 400 `invalid_geojson` when it is other JSON.
    fn from(error: CollectionError) -> Self {
        let code = match error {
            CollectionError::NotJson(_) => "invalid_json",
            CollectionError::NotFeatureCollection => "invalid_geojson",
        };
        crate::error::ApiError::bad_request(code, error.to_string())
    }
}

/// Imports the areas of a FeatureCollection for `actor`: each feature checked (and repaired
/// where that is safe) in `crs`, planned against the map, written at a new map version with the
/// re-ownership of the records where they lie now or lay before. With any feature invalid,
/// nothing is imported (422 `import_rejected` with every feature's result) unless `partial`.
/// Returns the report the API answers with.
pub async fn import_areas(
    state: &crate::state::AppState,
    actor: &str,
    body: &[u8],
    crs: Crs,
    partial: bool,
) -> crate::error::ApiResult<Value> {
    use serde_json::{Map, json};

    use crate::error::ApiError;
    use crate::reown::{self, ReownReport};

    let features = features_of(body)?;
    // Geometry validation is CPU work proportional to the vertices: keep it off the workers.
    let checked =
        actix_web::web::block(move || features.iter().map(|f| check(f, crs)).collect::<Vec<_>>())
            .await
            .map_err(ApiError::internal)?;
    let codes = referenced_codes(&checked);
    let existing: HashMap<String, Level> =
        state.store.area_levels(&codes).await?.into_iter().collect();
    let mut plan = plan(checked, &existing);
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
        let imported = state
            .store
            .import_areas(&plan.accepted, actor, sync_core::now_ms())
            .await?;
        // Records where the areas lie now or lay before get their owner under the new map
        // (a record in the unassigned queue finds the grid just imported around it).
        let reownership = reown::run_job(
            state,
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
        .inc_by(plan.accepted.len() as u64);
    tracing::info!(
        imported = plan.accepted.len(),
        rejected,
        version,
        "grid map imported"
    );
    Ok(json!({
        "map_version": version,
        "imported": plan.accepted.len(),
        "rejected": rejected,
        "results": plan.results,
        "reownership": reownership,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feature(code: &str, parent: Option<&str>, level: Option<&str>) -> Value {
        json!({
            "type": "Feature",
            "properties": { "code": code, "name": code, "parent": parent, "level": level },
            "geometry": { "type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1],[0,0]]] },
        })
    }

    fn run(features: Vec<Value>, existing: &[(&str, Level)]) -> ImportPlan {
        let checked = features.iter().map(|f| check(f, Crs::Wgs84)).collect();
        let existing = existing.iter().map(|(c, l)| (c.to_string(), *l)).collect();
        plan(checked, &existing)
    }

    fn codes(plan: &ImportPlan) -> Vec<Option<&'static str>> {
        plan.results
            .iter()
            .map(|r| r.error.as_ref().map(|e| e.code))
            .collect()
    }

    #[test]
    fn levels_follow_parents_declared_later_in_the_same_import() {
        let plan = run(
            vec![
                feature("V1G1", Some("V1"), None),
                feature("V1", None, Some("village")),
            ],
            &[],
        );
        assert_eq!(codes(&plan), [None, None]);
        let grid = plan.accepted.iter().find(|a| a.code == "V1G1").unwrap();
        assert_eq!(grid.level, Level::Grid);
    }

    #[test]
    fn unknown_parents_duplicates_and_cycles_are_rejected() {
        let plan = run(
            vec![
                feature("A", Some("NOPE"), None),
                feature("B", None, None),
                feature("B", None, None),
                feature("C", Some("D"), None),
                feature("D", Some("C"), None),
            ],
            &[],
        );
        assert_eq!(
            codes(&plan),
            [
                Some("unknown_parent"),
                None,
                Some("duplicate_code"),
                Some("parent_cycle"),
                Some("parent_cycle")
            ]
        );
    }

    #[test]
    fn a_child_must_be_below_its_parent_and_keep_its_stored_level() {
        let plan = run(
            vec![
                feature("T", Some("G"), Some("township")),
                feature("X", None, Some("village")),
            ],
            &[("G", Level::Grid), ("X", Level::Grid)],
        );
        assert_eq!(
            codes(&plan),
            [Some("level_not_below_parent"), Some("level_change")]
        );
    }

    #[test]
    fn a_child_of_a_rejected_parent_is_rejected_with_that_reason() {
        let mut bad = feature("P", None, Some("village"));
        bad["geometry"]["coordinates"][0][2] = json!([0, 95]);
        let plan = run(vec![bad, feature("PG", Some("P"), None)], &[]);
        assert_eq!(
            codes(&plan),
            [Some("out_of_range"), Some("parent_rejected")]
        );
    }

    #[test]
    fn numeric_codes_are_read_as_digits_and_bad_properties_are_named() {
        let mut numeric = feature("x", None, Some("county"));
        numeric["properties"]["code"] = json!(220302);
        let mut nameless = feature("N", None, None);
        nameless["properties"]["name"] = json!("");
        let mut bad_level = feature("L", None, Some("province"));
        bad_level["properties"]["code"] = json!("L");
        let plan = run(
            vec![numeric, nameless, bad_level, json!({"type": "Point"})],
            &[],
        );
        assert_eq!(plan.accepted[0].code, "220302");
        assert_eq!(
            codes(&plan),
            [
                None,
                Some("missing_name"),
                Some("invalid_level"),
                Some("not_a_feature")
            ]
        );
    }

    #[test]
    fn a_body_that_is_not_a_feature_collection_is_refused_whole() {
        assert!(matches!(
            features_of(b"nope"),
            Err(CollectionError::NotJson(_))
        ));
        assert!(matches!(
            features_of(br#"{"type":"Feature"}"#),
            Err(CollectionError::NotFeatureCollection)
        ));
        assert_eq!(
            features_of(br#"{"type":"FeatureCollection","features":[]}"#)
                .unwrap()
                .len(),
            0
        );
    }
}

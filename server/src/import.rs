//! Planning a grid-map import: validate every feature, resolve levels and parents, and decide per
//! feature whether it can be written. Pure except for the existing levels it is handed.
//!
//! Rules, in the order they are checked for each feature:
//! 1. The code is 1–64 of ASCII letters, digits, `_`, `-`, `.` (a JSON integer is accepted and
//!    read as its decimal digits, as GIS exports of division codes often have them); the name is
//!    a non-empty string; the parent (optional) is a code; the level (optional) is one of city,
//!    county, township, village, grid (or 市, 县, 区, 乡, 镇, 街道, 村, 社区, 网格). Which
//!    properties hold them is the caller's [`AttributeMapping`], else the first present of
//!    well-known names (`code`, `grid_id`, `GRIDCODE`, `网格编码`, …).
//! 2. The geometry is a valid Polygon or MultiPolygon (see [`crate::geometry`]).
//! 3. A code appears once per import.
//! 4. What a feature leaves out never clears what its area already has: an existing area keeps
//!    its parent and its level (import under a new code to change the level).
//! 5. A new area's level is the given one; else one below its given parent's; else read from
//!    its code's structure (a division code of 4, 6, 9 or 12 digits is a city, county,
//!    township or village; a longer one a grid); else `grid`. A new area without a parent gets
//!    the deepest shallower area, in the map or in the same import, that contains it
//!    ([`infer_parents`]). Every kept or inferred value is reported with where it came from.
//! 6. The parent must exist (in the database or earlier or later in the same import), must not
//!    be the area itself, and must be of a shallower level.

use std::collections::HashMap;

use geo::MultiPolygon;
use serde::Serialize;
use serde_json::Value;

use crate::coords::Crs;
use crate::domain::{AreaRecord, Level};
use crate::geometry::{self, GeometryError, Repair};
use crate::store::RegisterCounts;

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

/// A value the import filled in for a feature: which field, the value, and where it came from
/// (`stored`: what the area already had; `containment`: the area around it; `code`: the code's
/// structure; `parent`: one level below the parent).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Inference {
    /// `parent` or `level`.
    pub field: &'static str,
    /// The value filled in.
    pub value: String,
    /// Where it came from.
    pub from: &'static str,
}

/// Which feature properties hold an area's code, name, parent and level. A field left `None`
/// is read from the first present of its well-known names ([`AttributeMapping::ALIASES`]).
#[derive(Debug, Clone, Default)]
pub struct AttributeMapping {
    /// The property holding the code.
    pub code: Option<String>,
    /// The property holding the name.
    pub name: Option<String>,
    /// The property holding the parent's code.
    pub parent: Option<String>,
    /// The property holding the level.
    pub level: Option<String>,
}

impl AttributeMapping {
    /// Well-known property names per field, in order of preference; ASCII ones match in any
    /// case.
    pub const ALIASES: [(&'static str, &'static [&'static str]); 6] = [
        (
            "code",
            &[
                "code",
                "grid_id",
                "gridcode",
                "grid_code",
                "adcode",
                "网格编码",
                "网格代码",
                "区划代码",
                "编码",
                "代码",
            ],
        ),
        (
            "name",
            &["name", "grid_name", "网格名称", "名称", "区划名称"],
        ),
        (
            "parent",
            &["parent", "parent_code", "parent_id", "上级编码", "上级代码"],
        ),
        ("level", &["level", "级别", "层级"]),
        // The grid register's counts, imported with the grids.
        ("households", &["households", "户数", "总户数"]),
        ("population", &["population", "人口", "人口数", "总人口"]),
    ];

    fn explicit(&self, field: &str) -> Option<&str> {
        match field {
            "code" => self.code.as_deref(),
            "name" => self.name.as_deref(),
            "parent" => self.parent.as_deref(),
            "level" => self.level.as_deref(),
            _ => None,
        }
    }

    /// The property a field is read from in these properties, and its value (`None` when it
    /// is absent or `null`).
    pub fn find<'a>(
        &self,
        properties: &'a serde_json::Map<String, Value>,
        field: &str,
    ) -> (String, Option<&'a Value>) {
        let present = |value: Option<&'a Value>| value.filter(|v| !v.is_null());
        if let Some(key) = self.explicit(field) {
            return (key.to_string(), present(properties.get(key)));
        }
        let aliases = Self::ALIASES
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, a)| *a)
            .unwrap_or(&[]);
        for alias in aliases {
            let found = properties.get_key_value(*alias).or_else(|| {
                properties
                    .iter()
                    .find(|(key, _)| key.is_ascii() && key.eq_ignore_ascii_case(alias))
            });
            if let Some((key, value)) = found
                && !value.is_null()
            {
                return (key.clone(), Some(value));
            }
        }
        (field.to_string(), None)
    }
}

/// The level a division code's structure says: 4, 6, 9 and 12 digits are a city, county,
/// township and village (the national administrative division codes); longer all-digit codes
/// are grids. Anything else says nothing.
pub fn level_of_code(code: &str) -> Option<Level> {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match code.len() {
        4 => Some(Level::City),
        6 => Some(Level::County),
        9 => Some(Level::Township),
        12 => Some(Level::Village),
        n if n > 12 => Some(Level::Grid),
        _ => None,
    }
}

/// A level as GIS files write it: the wire names, or the Chinese ones.
fn parse_level(text: &str) -> Option<Level> {
    if let Ok(level) = text.trim().to_ascii_lowercase().parse::<Level>() {
        return Some(level);
    }
    match text.trim() {
        "市" | "地级市" | "州" | "盟" => Some(Level::City),
        "县" | "区" | "县级市" | "旗" | "市辖区" => Some(Level::County),
        "乡" | "镇" | "街道" | "乡镇" | "苏木" => Some(Level::Township),
        "村" | "社区" | "居委会" | "村委会" | "嘎查" => Some(Level::Village),
        "网格" => Some(Level::Grid),
        _ => None,
    }
}

/// What the database holds of an area an import names.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Its level.
    pub level: Level,
    /// Its parent.
    pub parent: Option<String>,
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
    /// What the import filled in.
    pub inferred: Vec<Inference>,
    /// The grid register's households and population, when the feature gives them.
    pub households: Option<i64>,
    pub population: Option<i64>,
}

/// The most households or people a register count may say.
const MAX_REGISTER_COUNT: i64 = 100_000_000;

/// A register count (households, population) from the properties: a whole number, or a
/// string of digits as spreadsheets export them.
fn count_property(
    properties: &serde_json::Map<String, Value>,
    mapping: &AttributeMapping,
    field: &str,
) -> Result<Option<i64>, Rejection> {
    let (key, value) = mapping.find(properties, field);
    let number = match value {
        None => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match number {
        Some(n) if (0..=MAX_REGISTER_COUNT).contains(&n) => Ok(Some(n)),
        _ => Err(Rejection::new(
            "invalid_register",
            format!("properties.{key} must be a whole number from 0 to {MAX_REGISTER_COUNT}"),
        )),
    }
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
    /// Parents and levels kept or inferred, with where each came from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inferred: Vec<Inference>,
}

/// A whole import, checked.
#[derive(Debug)]
pub struct ImportPlan {
    /// One per input feature.
    pub results: Vec<FeatureResult>,
    /// The areas to write (with version and timestamp to be set by the store).
    pub accepted: Vec<AreaRecord>,
    /// The register counts the accepted features give, written with them.
    pub registers: Vec<RegisterCounts>,
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
    mapping: &AttributeMapping,
    field: &str,
) -> Result<Option<String>, Rejection> {
    let (key, value) = mapping.find(properties, field);
    match value {
        None => Ok(None),
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
pub fn check(feature: &Value, crs: Crs, mapping: &AttributeMapping) -> Checked {
    let code = feature.get("properties").and_then(|p| {
        code_property(p.as_object()?, mapping, "code")
            .ok()
            .flatten()
    });
    (code, check_feature(feature, crs, mapping))
}

/// Validates one feature on its own.
pub fn check_feature(
    feature: &Value,
    crs: Crs,
    mapping: &AttributeMapping,
) -> Result<ValidFeature, Rejection> {
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
    let code = code_property(properties, mapping, "code")?.ok_or_else(|| {
        let (key, _) = mapping.find(properties, "code");
        Rejection::new(
            "missing_code",
            format!(
                "properties.{key} is required (name the property that holds the code with code_property)"
            ),
        )
    })?;
    let name = match mapping.find(properties, "name") {
        (_, Some(Value::String(s))) if !s.trim().is_empty() && s.chars().count() <= 200 => {
            s.clone()
        }
        (key, _) => {
            return Err(Rejection::new(
                "missing_name",
                format!("properties.{key} must be a non-empty string of at most 200 characters"),
            ));
        }
    };
    let parent = code_property(properties, mapping, "parent")?;
    let level = match mapping.find(properties, "level") {
        (_, None) => None,
        (key, Some(Value::String(s))) => Some(parse_level(s).ok_or_else(|| {
            Rejection::new(
                "invalid_level",
                format!("properties.{key} {s:?}: use city, county, township, village or grid"),
            )
        })?),
        (key, Some(other)) => {
            return Err(Rejection::new(
                "invalid_level",
                format!("properties.{key} must be a string, not {other}"),
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
    let households = count_property(properties, mapping, "households")?;
    let population = count_property(properties, mapping, "population")?;
    let repaired = geometry::parse_geometry_repaired(geometry.as_ref(), crs)?;
    Ok(ValidFeature {
        code,
        name,
        parent,
        level,
        geometry: repaired.geometry,
        repairs: repaired.repairs,
        inferred: Vec::new(),
        households,
        population,
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

/// An existing area keeps the parent a feature leaves out (rule 4).
pub fn keep_stored_parents(checked: &mut [Checked], existing: &HashMap<String, Stored>) {
    for feature in checked.iter_mut().filter_map(|(_, r)| r.as_mut().ok()) {
        if feature.parent.is_none()
            && let Some(Stored {
                parent: Some(parent),
                ..
            }) = existing.get(&feature.code)
        {
            feature.parent = Some(parent.clone());
            feature.inferred.push(Inference {
                field: "parent",
                value: parent.clone(),
                from: "stored",
            });
        }
    }
}

/// The level a feature will have when it can be told without its parent: given, stored, or
/// read from its code.
fn level_without_parent(
    feature: &ValidFeature,
    existing: &HashMap<String, Stored>,
) -> Option<Level> {
    feature
        .level
        .or_else(|| existing.get(&feature.code).map(|s| s.level))
        .or_else(|| level_of_code(&feature.code))
}

/// A new area without a parent gets the deepest area of a shallower level that contains a
/// point inside it (rule 5): among the map's areas (`map`, the current snapshot) and the
/// import's own features whose level is known without their parents. Between two equally deep
/// containers the import's own wins (it is newer), then the smaller code.
pub fn infer_parents(
    checked: &mut [Checked],
    existing: &HashMap<String, Stored>,
    map: &crate::state::MapSnapshot,
) {
    use geo::{BoundingRect, Contains, InteriorPoint};
    use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};

    // The import's features that can be containers: known level, and a box.
    let containers: Vec<(usize, Level)> = checked
        .iter()
        .enumerate()
        .filter_map(|(i, (_, r))| {
            let f = r.as_ref().ok()?;
            Some((i, level_without_parent(f, existing)?))
        })
        .collect();
    let tree = RTree::bulk_load(
        containers
            .iter()
            .filter_map(|&(i, level)| {
                let f = checked[i].1.as_ref().ok()?;
                let rect = f.geometry.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    (i, level),
                ))
            })
            .collect(),
    );
    let mut found: Vec<(usize, String)> = Vec::new();
    for (index, (_, result)) in checked.iter().enumerate() {
        let Ok(feature) = result else { continue };
        if feature.parent.is_some() || existing.contains_key(&feature.code) {
            continue;
        }
        let level = level_without_parent(feature, existing).unwrap_or(Level::Grid);
        let Some(point) = feature.geometry.interior_point() else {
            continue;
        };
        // The import's own candidates.
        let mut best: Option<(Level, bool, String)> = None;
        let mut consider = |candidate_level: Level, own: bool, code: &str| {
            if candidate_level >= level {
                return;
            }
            let better = match &best {
                None => true,
                Some((l, o, c)) => {
                    (candidate_level, own, std::cmp::Reverse(code))
                        > (*l, *o, std::cmp::Reverse(c.as_str()))
                }
            };
            if better {
                best = Some((candidate_level, own, code.to_string()));
            }
        };
        let envelope = AABB::from_point([point.x(), point.y()]);
        for candidate in tree.locate_in_envelope_intersecting(&envelope) {
            let (other, other_level) = candidate.data;
            if other == index {
                continue;
            }
            if let Ok(container) = &checked[other].1
                && container.geometry.contains(&point)
            {
                consider(other_level, true, &container.code);
            }
        }
        // The map's: the owner of the point and the areas above it.
        if let Some(owner) = map.index.locate(point.x(), point.y()) {
            for id in map.index.path(owner) {
                let code = &map.index.area(id).code;
                if code != &feature.code {
                    consider(map.meta[id as usize].level, false, code);
                }
            }
        }
        if let Some((_, _, code)) = best {
            found.push((index, code));
        }
    }
    for (index, parent) in found {
        if let Ok(feature) = &mut checked[index].1 {
            feature.inferred.push(Inference {
                field: "parent",
                value: parent.clone(),
                from: "containment",
            });
            feature.parent = Some(parent);
        }
    }
}

/// Resolves levels and parents over the whole import and produces the plan.
pub fn plan(checked: Vec<Checked>, existing: &HashMap<String, Stored>) -> ImportPlan {
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
    let mut resolved: HashMap<usize, Resolved> = HashMap::new();
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
    let mut registers = Vec::new();
    for (index, (result, code)) in outcome.into_iter().zip(codes).enumerate() {
        let result = result.and_then(|feature| {
            resolved
                .remove(&index)
                .unwrap_or_else(|| Err(Rejection::new("internal", "unresolved")))
                .map(|(level, from)| (feature, level, from))
        });
        match result {
            Ok((mut feature, level, from)) => {
                if let Some(from) = from {
                    feature.inferred.push(Inference {
                        field: "level",
                        value: level.as_str().to_string(),
                        from,
                    });
                }
                results.push(FeatureResult {
                    index,
                    code: Some(feature.code.clone()),
                    status: "valid",
                    error: None,
                    repairs: feature.repairs.clone(),
                    inferred: feature.inferred.clone(),
                });
                if feature.households.is_some() || feature.population.is_some() {
                    registers.push(RegisterCounts {
                        code: feature.code.clone(),
                        households: feature.households,
                        population: feature.population,
                    });
                }
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
                inferred: Vec::new(),
            }),
        }
    }
    ImportPlan {
        results,
        accepted,
        registers,
    }
}

/// A resolved level, and where it came from when it was not given (`None`: given).
type Resolved = Result<(Level, Option<&'static str>), Rejection>;

fn resolve(
    index: usize,
    features: &[Result<ValidFeature, Rejection>],
    by_code: &HashMap<String, usize>,
    existing: &HashMap<String, Stored>,
    rejected_codes: &std::collections::HashSet<String>,
    resolved: &mut HashMap<usize, Resolved>,
    visiting: &mut Vec<usize>,
) -> Resolved {
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
                    Ok((level, _)) => Ok(Some(level)),
                    Err(e) if e.code == "parent_cycle" => Err(e),
                    Err(_) => Err(Rejection::new(
                        "parent_rejected",
                        format!("parent {parent} was rejected"),
                    )),
                }
            }
            None => match existing.get(parent) {
                Some(stored) => Ok(Some(stored.level)),
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
        let stored = existing.get(&feature.code).map(|s| s.level);
        let (level, from) = match (feature.level, stored, parent_level) {
            (Some(level), _, _) => (level, None),
            (None, Some(stored), _) => (stored, Some("stored")),
            (None, None, Some(parent)) => (
                parent.child().ok_or_else(|| {
                    Rejection::new("level_not_below_parent", "a grid cannot have children")
                })?,
                Some("parent"),
            ),
            (None, None, None) => match level_of_code(&feature.code) {
                Some(level) => (level, Some("code")),
                None => (Level::Grid, Some("default")),
            },
        };
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
        if let Some(parent) = parent_level
            && parent >= level
        {
            return Err(Rejection::new(
                "level_not_below_parent",
                format!("a {level} cannot be a child of a {parent}"),
            ));
        }
        Ok((level, from))
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

/// How an import reads its features and what it does with them.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The coordinate system of the geometries.
    pub crs: Crs,
    /// Import the valid features even when some are rejected.
    pub partial: bool,
    /// Check and report everything; write nothing.
    pub dry_run: bool,
    /// Which properties hold code, name, parent and level.
    pub mapping: AttributeMapping,
}

/// Imports the areas of a FeatureCollection for `actor`: each feature checked (and repaired
/// where that is safe) in `crs`, planned against the map (what a feature leaves out kept, a new
/// area's parent and level inferred), written at a new map version with the re-ownership of
/// the records where they lie now or lay before. With any feature invalid, nothing is imported
/// (422 `import_rejected` with every feature's result) unless `partial`; with `dry_run`
/// nothing is written and the answer says what would be. Returns the report the API answers
/// with.
pub async fn import_areas(
    state: &crate::state::AppState,
    actor: &str,
    body: &[u8],
    options: ImportOptions,
) -> crate::error::ApiResult<Value> {
    use serde_json::{Map, json};

    use crate::error::ApiError;
    use crate::reown::{self, ReownReport};

    let ImportOptions {
        crs,
        partial,
        dry_run,
        mapping,
    } = options;
    let features = features_of(body)?;
    // Geometry validation is CPU work proportional to the vertices: keep it off the workers.
    let checked = actix_web::web::block(move || {
        features
            .iter()
            .map(|f| check(f, crs, &mapping))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(ApiError::internal)?;
    let heads = |codes: Vec<String>| async move {
        let heads = state.store.area_heads(&codes).await?;
        Ok::<_, ApiError>(
            heads
                .into_iter()
                .map(|(code, level, parent)| (code, Stored { level, parent })),
        )
    };
    let mut existing: HashMap<String, Stored> = heads(referenced_codes(&checked)).await?.collect();
    let map = state.grids.snapshot().await?;
    let (checked, known) = actix_web::web::block(move || {
        let mut checked = checked;
        keep_stored_parents(&mut checked, &existing);
        infer_parents(&mut checked, &existing, &map);
        (checked, existing)
    })
    .await
    .map_err(ApiError::internal)?;
    existing = known;
    // Parents inferred from the map are read like the others (the map may have moved on).
    let inferred: Vec<String> = referenced_codes(&checked)
        .into_iter()
        .filter(|code| !existing.contains_key(code))
        .collect();
    existing.extend(heads(inferred).await?);
    let mut plan = plan(checked, &existing);
    let rejected = plan.rejected();
    if dry_run {
        return Ok(json!({
            "dry_run": true,
            "map_version": state.store.map_version().await?,
            "imported": 0,
            "valid": plan.accepted.len(),
            "rejected": rejected,
            "results": plan.results,
        }));
    }
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
            .import_areas(&plan.accepted, &plan.registers, actor, sync_core::now_ms())
            .await?;
        // Records where the areas lie now or lay before get their owner under the new map
        // (a record in the unassigned queue finds the grid just imported around it).
        let reownership = reown::run_job(
            state,
            imported.job,
            &imported.boxes,
            &crate::edits::edit_words(actor, "import"),
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
        let checked = features
            .iter()
            .map(|f| check(f, Crs::Wgs84, &AttributeMapping::default()))
            .collect();
        let existing = existing
            .iter()
            .map(|(c, l)| {
                let stored = Stored {
                    level: *l,
                    parent: None,
                };
                (c.to_string(), stored)
            })
            .collect();
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

    #[test]
    fn a_division_code_says_its_level_and_anything_else_says_nothing() {
        let cases = [
            ("2203", Some(Level::City)),
            ("220302", Some(Level::County)),
            ("220302001", Some(Level::Township)),
            ("220302001001", Some(Level::Village)),
            ("22030200100101", Some(Level::Grid)),
            ("22", None),
            ("22030", None),
            ("A-220302", None),
        ];
        for (code, level) in cases {
            assert_eq!(level_of_code(code), level, "{code}");
        }
    }

    #[test]
    fn levels_are_read_in_english_or_chinese() {
        assert_eq!(parse_level("Village"), Some(Level::Village));
        assert_eq!(parse_level("街道"), Some(Level::Township));
        assert_eq!(parse_level("社区"), Some(Level::Village));
        assert_eq!(parse_level("网格"), Some(Level::Grid));
        assert_eq!(parse_level("省"), None);
    }

    #[test]
    fn well_known_property_names_are_found_in_any_case_and_named_ones_exactly() {
        let properties = json!({ "GRIDCODE": "G1", "网格名称": "一号网格", "Level": null })
            .as_object()
            .unwrap()
            .clone();
        let defaults = AttributeMapping::default();
        assert_eq!(
            defaults.find(&properties, "code"),
            ("GRIDCODE".to_string(), Some(&json!("G1")))
        );
        assert_eq!(
            defaults.find(&properties, "name").1,
            Some(&json!("一号网格"))
        );
        assert_eq!(defaults.find(&properties, "level").1, None);
        let named = AttributeMapping {
            code: Some("gridcode".into()),
            ..Default::default()
        };
        assert_eq!(named.find(&properties, "code").1, None);
    }

    #[test]
    fn an_existing_area_keeps_the_parent_a_feature_leaves_out() {
        let mut checked: Vec<Checked> = [feature("X", None, None), feature("Y", Some("P2"), None)]
            .iter()
            .map(|f| check(f, Crs::Wgs84, &AttributeMapping::default()))
            .collect();
        let stored = |parent: &str| Stored {
            level: Level::Grid,
            parent: Some(parent.into()),
        };
        let existing = HashMap::from([
            ("X".to_string(), stored("P1")),
            ("Y".to_string(), stored("P1")),
        ]);
        keep_stored_parents(&mut checked, &existing);
        let parents: Vec<Option<String>> = checked
            .iter()
            .map(|(_, r)| r.as_ref().unwrap().parent.clone())
            .collect();
        assert_eq!(parents, [Some("P1".to_string()), Some("P2".to_string())]);
    }

    /// A feature from parts a file may hold: a code from a small set (so codes repeat and name
    /// each other as parents), a level or none, and a ring that may be open, degenerate,
    /// self-crossing or off the globe.
    fn arbitrary_feature() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let code = prop_oneof![
            Just(json!("V1")),
            Just(json!("V1G1")),
            Just(json!("V1G2")),
            Just(json!(220302001001u64)),
            Just(json!("bad code!")),
            Just(json!(null)),
        ];
        let level = prop_oneof![
            Just(json!(null)),
            Just(json!("village")),
            Just(json!("grid")),
            Just(json!("网格")),
            Just(json!("nowhere")),
        ];
        let ring = proptest::collection::vec((-200.0f64..200.0, -100.0f64..100.0), 0..8);
        (
            code,
            proptest::option::of(0usize..3),
            level,
            ring,
            any::<bool>(),
        )
            .prop_map(|(code, parent, level, ring, close)| {
                let mut ring: Vec<Value> = ring.into_iter().map(|(x, y)| json!([x, y])).collect();
                if close && let Some(first) = ring.first().cloned() {
                    ring.push(first);
                }
                let parent = parent.map(|i| ["V1", "V1G1", "nowhere"][i]);
                json!({
                    "type": "Feature",
                    "properties": { "code": code, "name": "n", "parent": parent, "level": level },
                    "geometry": { "type": "Polygon", "coordinates": [ring] },
                })
            })
    }

    proptest::proptest! {
        /// Whatever a collection holds, every feature gets one result, each is either written
        /// or rejected, a code is written once, and a written parent is of a shallower level.
        #[test]
        fn every_feature_is_written_once_or_rejected(
            features in proptest::collection::vec(arbitrary_feature(), 0..8)
        ) {
            let plan = run(features.clone(), &[]);
            proptest::prop_assert_eq!(plan.results.len(), features.len());
            proptest::prop_assert_eq!(plan.rejected() + plan.accepted.len(), features.len());
            let levels: HashMap<&str, Level> =
                plan.accepted.iter().map(|a| (a.code.as_str(), a.level)).collect();
            proptest::prop_assert_eq!(levels.len(), plan.accepted.len());
            for area in &plan.accepted {
                proptest::prop_assert!(crate::geometry::from_stored(&area.geometry).is_ok());
                if let Some(parent) = area.parent.as_deref().and_then(|p| levels.get(p)) {
                    proptest::prop_assert!(*parent < area.level);
                }
            }
        }
    }
}

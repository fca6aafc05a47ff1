//! Records from GeoJSON: the point files people keep (suggestion-box batches typed into a
//! spreadsheet, exports from other systems), checked feature by feature.
//!
//! Repaired and reported, per feature: a byte-order mark before the JSON, coordinates written
//! as strings, a MultiPoint holding a single point, a third (height) coordinate, and longitude
//! and latitude swapped (a point that only lands in China with its axes exchanged). Rejected
//! with a reason: no geometry or not a point, coordinates out of range, a missing title, an
//! unknown kind, channel or crs. Properties the record has no place for are ignored.

use serde::Serialize;
use serde_json::{Map, Value, json};
use sync_core::NewRecord;

use crate::coords::{self, Crs};
use crate::import::Rejection;

/// A repair made to one feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointRepair {
    /// `numeric_strings`, `single_multipoint`, `dropped_z`, `swapped_axes`.
    pub code: &'static str,
    pub detail: String,
}

/// One feature's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PointResult {
    pub index: usize,
    /// `imported`, `valid` (the import was refused as a whole) or `rejected`.
    pub status: &'static str,
    /// The new record's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Rejection>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<PointRepair>,
}

fn number(value: &Value, repairs: &mut Vec<PointRepair>) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let parsed = s.trim().parse::<f64>().ok()?;
            if !repairs.iter().any(|r| r.code == "numeric_strings") {
                repairs.push(PointRepair {
                    code: "numeric_strings",
                    detail: "coordinates written as text were read as numbers".into(),
                });
            }
            Some(parsed)
        }
        _ => None,
    }
}

/// The point of a feature's geometry, in `crs`, with the repairs it needed.
fn point_of(
    geometry: Option<&Value>,
    repairs: &mut Vec<PointRepair>,
) -> Result<(f64, f64), Rejection> {
    let geometry = geometry
        .filter(|g| !g.is_null())
        .ok_or_else(|| Rejection::new("missing_geometry", "a record needs a Point geometry"))?;
    let kind = geometry.get("type").and_then(Value::as_str).unwrap_or("");
    let coordinates = geometry.get("coordinates");
    let position = match (kind, coordinates) {
        ("Point", Some(position)) => position,
        ("MultiPoint", Some(Value::Array(points))) if points.len() == 1 => {
            repairs.push(PointRepair {
                code: "single_multipoint",
                detail: "a MultiPoint of one point was read as a Point".into(),
            });
            &points[0]
        }
        _ => {
            return Err(Rejection::new(
                "unsupported_geometry_type",
                format!("a record's geometry must be a Point, not {kind:?}"),
            ));
        }
    };
    let numbers = position
        .as_array()
        .ok_or_else(|| Rejection::new("invalid_position", "coordinates must be [lon, lat]"))?;
    if numbers.len() < 2 {
        return Err(Rejection::new(
            "invalid_position",
            "coordinates need a longitude and a latitude",
        ));
    }
    let (Some(lon), Some(lat)) = (number(&numbers[0], repairs), number(&numbers[1], repairs))
    else {
        return Err(Rejection::new(
            "invalid_position",
            "coordinates must be numbers",
        ));
    };
    if numbers.len() > 2 {
        repairs.push(PointRepair {
            code: "dropped_z",
            detail: "the height coordinate was dropped".into(),
        });
    }
    if !lon.is_finite() || !lat.is_finite() {
        return Err(Rejection::new("not_finite", "coordinates must be finite"));
    }
    if !coords::is_in_china(lon, lat) && coords::is_in_china(lat, lon) {
        repairs.push(PointRepair {
            code: "swapped_axes",
            detail: format!("[{lon}, {lat}] is [lat, lon] of a point in China; swapped"),
        });
        return Ok((lat, lon));
    }
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        let mut rejection = Rejection::new(
            "out_of_range",
            format!("[{lon}, {lat}] is not a longitude and a latitude"),
        );
        rejection.location = Some([lon, lat]);
        return Err(rejection);
    }
    Ok((lon, lat))
}

const FIELDS: [&str; 7] = [
    "kind",
    "title",
    "description",
    "category",
    "channel",
    "claimed_grid",
    "complainant",
];

/// Checks one feature; on success, the record to create (its location in `crs`).
pub fn check_point(
    feature: &Value,
    crs: Crs,
    default_channel: &str,
) -> Result<(NewRecord, Vec<PointRepair>), (Rejection, Vec<PointRepair>)> {
    let mut repairs = Vec::new();
    let result = (|| {
        let object = feature
            .as_object()
            .filter(|o| o.get("type").and_then(Value::as_str) == Some("Feature"))
            .ok_or_else(|| {
                Rejection::new(
                    "not_a_feature",
                    "each member of features must be a GeoJSON Feature",
                )
            })?;
        let (lon, lat) = point_of(object.get("geometry"), &mut repairs)?;
        let empty = Map::new();
        let properties = object
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut fields: Map<String, Value> = properties
            .iter()
            .filter(|(k, v)| FIELDS.contains(&k.as_str()) && !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        fields.entry("kind").or_insert_with(|| json!("complaint"));
        fields
            .entry("channel")
            .or_insert_with(|| json!(default_channel));
        match fields.get("title") {
            Some(Value::String(t)) if !t.trim().is_empty() => {}
            _ => {
                return Err(Rejection::new(
                    "missing_title",
                    "properties.title must be a non-empty string",
                ));
            }
        }
        fields.insert(
            "location".into(),
            json!({ "lon": lon, "lat": lat, "accuracy_m": null, "crs": crs }),
        );
        let record: NewRecord = serde_json::from_value(Value::Object(fields))
            .map_err(|e| Rejection::new("invalid_properties", e.to_string()))?;
        Ok(record)
    })();
    match result {
        Ok(record) => Ok((record, repairs)),
        Err(rejection) => Err((rejection, repairs)),
    }
}

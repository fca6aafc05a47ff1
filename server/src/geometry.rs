//! Turning GeoJSON geometry into validated WGS-84 multipolygons and back.
//!
//! Validation happens on the raw positions first (closure, count, finiteness, range — things the
//! conversion to `geo` types would silently "fix", such as closing an open ring) and then on the
//! converted polygons with geo's `Validation` (self-intersection, holes outside their exterior,
//! rings crossing, overlapping members of a multipolygon).

use geo::{BoundingRect, Coord, LineString, MapCoords, MultiPolygon, Polygon, Validation};
use geojson::{Geometry, GeometryValue, Position};

use crate::coords::Crs;

/// Why a geometry was rejected; `code()` is stable, the message is for people.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryError {
    /// Missing geometry, or not a Polygon/MultiPolygon.
    #[error("geometry must be a Polygon or MultiPolygon, not {0}")]
    UnsupportedType(String),
    /// A position with fewer than two numbers.
    #[error("ring {ring} position {position} needs a longitude and a latitude")]
    ShortPosition {
        /// Ring index (counting rings across all polygons).
        ring: usize,
        /// Position index.
        position: usize,
    },
    /// NaN or infinite.
    #[error("ring {ring} position {position} is not a finite number")]
    NotFinite {
        /// Ring index.
        ring: usize,
        /// Position index.
        position: usize,
    },
    /// Longitude outside ±180 or latitude outside ±90.
    #[error("ring {ring} position {position} is out of range: {lon}, {lat}")]
    OutOfRange {
        /// Ring index.
        ring: usize,
        /// Position index.
        position: usize,
        /// Longitude.
        lon: f64,
        /// Latitude.
        lat: f64,
    },
    /// A ring with fewer than 4 positions.
    #[error("ring {ring} has {count} positions; a closed ring needs at least 4")]
    TooFewPositions {
        /// Ring index.
        ring: usize,
        /// How many it has.
        count: usize,
    },
    /// First and last positions differ.
    #[error("ring {ring} is not closed: its first and last positions differ")]
    UnclosedRing {
        /// Ring index.
        ring: usize,
    },
    /// A polygon with no rings, or a multipolygon with no polygons.
    #[error("geometry is empty")]
    Empty,
    /// A ring crosses itself.
    #[error("{0}")]
    SelfIntersection(String),
    /// Any other topological problem geo reports (holes outside, rings crossing, overlaps).
    #[error("{0}")]
    InvalidTopology(String),
}

impl GeometryError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            GeometryError::UnsupportedType(_) => "unsupported_geometry_type",
            GeometryError::ShortPosition { .. } => "invalid_position",
            GeometryError::NotFinite { .. } => "not_finite",
            GeometryError::OutOfRange { .. } => "out_of_range",
            GeometryError::TooFewPositions { .. } => "too_few_positions",
            GeometryError::UnclosedRing { .. } => "unclosed_ring",
            GeometryError::Empty => "empty_geometry",
            GeometryError::SelfIntersection(_) => "self_intersection",
            GeometryError::InvalidTopology(_) => "invalid_topology",
        }
    }
}

fn rings_of(
    polygon: &[Vec<Position>],
    crs: Crs,
    ring_base: usize,
) -> Result<Polygon, GeometryError> {
    let mut rings = Vec::with_capacity(polygon.len());
    for (offset, ring) in polygon.iter().enumerate() {
        let index = ring_base + offset;
        let mut coords = Vec::with_capacity(ring.len());
        for (position, value) in ring.iter().enumerate() {
            let numbers = value.as_slice();
            if numbers.len() < 2 {
                return Err(GeometryError::ShortPosition {
                    ring: index,
                    position,
                });
            }
            let (lon, lat) = (numbers[0], numbers[1]);
            if !lon.is_finite() || !lat.is_finite() {
                return Err(GeometryError::NotFinite {
                    ring: index,
                    position,
                });
            }
            if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                return Err(GeometryError::OutOfRange {
                    ring: index,
                    position,
                    lon,
                    lat,
                });
            }
            coords.push((lon, lat));
        }
        if coords.len() < 4 {
            return Err(GeometryError::TooFewPositions {
                ring: index,
                count: coords.len(),
            });
        }
        if coords.first() != coords.last() {
            return Err(GeometryError::UnclosedRing { ring: index });
        }
        let converted: Vec<Coord> = coords
            .into_iter()
            .map(|(lon, lat)| {
                let (x, y) = crs.to_wgs84(lon, lat);
                Coord { x, y }
            })
            .collect();
        rings.push(LineString::new(converted));
    }
    let mut rings = rings.into_iter();
    let exterior = rings.next().ok_or(GeometryError::Empty)?;
    Ok(Polygon::new(exterior, rings.collect()))
}

/// Validates a GeoJSON Polygon or MultiPolygon given in `crs` and returns it in WGS-84.
/// Either ring orientation is accepted (and kept: ownership tests do not depend on it).
pub fn parse_geometry(
    geometry: Option<&Geometry>,
    crs: Crs,
) -> Result<MultiPolygon, GeometryError> {
    let Some(geometry) = geometry else {
        return Err(GeometryError::UnsupportedType("null".into()));
    };
    let polygons = match &geometry.value {
        GeometryValue::Polygon { coordinates } => vec![rings_of(coordinates, crs, 0)?],
        GeometryValue::MultiPolygon { coordinates } => {
            let mut polygons = Vec::with_capacity(coordinates.len());
            let mut ring_base = 0;
            for polygon in coordinates {
                polygons.push(rings_of(polygon, crs, ring_base)?);
                ring_base += polygon.len();
            }
            polygons
        }
        other => return Err(GeometryError::UnsupportedType(other.type_name().into())),
    };
    if polygons.is_empty() {
        return Err(GeometryError::Empty);
    }
    for (index, polygon) in polygons.iter().enumerate() {
        if let Err(problem) = polygon.check_validation() {
            let prefix = if polygons.len() > 1 {
                format!("polygon {index}: ")
            } else {
                String::new()
            };
            let message = format!("{prefix}{problem}");
            return Err(match problem {
                geo::algorithm::validation::InvalidPolygon::SelfIntersection(_) => {
                    GeometryError::SelfIntersection(message)
                }
                _ => GeometryError::InvalidTopology(message),
            });
        }
    }
    let multi = MultiPolygon(polygons);
    if multi.0.len() > 1
        && let Err(problem) = multi.check_validation()
    {
        return Err(GeometryError::InvalidTopology(problem.to_string()));
    }
    Ok(multi)
}

/// `[min_lon, min_lat, max_lon, max_lat]` of a non-empty geometry.
pub fn bbox(geometry: &MultiPolygon) -> [f64; 4] {
    match geometry.bounding_rect() {
        Some(rect) => [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
        None => [0.0; 4],
    }
}

/// GeoJSON for a WGS-84 geometry, converted to `crs`; a single polygon is written as a Polygon.
pub fn to_geojson(geometry: &MultiPolygon, crs: Crs) -> Geometry {
    let converted = geometry.map_coords(|c| {
        let (x, y) = crs.from_wgs84(c.x, c.y);
        Coord { x, y }
    });
    if converted.0.len() == 1 {
        Geometry::from(&converted.0[0])
    } else {
        Geometry::from(&converted)
    }
}

/// Reads stored GeoJSON text back into a multipolygon (no validation: it was validated on import).
pub fn from_stored(text: &str) -> Result<MultiPolygon, String> {
    let geometry: Geometry = text.parse().map_err(|e: geojson::Error| e.to_string())?;
    match geo::Geometry::<f64>::try_from(geometry).map_err(|e| e.to_string())? {
        geo::Geometry::Polygon(polygon) => Ok(MultiPolygon(vec![polygon])),
        geo::Geometry::MultiPolygon(multi) => Ok(multi),
        _ => Err("stored geometry is not a polygon".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polygon(rings: Vec<Vec<[f64; 2]>>) -> Geometry {
        Geometry::new(GeometryValue::Polygon {
            coordinates: rings
                .into_iter()
                .map(|ring| ring.into_iter().map(Position::from).collect())
                .collect(),
        })
    }

    fn reason(rings: Vec<Vec<[f64; 2]>>) -> &'static str {
        parse_geometry(Some(&polygon(rings)), Crs::Wgs84)
            .unwrap_err()
            .code()
    }

    const SQUARE: [[f64; 2]; 5] = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]];

    #[test]
    fn a_square_in_either_orientation_is_accepted() {
        assert!(parse_geometry(Some(&polygon(vec![SQUARE.to_vec()])), Crs::Wgs84).is_ok());
        let mut reversed = SQUARE.to_vec();
        reversed.reverse();
        assert!(parse_geometry(Some(&polygon(vec![reversed])), Crs::Wgs84).is_ok());
    }

    #[test]
    fn each_kind_of_invalid_ring_is_named() {
        assert_eq!(reason(vec![SQUARE[..4].to_vec()]), "unclosed_ring");
        assert_eq!(
            reason(vec![vec![[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]),
            "too_few_positions"
        );
        let mut nan = SQUARE.to_vec();
        nan[1][0] = f64::NAN;
        assert_eq!(reason(vec![nan]), "not_finite");
        let mut far = SQUARE.to_vec();
        far[2][1] = 91.0;
        assert_eq!(reason(vec![far]), "out_of_range");
        let bowtie = vec![[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]];
        assert_eq!(reason(vec![bowtie]), "self_intersection");
        let hole_outside = vec![[5.0, 5.0], [6.0, 5.0], [6.0, 6.0], [5.0, 5.0]];
        assert_eq!(
            reason(vec![SQUARE.to_vec(), hole_outside]),
            "invalid_topology"
        );
    }

    #[test]
    fn a_point_geometry_is_unsupported() {
        let point = Geometry::new(GeometryValue::new_point([1.0, 2.0]));
        let error = parse_geometry(Some(&point), Crs::Wgs84).unwrap_err();
        assert_eq!(error.code(), "unsupported_geometry_type");
        assert_eq!(
            parse_geometry(None, Crs::Wgs84).unwrap_err().code(),
            "unsupported_geometry_type"
        );
    }

    #[test]
    fn gcj02_input_is_stored_in_wgs84_and_round_trips() {
        let ring: Vec<[f64; 2]> = SQUARE
            .iter()
            .map(|[x, y]| [124.3 + x * 0.01, 43.1 + y * 0.01])
            .collect();
        let parsed = parse_geometry(Some(&polygon(vec![ring.clone()])), Crs::Gcj02).unwrap();
        let first = parsed.0[0].exterior().0[0];
        assert!((first.x - 124.3).abs() > 1e-3, "converted");
        let back = to_geojson(&parsed, Crs::Gcj02);
        let GeometryValue::Polygon { coordinates } = back.value else {
            panic!("polygon expected")
        };
        let x = coordinates[0][0].as_slice()[0];
        assert!((x - 124.3).abs() < 1e-8);
    }

    #[test]
    fn stored_text_reads_back_as_the_same_geometry() {
        let parsed = parse_geometry(Some(&polygon(vec![SQUARE.to_vec()])), Crs::Wgs84).unwrap();
        let text = to_geojson(&parsed, Crs::Wgs84).to_string();
        assert_eq!(from_stored(&text).unwrap(), parsed);
    }
}

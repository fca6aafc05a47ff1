//! Turning GeoJSON geometry into validated WGS-84 multipolygons and back.
//!
//! Validation happens on the raw positions first (count, finiteness, range) and then on the
//! converted polygons with geo's `Validation` (self-intersection, holes outside their exterior,
//! rings crossing, overlapping members of a multipolygon).
//!
//! The faults real files are full of and that have one obvious fix are repaired, and each repair
//! is reported ([`Repair`]): repeated consecutive vertices are dropped, an open ring is closed,
//! and rings are oriented as RFC 7946 says (exteriors counter-clockwise, holes clockwise).
//! Anything else (a ring crossing itself, a hole outside its polygon) is rejected; a
//! self-intersection is reported with where it is.

use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::orient::{Direction, Orient};
use geo::{
    BoundingRect, Coord, Line, LineString, MapCoords, MultiPolygon, Polygon, Relate, Validation,
    Winding,
};
use geojson::{Geometry, GeometryValue, Position};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::Serialize;

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
    /// A polygon with no rings, or a multipolygon with no polygons.
    #[error("geometry is empty")]
    Empty,
    /// A ring crosses itself; `at` is a crossing point (in the input's CRS).
    #[error("{message} at {}, {}", at[0], at[1])]
    SelfIntersection {
        /// What geo's validation says.
        message: String,
        /// `[lon, lat]` of a crossing.
        at: [f64; 2],
    },
    /// Any other topological problem geo reports (holes outside, rings crossing, overlaps).
    #[error("{0}")]
    InvalidTopology(String),
}

impl GeometryError {
    /// Where the fault is, `[lon, lat]` in the input's CRS, when it has one place.
    pub fn location(&self) -> Option<[f64; 2]> {
        match self {
            GeometryError::SelfIntersection { at, .. } => Some(*at),
            GeometryError::OutOfRange { lon, lat, .. } => Some([*lon, *lat]),
            _ => None,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            GeometryError::UnsupportedType(_) => "unsupported_geometry_type",
            GeometryError::ShortPosition { .. } => "invalid_position",
            GeometryError::NotFinite { .. } => "not_finite",
            GeometryError::OutOfRange { .. } => "out_of_range",
            GeometryError::TooFewPositions { .. } => "too_few_positions",
            GeometryError::Empty => "empty_geometry",
            GeometryError::SelfIntersection { .. } => "self_intersection",
            GeometryError::InvalidTopology(_) => "invalid_topology",
        }
    }
}

/// A fault that was fixed on the way in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Repair {
    /// `duplicate_vertices`, `closed_ring` or `ring_orientation`.
    pub code: &'static str,
    /// Ring index (counting rings across all polygons).
    pub ring: usize,
    /// What was done.
    pub detail: String,
}

/// A geometry that passed validation, in WGS-84, with the repairs made to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Repaired {
    /// The geometry.
    pub geometry: MultiPolygon,
    /// What was fixed, in ring order.
    pub repairs: Vec<Repair>,
}

fn rings_of(
    polygon: &[Vec<Position>],
    crs: Crs,
    ring_base: usize,
    repairs: &mut Vec<Repair>,
) -> Result<Polygon, GeometryError> {
    let mut rings = Vec::with_capacity(polygon.len());
    for (offset, ring) in polygon.iter().enumerate() {
        let index = ring_base + offset;
        let mut coords: Vec<(f64, f64)> = Vec::with_capacity(ring.len());
        let mut duplicates = 0;
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
            if coords.last() == Some(&(lon, lat)) {
                duplicates += 1;
                continue;
            }
            coords.push((lon, lat));
        }
        if duplicates > 0 {
            repairs.push(Repair {
                code: "duplicate_vertices",
                ring: index,
                detail: format!("dropped {duplicates} repeated consecutive positions"),
            });
        }
        if coords.len() >= 3 && coords.first() != coords.last() {
            coords.push(coords[0]);
            repairs.push(Repair {
                code: "closed_ring",
                ring: index,
                detail: "the ring was open: its first position was appended to close it".into(),
            });
        }
        if coords.len() < 4 {
            return Err(GeometryError::TooFewPositions {
                ring: index,
                count: coords.len(),
            });
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

/// A point where two non-adjacent edges of `ring` meet, if any. Edges are found through an
/// R-tree of their boxes, so a ring of thousands of vertices is checked in O(n log n).
pub fn self_intersection(ring: &LineString) -> Option<Coord> {
    let lines: Vec<Line> = ring.lines().collect();
    let n = lines.len();
    let boxes: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let rect = Rectangle::from_corners([l.start.x, l.start.y], [l.end.x, l.end.y]);
            GeomWithData::new(rect, i)
        })
        .collect();
    let tree = RTree::bulk_load(boxes);
    for (i, line) in lines.iter().enumerate() {
        let envelope = AABB::from_corners([line.start.x, line.start.y], [line.end.x, line.end.y]);
        for other in tree.locate_in_envelope_intersecting(&envelope) {
            let j = other.data;
            // Each pair once; neighbours share a vertex by construction (and the last edge
            // meets the first at the closing point).
            if j <= i || j == i + 1 || (i == 0 && j == n - 1) {
                continue;
            }
            match line_intersection(*line, lines[j]) {
                Some(LineIntersection::SinglePoint { intersection, .. }) => {
                    return Some(intersection);
                }
                Some(LineIntersection::Collinear { intersection }) => {
                    return Some(intersection.start);
                }
                None => {}
            }
        }
    }
    // Adjacent edges folding back over each other (a spike) overlap along a line.
    for i in 0..n {
        let (a, b) = (lines[i], lines[(i + 1) % n]);
        if let Some(LineIntersection::Collinear { intersection }) = line_intersection(a, b)
            && intersection.start != intersection.end
        {
            return Some(intersection.end);
        }
    }
    None
}

/// The members of a multipolygon must not overlap or share an edge (they may touch at points),
/// as OGC simple features say. Only members whose boxes meet are compared.
fn members_apart(multi: &MultiPolygon) -> Result<(), GeometryError> {
    let boxes: Vec<Option<geo::Rect>> = multi.0.iter().map(|p| p.bounding_rect()).collect();
    for (i, a) in multi.0.iter().enumerate() {
        for (j, b) in multi.0.iter().enumerate().skip(i + 1) {
            let (Some(ra), Some(rb)) = (boxes[i], boxes[j]) else {
                continue;
            };
            if ra.max().x < rb.min().x
                || rb.max().x < ra.min().x
                || ra.max().y < rb.min().y
                || rb.max().y < ra.min().y
            {
                continue;
            }
            let matrix = a.relate(b);
            if matrix.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                return Err(GeometryError::InvalidTopology(format!(
                    "polygons {i} and {j} of the multipolygon overlap"
                )));
            }
            if matrix.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional
            {
                return Err(GeometryError::InvalidTopology(format!(
                    "polygons {i} and {j} of the multipolygon share an edge: merge them"
                )));
            }
        }
    }
    Ok(())
}

fn orient(polygon: Polygon, index: usize, ring_base: usize, repairs: &mut Vec<Repair>) -> Polygon {
    if polygon.exterior().is_cw() {
        repairs.push(Repair {
            code: "ring_orientation",
            ring: ring_base,
            detail: format!(
                "polygon {index}: exterior ring was clockwise; reversed to counter-clockwise (RFC 7946)"
            ),
        });
    }
    for (offset, hole) in polygon.interiors().iter().enumerate() {
        if hole.is_ccw() {
            repairs.push(Repair {
                code: "ring_orientation",
                ring: ring_base + 1 + offset,
                detail: format!(
                    "polygon {index}: hole was counter-clockwise; reversed to clockwise (RFC 7946)"
                ),
            });
        }
    }
    polygon.orient(Direction::Default)
}

/// Validates a GeoJSON Polygon or MultiPolygon given in `crs` and returns it in WGS-84, with
/// the obvious faults repaired (see the module docs); [`parse_geometry_repaired`] also says which.
pub fn parse_geometry(
    geometry: Option<&Geometry>,
    crs: Crs,
) -> Result<MultiPolygon, GeometryError> {
    parse_geometry_repaired(geometry, crs).map(|r| r.geometry)
}

/// Validates and repairs a GeoJSON Polygon or MultiPolygon given in `crs`; returns it in WGS-84
/// with the list of repairs made.
pub fn parse_geometry_repaired(
    geometry: Option<&Geometry>,
    crs: Crs,
) -> Result<Repaired, GeometryError> {
    let Some(geometry) = geometry else {
        return Err(GeometryError::UnsupportedType("null".into()));
    };
    let mut repairs = Vec::new();
    let mut bases = Vec::new();
    let polygons = match &geometry.value {
        GeometryValue::Polygon { coordinates } => {
            bases.push(0);
            vec![rings_of(coordinates, crs, 0, &mut repairs)?]
        }
        GeometryValue::MultiPolygon { coordinates } => {
            let mut polygons = Vec::with_capacity(coordinates.len());
            let mut ring_base = 0;
            for polygon in coordinates {
                bases.push(ring_base);
                polygons.push(rings_of(polygon, crs, ring_base, &mut repairs)?);
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
        let prefix = if polygons.len() > 1 {
            format!("polygon {index}: ")
        } else {
            String::new()
        };
        // Self-intersections first, through the R-tree of edges: geo's own check compares every
        // edge with every other, which takes seconds on a district outline of 20,000 vertices.
        let rings = std::iter::once(polygon.exterior()).chain(polygon.interiors());
        for (offset, ring) in rings.enumerate() {
            if let Some(crossing) = self_intersection(ring) {
                let (lon, lat) = crs.from_wgs84(crossing.x, crossing.y);
                let role = if offset == 0 {
                    "exterior ring".to_string()
                } else {
                    format!("interior ring {}", offset - 1)
                };
                return Err(GeometryError::SelfIntersection {
                    message: format!("{prefix}{role} has a self-intersection"),
                    at: [lon, lat],
                });
            }
        }
        // Holes: inside their exterior, not crossing each other (geo's checks; rings are
        // already known to be simple).
        if !polygon.interiors().is_empty()
            && let Err(problem) = polygon.check_validation()
        {
            return Err(GeometryError::InvalidTopology(format!("{prefix}{problem}")));
        }
    }
    let polygons: Vec<Polygon> = polygons
        .into_iter()
        .enumerate()
        .map(|(index, polygon)| orient(polygon, index, bases[index], &mut repairs))
        .collect();
    let multi = MultiPolygon(polygons);
    members_apart(&multi)?;
    repairs.sort_by_key(|r| r.ring);
    Ok(Repaired {
        geometry: multi,
        repairs,
    })
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
    to_geojson_rounded(geometry, crs, None)
}

/// [`to_geojson`] with every coordinate rounded to `decimals` places (when given), as answers
/// send them. Rings are wound as RFC 7946 §3.1.6 says: exterior rings counter-clockwise, holes
/// clockwise.
pub fn to_geojson_rounded(geometry: &MultiPolygon, crs: Crs, decimals: Option<u8>) -> Geometry {
    use geo::orient::{Direction, Orient};
    let scale = decimals.map(|d| 10f64.powi(i32::from(d)));
    let converted = geometry
        .map_coords(|c| {
            let (x, y) = crs.from_wgs84(c.x, c.y);
            match scale {
                Some(scale) => Coord {
                    x: (x * scale).round() / scale,
                    y: (y * scale).round() / scale,
                },
                None => Coord { x, y },
            }
        })
        .orient(Direction::Default);
    if converted.0.len() == 1 {
        Geometry::from(&converted.0[0])
    } else {
        Geometry::from(&converted)
    }
}

/// An area as a GeoJSON Feature in `crs`, its coordinates rounded to `decimals` places (full
/// precision with `None`).
pub fn area_feature(
    record: &crate::domain::AreaRecord,
    crs: Crs,
    decimals: Option<u8>,
) -> crate::error::ApiResult<serde_json::Value> {
    let geometry = from_stored(&record.geometry).map_err(|e| {
        crate::error::ApiError::Internal(format!("stored geometry of {}: {e}", record.code).into())
    })?;
    Ok(serde_json::json!({
        "type": "Feature",
        "id": record.code,
        "geometry": to_geojson_rounded(&geometry, crs, decimals),
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

    fn repairs(rings: Vec<Vec<[f64; 2]>>) -> Vec<&'static str> {
        parse_geometry_repaired(Some(&polygon(rings)), Crs::Wgs84)
            .unwrap()
            .repairs
            .iter()
            .map(|r| r.code)
            .collect()
    }

    #[test]
    fn a_square_in_either_orientation_is_accepted_and_stored_counter_clockwise() {
        assert_eq!(repairs(vec![SQUARE.to_vec()]), Vec::<&str>::new());
        let mut reversed = SQUARE.to_vec();
        reversed.reverse();
        assert_eq!(repairs(vec![reversed.clone()]), ["ring_orientation"]);
        let parsed = parse_geometry(Some(&polygon(vec![reversed])), Crs::Wgs84).unwrap();
        assert!(parsed.0[0].exterior().is_ccw());
    }

    #[test]
    fn an_open_ring_with_repeated_vertices_is_repaired_and_the_repairs_are_named() {
        let messy = vec![[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        assert_eq!(
            repairs(vec![messy.clone()]),
            ["duplicate_vertices", "closed_ring"]
        );
        let parsed = parse_geometry(Some(&polygon(vec![messy])), Crs::Wgs84).unwrap();
        let clean = parse_geometry(Some(&polygon(vec![SQUARE.to_vec()])), Crs::Wgs84).unwrap();
        assert_eq!(parsed, clean);
    }

    #[test]
    fn a_self_intersection_is_reported_where_it_is() {
        let bowtie = vec![[0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]];
        let error = parse_geometry(Some(&polygon(vec![bowtie])), Crs::Wgs84).unwrap_err();
        assert_eq!(error.code(), "self_intersection");
        let [x, y] = error.location().unwrap();
        assert!((x - 1.0).abs() < 1e-9 && (y - 1.0).abs() < 1e-9, "{x},{y}");
    }

    #[test]
    fn each_kind_of_invalid_ring_is_named() {
        assert_eq!(
            reason(vec![vec![[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]),
            "too_few_positions"
        );
        assert_eq!(
            reason(vec![vec![[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]),
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

    /// A star-shaped ring: vertices at sorted angles with random radii is always simple.
    fn star(radii: &[f64]) -> Vec<[f64; 2]> {
        let n = radii.len();
        let mut ring: Vec<[f64; 2]> = radii
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let angle = std::f64::consts::TAU * i as f64 / n as f64;
                [124.3 + r * angle.cos(), 43.1 + r * angle.sin()]
            })
            .collect();
        ring.push(ring[0]);
        ring
    }

    proptest::proptest! {
        /// Whatever a file does to a simple ring (reverses it, repeats vertices, leaves it open),
        /// the repaired geometry is the clean one.
        #[test]
        fn repairs_give_back_the_clean_ring(
            radii in proptest::collection::vec(0.001f64..0.01, 3..40),
            reverse: bool,
            repeat in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..5),
            open: bool,
        ) {
            let clean = star(&radii);
            let expected = parse_geometry(Some(&polygon(vec![clean.clone()])), Crs::Wgs84).unwrap();
            let mut messy = clean;
            if reverse {
                messy.reverse();
            }
            for index in &repeat {
                let i = index.index(messy.len());
                messy.insert(i, messy[i]);
            }
            if open {
                messy.pop();
            }
            let repaired = parse_geometry(Some(&polygon(vec![messy])), Crs::Wgs84).unwrap();
            // Same ring, up to where it starts.
            let ring = |g: &MultiPolygon| {
                let mut v: Vec<(u64, u64)> = g.0[0].exterior().0.iter().map(|c| (c.x.to_bits(), c.y.to_bits())).collect();
                v.pop();
                v.sort_unstable();
                v
            };
            proptest::prop_assert_eq!(ring(&repaired), ring(&expected));
            proptest::prop_assert!(repaired.0[0].exterior().is_ccw());
        }
    }

    proptest::proptest! {
        /// Whatever the winding of a stored outline and its hole, what is sent has the exterior
        /// counter-clockwise and the hole clockwise (RFC 7946), every coordinate within half a
        /// unit of its last decimal of the true value.
        #[test]
        fn answers_are_wound_as_rfc_7946_says_and_rounded_to_the_decimals_asked(
            radii in proptest::collection::vec(0.005f64..0.01, 3..30),
            reverse_exterior: bool,
            reverse_hole: bool,
            decimals in 4u8..=9,
        ) {
            use geo::{LineString, Polygon, Winding};
            let mut exterior = star(&radii);
            if reverse_exterior {
                exterior.reverse();
            }
            let mut hole: Vec<[f64; 2]> = [[-0.001, -0.001], [0.001, -0.001], [0.001, 0.001], [-0.001, 0.001], [-0.001, -0.001]]
                .iter()
                .map(|[x, y]| [124.3 + x, 43.1 + y])
                .collect();
            if reverse_hole {
                hole.reverse();
            }
            let ring = |points: &[[f64; 2]]| LineString::from(points.iter().map(|&[x, y]| (x, y)).collect::<Vec<_>>());
            let stored = MultiPolygon(vec![Polygon::new(ring(&exterior), vec![ring(&hole)])]);

            let sent = to_geojson_rounded(&stored, Crs::Wgs84, Some(decimals));

            let back = match geo::Geometry::<f64>::try_from(sent).unwrap() {
                geo::Geometry::Polygon(p) => p,
                other => panic!("{other:?}"),
            };
            proptest::prop_assert!(back.exterior().is_ccw());
            proptest::prop_assert!(back.interiors()[0].is_cw());
            let half = 0.5 / 10f64.powi(i32::from(decimals)) + 1e-12;
            let mut sent_points: Vec<(f64, f64)> = back.exterior().0.iter().map(|c| (c.x, c.y)).collect();
            let mut true_points: Vec<(f64, f64)> = stored.0[0].exterior().0.iter().map(|c| (c.x, c.y)).collect();
            sent_points.pop();
            true_points.pop();
            proptest::prop_assert_eq!(sent_points.len(), true_points.len());
            for (x, y) in sent_points {
                proptest::prop_assert!(
                    true_points.iter().any(|&(tx, ty)| (tx - x).abs() <= half && (ty - y).abs() <= half),
                    "({x}, {y}) is no rounding of a vertex"
                );
            }
        }
    }

    #[test]
    fn stored_text_reads_back_as_the_same_geometry() {
        let parsed = parse_geometry(Some(&polygon(vec![SQUARE.to_vec()])), Crs::Wgs84).unwrap();
        let text = to_geojson(&parsed, Crs::Wgs84).to_string();
        assert_eq!(from_stored(&text).unwrap(), parsed);
    }
}

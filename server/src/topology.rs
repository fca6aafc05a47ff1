//! Topology between areas: a child within its parent, siblings not overlapping, and how much
//! of an area its children cover ("seamless division", 无缝划分). Pure functions over WGS-84
//! multipolygons; areas are geodesic square metres (geo's Karney implementation).
//!
//! Every check has a tolerance in square metres: boundaries digitised by different people (or
//! simplified differently) meet with slivers a few centimetres wide, which are not real
//! overlaps or gaps. A piece smaller than the tolerance is ignored.

use geo::{
    BooleanOps, BoundingRect, Coord, GeodesicArea, InteriorPoint, MultiPolygon, Polygon, Rect,
    unary_union,
};
use serde::Serialize;

/// Default tolerance: 1 m².
pub const DEFAULT_TOLERANCE_M2: f64 = 1.0;

/// A piece of area found by a check: how big it is and where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Piece {
    /// Geodesic area, square metres.
    pub area_m2: f64,
    /// A point inside the piece, `[lon, lat]` WGS-84.
    pub at: [f64; 2],
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: [f64; 4],
    /// The piece itself.
    #[serde(skip)]
    pub geometry: Polygon,
}

/// The Earth's surface in square metres (WGS-84 ellipsoid).
const EARTH_M2: f64 = 510_065_621_724_088.4;

/// Geodesic area of one polygon in square metres. The geodesic measure takes a ring's winding
/// to say which side is inside, and the slivers that boolean operations leave may come either
/// way round (a clockwise sliver measured as the rest of the Earth): the polygon is wound
/// counter-clockwise first, and an area cannot exceed half the Earth.
fn polygon_m2(polygon: &Polygon) -> f64 {
    use geo::orient::{Direction, Orient};
    let area = polygon.orient(Direction::Default).geodesic_area_unsigned();
    area.min(EARTH_M2 - area).max(0.0)
}

/// Geodesic area of a multipolygon in square metres.
pub fn area_m2(geometry: &MultiPolygon) -> f64 {
    geometry.0.iter().map(polygon_m2).sum()
}

/// The polygons of `geometry` at least `tolerance_m2` big, as pieces, largest first.
pub fn pieces(geometry: MultiPolygon, tolerance_m2: f64) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = geometry
        .0
        .into_iter()
        .filter_map(|polygon| {
            let area = polygon_m2(&polygon);
            if area < tolerance_m2 || area == 0.0 {
                return None;
            }
            let at = polygon.interior_point()?;
            let rect = polygon.bounding_rect()?;
            Some(Piece {
                area_m2: area,
                at: [at.x(), at.y()],
                bbox: [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
                geometry: polygon,
            })
        })
        .collect();
    pieces.sort_by(|a, b| b.area_m2.total_cmp(&a.area_m2));
    pieces
}

fn boxes_meet(a: &MultiPolygon, b: &MultiPolygon) -> bool {
    match (a.bounding_rect(), b.bounding_rect()) {
        (Some(a), Some(b)) => rects_meet(a, b),
        _ => false,
    }
}

fn rects_meet(a: Rect, b: Rect) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

/// The parts of `child` outside `parent`, beyond the tolerance.
pub fn outside(child: &MultiPolygon, parent: &MultiPolygon, tolerance_m2: f64) -> Vec<Piece> {
    pieces(child.difference(parent), tolerance_m2)
}

/// Where `a` and `b` overlap, beyond the tolerance.
pub fn overlap(a: &MultiPolygon, b: &MultiPolygon, tolerance_m2: f64) -> Vec<Piece> {
    if !boxes_meet(a, b) {
        return Vec::new();
    }
    pieces(a.intersection(b), tolerance_m2)
}

/// An overlap between two children of one area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChildOverlap {
    /// The two children, in code order.
    pub codes: [String; 2],
    /// Where.
    #[serde(flatten)]
    pub piece: Piece,
}

/// A child sticking out of its parent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChildOutside {
    /// The child.
    pub code: String,
    /// Where.
    #[serde(flatten)]
    pub piece: Piece,
}

/// How an area is divided among its children.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// The area's own size, m².
    pub area_m2: f64,
    /// How much of it the children cover, m².
    pub covered_m2: f64,
    /// `covered_m2 / area_m2`, 0 to 1.
    pub covered_share: f64,
    /// Parts covered by no child, largest first.
    pub gaps: Vec<Piece>,
    /// Parts covered by two children.
    pub overlaps: Vec<ChildOverlap>,
    /// Parts of children outside the area.
    pub outside: Vec<ChildOutside>,
}

/// The coverage report of `parent` by `children` (`(code, geometry)`).
pub fn coverage(
    parent: &MultiPolygon,
    children: &[(String, MultiPolygon)],
    tolerance_m2: f64,
) -> Coverage {
    let area = area_m2(parent);
    let union = if children.is_empty() {
        MultiPolygon::new(Vec::new())
    } else {
        unary_union(children.iter().map(|(_, g)| g))
    };
    let covered = area_m2(&union.intersection(parent));
    let gaps = pieces(parent.difference(&union), tolerance_m2);
    let mut overlaps = Vec::new();
    for (i, (a_code, a)) in children.iter().enumerate() {
        for (b_code, b) in &children[i + 1..] {
            let mut codes = [a_code.clone(), b_code.clone()];
            codes.sort();
            for piece in overlap(a, b, tolerance_m2) {
                overlaps.push(ChildOverlap {
                    codes: codes.clone(),
                    piece,
                });
            }
        }
    }
    let outside = children
        .iter()
        .flat_map(|(code, g)| {
            outside(g, parent, tolerance_m2)
                .into_iter()
                .map(|piece| ChildOutside {
                    code: code.clone(),
                    piece,
                })
        })
        .collect();
    Coverage {
        area_m2: area,
        covered_m2: covered,
        covered_share: if area > 0.0 {
            (covered / area).min(1.0)
        } else {
            0.0
        },
        gaps,
        overlaps,
        outside,
    }
}

/// `[min_lon, min_lat, max_lon, max_lat]` covering both boxes.
pub fn union_box(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// A point as a coordinate.
pub fn coord(lon: f64, lat: f64) -> Coord {
    Coord { x: lon, y: lat }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sliver_measures_its_own_area_whichever_way_it_is_wound() {
        use geo::{LineString, Polygon};
        let ring = vec![
            (124.3, 43.1),
            (124.300001, 43.1),
            (124.300001, 43.100001),
            (124.3, 43.1),
        ];
        let ccw = Polygon::new(LineString::from(ring.clone()), vec![]);
        let cw = Polygon::new(
            LineString::from(ring.into_iter().rev().collect::<Vec<_>>()),
            vec![],
        );
        let (a, b) = (polygon_m2(&ccw), polygon_m2(&cw));
        assert!(a < 0.01 && b < 0.01, "{a} {b}");
        assert!((a - b).abs() < 1e-9);
    }
    use geo::{LineString, polygon};
    use proptest::prelude::*;

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon {
        MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
            vec![],
        )])
    }

    #[test]
    fn four_quarters_cover_their_square_seamlessly() {
        let parent = rect(124.0, 43.0, 124.02, 43.02);
        let children = vec![
            ("a".to_string(), rect(124.0, 43.0, 124.01, 43.01)),
            ("b".to_string(), rect(124.01, 43.0, 124.02, 43.01)),
            ("c".to_string(), rect(124.0, 43.01, 124.01, 43.02)),
            ("d".to_string(), rect(124.01, 43.01, 124.02, 43.02)),
        ];
        let report = coverage(&parent, &children, DEFAULT_TOLERANCE_M2);
        assert!((report.covered_share - 1.0).abs() < 1e-6, "{report:?}");
        assert!(report.gaps.is_empty() && report.overlaps.is_empty() && report.outside.is_empty());
        // About 1.6 km × 2.2 km at 43° N.
        assert!(
            (3.5e6..3.7e6).contains(&report.area_m2),
            "{}",
            report.area_m2
        );
    }

    #[test]
    fn a_missing_quarter_is_a_gap_and_a_shifted_one_an_overlap_and_outside() {
        let parent = rect(124.0, 43.0, 124.02, 43.02);
        let children = vec![
            ("a".to_string(), rect(124.0, 43.0, 124.01, 43.01)),
            ("b".to_string(), rect(124.01, 43.0, 124.02, 43.01)),
            // Shifted 0.001° west into `c`'s... no: into nothing; and sticking out north.
            ("c".to_string(), rect(124.0, 43.01, 124.011, 43.021)),
        ];
        let report = coverage(&parent, &children, DEFAULT_TOLERANCE_M2);
        assert_eq!(report.gaps.len(), 1);
        let gap = &report.gaps[0];
        assert!(gap.at[0] > 124.011 && gap.at[1] > 43.01, "{gap:?}");
        assert!(
            (report.covered_share - 0.75 - 0.025).abs() < 0.01,
            "{}",
            report.covered_share
        );
        assert_eq!(report.overlaps.len(), 0);
        assert_eq!(report.outside.len(), 1);
        assert_eq!(report.outside[0].code, "c");

        let overlapping = vec![
            ("a".to_string(), rect(124.0, 43.0, 124.012, 43.02)),
            ("b".to_string(), rect(124.01, 43.0, 124.02, 43.02)),
        ];
        let report = coverage(&parent, &overlapping, DEFAULT_TOLERANCE_M2);
        assert_eq!(report.overlaps.len(), 1);
        let o = &report.overlaps[0];
        assert_eq!(o.codes, ["a".to_string(), "b".to_string()]);
        assert!(o.piece.at[0] > 124.01 && o.piece.at[0] < 124.012);
        // 0.002° × 0.02° at 43° N ≈ 163 m × 2224 m.
        assert!(
            (3.4e5..3.9e5).contains(&o.piece.area_m2),
            "{}",
            o.piece.area_m2
        );
    }

    #[test]
    fn slivers_below_the_tolerance_are_not_reported() {
        let a = rect(124.0, 43.0, 124.01, 43.01);
        // 1e-9° wide: well under a square metre.
        let b = rect(124.01 - 1e-9, 43.0, 124.02, 43.01);
        assert!(overlap(&a, &b, DEFAULT_TOLERANCE_M2).is_empty());
        assert_eq!(overlap(&a, &b, 0.0).len(), 1);
    }

    #[test]
    fn a_polygon_with_a_hole_is_a_gap_where_the_hole_is() {
        let parent = rect(0.0, 0.0, 0.01, 0.01);
        let ring =
            polygon![(x: 0.0, y: 0.0), (x: 0.01, y: 0.0), (x: 0.01, y: 0.01), (x: 0.0, y: 0.01)];
        let holed = Polygon::new(
            ring.exterior().clone(),
            vec![LineString::from(vec![
                (0.004, 0.004),
                (0.004, 0.006),
                (0.006, 0.006),
                (0.006, 0.004),
                (0.004, 0.004),
            ])],
        );
        let report = coverage(&parent, &[("x".into(), MultiPolygon(vec![holed]))], 1.0);
        assert_eq!(report.gaps.len(), 1);
        let [x, y] = report.gaps[0].at;
        assert!((0.004..0.006).contains(&x) && (0.004..0.006).contains(&y));
    }

    proptest! {
        /// Cutting a rectangle into vertical strips at any positions covers it exactly, with no
        /// gap and no overlap, whatever the cut positions.
        #[test]
        fn strips_cut_anywhere_cover_their_rectangle(mut cuts in proptest::collection::vec(0.001f64..0.019, 1..5)) {
            cuts.sort_by(f64::total_cmp);
            cuts.dedup_by(|a, b| (*a - *b).abs() < 1e-4);
            let mut xs = vec![124.0];
            xs.extend(cuts.iter().map(|c| 124.0 + c));
            xs.push(124.02);
            let children: Vec<(String, MultiPolygon)> = xs
                .windows(2)
                .enumerate()
                .map(|(i, w)| (format!("s{i}"), rect(w[0], 43.0, w[1], 43.01)))
                .collect();
            let report = coverage(&rect(124.0, 43.0, 124.02, 43.01), &children, DEFAULT_TOLERANCE_M2);
            prop_assert!((report.covered_share - 1.0).abs() < 1e-6);
            prop_assert!(report.gaps.is_empty());
            prop_assert!(report.overlaps.is_empty());
        }
    }
}

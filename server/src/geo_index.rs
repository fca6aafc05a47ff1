//! The ownership index: which area owns a point.
//!
//! A pure, synchronous module (no I/O, no async) so that benchmarks and the sync endpoint can use
//! it directly. Two stages:
//!
//! 1. An R-tree (rstar) over every polygon's bounding box gives the few candidate areas. Its
//!    answers are precomputed for a uniform grid of cells over the map (a directory), so a
//!    lookup reads one short list instead of descending the tree; `locate_via_rtree` asks the
//!    tree directly and must always agree.
//! 2. Each candidate answers "does this area cover the point?" with a *prepared* polygon: the
//!    edges of all its rings are bucketed by y into horizontal bands, so a test only looks at the
//!    handful of edges in the band of the point's latitude, not at every vertex. A polygon with
//!    5,000 vertices costs about as much as one with 50.
//!
//! "Covers" includes the boundary: a point on an edge or a vertex of an area belongs to it. The
//! edge tests use robust orientation predicates (geo's `RobustKernel`), so the answer does not
//! depend on floating-point luck, and holes and exclaves follow from the even-odd rule over all
//! rings of a polygon (which is why either ring orientation is accepted).
//!
//! # The ownership rule
//! Among all areas covering the point, the owner is the one of the **deepest level** (a grid
//! before its village, a village before its township, ...); among covering areas of that level,
//! the **smallest code** in byte order wins. So a point on an edge shared by grids `…001` and
//! `…002` belongs to `…001`, always, on every server instance. The index achieves this by giving
//! areas ids in exactly that order and testing candidates in id order: the first one that covers
//! the point is the owner, and the big ancestor polygons are usually never tested.

use std::collections::HashMap;

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{BoundingRect, Coord, Intersects, MultiPolygon, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree, RTreeObject};

/// An area's index in a [`GridIndex`]; ids are in ownership order (see the module docs).
pub type AreaId = u32;

/// One area handed to [`GridIndex::build`].
#[derive(Debug, Clone)]
pub struct IndexEntry {
    /// The area's unique code.
    pub code: String,
    /// Depth in the hierarchy: 0 for the root level (city), larger is deeper (grid = 4).
    pub depth: u8,
    /// The parent's code, if any.
    pub parent: Option<String>,
    /// The area's geometry in WGS-84 lon/lat.
    pub geometry: MultiPolygon<f64>,
}

/// An area as held by the index.
#[derive(Debug)]
pub struct IndexedArea {
    /// The area's unique code.
    pub code: String,
    /// Depth in the hierarchy (0 = root level).
    pub depth: u8,
    /// The parent area, when it is in the index.
    pub parent: Option<AreaId>,
}

#[derive(Debug, Clone, Copy)]
struct Edge {
    a: Coord<f64>,
    b: Coord<f64>,
}

/// Where a point lies relative to one edge set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EdgeHit {
    Boundary,
    Crossings(u32),
}

/// One prepared polygon (exterior and holes): its box and where its bands live in the arena.
#[derive(Debug, Clone, Copy)]
struct PolygonHeader {
    min: Coord<f64>,
    max: Coord<f64>,
    band_scale: f64,
    bands: u32,
    /// Index of this polygon's first entry in [`Arena::band_offsets`]; it has `bands + 1`.
    band_start: u32,
}

/// Prepared polygons stored contiguously: a test touches one header, two offsets and one run of
/// edges, instead of chasing a pointer per polygon, per band and per edge.
///
/// Every polygon's edges are bucketed into horizontal bands of equal height; an edge is copied
/// into every band its y-range overlaps, so a band's edges sit next to each other in memory.
#[derive(Debug, Default)]
struct Arena {
    polygons: Vec<PolygonHeader>,
    band_offsets: Vec<u32>,
    band_edges: Vec<Edge>,
    edge_count: usize,
}

impl Arena {
    fn band_of(header: &PolygonHeader, y: f64) -> usize {
        let band = ((y - header.min.y) * header.band_scale) as usize;
        band.min(header.bands as usize - 1)
    }

    /// Appends a polygon (rings in either orientation) and returns its index.
    fn push(&mut self, polygon: &Polygon<f64>) -> Option<u32> {
        let rect = polygon.bounding_rect()?;
        let mut edges = Vec::new();
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for line in ring.lines() {
                if line.start != line.end {
                    edges.push(Edge {
                        a: line.start,
                        b: line.end,
                    });
                }
            }
        }
        // About two edges per band on average keeps each test to a few edges without the band
        // table outgrowing the edge list; small polygons get a single band.
        let bands = (edges.len() / 2).clamp(1, 1 << 16);
        let height = rect.max().y - rect.min().y;
        let header = PolygonHeader {
            min: rect.min(),
            max: rect.max(),
            band_scale: if height > 0.0 {
                bands as f64 / height
            } else {
                0.0
            },
            bands: bands as u32,
            band_start: self.band_offsets.len() as u32,
        };
        let range = |edge: &Edge| {
            let (lo, hi) = if edge.a.y <= edge.b.y {
                (edge.a.y, edge.b.y)
            } else {
                (edge.b.y, edge.a.y)
            };
            (Self::band_of(&header, lo), Self::band_of(&header, hi))
        };
        let mut per_band: Vec<Vec<Edge>> = vec![Vec::new(); bands];
        for edge in &edges {
            let (lo, hi) = range(edge);
            for band in &mut per_band[lo..=hi] {
                band.push(*edge);
            }
        }
        for band in per_band {
            self.band_offsets.push(self.band_edges.len() as u32);
            self.band_edges.extend(band);
        }
        self.band_offsets.push(self.band_edges.len() as u32);
        self.edge_count += edges.len();
        self.polygons.push(header);
        Some(self.polygons.len() as u32 - 1)
    }

    /// Whether polygon `index` covers the point (interior or boundary).
    fn covers(&self, index: u32, p: Coord<f64>) -> bool {
        let header = &self.polygons[index as usize];
        if !(p.x >= header.min.x
            && p.x <= header.max.x
            && p.y >= header.min.y
            && p.y <= header.max.y)
        {
            return false;
        }
        let band = header.band_start as usize + Self::band_of(header, p.y);
        let (start, end) = (
            self.band_offsets[band] as usize,
            self.band_offsets[band + 1] as usize,
        );
        match crossings(&self.band_edges[start..end], p) {
            EdgeHit::Boundary => true,
            EdgeHit::Crossings(n) => n % 2 == 1,
        }
    }
}

/// Counts crossings of the ray from `p` towards +x, or reports that `p` is on an edge.
fn crossings(edges: &[Edge], p: Coord<f64>) -> EdgeHit {
    let mut count = 0;
    for edge in edges {
        let (a, b) = (edge.a, edge.b);
        let (ylo, yhi) = if a.y <= b.y { (a.y, b.y) } else { (b.y, a.y) };
        if p.y < ylo || p.y > yhi {
            continue;
        }
        let (xlo, xhi) = if a.x <= b.x { (a.x, b.x) } else { (b.x, a.x) };
        if p.x > xhi {
            continue;
        }
        // Half-open in y so a ray through a vertex counts the two edges meeting there once.
        let spans = (a.y > p.y) != (b.y > p.y);
        if p.x < xlo {
            if spans {
                count += 1;
            }
            continue;
        }
        let orientation = RobustKernel::orient2d(a, b, p);
        if orientation == Orientation::Collinear {
            return EdgeHit::Boundary;
        }
        if spans {
            let upward = b.y > a.y;
            let left_of_edge = orientation == Orientation::CounterClockwise;
            if upward == left_of_edge {
                count += 1;
            }
        }
    }
    EdgeHit::Crossings(count)
}

/// A prepared polygon or multipolygon on its own (the index holds many in one arena).
#[derive(Debug)]
pub struct PreparedArea {
    arena: Arena,
}

impl PreparedArea {
    /// Prepares every polygon of a multipolygon.
    pub fn new(geometry: &MultiPolygon<f64>) -> Self {
        let mut arena = Arena::default();
        for polygon in &geometry.0 {
            arena.push(polygon);
        }
        PreparedArea { arena }
    }

    /// Whether any polygon covers the point (interior or boundary).
    pub fn covers(&self, lon: f64, lat: f64) -> bool {
        let p = Coord { x: lon, y: lat };
        (0..self.arena.polygons.len() as u32).any(|index| self.arena.covers(index, p))
    }

    /// Total number of edges over all rings.
    pub fn edge_count(&self) -> usize {
        self.arena.edge_count
    }
}

/// Above this many candidates in a cell, a lookup asks the R-tree instead.
const CROWDED_CELL: usize = 64;

/// R-tree entries: one per polygon, carrying `(area, polygon)`.
type TreeItem = GeomWithData<Rectangle<[f64; 2]>, (AreaId, u32)>;

/// An immutable snapshot of the grid map, ready for point lookups.
#[derive(Debug)]
pub struct GridIndex {
    version: i64,
    areas: Vec<IndexedArea>,
    by_code: HashMap<String, AreaId>,
    arena: Arena,
    tree: RTree<TreeItem>,
    directory: Directory,
}

/// The R-tree's answers precomputed for a uniform grid of cells over the map: cell `c` lists
/// every polygon whose bounding box meets the cell, in ownership order. A lookup computes its
/// cell and reads one short contiguous list, instead of descending the tree (five or six
/// dependent cache misses on a map of 20,000 polygons).
#[derive(Debug, Default)]
struct Directory {
    min: Coord<f64>,
    max: Coord<f64>,
    scale_x: f64,
    scale_y: f64,
    nx: usize,
    ny: usize,
    /// Cell `c` holds `items[offsets[c]..offsets[c + 1]]`.
    offsets: Vec<u32>,
    items: Vec<Candidate>,
}

/// A directory entry: the polygon, its area and its bounding box, so that candidates whose box
/// misses the point are skipped without touching the polygon's data.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    area: AreaId,
    polygon: u32,
    min: [f64; 2],
    max: [f64; 2],
}

impl Candidate {
    fn boxes(&self, p: Coord<f64>) -> bool {
        p.x >= self.min[0] && p.x <= self.max[0] && p.y >= self.min[1] && p.y <= self.max[1]
    }
}

impl Directory {
    /// About four cells per polygon, shaped like the map, at most 4 Mi cells.
    fn build(tree: &RTree<TreeItem>) -> Self {
        let count = tree.size();
        if count == 0 {
            return Directory::default();
        }
        let envelope = tree.root().envelope();
        let (min, max) = (envelope.lower(), envelope.upper());
        let (width, height) = ((max[0] - min[0]).max(1e-9), (max[1] - min[1]).max(1e-9));
        let cells = (count * 4).clamp(1, 1 << 22) as f64;
        let nx = ((cells * width / height).sqrt().ceil() as usize).clamp(1, 1 << 12);
        let ny = ((cells / nx as f64).ceil() as usize).clamp(1, 1 << 12);
        let mut directory = Directory {
            min: Coord {
                x: min[0],
                y: min[1],
            },
            max: Coord {
                x: max[0],
                y: max[1],
            },
            scale_x: nx as f64 / width,
            scale_y: ny as f64 / height,
            nx,
            ny,
            offsets: Vec::with_capacity(nx * ny + 1),
            items: Vec::new(),
        };
        let (cell_w, cell_h) = (width / nx as f64, height / ny as f64);
        // Cells are widened by a hair so rounding at their edges never drops a candidate.
        let (pad_x, pad_y) = (cell_w * 1e-6, cell_h * 1e-6);
        let mut found = Vec::new();
        for j in 0..ny {
            for i in 0..nx {
                let x0 = min[0] + i as f64 * cell_w;
                let y0 = min[1] + j as f64 * cell_h;
                let cell = AABB::from_corners(
                    [x0 - pad_x, y0 - pad_y],
                    [x0 + cell_w + pad_x, y0 + cell_h + pad_y],
                );
                found.clear();
                found.extend(tree.locate_in_envelope_intersecting(&cell).map(|item| {
                    let envelope = item.geom().envelope();
                    Candidate {
                        area: item.data.0,
                        polygon: item.data.1,
                        min: envelope.lower(),
                        max: envelope.upper(),
                    }
                }));
                found.sort_unstable_by_key(|c| (c.area, c.polygon));
                directory.offsets.push(directory.items.len() as u32);
                directory.items.extend_from_slice(&found);
            }
        }
        directory.offsets.push(directory.items.len() as u32);
        directory
    }

    fn candidates(&self, p: Coord<f64>) -> &[Candidate] {
        if self.nx == 0
            || !(p.x >= self.min.x && p.x <= self.max.x && p.y >= self.min.y && p.y <= self.max.y)
        {
            return &[];
        }
        let i = (((p.x - self.min.x) * self.scale_x) as usize).min(self.nx - 1);
        let j = (((p.y - self.min.y) * self.scale_y) as usize).min(self.ny - 1);
        let cell = j * self.nx + i;
        &self.items[self.offsets[cell] as usize..self.offsets[cell + 1] as usize]
    }
}

impl GridIndex {
    /// An index with no areas: every point is unassigned.
    pub fn empty(version: i64) -> Self {
        Self::build(version, Vec::new())
    }

    /// Builds the index for one map version.
    pub fn build(version: i64, mut entries: Vec<IndexEntry>) -> Self {
        entries.sort_by(|x, y| y.depth.cmp(&x.depth).then_with(|| x.code.cmp(&y.code)));
        let by_code: HashMap<String, AreaId> = entries
            .iter()
            .enumerate()
            .map(|(id, entry)| (entry.code.clone(), id as AreaId))
            .collect();
        let mut arena = Arena::default();
        let mut items = Vec::new();
        let mut areas = Vec::with_capacity(entries.len());
        for (id, entry) in entries.iter().enumerate() {
            areas.push(IndexedArea {
                code: entry.code.clone(),
                depth: entry.depth,
                parent: entry
                    .parent
                    .as_ref()
                    .and_then(|code| by_code.get(code).copied()),
            });
            for polygon in &entry.geometry.0 {
                if let Some(index) = arena.push(polygon) {
                    let header = &arena.polygons[index as usize];
                    let rect = Rectangle::from_corners(
                        [header.min.x, header.min.y],
                        [header.max.x, header.max.y],
                    );
                    items.push(GeomWithData::new(rect, (id as AreaId, index)));
                }
            }
        }
        let tree = RTree::bulk_load(items);
        let directory = Directory::build(&tree);
        GridIndex {
            version,
            areas,
            by_code,
            arena,
            tree,
            directory,
        }
    }

    /// The map version this index was built from.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Number of areas.
    pub fn len(&self) -> usize {
        self.areas.len()
    }

    /// Whether the index holds no area.
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// Total number of polygon edges held.
    pub fn edge_count(&self) -> usize {
        self.arena.edge_count
    }

    /// The area with this id.
    ///
    /// # Panics
    /// If `id` did not come from this index.
    pub fn area(&self, id: AreaId) -> &IndexedArea {
        &self.areas[id as usize]
    }

    /// The id of the area with this code.
    pub fn id_of(&self, code: &str) -> Option<AreaId> {
        self.by_code.get(code).copied()
    }

    /// The owner of a WGS-84 point under the module's ownership rule, or `None` when no area
    /// covers it. Non-finite coordinates are never covered.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<AreaId> {
        if !lon.is_finite() || !lat.is_finite() {
            return None;
        }
        let p = Coord { x: lon, y: lat };
        let candidates = self.directory.candidates(p);
        if candidates.len() > CROWDED_CELL {
            // A crowded cell (many small polygons packed into a corner of a large map): the
            // tree narrows them down to the point better than the cell list does.
            return self.locate_via_rtree(lon, lat, &mut Vec::new());
        }
        candidates
            .iter()
            .find(|c| c.boxes(p) && self.arena.covers(c.polygon, p))
            .map(|c| c.area)
    }

    /// The same answer as [`GridIndex::locate`], found by querying the R-tree for the point
    /// instead of reading the precomputed cell. Kept as an oracle for tests and as a benchmark
    /// contender; `scratch` holds the candidates.
    pub fn locate_via_rtree(
        &self,
        lon: f64,
        lat: f64,
        scratch: &mut Vec<(AreaId, u32)>,
    ) -> Option<AreaId> {
        if !lon.is_finite() || !lat.is_finite() {
            return None;
        }
        scratch.clear();
        let envelope = AABB::from_point([lon, lat]);
        scratch.extend(
            self.tree
                .locate_in_envelope_intersecting(&envelope)
                .map(|item| item.data),
        );
        if scratch.len() > 1 {
            scratch.sort_unstable();
        }
        let p = Coord { x: lon, y: lat };
        scratch
            .iter()
            .find(|&&(_, polygon)| self.arena.covers(polygon, p))
            .map(|&(area, _)| area)
    }

    /// The ids from `id` up to the root: `[id, parent, grandparent, …]`.
    pub fn path(&self, id: AreaId) -> Vec<AreaId> {
        let mut path = vec![id];
        let mut current = id;
        while let Some(parent) = self.areas[current as usize].parent {
            if path.contains(&parent) {
                break; // A cycle cannot be stored, but never loop on one.
            }
            path.push(parent);
            current = parent;
        }
        path
    }
}

/// The naive baseline: every area's bounding box in turn, then geo's own point-in-polygon test.
/// Used by the benchmark as "linear scan" and by tests as an oracle for [`GridIndex`].
#[derive(Debug)]
pub struct LinearScan {
    areas: Vec<(String, u8, MultiPolygon<f64>, geo::Rect<f64>)>,
}

impl LinearScan {
    /// Keeps the geometries in ownership order.
    pub fn new(mut entries: Vec<IndexEntry>) -> Self {
        entries.sort_by(|x, y| y.depth.cmp(&x.depth).then_with(|| x.code.cmp(&y.code)));
        let areas = entries
            .into_iter()
            .filter_map(|e| {
                let rect = e.geometry.bounding_rect()?;
                Some((e.code, e.depth, e.geometry, rect))
            })
            .collect();
        LinearScan { areas }
    }

    /// The owner's code under the same rule as [`GridIndex::locate`].
    pub fn locate(&self, lon: f64, lat: f64) -> Option<&str> {
        let point = Point::new(lon, lat);
        self.areas
            .iter()
            .find(|(_, _, geometry, rect)| rect.intersects(&point) && geometry.intersects(&point))
            .map(|(code, ..)| code.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, polygon};

    fn square(x0: f64, y0: f64, size: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: x0, y: y0),
            (x: x0 + size, y: y0),
            (x: x0 + size, y: y0 + size),
            (x: x0, y: y0 + size),
            (x: x0, y: y0),
        ]])
    }

    fn entry(
        code: &str,
        depth: u8,
        parent: Option<&str>,
        geometry: MultiPolygon<f64>,
    ) -> IndexEntry {
        IndexEntry {
            code: code.into(),
            depth,
            parent: parent.map(Into::into),
            geometry,
        }
    }

    fn two_grids_in_a_village() -> GridIndex {
        GridIndex::build(
            7,
            vec![
                entry("V", 3, None, square(0.0, 0.0, 2.0)),
                entry("G2", 4, Some("V"), square(1.0, 0.0, 1.0)),
                entry("G1", 4, Some("V"), square(0.0, 0.0, 1.0)),
            ],
        )
    }

    fn code(index: &GridIndex, lon: f64, lat: f64) -> Option<&str> {
        index
            .locate(lon, lat)
            .map(|id| index.area(id).code.as_str())
    }

    #[test]
    fn the_deepest_covering_area_owns_a_point() {
        let index = two_grids_in_a_village();
        assert_eq!(code(&index, 0.5, 0.5), Some("G1"));
        assert_eq!(code(&index, 1.5, 0.5), Some("G2"));
        assert_eq!(code(&index, 0.5, 1.5), Some("V"));
        assert_eq!(code(&index, 5.0, 5.0), None);
    }

    #[test]
    fn a_point_on_a_shared_edge_or_vertex_goes_to_the_smallest_code() {
        let index = two_grids_in_a_village();
        assert_eq!(code(&index, 1.0, 0.5), Some("G1"));
        assert_eq!(code(&index, 1.0, 1.0), Some("G1"));
        assert_eq!(code(&index, 1.0, 0.0), Some("G1"));
        assert_eq!(code(&index, 2.0, 0.5), Some("G2"));
        assert_eq!(code(&index, 2.0, 2.0), Some("V"));
    }

    #[test]
    fn the_path_runs_from_the_owner_to_the_root() {
        let index = two_grids_in_a_village();
        let owner = index.locate(1.5, 0.5).unwrap();
        let codes: Vec<&str> = index
            .path(owner)
            .iter()
            .map(|&id| index.area(id).code.as_str())
            .collect();
        assert_eq!(codes, ["G2", "V"]);
    }

    #[test]
    fn holes_are_not_covered_but_their_boundary_is() {
        let outer = LineString::from(vec![
            (0.0, 0.0),
            (4.0, 0.0),
            (4.0, 4.0),
            (0.0, 4.0),
            (0.0, 0.0),
        ]);
        // The hole has the same orientation as the exterior: orientation must not matter.
        let hole = LineString::from(vec![
            (1.0, 1.0),
            (3.0, 1.0),
            (3.0, 3.0),
            (1.0, 3.0),
            (1.0, 1.0),
        ]);
        let area = PreparedArea::new(&MultiPolygon(vec![Polygon::new(outer, vec![hole])]));
        assert!(area.covers(0.5, 0.5));
        assert!(!area.covers(2.0, 2.0));
        assert!(area.covers(1.0, 2.0));
        assert!(area.covers(4.0, 4.0));
        assert!(!area.covers(4.0001, 2.0));
    }

    #[test]
    fn exclaves_of_a_multipolygon_are_covered() {
        let mut geometry = square(0.0, 0.0, 1.0);
        geometry.0.extend(square(10.0, 10.0, 1.0).0);
        let area = PreparedArea::new(&geometry);
        assert!(area.covers(10.5, 10.5));
        assert!(!area.covers(5.0, 5.0));
    }

    #[test]
    fn nan_points_are_never_covered() {
        let index = two_grids_in_a_village();
        assert_eq!(index.locate(f64::NAN, 0.5), None);
        assert_eq!(index.locate(0.5, f64::INFINITY), None);
    }

    /// A star-shaped polygon with many vertices, to exercise the edge bands.
    fn star(cx: f64, cy: f64, n: usize) -> MultiPolygon<f64> {
        let mut coords: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                let r = if i % 2 == 0 {
                    1.0
                } else {
                    0.55 + 0.3 * ((i * 7919) % 13) as f64 / 13.0
                };
                (cx + r * t.cos(), cy + r * t.sin())
            })
            .collect();
        coords.push(coords[0]);
        MultiPolygon(vec![Polygon::new(LineString::from(coords), vec![])])
    }

    #[test]
    fn the_prepared_test_agrees_with_geo_on_a_many_vertex_polygon() {
        let geometry = star(0.0, 0.0, 3000);
        let prepared = PreparedArea::new(&geometry);
        assert!(prepared.edge_count() >= 3000);
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.4 - 1.2
        };
        for _ in 0..20_000 {
            let (x, y) = (next(), next());
            assert_eq!(
                prepared.covers(x, y),
                geometry.intersects(&Point::new(x, y)),
                "disagree at {x},{y}"
            );
        }
        // Every vertex is on the boundary.
        for polygon in &geometry.0 {
            for c in polygon.exterior().coords() {
                assert!(prepared.covers(c.x, c.y));
            }
        }
    }

    #[test]
    fn a_crowded_cell_still_finds_the_owner() {
        // One large area and 400 tiny grids packed into its corner: the corner's cells are
        // crowded, so lookups there go through the R-tree.
        let mut entries = vec![entry("BIG", 0, None, square(0.0, 0.0, 100.0))];
        for i in 0..20 {
            for j in 0..20 {
                let code = format!("T{i:02}{j:02}");
                entries.push(entry(
                    &code,
                    4,
                    None,
                    square(i as f64 * 0.001, j as f64 * 0.001, 0.001),
                ));
            }
        }
        let index = GridIndex::build(1, entries);
        assert_eq!(code(&index, 0.0105, 0.0105), Some("T1010"));
        assert_eq!(code(&index, 50.0, 50.0), Some("BIG"));
    }

    #[test]
    fn the_index_agrees_with_the_linear_scan() {
        let mut entries = Vec::new();
        for i in 0..20 {
            for j in 0..20 {
                let code = format!("G{i:02}{j:02}");
                entries.push(entry(
                    &code,
                    4,
                    None,
                    square(i as f64 * 0.1, j as f64 * 0.1, 0.1),
                ));
            }
        }
        entries.push(entry("S", 3, None, star(1.0, 1.0, 500)));
        let index = GridIndex::build(1, entries.clone());
        let scan = LinearScan::new(entries);
        let mut scratch = Vec::new();
        for i in 0..=250 {
            for j in 0..=250 {
                let (x, y) = (i as f64 * 0.01 - 0.2, j as f64 * 0.01 - 0.2);
                assert_eq!(code(&index, x, y), scan.locate(x, y), "at {x},{y}");
                let via_rtree = index.locate_via_rtree(x, y, &mut scratch);
                assert_eq!(via_rtree, index.locate(x, y), "rtree at {x},{y}");
            }
        }
    }

    /// A star around `(cx, cy)`: `radii` give its vertices' distances, evenly spaced in angle.
    fn random_star(cx: f64, cy: f64, radii: &[f64]) -> MultiPolygon<f64> {
        let n = radii.len();
        let mut coords: Vec<(f64, f64)> = radii
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                (cx + r * t.cos(), cy + r * t.sin())
            })
            .collect();
        coords.push(coords[0]);
        MultiPolygon(vec![Polygon::new(LineString::from(coords), vec![])])
    }

    fn random_map() -> impl proptest::strategy::Strategy<Value = Vec<IndexEntry>> {
        use proptest::prelude::*;
        let area = (
            0.0..10.0f64,
            0.0..10.0f64,
            proptest::collection::vec(0.05..3.0f64, 3..40),
            0u8..5,
        );
        proptest::collection::vec(area, 1..40).prop_map(|areas| {
            areas
                .into_iter()
                .enumerate()
                .map(|(i, (cx, cy, radii, depth))| {
                    // Codes out of order with the areas, so ties are decided by code.
                    let code = format!("A{:02}", (i * 7) % 41);
                    entry(&code, depth, None, random_star(cx, cy, &radii))
                })
                .collect()
        })
    }

    proptest::proptest! {
        /// On random maps of overlapping stars at random depths, the index owns every point
        /// (random ones, and every vertex, where boundaries meet) exactly as the linear scan
        /// does, through its cell directory and through its R-tree alike.
        #[test]
        fn the_index_agrees_with_the_linear_scan_on_random_maps(
            entries in random_map(),
            points in proptest::collection::vec((-1.0..11.0f64, -1.0..11.0f64), 200),
        ) {
            let index = GridIndex::build(1, entries.clone());
            let vertices: Vec<(f64, f64)> = entries
                .iter()
                .flat_map(|e| e.geometry.0[0].exterior().coords().map(|c| (c.x, c.y)))
                .collect();
            let scan = LinearScan::new(entries);
            let mut scratch = Vec::new();
            for (x, y) in points.into_iter().chain(vertices) {
                proptest::prop_assert_eq!(code(&index, x, y), scan.locate(x, y), "at {},{}", x, y);
                let via_rtree = index.locate_via_rtree(x, y, &mut scratch);
                proptest::prop_assert_eq!(via_rtree, index.locate(x, y), "rtree at {},{}", x, y);
            }
        }
    }
}

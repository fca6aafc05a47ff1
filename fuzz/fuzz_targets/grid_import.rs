//! Arbitrary bytes as a grid-map import (`POST /api/v1/grids/import`, a GeoJSON
//! FeatureCollection from QGIS or a spreadsheet export): reading and checking never panics,
//! every feature gets exactly one result, and what the plan would write is a polygon that reads
//! back, under a code that appears once, with a parent of a shallower level when it names one.
#![no_main]

use std::collections::{HashMap, HashSet};

use gridsync_server::coords::Crs;
use gridsync_server::geometry;
use gridsync_server::import::{self, AttributeMapping};
use gridsync_server::state::MapSnapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(features) = import::features_of(data) else {
        return;
    };
    let mapping = AttributeMapping::default();
    for crs in [Crs::Wgs84, Crs::Gcj02] {
        let mut checked: Vec<_> = features
            .iter()
            .map(|feature| import::check(feature, crs, &mapping))
            .collect();
        let existing = HashMap::new();
        import::keep_stored_parents(&mut checked, &existing);
        import::infer_parents(&mut checked, &existing, &MapSnapshot::build(0, &[]));
        let valid = checked
            .iter()
            .filter(|(_, outcome)| outcome.is_ok())
            .count();
        let plan = import::plan(checked, &existing);

        assert_eq!(plan.results.len(), features.len(), "one result per feature");
        assert!(plan.accepted.len() <= valid);
        assert_eq!(
            plan.rejected() + plan.accepted.len(),
            features.len(),
            "every feature either written or rejected"
        );
        let mut codes = HashSet::new();
        let levels: HashMap<_, _> = plan
            .accepted
            .iter()
            .map(|area| (area.code.clone(), area.level))
            .collect();
        for area in &plan.accepted {
            assert!(codes.insert(area.code.clone()), "a code written twice");
            let polygon =
                geometry::from_stored(&area.geometry).expect("written geometry reads back");
            assert!(!polygon.0.is_empty(), "an empty polygon written");
            if let Some(parent) = area.parent.as_ref().and_then(|p| levels.get(p)) {
                assert!(
                    *parent < area.level,
                    "a parent of the same or a deeper level"
                );
            }
        }
    }
});

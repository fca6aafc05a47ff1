//! What the sync-core benchmarks share.

use sync_core::{Crs, Location, Record, RecordBuilder, Writer};

/// A realistic complaint: Chinese title and description, location, category, claimed grid and
/// one `created` timeline event; `i` makes the title and the point unique.
pub fn complaint(writer: &Writer, i: usize) -> Record {
    RecordBuilder::complaint(format!("路灯不亮 #{i}"), writer)
        .description("小区3号楼前的路灯连续三晚不亮，老人晚上出行不便，请尽快维修。")
        .category("municipal.lighting")
        .location(Location {
            lon: 124.35 + (i as f64) * 1e-5,
            lat: 43.17,
            accuracy_m: Some(6.5),
            crs: Crs::Wgs84,
        })
        .claimed_grid("220302001001")
        .build()
}

//! The grid-editing tables' types (issue 7), shared by both backends.

use crate::domain::AreaRecord;

/// One boundary edit, written in one transaction: the map version goes up by one, every
/// upserted area and every retired one gets a version row, and a re-ownership job is queued.
#[derive(Debug, Clone)]
pub struct AreaEdit {
    /// Areas to create or overwrite (version and `updated_at` are set by the store).
    pub upserts: Vec<AreaRecord>,
    /// Codes of areas to retire.
    pub retire: Vec<String>,
    /// Optimistic concurrency: each code with the version the editor read (`If-Match`), or
    /// `None` when the code must not exist yet. Codes not listed are not checked.
    pub expect: Vec<(String, Option<i64>)>,
    /// `create`, `replace`, `update`, `split`, `merge`, `retire`.
    pub operation: String,
    /// Username of the editor.
    pub actor: String,
    /// Why (free text; may be empty).
    pub reason: String,
    /// Unix milliseconds.
    pub now_ms: i64,
    /// Where records may change owner: `[min_lon, min_lat, max_lon, max_lat]` boxes (WGS-84).
    pub reown_boxes: Vec<[f64; 4]>,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq)]
pub enum EditOutcome {
    /// Written: the new map version and the queued re-ownership job.
    Applied { map_version: i64, job: i64 },
    /// An `expect` did not hold: the code and the version it has now (`None`: absent).
    Stale { code: String, current: Option<i64> },
}

/// One stored version of an area.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaVersion {
    /// The area as written (its `version` is the map version of the write).
    pub area: AreaRecord,
    /// This version retired the area.
    pub retired: bool,
    /// Unix milliseconds it became current.
    pub valid_from: i64,
    /// Unix milliseconds it stopped being current; `None` while current.
    pub valid_to: Option<i64>,
    /// `import`, `create`, `replace`, `update`, `split`, `merge`, `retire`.
    pub operation: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
}

/// A record's position and owner, for re-ownership.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPoint {
    pub id: String,
    pub owner_grid: Option<String>,
    /// WGS-84.
    pub lon: f64,
    pub lat: f64,
}

/// Queued re-ownership work.
#[derive(Debug, Clone, PartialEq)]
pub struct ReownJob {
    pub id: i64,
    pub map_version: i64,
    pub boxes: Vec<[f64; 4]>,
}

/// Boxes as stored (JSON text).
pub(crate) fn boxes_to_text(boxes: &[[f64; 4]]) -> String {
    serde_json::to_string(boxes).unwrap_or_else(|_| "[]".into())
}

/// Boxes from stored JSON text.
pub(crate) fn boxes_from_text(text: &str) -> super::Result<Vec<[f64; 4]>> {
    serde_json::from_str(text)
        .map_err(|e| super::StoreError::Corrupt(format!("re-ownership boxes: {e}")))
}

//! Which grid owns a record: the point (in WGS-84) located in the grid map, written into the
//! document as the server's own change with a timeline event. A decision made against a newer
//! map version is never overwritten from an older snapshot.

use sync_core::automerge::ActorId;
use sync_core::{Crs, OwnerGrid, Record, RecordDoc, Writer, now_ms, push_event};

use super::SERVER;
use crate::coords;
use crate::state::MapSnapshot;

/// The record's point in WGS-84, converted from GCJ-02 when the record says so.
pub fn wgs84_point(record: &Record) -> Option<(f64, f64)> {
    record.location.as_ref().map(|l| match l.crs {
        Crs::Wgs84 => (l.lon, l.lat),
        Crs::Gcj02 => coords::gcj02_to_wgs84(l.lon, l.lat),
    })
}

/// Writes the server's ownership decision into the document when it differs from what
/// `record` (the document's current record, as [`RecordDoc::record`] reads it) says, with a timeline event (noting a claim the
/// geometry disagrees with). Returns the record after the decision, or `None` if it stood.
pub fn decide_owner(
    doc: &mut RecordDoc,
    record: &Record,
    map: &MapSnapshot,
    actor: &ActorId,
) -> Result<Option<Record>, sync_core::Error> {
    write_owner(doc, record, map, actor, None)
}

/// [`decide_owner`] after a boundary edit: the timeline event says the boundary moved and
/// which grid owned the record before, so the history keeps where it stood when reported.
pub fn reassign_owner(
    doc: &mut RecordDoc,
    record: &Record,
    map: &MapSnapshot,
    actor: &ActorId,
    edit: &str,
) -> Result<Option<Record>, sync_core::Error> {
    write_owner(doc, record, map, actor, Some(edit))
}

fn write_owner(
    doc: &mut RecordDoc,
    record: &Record,
    map: &MapSnapshot,
    actor: &ActorId,
    edit: Option<&str>,
) -> Result<Option<Record>, sync_core::Error> {
    let version = map.version();
    // A decision made against a newer map (by a re-ownership that ran while this request held
    // an older snapshot) is never overwritten from an older one.
    if record
        .owner_grid
        .as_ref()
        .is_some_and(|o| o.boundary_version > version)
    {
        return Ok(None);
    }
    let code = wgs84_point(record)
        .and_then(|(lon, lat)| map.index.locate(lon, lat))
        .map(|id| map.index.area(id).code.clone());
    if record.owner_grid.as_ref().is_some_and(|o| o.code == code) {
        return Ok(None);
    }
    let previous = record.owner_grid.as_ref().and_then(|o| o.code.clone());
    doc.set_actor(actor.clone());
    doc.update_from(record, &Writer::new(SERVER, SERVER), |r| {
        r.owner_grid = Some(OwnerGrid {
            code: code.clone(),
            boundary_version: version,
            decided_at: now_ms(),
        });
        let (kind, note) = match edit {
            Some(edit) => {
                let now = match &code {
                    Some(code) => format!("归属网格 {code}"),
                    None => "不在任何网格内：转入待分配".to_string(),
                };
                let was = previous.as_deref().unwrap_or("待分配");
                (
                    "owner_changed",
                    format!("{now}（网格边界调整，地图版本 {version}：{edit}；原为 {was}）"),
                )
            }
            None => (
                "owner_assigned",
                match (&code, &r.claimed_grid) {
                    (None, _) => "不在任何网格内：转入待分配".to_string(),
                    (Some(code), Some(claimed)) if claimed != code => {
                        format!("归属网格 {code}（设备上报为 {claimed}）")
                    }
                    (Some(code), _) => format!("归属网格 {code}"),
                },
            ),
        };
        push_event(r, SERVER, kind, &note);
        Ok(())
    })
}

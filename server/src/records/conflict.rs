//! Concurrent values, told in the record's timeline: when an upload sets a field that someone
//! else set at the same time, the server writes a `conflict` event naming the field, the value
//! every replica shows and who wrote it, and the value that is not shown and its writer.

use sync_core::automerge::ActorId;
use sync_core::{Conflict, Record, RecordDoc, Writer, push_event};

use super::SERVER;

/// A field's name as people say it (the dotted path for fields without one).
pub fn field_label(field: &str) -> &str {
    match field {
        "title" => "标题",
        "category" => "分类",
        "description" => "描述",
        "channel" => "来源渠道",
        "claimed_grid" => "上报网格",
        "location.lon" | "location.lat" => "位置",
        "location.crs" => "坐标系",
        "location.accuracy_m" => "定位精度",
        "inspection.hazard_type" => "隐患类型",
        "inspection.risk_level" => "风险等级",
        "inspection.findings" => "检查发现",
        "inspection.rectification" => "整改要求",
        "inspection.follow_up_due" => "复查期限",
        "complainant.kind" => "诉求人类型",
        other => other,
    }
}

/// A value as it reads in a note: text as it is, anything else as JSON.
fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The timeline note of one conflict.
pub fn conflict_note(conflict: &Conflict) -> String {
    let by = |who: &Option<String>| who.clone().unwrap_or_else(|| "未知".into());
    format!(
        "同时修改「{}」：保留 {}（{}），未采用 {}（{}）",
        field_label(&conflict.field),
        shown(&conflict.kept),
        by(&conflict.kept_by),
        shown(&conflict.overruled),
        by(&conflict.overruled_by),
    )
}

/// Writes one `conflict` event per conflict into the document as the server's change. Returns
/// the record after it (`None` when there was nothing to write).
pub fn note_conflicts(
    doc: &mut RecordDoc,
    record: &Record,
    conflicts: &[Conflict],
    actor: &ActorId,
) -> Result<Option<Record>, sync_core::Error> {
    doc.set_actor(actor.clone());
    doc.update_from(record, &Writer::new(SERVER, SERVER), |r| {
        for conflict in conflicts {
            push_event(r, SERVER, "conflict", &conflict_note(conflict));
        }
        Ok(())
    })
}

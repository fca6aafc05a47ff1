//! Concurrent values, told in the record's timeline: when an upload sets a field that someone
//! else set at the same time, the server writes a `conflict` event naming the field, the value
//! every replica shows and who wrote it, and the value that is not shown and its writer.

use std::collections::BTreeMap;

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

/// The most characters of a value a note quotes: a caption may hold 2,000, and two of them must
/// not take a note over its own limit.
const QUOTED: usize = 80;

/// The most conflicts one write notes one by one; the rest are counted in a last event.
const NOTED: usize = 10;

/// A value as it reads in a note: text as it is, anything else as JSON, cut at [`QUOTED`]
/// characters.
fn shown(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match text.char_indices().nth(QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// A field's value as people read it: a category by its name (from `categories`), a risk
/// level or hazard type in words, anything else as [`shown`].
fn in_words(
    field: &str,
    value: &serde_json::Value,
    categories: &BTreeMap<String, String>,
) -> String {
    let Some(code) = value.as_str() else {
        return shown(value);
    };
    let word = match field {
        "category" => categories.get(code).map(String::as_str),
        "inspection.risk_level" => Some(crate::workflow::hazards::risk_level_name(code)),
        "inspection.hazard_type" => Some(crate::workflow::hazards::hazard_type_name(code)),
        _ => None,
    };
    match word {
        Some(word) => shown(&serde_json::Value::String(word.to_string())),
        None => shown(value),
    }
}

/// The timeline note of one conflict, categories named from `categories` (code → name).
pub fn conflict_note(conflict: &Conflict, categories: &BTreeMap<String, String>) -> String {
    let by = |who: &Option<String>| who.clone().unwrap_or_else(|| "未知".into());
    let field = conflict.field.as_str();
    format!(
        "同时修改「{}」：保留 {}（{}），未采用 {}（{}）",
        field_label(field),
        in_words(field, &conflict.kept, categories),
        by(&conflict.kept_by),
        in_words(field, &conflict.overruled, categories),
        by(&conflict.overruled_by),
    )
}

/// Writes a `conflict` event per conflict (at most [`NOTED`], then one counting the rest) into
/// the document as the server's change. Returns the record after it, or `None` when nothing was
/// written: a timeline already at its limit takes no more events, and the upload is stored all
/// the same (the conflict stays in the document, and the phone tells its worker).
pub fn note_conflicts(
    doc: &mut RecordDoc,
    record: &Record,
    conflicts: &[Conflict],
    actor: &ActorId,
    categories: &BTreeMap<String, String>,
) -> Option<Record> {
    doc.set_actor(actor.clone());
    let written = doc.update_from(record, &Writer::new(SERVER, SERVER), |r| {
        for conflict in conflicts.iter().take(NOTED) {
            push_event(r, SERVER, "conflict", &conflict_note(conflict, categories));
        }
        if conflicts.len() > NOTED {
            let more = format!("另有 {} 处同时修改", conflicts.len() - NOTED);
            push_event(r, SERVER, "conflict", &more);
        }
        Ok(())
    });
    match written {
        Ok(record) => record,
        Err(e) => {
            tracing::warn!(record = %record.id, cause = %e, "conflicts not noted in the timeline");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use sync_core::schema::limits;
    use sync_core::{Conflict, RecordBuilder, RecordDoc, Writer, new_actor, push_event};

    use super::{conflict_note, note_conflicts};

    fn conflict(field: &str, kept: String, overruled: String) -> Conflict {
        Conflict {
            id: sync_core::new_record_id(),
            field: field.into(),
            kept: serde_json::json!(kept),
            kept_by: Some("zhou".repeat(16)),
            overruled: serde_json::json!(overruled),
            overruled_by: Some("wang".repeat(16)),
            overruled_actor: new_actor(),
        }
    }

    #[test]
    fn a_note_names_categories_and_risk_levels_as_people_read_them() {
        let categories = [("municipal.lighting".to_string(), "路灯照明".to_string())].into();
        let category = conflict(
            "category",
            "municipal.lighting".into(),
            "municipal.gone".into(),
        );
        let note = conflict_note(&category, &categories);
        assert!(
            note.contains("保留 路灯照明（") && note.contains("未采用 municipal.gone（"),
            "a category without a name stands as its code: {note}"
        );
        let level = conflict("inspection.risk_level", "critical".into(), "low".into());
        let note = conflict_note(&level, &categories);
        assert!(
            note.starts_with("同时修改「风险等级」：保留 重大（"),
            "{note}"
        );
        assert!(note.contains("未采用 低（"), "{note}");
    }

    #[test]
    fn a_note_quotes_two_longest_captions_within_a_notes_limit() {
        let long = "照".repeat(limits::NOTE);
        let note = conflict_note(
            &conflict("attachments.x.caption", long.clone(), long),
            &Default::default(),
        );
        assert!(
            note.chars().count() < limits::NOTE,
            "{} chars",
            note.chars().count()
        );
        assert!(note.contains("照…"));
    }

    #[test]
    fn a_full_timeline_takes_no_conflict_event_and_nothing_fails() {
        let writer = Writer::new("wang", "p");
        let mut record = RecordBuilder::complaint("Noise", &writer).build();
        for i in 0..limits::EVENTS - record.timeline.len() {
            push_event(&mut record, "wang", "note", &i.to_string());
        }
        let mut doc = RecordDoc::create(&record, new_actor(), &writer).unwrap();
        let many: Vec<Conflict> = (0..3)
            .map(|i| conflict("category", format!("a{i}"), format!("b{i}")))
            .collect();
        assert!(
            note_conflicts(&mut doc, &record, &many, &new_actor(), &Default::default()).is_none()
        );
        assert_eq!(doc.record().unwrap(), record);
    }

    #[test]
    fn many_conflicts_in_one_write_are_ten_events_and_a_count() {
        let writer = Writer::new("wang", "p");
        let record = RecordBuilder::complaint("Noise", &writer).build();
        let mut doc = RecordDoc::create(&record, new_actor(), &writer).unwrap();
        let many: Vec<Conflict> = (0..14)
            .map(|i| conflict("category", format!("a{i}"), format!("b{i}")))
            .collect();
        let after =
            note_conflicts(&mut doc, &record, &many, &new_actor(), &Default::default()).unwrap();
        let added: Vec<&str> = after.timeline[record.timeline.len()..]
            .iter()
            .map(|e| e.note.as_str())
            .collect();
        assert_eq!(added.len(), 11);
        assert_eq!(added[10], "另有 4 处同时修改");
    }
}

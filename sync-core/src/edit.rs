//! Editing records from JSON: the field patch the phone app sends, and timeline notes.

use serde::Deserialize;

use crate::document::now_ms;
use crate::error::SchemaError;
use crate::schema::{Complainant, Event, Location, Record, RiskLevel, new_record_id};

/// Fields a device may change on a record, as JSON. Absent fields stay as they are. Text fields
/// (title, description, findings, rectification) merge character by character with concurrent
/// edits: only the difference from the current text is written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub location: Option<Location>,
    pub claimed_grid: Option<String>,
    pub complainant: Option<Complainant>,
    pub hazard_type: Option<String>,
    pub risk_level: Option<RiskLevel>,
    pub findings: Option<String>,
    pub rectification: Option<String>,
    pub follow_up_due: Option<i64>,
}

impl RecordPatch {
    /// Applies the patch. Risk-inspection fields on a complaint are an error.
    pub fn apply(self, record: &mut Record) -> Result<(), SchemaError> {
        let RecordPatch {
            title,
            description,
            category,
            location,
            claimed_grid,
            complainant,
            hazard_type,
            risk_level,
            findings,
            rectification,
            follow_up_due,
        } = self;
        set(&mut record.title, title);
        set(&mut record.description, description);
        set(&mut record.category, category);
        if location.is_some() {
            record.location = location;
        }
        if claimed_grid.is_some() {
            record.claimed_grid = claimed_grid;
        }
        if complainant.is_some() {
            record.complainant = complainant;
        }
        let touches_inspection = hazard_type.is_some()
            || risk_level.is_some()
            || findings.is_some()
            || rectification.is_some()
            || follow_up_due.is_some();
        if touches_inspection {
            let Some(inspection) = record.inspection.as_mut() else {
                return Err(SchemaError::Patch(
                    "risk-inspection fields on a complaint".into(),
                ));
            };
            set(&mut inspection.hazard_type, hazard_type);
            set(&mut inspection.risk_level, risk_level);
            set(&mut inspection.findings, findings);
            set(&mut inspection.rectification, rectification);
            if follow_up_due.is_some() {
                inspection.follow_up_due = follow_up_due;
            }
        }
        Ok(())
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Appends an event to a record's timeline.
pub fn push_event(record: &mut Record, actor: &str, kind: &str, note: &str) {
    record.timeline.push(Event {
        id: new_record_id().to_string(),
        actor: actor.to_string(),
        at: now_ms(),
        kind: kind.to_string(),
        note: note.to_string(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RecordBuilder, Writer};

    #[test]
    fn a_patch_changes_only_the_fields_it_names() {
        let w = Writer::new("a", "1");
        let mut r = RecordBuilder::complaint("t", &w).description("d").build();
        let patch: RecordPatch = serde_json::from_str(r#"{"title":"new"}"#).unwrap();
        patch.apply(&mut r).unwrap();
        assert_eq!((r.title.as_str(), r.description.as_str()), ("new", "d"));
    }

    #[test]
    fn an_unknown_patch_field_is_refused() {
        assert!(serde_json::from_str::<RecordPatch>(r#"{"owner_grid":"x"}"#).is_err());
    }

    #[test]
    fn inspection_fields_on_a_complaint_are_refused() {
        let w = Writer::new("a", "1");
        let mut r = RecordBuilder::complaint("t", &w).build();
        let patch = RecordPatch {
            findings: Some("x".into()),
            ..Default::default()
        };
        assert!(patch.apply(&mut r).is_err());
    }
}

//! Which fields a change touched, for write rules: the server compares its record with the
//! merged one and asks whether the writer's role may change each field that differs.

use crate::schema::Record;

/// A field (or part of one) that write rules distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Identity and provenance: id, kind, created_at, created_by, schema_version. Never change.
    Identity,
    Channel,
    Location,
    ClaimedGrid,
    OwnerGrid,
    Category,
    Title,
    Description,
    /// An attachment was added.
    AttachmentAdded,
    /// An attachment was removed or an existing one changed.
    AttachmentChanged,
    Complainant,
    Inspection,
    Status,
    Assignments,
    Replies,
    Result,
    Evaluation,
    Returns,
    /// Events appended at the end of the timeline.
    TimelineAppended,
    /// Existing timeline events changed, removed or reordered.
    TimelineRewritten,
}

impl Field {
    /// The stable name used in rejection reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Identity => "identity",
            Field::Channel => "channel",
            Field::Location => "location",
            Field::ClaimedGrid => "claimed_grid",
            Field::OwnerGrid => "owner_grid",
            Field::Category => "category",
            Field::Title => "title",
            Field::Description => "description",
            Field::AttachmentAdded => "attachments (added)",
            Field::AttachmentChanged => "attachments (changed or removed)",
            Field::Complainant => "complainant",
            Field::Inspection => "inspection",
            Field::Status => "workflow.status",
            Field::Assignments => "workflow.assignments",
            Field::Replies => "workflow.replies",
            Field::Result => "workflow.result",
            Field::Evaluation => "workflow.evaluation",
            Field::Returns => "workflow.returns",
            Field::TimelineAppended => "timeline (appended)",
            Field::TimelineRewritten => "timeline (rewritten)",
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields that differ between `before` and `after`, in a stable order. A new record
/// (`before` is `None`) reports the fields it sets beyond an empty record's defaults.
pub fn changed_fields(before: Option<&Record>, after: &Record) -> Vec<Field> {
    let mut out = Vec::new();
    let Some(b) = before else {
        // A new record: everything it carries is being set now. Report what matters for rules.
        if after.owner_grid.is_some() {
            out.push(Field::OwnerGrid);
        }
        let w = &after.workflow;
        if w.status != crate::Status::Received {
            out.push(Field::Status);
        }
        if !w.assignments.is_empty() {
            out.push(Field::Assignments);
        }
        if !w.replies.is_empty() {
            out.push(Field::Replies);
        }
        if w.result.is_some() {
            out.push(Field::Result);
        }
        if w.evaluation.is_some() {
            out.push(Field::Evaluation);
        }
        if w.returns != 0 {
            out.push(Field::Returns);
        }
        return out;
    };
    let a = after;
    if (b.id, b.kind, b.created_at, &b.created_by, b.schema_version)
        != (a.id, a.kind, a.created_at, &a.created_by, a.schema_version)
    {
        out.push(Field::Identity);
    }
    let mut check = |changed: bool, field: Field| {
        if changed {
            out.push(field);
        }
    };
    check(b.channel != a.channel, Field::Channel);
    check(b.location != a.location, Field::Location);
    check(b.claimed_grid != a.claimed_grid, Field::ClaimedGrid);
    check(b.owner_grid != a.owner_grid, Field::OwnerGrid);
    check(b.category != a.category, Field::Category);
    check(b.title != a.title, Field::Title);
    check(b.description != a.description, Field::Description);
    check(
        a.attachments.keys().any(|k| !b.attachments.contains_key(k)),
        Field::AttachmentAdded,
    );
    check(
        b.attachments
            .iter()
            .any(|(k, v)| a.attachments.get(k) != Some(v)),
        Field::AttachmentChanged,
    );
    check(b.complainant != a.complainant, Field::Complainant);
    check(b.inspection != a.inspection, Field::Inspection);
    check(b.workflow.status != a.workflow.status, Field::Status);
    check(
        b.workflow.assignments != a.workflow.assignments,
        Field::Assignments,
    );
    check(b.workflow.replies != a.workflow.replies, Field::Replies);
    check(b.workflow.result != a.workflow.result, Field::Result);
    check(
        b.workflow.evaluation != a.workflow.evaluation,
        Field::Evaluation,
    );
    check(b.workflow.returns != a.workflow.returns, Field::Returns);
    // Concurrent appends interleave deterministically, so an append may land before another
    // device's event: what matters is that every old event is still there, unchanged.
    let kept_all = b.timeline.iter().all(|e| a.timeline.contains(e));
    check(!kept_all, Field::TimelineRewritten);
    check(
        kept_all && a.timeline.len() > b.timeline.len(),
        Field::TimelineAppended,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RecordBuilder, Status, Writer, push_event};

    #[test]
    fn a_note_and_a_status_change_are_told_apart() {
        let w = Writer::new("a", "1");
        let before = RecordBuilder::complaint("t", &w).build();
        let mut after = before.clone();
        push_event(&mut after, "a", "note", "hello");
        after.workflow.status = Status::Closed;
        assert_eq!(
            changed_fields(Some(&before), &after),
            vec![Field::Status, Field::TimelineAppended]
        );
    }

    #[test]
    fn removing_a_timeline_event_is_a_rewrite() {
        let w = Writer::new("a", "1");
        let before = RecordBuilder::complaint("t", &w).build();
        let mut after = before.clone();
        after.timeline.clear();
        assert_eq!(
            changed_fields(Some(&before), &after),
            vec![Field::TimelineRewritten]
        );
    }

    #[test]
    fn a_new_record_reports_only_the_workflow_and_owner_it_presumes_to_set() {
        let w = Writer::new("a", "1");
        let mut record = RecordBuilder::complaint("t", &w).build();
        assert!(changed_fields(None, &record).is_empty());
        record.workflow.status = Status::Closed;
        assert_eq!(changed_fields(None, &record), vec![Field::Status]);
    }
}

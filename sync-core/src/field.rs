//! The steps of the hazard loop a grid worker takes on the phone, offline, and the work that
//! waits for them.
//!
//! A phone never writes a record's workflow (its status, deadlines, departments): the server
//! alone decides those. What a worker does in the field — submit a returned report again after
//! amending it, or re-inspect a rectified hazard on site — is written as a timeline event of a
//! [`FieldStep`] kind, in the worker's name, at the phone's time. When the event reaches the
//! server, the server takes the step as if the worker had asked for it over HTTP, with the
//! same checks, and answers it in the same record: the event its transition writes carries the
//! id [`answer_id`] of the step, or, when the step cannot be taken any more (someone acted on
//! the record meanwhile), an event of kind [`STEP_REFUSED`] with that id and the reason. A step
//! with no answer yet is *pending*.
//!
//! [`Record::task_for`] says what a record waits for from a worker, from the record alone, so
//! the phone can list it with no network.

use crate::schema::{Event, Kind, Record, Status};

/// A step a worker takes on a hazard in the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldStep {
    /// The report (a hazard, or a complaint its region sends to the grid's leaders first) was
    /// returned to its worker; amended, it goes to the grid's leaders again.
    Resubmit,
    /// Re-inspected on site after the department's rectification: fixed.
    ReinspectedFixed,
    /// Re-inspected on site: not fixed; back to the department.
    ReinspectedNotFixed,
}

impl FieldStep {
    /// Every step, in a fixed order.
    pub const ALL: [FieldStep; 3] = [
        FieldStep::Resubmit,
        FieldStep::ReinspectedFixed,
        FieldStep::ReinspectedNotFixed,
    ];

    /// The timeline event kind that carries the step.
    pub fn kind(self) -> &'static str {
        match self {
            FieldStep::Resubmit => "field_resubmit",
            FieldStep::ReinspectedFixed => "field_reinspected_fixed",
            FieldStep::ReinspectedNotFixed => "field_reinspected_not_fixed",
        }
    }

    /// The step an event kind carries, if any.
    pub fn from_kind(kind: &str) -> Option<FieldStep> {
        FieldStep::ALL.into_iter().find(|s| s.kind() == kind)
    }

    /// The step's name, as the C ABI and the HTTP transitions spell the matching action.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldStep::Resubmit => "resubmit",
            FieldStep::ReinspectedFixed => "reinspected_fixed",
            FieldStep::ReinspectedNotFixed => "reinspected_not_fixed",
        }
    }

    /// The step of a name ([`FieldStep::as_str`]).
    pub fn parse(name: &str) -> Option<FieldStep> {
        FieldStep::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The task the step does.
    pub fn task(self) -> Task {
        match self {
            FieldStep::Resubmit => Task::Amend,
            FieldStep::ReinspectedFixed | FieldStep::ReinspectedNotFixed => Task::Reinspect,
        }
    }
}

/// What a record waits for from a grid worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// The worker's own report (a hazard, or a complaint under the leaders' review) came back
    /// from the grid's leaders: amend it and submit it again.
    Amend,
    /// The department reported the hazard rectified: re-inspect it on site.
    Reinspect,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Amend => "amend",
            Task::Reinspect => "reinspect",
        }
    }

    pub fn parse(name: &str) -> Option<Task> {
        [Task::Amend, Task::Reinspect]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// The kind of the server's event refusing a field step; its note says why.
pub const STEP_REFUSED: &str = "field_step_refused";

/// The id of the server's answer to the step event `step_id`.
pub fn answer_id(step_id: &str) -> String {
    format!("{step_id}{ANSWER_SUFFIX}")
}

/// What an answer's id adds to its step's id.
pub const ANSWER_SUFFIX: &str = "/answer";

/// Whether an event id is an answer's: only the server writes those.
pub fn is_answer_id(id: &str) -> bool {
    id.ends_with(ANSWER_SUFFIX)
}

impl Record {
    /// The field steps on this record the server has not answered yet, oldest first.
    pub fn pending_steps(&self) -> Vec<(FieldStep, &Event)> {
        let answered: std::collections::HashSet<&str> = self
            .timeline
            .iter()
            .filter_map(|e| e.id.strip_suffix(ANSWER_SUFFIX))
            .collect();
        let mut pending: Vec<(FieldStep, &Event)> = self
            .timeline
            .iter()
            .filter(|e| !answered.contains(e.id.as_str()))
            .filter_map(|e| FieldStep::from_kind(&e.kind).map(|s| (s, e)))
            .collect();
        pending.sort_by_key(|(_, e)| e.at);
        pending
    }

    /// What this record waits for from `worker`, if anything: amending their own returned
    /// report (a hazard or a complaint), or re-inspecting a rectified hazard (any worker of the
    /// grid may; the phone holds only its grids' records). Nothing while a step for it waits
    /// for the server's answer.
    pub fn task_for(&self, worker: &str) -> Option<Task> {
        let task = match self.workflow.status {
            Status::Returned if self.created_by.user == worker => Task::Amend,
            Status::Rectified if self.kind == Kind::RiskInspection => Task::Reinspect,
            _ => return None,
        };
        let waiting = self.pending_steps().iter().any(|(s, _)| s.task() == task);
        (!waiting).then_some(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::push_event;
    use crate::{RecordBuilder, RiskLevel, Writer};

    fn hazard(status: Status) -> Record {
        let w = Writer::new("wang", "phone");
        let mut r = RecordBuilder::risk_inspection("楼道堆物", "fire", RiskLevel::High, &w).build();
        r.workflow.status = status;
        r
    }

    #[test]
    fn a_returned_report_waits_for_its_own_worker_only() {
        let r = hazard(Status::Returned);
        assert_eq!(r.task_for("wang"), Some(Task::Amend));
        assert_eq!(r.task_for("zhao"), None);
    }

    #[test]
    fn a_rectified_hazard_waits_for_any_worker_of_the_grid() {
        let r = hazard(Status::Rectified);
        assert_eq!(r.task_for("wang"), Some(Task::Reinspect));
        assert_eq!(r.task_for("zhao"), Some(Task::Reinspect));
    }

    #[test]
    fn nothing_waits_on_a_record_in_other_hands() {
        for status in [Status::Received, Status::Verified, Status::Dispatched] {
            assert_eq!(hazard(status).task_for("wang"), None, "{status}");
        }
        let w = Writer::new("wang", "phone");
        let mut complaint = RecordBuilder::complaint("路灯不亮", &w).build();
        complaint.workflow.status = Status::Received;
        assert_eq!(complaint.task_for("wang"), None);
    }

    #[test]
    fn a_complaint_returned_by_the_leaders_waits_for_its_worker() {
        let w = Writer::new("wang", "phone");
        let mut complaint = RecordBuilder::complaint("路灯不亮", &w).build();
        complaint.workflow.status = Status::Returned;
        assert_eq!(complaint.task_for("wang"), Some(Task::Amend));
        assert_eq!(complaint.task_for("zhao"), None);
    }

    #[test]
    fn a_step_waiting_for_its_answer_takes_the_task_off_the_list_until_answered() {
        let mut r = hazard(Status::Rectified);
        push_event(&mut r, "wang", FieldStep::ReinspectedFixed.kind(), "修好了");
        assert_eq!(r.task_for("wang"), None);
        let step = r.pending_steps()[0].1.id.clone();
        assert_eq!(r.pending_steps()[0].0, FieldStep::ReinspectedFixed);

        // The server refuses it (say the department reported again meanwhile): the task is back.
        r.timeline.push(Event {
            id: answer_id(&step),
            actor: "server".into(),
            at: 0,
            kind: STEP_REFUSED.into(),
            note: "cannot reinspect a case that is dispatched".into(),
        });
        assert!(r.pending_steps().is_empty());
        assert_eq!(r.task_for("wang"), Some(Task::Reinspect));
    }

    #[test]
    fn steps_and_tasks_round_trip_their_names() {
        for step in FieldStep::ALL {
            assert_eq!(FieldStep::parse(step.as_str()), Some(step));
            assert_eq!(FieldStep::from_kind(step.kind()), Some(step));
        }
        assert_eq!(FieldStep::parse("verify"), None);
        for task in [Task::Amend, Task::Reinspect] {
            assert_eq!(Task::parse(task.as_str()), Some(task));
        }
        assert!(is_answer_id(&answer_id("x")));
        assert!(!is_answer_id("x"));
    }
}

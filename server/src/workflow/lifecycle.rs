//! The lifecycle of a case, as the server enforces it: which action may follow which status,
//! who may take it, and what it writes. Pure: the caller supplies the time, the calendar and
//! the resolved dispatch, and stores the result.
//!
//! ```text
//! received ─accept→ accepted ─dispatch→ dispatched ─sign_for→ signed_for ─reply→ replied
//!    │                 │  (re-dispatch from dispatched / signed_for)             │ start_handling
//!    ├─flag_unreasonable┘→ flagged_unreasonable ─consult / plan_follow_up→ (same) │
//!    │                            └─close→ closed                               handling
//!    └─link_duplicate→ closed                                                    │ report_result
//! closed ←close─ evaluated ←evaluate─ feedback_given ←feedback─ result_reported ←┘
//!                   └ dissatisfied: back to handling, returns + 1, fresh deadlines
//! ```
//! `supervise` (督办) may be issued on any dispatched, open case; a co-handling department may
//! `reply` (progress) whenever the case is being handled, without moving its status.

use serde::Deserialize;
use sync_core::{
    Assignment, AssignmentRole, Evaluation, Event, FieldStep, HandlingResult, Outcome, Rating,
    Record, Reply, Status, new_record_id,
};

use crate::domain::Role;
use crate::store::{self, CaseRow, CaseWrites, Notice};
use crate::workflow::calendar::{Calendar, Date, DeadlineClass};

/// How long the desk has to evaluate a reported result (回访评价): three working days. A result
/// left unevaluated past it is supervised and charged to the case's regions, so leaving a
/// result unevaluated cannot keep a dissatisfied evaluation out of the figures.
pub const EVALUATION_SPAN: crate::workflow::calendar::Span =
    crate::workflow::calendar::Span::WorkingDays(3);

/// The longest note, reply or explanation, in characters.
pub const MAX_NOTE_CHARS: usize = sync_core::schema::limits::NOTE;

/// A transition request: `{"action": "...", "note": "...", ...}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Classify (分类甄别) and accept; optionally correct the category.
    Accept {
        #[serde(default)]
        note: String,
        category: Option<String>,
        /// A group complaint (群体诉求): many complainants, one matter.
        #[serde(default)]
        group_complaint: bool,
        /// A legacy problem (历史遗留问题).
        #[serde(default)]
        legacy: bool,
    },
    /// An unreasonable demand or a repeat petition: handled by consultation, not dispatch.
    FlagUnreasonable { note: String },
    /// 派单: one lead department and co-handling units, each with a deadline from the class.
    /// Omitted fields come from the dispatch rules.
    Dispatch {
        #[serde(default)]
        note: String,
        lead: Option<String>,
        #[serde(default)]
        co_handlers: Vec<String>,
        deadline_class: Option<String>,
        /// On a re-dispatch: the previous lead shirked the case (推诿), which the monthly report
        /// deducts; recorded as a `shirking` notice against it.
        #[serde(default)]
        shirking: bool,
    },
    /// The lead department signs for the case.
    SignFor {
        #[serde(default)]
        note: String,
    },
    /// A reply to the complainant: the lead's first is the initial reply.
    Reply { note: String },
    /// The lead department starts handling.
    StartHandling {
        #[serde(default)]
        note: String,
    },
    /// The lead department reports the result.
    ReportResult {
        outcome: Outcome,
        explanation: String,
        #[serde(default)]
        note: String,
        /// Photos of the result, blobs the caller uploaded: they join the record's attachments.
        #[serde(default)]
        photos: Vec<String>,
    },
    /// 回访: the result was fed back to the complainant.
    Feedback { note: String },
    /// The complainant's rating. Dissatisfied sends the case back for re-handling.
    Evaluate {
        rating: Rating,
        comment: Option<String>,
        #[serde(default)]
        note: String,
    },
    /// Closes an evaluated case, or an unreasonable demand after its plan.
    Close {
        #[serde(default)]
        note: String,
    },
    /// Marks the case a duplicate of another and closes it.
    LinkDuplicate {
        duplicate_of: uuid::Uuid,
        #[serde(default)]
        note: String,
    },
    /// 一事一策: the consultation with the grid unit and the plan, with its follow-up date.
    Consult {
        note: String,
        plan: String,
        follow_up_due: Date,
    },
    /// A follow-up of the plan; `next_follow_up_due` schedules another, else the plan's
    /// follow-ups are done.
    PlanFollowUp {
        note: String,
        next_follow_up_due: Option<Date>,
    },
    /// 督办: a supervision notice issued by hand.
    Supervise { note: String },
    /// A grid leader confirms a worker's hazard report (核实).
    Verify {
        #[serde(default)]
        note: String,
    },
    /// A grid leader sends a hazard report back to its worker, saying what to amend.
    ReturnToWorker { note: String },
    /// The worker submits an amended hazard report again.
    Resubmit {
        #[serde(default)]
        note: String,
    },
    /// A grid leader settles a hazard inside the grid (网格内化解), optionally naming the
    /// evidence photo among the record's attachments.
    ResolveInGrid {
        note: String,
        #[serde(default)]
        evidence: Option<String>,
    },
    /// A grid leader passes a hazard the grid cannot settle to the desk (上报).
    Escalate { note: String },
    /// The lead department reports the hazard rectified (整改).
    ReportRectification {
        note: String,
        /// Photos of the rectified site, blobs the caller uploaded: they join the record's
        /// attachments.
        #[serde(default)]
        photos: Vec<String>,
    },
    /// A worker of the grid re-inspects on site (复查): fixed closes the hazard, not fixed sends
    /// it back to the department with a fresh deadline.
    Reinspect {
        fixed: bool,
        #[serde(default)]
        note: String,
    },
}

impl Action {
    /// The action's name, as in the request.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Accept { .. } => "accept",
            Action::FlagUnreasonable { .. } => "flag_unreasonable",
            Action::Dispatch { .. } => "dispatch",
            Action::SignFor { .. } => "sign_for",
            Action::Reply { .. } => "reply",
            Action::StartHandling { .. } => "start_handling",
            Action::ReportResult { .. } => "report_result",
            Action::Feedback { .. } => "feedback",
            Action::Evaluate { .. } => "evaluate",
            Action::Close { .. } => "close",
            Action::LinkDuplicate { .. } => "link_duplicate",
            Action::Consult { .. } => "consult",
            Action::PlanFollowUp { .. } => "plan_follow_up",
            Action::Supervise { .. } => "supervise",
            Action::Verify { .. } => "verify",
            Action::ReturnToWorker { .. } => "return_to_worker",
            Action::Resubmit { .. } => "resubmit",
            Action::ResolveInGrid { .. } => "resolve_in_grid",
            Action::Escalate { .. } => "escalate",
            Action::ReportRectification { .. } => "report_rectification",
            Action::Reinspect { .. } => "reinspect",
        }
    }

    /// The photos the action adds to the record (blobs the caller uploaded).
    pub fn photos(&self) -> &[String] {
        match self {
            Action::ReportResult { photos, .. } | Action::ReportRectification { photos, .. } => {
                photos
            }
            _ => &[],
        }
    }

    /// Whether the action belongs to the hazard loop only.
    pub fn is_hazard_only(&self) -> bool {
        matches!(
            self,
            Action::Verify { .. }
                | Action::ReturnToWorker { .. }
                | Action::Resubmit { .. }
                | Action::ResolveInGrid { .. }
                | Action::Escalate { .. }
                | Action::ReportRectification { .. }
                | Action::Reinspect { .. }
        )
    }

    /// Whether the action is taken on hazards too (the rest are the complaint loop's).
    pub fn applies_to_hazards(&self) -> bool {
        self.is_hazard_only() || matches!(self, Action::Dispatch { .. } | Action::Supervise { .. })
    }

    /// The roles that may take the action at all (scope and department are checked after).
    pub fn roles(&self) -> &'static [Role] {
        const DESK: &[Role] = &[Role::Dispatcher, Role::Admin];
        const DEPARTMENT: &[Role] = &[Role::Department, Role::Admin];
        match self {
            Action::Accept { .. }
            | Action::FlagUnreasonable { .. }
            | Action::Dispatch { .. }
            | Action::Feedback { .. }
            | Action::Evaluate { .. }
            | Action::Close { .. }
            | Action::LinkDuplicate { .. } => DESK,
            Action::SignFor { .. }
            | Action::Reply { .. }
            | Action::StartHandling { .. }
            | Action::ReportResult { .. } => DEPARTMENT,
            Action::Consult { .. } | Action::PlanFollowUp { .. } => {
                &[Role::Dispatcher, Role::GridLeader, Role::Admin]
            }
            Action::Supervise { .. } => &[Role::Supervisor, Role::Dispatcher, Role::Admin],
            Action::Verify { .. }
            | Action::ReturnToWorker { .. }
            | Action::ResolveInGrid { .. }
            | Action::Escalate { .. } => &[Role::GridLeader, Role::Admin],
            Action::Resubmit { .. } | Action::Reinspect { .. } => &[Role::GridWorker, Role::Admin],
            Action::ReportRectification { .. } => DEPARTMENT,
        }
    }
}

/// Who takes an action.
#[derive(Debug, Clone)]
pub struct Actor {
    pub username: String,
    pub role: Role,
    /// The department a department account acts for.
    pub department: Option<String>,
}

/// A dispatch with every blank filled from the rules and checked against the store.
#[derive(Debug, Clone)]
pub struct DispatchPlan {
    pub lead: String,
    pub co_handlers: Vec<String>,
    pub class: DeadlineClass,
    /// The departments' names by code, for the timeline (a code stands for a missing name).
    pub names: std::collections::BTreeMap<String, String>,
}

impl DispatchPlan {
    fn name<'a>(&'a self, code: &'a str) -> &'a str {
        self.names.get(code).map_or(code, String::as_str)
    }
}

/// An outcome as the timeline says it.
fn outcome_words(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Resolved => "已解决",
        Outcome::PartlyResolved => "部分解决",
        Outcome::CannotResolve => "无法解决",
    }
}

/// A rating as the timeline says it.
fn rating_words(rating: Rating) -> &'static str {
    match rating {
        Rating::Satisfied => "满意",
        Rating::BasicallySatisfied => "基本满意",
        Rating::Dissatisfied => "不满意",
    }
}

/// What a transition needs besides the record: the time, the calendar, and what the service
/// resolved from the store.
#[derive(Debug, Clone)]
pub struct Env<'a> {
    pub now: i64,
    pub calendar: &'a Calendar,
    /// For `dispatch`: the resolved plan.
    pub dispatch: Option<DispatchPlan>,
    /// The case's deadline class, for the fresh deadlines of a re-handling.
    pub class: Option<DeadlineClass>,
    /// The complaint goes to its grid's leaders before the desk (a worker's complaint in a
    /// region that asks for it): the leaders verify, return or settle it first.
    pub leader_review: bool,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The action does not follow the case's status (HTTP 409 `invalid_transition`).
    #[error("cannot {action} a case that is {status}")]
    InvalidTransition {
        action: &'static str,
        status: Status,
    },
    /// The caller may not take this action on this case (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// The request is well-formed but its content is not acceptable (HTTP 422).
    #[error("{detail}")]
    Invalid { code: &'static str, detail: String },
    /// The complaint waits for its grid's leaders' review before the desk takes it (HTTP 409
    /// `awaiting_leader_review`).
    #[error("this complaint waits for its grid's leaders to review it before the desk takes it")]
    AwaitingReview,
}

fn invalid(code: &'static str, detail: impl Into<String>) -> TransitionError {
    TransitionError::Invalid {
        code,
        detail: detail.into(),
    }
}

fn text(field: &'static str, value: &str, required: bool) -> Result<String, TransitionError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(invalid(
            "missing_text",
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid(
            "too_long",
            format!("{field} is longer than {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(value.to_string())
}

/// The statuses in which a case is being handled by its departments.
const HANDLING: &[Status] = &[
    Status::SignedFor,
    Status::Replied,
    Status::Handling,
    Status::ResultReported,
];

fn active_lead(record: &Record) -> Option<&Assignment> {
    record
        .workflow
        .assignments
        .iter()
        .find(|a| a.active && a.role == AssignmentRole::Lead)
}

fn new_assignments(
    record: &mut Record,
    lead: &str,
    co_handlers: &[String],
    class: &DeadlineClass,
    env: &Env<'_>,
) -> i64 {
    for a in record.workflow.assignments.iter_mut() {
        a.active = false;
    }
    let (_, deadline) = class.deadlines(env.calendar, env.now);
    let mut push = |department: &str, role| {
        record.workflow.assignments.push(Assignment {
            id: new_record_id().to_string(),
            department: department.to_string(),
            role,
            deadline,
            assigned_at: env.now,
            active: true,
        })
    };
    push(lead, AssignmentRole::Lead);
    for co in co_handlers {
        push(co, AssignmentRole::CoHandler);
    }
    deadline
}

/// Takes `action` on the case: checks status, role and department, changes the record (status,
/// assignments, replies, result, evaluation, returns, a timeline event saying who, when and
/// why) and the case row, and returns the notices and evaluations to store with them.
pub fn apply(
    record: &mut Record,
    case: &mut CaseRow,
    action: &Action,
    actor: &Actor,
    env: &Env<'_>,
) -> Result<CaseWrites, TransitionError> {
    if !action.roles().contains(&actor.role) {
        return Err(TransitionError::Forbidden(format!(
            "role {} may not {}",
            actor.role,
            action.name()
        )));
    }
    let hazard = record.kind == sync_core::Kind::RiskInspection;
    if hazard && !action.applies_to_hazards() {
        return Err(invalid(
            "not_a_complaint",
            "only complaints follow the complaint workflow",
        ));
    }
    // A complaint under its grid's leaders' review takes their steps (and a returned one the
    // worker's resubmission, whatever the setting says now); no other complaint does.
    let reviewed_complaint = matches!(
        action,
        Action::Verify { .. } | Action::ReturnToWorker { .. } | Action::ResolveInGrid { .. }
    ) && env.leader_review
        || matches!(action, Action::Resubmit { .. });
    if !hazard && action.is_hazard_only() && !reviewed_complaint {
        return Err(invalid(
            "not_a_hazard",
            "only risk inspections, and complaints their region sends to the grid's leaders \
             first, follow this step",
        ));
    }
    // The desk waits for the leaders' review.
    if !hazard
        && env.leader_review
        && record.workflow.status == Status::Received
        && matches!(
            action,
            Action::Accept { .. } | Action::FlagUnreasonable { .. } | Action::LinkDuplicate { .. }
        )
        && action.roles().contains(&actor.role)
    {
        return Err(TransitionError::AwaitingReview);
    }
    let status = record.workflow.status;
    let require = |allowed: &[Status]| {
        if allowed.contains(&status) {
            Ok(())
        } else {
            Err(TransitionError::InvalidTransition {
                action: action.name(),
                status,
            })
        }
    };
    // A department account acts only on cases its department holds; as the lead, for the steps
    // that move the case.
    let department_role = |lead_only: bool| -> Result<Option<AssignmentRole>, TransitionError> {
        if actor.role == Role::Admin {
            return Ok(Some(AssignmentRole::Lead));
        }
        let Some(department) = actor.department.as_deref() else {
            return Err(TransitionError::Forbidden(
                "this account is not linked to a department".into(),
            ));
        };
        let held = record
            .workflow
            .assignments
            .iter()
            .filter(|a| a.active && a.department == department)
            .map(|a| a.role)
            .min_by_key(|r| *r != AssignmentRole::Lead);
        match held {
            Some(AssignmentRole::CoHandler) if lead_only => {
                Err(TransitionError::Forbidden(format!(
                    "{department} co-handles this case; only the lead department may {}",
                    action.name()
                )))
            }
            Some(role) => Ok(Some(role)),
            None => Err(TransitionError::Forbidden(format!(
                "this case is not assigned to {department}"
            ))),
        }
    };

    let mut notices = Vec::new();
    let mut evaluations = Vec::new();
    let owner_grid = record.owner_grid.as_ref().and_then(|o| o.code.clone());
    // What a hazard step is judged on: the lead's deadline and its reported result, before the
    // action changes them.
    let lead_before = active_lead(record).map(|a| (a.department.clone(), a.deadline));
    let result_before = record.workflow.result.as_ref().map(|r| r.at);
    let (kind, note): (&str, String) = match action {
        Action::Accept {
            note,
            category,
            group_complaint,
            legacy,
        } => {
            require(&[Status::Received, Status::Verified])?;
            let mut note = text("note", note, false)?;
            case.group_complaint = *group_complaint;
            case.legacy = *legacy;
            for (marked, mark) in [
                (*group_complaint, "group complaint"),
                (*legacy, "legacy problem"),
            ] {
                if marked {
                    note = join(mark.to_string(), note);
                }
            }
            if let Some(category) = category {
                let category = text("category", category, true)?;
                let max = sync_core::schema::limits::CODE;
                if category.chars().count() > max {
                    return Err(invalid(
                        "too_long",
                        format!("category is longer than {max} characters"),
                    ));
                }
                record.category = category;
            }
            if record.category.is_empty() {
                return Err(invalid(
                    "missing_category",
                    "an unclassified complaint is accepted with its category",
                ));
            }
            record.workflow.status = Status::Accepted;
            ("accepted", note)
        }
        Action::FlagUnreasonable { note } => {
            require(&[Status::Received, Status::Verified, Status::Accepted])?;
            let note = text("note", note, true)?;
            record.workflow.status = Status::FlaggedUnreasonable;
            ("flagged_unreasonable", note)
        }
        Action::Dispatch { note, shirking, .. } => {
            if hazard {
                require(&[Status::Escalated, Status::Dispatched])?;
            } else {
                require(&[Status::Accepted, Status::Dispatched, Status::SignedFor])?;
            }
            let note = text("note", note, false)?;
            let plan = env
                .dispatch
                .as_ref()
                .ok_or_else(|| invalid("no_dispatch_rule", "nothing to dispatch to"))?;
            if *shirking {
                let Some(previous) = active_lead(record).map(|a| a.department.clone()) else {
                    return Err(invalid(
                        "not_a_redispatch",
                        "shirking is recorded only when a dispatched case is re-dispatched",
                    ));
                };
                notices.push(Notice {
                    id: new_record_id().to_string(),
                    record_id: record.id.to_string(),
                    subject: "shirking".into(),
                    department: Some(previous.clone()),
                    due_at: None,
                    issued_at: env.now,
                    issued_by: actor.username.clone(),
                    note: format!("推诿：{} 推诿此件", plan.name(&previous)),
                    owner_grid: owner_grid.clone(),
                });
            }
            let deadline = new_assignments(record, &plan.lead, &plan.co_handlers, &plan.class, env);
            let redispatch = status != Status::Accepted;
            record.workflow.status = Status::Dispatched;
            if case.dispatched_at.is_none() {
                case.dispatched_at = Some(env.now);
                // A hazard has no initial reply to give: only its rectification is due.
                if !hazard {
                    case.response_due = Some(plan.class.response.due(env.calendar, env.now));
                }
            }
            // Whoever holds the case while its initial reply is still due answers for it; once
            // the reply is given or its deadline has passed, a re-dispatch moves nothing.
            if case.replied_at.is_none() && case.response_due.is_some_and(|due| env.now <= due) {
                case.response_department = Some(plan.lead.clone());
                case.response_grid = owner_grid.clone();
            }
            case.deadline_class = Some(plan.class.code.clone());
            let co = if plan.co_handlers.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = plan.co_handlers.iter().map(|c| plan.name(c)).collect();
                format!("，协办 {}", names.join("、"))
            };
            let summary = format!(
                "{}：主办 {}{co}；时限 {}；办结期限 {}",
                if redispatch { "改派" } else { "派单" },
                plan.name(&plan.lead),
                plan.class.name,
                Date::minute_of_instant(deadline)
            );
            ("dispatched", join(summary, note))
        }
        Action::SignFor { note } => {
            require(&[Status::Dispatched])?;
            department_role(true)?;
            record.workflow.status = Status::SignedFor;
            ("signed_for", text("note", note, false)?)
        }
        Action::Reply { note } => {
            let role = department_role(false)?;
            let reply = text("note", note, true)?;
            let is_lead = role == Some(AssignmentRole::Lead);
            if is_lead {
                require(&[Status::SignedFor, Status::Replied, Status::Handling])?;
            } else {
                require(HANDLING)?;
            }
            let department = match (actor.role, active_lead(record)) {
                (Role::Admin, Some(lead)) => lead.department.clone(),
                _ => actor.department.clone().unwrap_or_default(),
            };
            record.workflow.replies.push(Reply {
                id: new_record_id().to_string(),
                department: department.clone(),
                at: env.now,
                text: reply.clone(),
            });
            if is_lead && status == Status::SignedFor {
                record.workflow.status = Status::Replied;
                if case.replied_at.is_none() {
                    case.replied_at = Some(env.now);
                }
                ("replied", reply)
            } else {
                ("progress_reply", format!("{department}: {reply}"))
            }
        }
        Action::StartHandling { note } => {
            require(&[Status::Replied])?;
            department_role(true)?;
            record.workflow.status = Status::Handling;
            ("handling_started", text("note", note, false)?)
        }
        Action::ReportResult {
            outcome,
            explanation,
            note,
            ..
        } => {
            require(&[Status::Replied, Status::Handling])?;
            department_role(true)?;
            let explanation = text("explanation", explanation, true)?;
            record.workflow.result = Some(HandlingResult {
                outcome: *outcome,
                explanation: explanation.clone(),
                at: env.now,
            });
            record.workflow.status = Status::ResultReported;
            case.evaluation_due = Some(EVALUATION_SPAN.due(env.calendar, env.now));
            (
                "result_reported",
                join(
                    format!("{}：{explanation}", outcome_words(*outcome)),
                    text("note", note, false)?,
                ),
            )
        }
        Action::Feedback { note } => {
            require(&[Status::ResultReported])?;
            record.workflow.status = Status::FeedbackGiven;
            ("feedback_given", text("note", note, true)?)
        }
        Action::Evaluate {
            rating,
            comment,
            note,
        } => {
            require(&[Status::FeedbackGiven])?;
            let comment = comment
                .as_deref()
                .map(|c| text("comment", c, false))
                .transpose()?
                .filter(|c| !c.is_empty());
            let note = text("note", note, false)?;
            let judged = record
                .workflow
                .result
                .as_ref()
                .map(|r| r.outcome)
                .ok_or_else(|| invalid("no_result", "the case has no result to evaluate"))?;
            evaluations.push(store::Evaluation {
                id: new_record_id().to_string(),
                record_id: record.id.to_string(),
                at: env.now,
                rating: rating.as_str().to_string(),
                outcome: judged.as_str().to_string(),
                department: active_lead(record).map(|a| a.department.clone()),
                owner_grid: owner_grid.clone(),
                group_complaint: case.group_complaint,
                legacy: case.legacy,
            });
            case.evaluation_due = None;
            record.workflow.evaluation = Some(Evaluation {
                rating: *rating,
                comment: comment.clone(),
                at: env.now,
            });
            let said = join(
                rating_words(*rating).to_string(),
                comment.unwrap_or_default(),
            );
            if *rating == Rating::Dissatisfied {
                // Back to the same departments for re-handling, with fresh deadlines.
                send_back(record, env, "the case")?;
                record.workflow.status = Status::Handling;
                let n = record.workflow.returns;
                (
                    "returned",
                    join(format!("{said}；退回重新办理（第 {n} 次）"), note),
                )
            } else {
                record.workflow.status = Status::Evaluated;
                ("evaluated", join(said, note))
            }
        }
        Action::Close { note } => {
            require(&[Status::Evaluated, Status::FlaggedUnreasonable])?;
            if status == Status::FlaggedUnreasonable && case.plan_follow_up_due.is_some() {
                return Err(invalid(
                    "plan_follow_up_pending",
                    "the case plan has a follow-up still due",
                ));
            }
            record.workflow.status = Status::Closed;
            case.closed_at = Some(env.now);
            ("closed", text("note", note, false)?)
        }
        Action::LinkDuplicate { duplicate_of, note } => {
            require(&[Status::Received, Status::Verified, Status::Accepted])?;
            if *duplicate_of == record.id {
                return Err(invalid(
                    "invalid_duplicate",
                    "a case cannot duplicate itself",
                ));
            }
            record.workflow.status = Status::Closed;
            case.duplicate_of = Some(duplicate_of.to_string());
            case.closed_at = Some(env.now);
            (
                "duplicate_linked",
                join(
                    format!("与 {duplicate_of} 重复"),
                    text("note", note, false)?,
                ),
            )
        }
        Action::Consult {
            note,
            plan,
            follow_up_due,
        } => {
            require(&[Status::FlaggedUnreasonable])?;
            let note = text("note", note, true)?;
            let plan = text("plan", plan, true)?;
            let due = follow_up_due.end_ms();
            if due < env.now {
                return Err(invalid("date_in_the_past", "the follow-up date has passed"));
            }
            case.plan_follow_up_due = Some(due);
            (
                "case_plan",
                format!("协商：{note}；一事一策：{plan}；{follow_up_due} 前回访"),
            )
        }
        Action::PlanFollowUp {
            note,
            next_follow_up_due,
        } => {
            require(&[Status::FlaggedUnreasonable])?;
            if case.plan_follow_up_due.is_none() {
                return Err(invalid(
                    "no_case_plan",
                    "the case has no plan follow-up due",
                ));
            }
            let note = text("note", note, true)?;
            case.plan_follow_up_due = match next_follow_up_due {
                Some(date) if date.end_ms() < env.now => {
                    return Err(invalid("date_in_the_past", "the follow-up date has passed"));
                }
                Some(date) => Some(date.end_ms()),
                None => None,
            };
            let next = next_follow_up_due
                .map(|d| format!("；下次回访 {d} 前"))
                .unwrap_or_default();
            ("plan_follow_up", format!("{note}{next}"))
        }
        Action::Supervise { note } => {
            require(&[
                Status::Dispatched,
                Status::SignedFor,
                Status::Replied,
                Status::Handling,
                Status::ResultReported,
                Status::FeedbackGiven,
                Status::FlaggedUnreasonable,
                Status::Escalated,
                Status::Rectified,
            ])?;
            let note = text("note", note, true)?;
            notices.push(Notice {
                id: new_record_id().to_string(),
                record_id: record.id.to_string(),
                subject: "manual".into(),
                department: active_lead(record).map(|a| a.department.clone()),
                due_at: None,
                issued_at: env.now,
                issued_by: actor.username.clone(),
                note: note.clone(),
                owner_grid: owner_grid.clone(),
            });
            ("supervision", note)
        }
        Action::Verify { note } => {
            require(&[Status::Received])?;
            record.workflow.status = Status::Verified;
            ("verified", text("note", note, false)?)
        }
        Action::ReturnToWorker { note } => {
            require(&[Status::Received])?;
            let note = text("note", note, true)?;
            record.workflow.status = Status::Returned;
            ("returned_to_worker", note)
        }
        Action::Resubmit { note } => {
            require(&[Status::Returned])?;
            record.workflow.status = Status::Received;
            ("resubmitted", text("note", note, false)?)
        }
        Action::ResolveInGrid { note, evidence } => {
            // A hazard is verified first and settled with an evidence photo; a complaint under
            // review is settled from its report, with a note.
            require(if hazard {
                &[Status::Verified]
            } else {
                &[Status::Received]
            })?;
            let note = text("note", note, true)?;
            match evidence {
                Some(sha) if !record.attachments.contains_key(sha) => {
                    return Err(invalid(
                        "unknown_attachment",
                        "the evidence is not one of the record's photos",
                    ));
                }
                None if hazard => {
                    return Err(invalid(
                        "missing_evidence",
                        "a hazard is settled in the grid with an evidence photo: name one of \
                         the record's photos",
                    ));
                }
                _ => {}
            }
            record.workflow.status = Status::ResolvedInGrid;
            case.closed_at = Some(env.now);
            let evidence = evidence
                .as_ref()
                .map(|sha| format!("（佐证照片 {}）", sha.get(..8).unwrap_or(sha)))
                .unwrap_or_default();
            ("resolved_in_grid", format!("{note}{evidence}"))
        }
        Action::Escalate { note } => {
            require(&[Status::Verified])?;
            let note = text("note", note, true)?;
            record.workflow.status = Status::Escalated;
            ("escalated", note)
        }
        Action::ReportRectification { note, .. } => {
            require(&[Status::Dispatched])?;
            department_role(true)?;
            let note = text("note", note, true)?;
            record.workflow.result = Some(HandlingResult {
                outcome: Outcome::Resolved,
                explanation: note.clone(),
                at: env.now,
            });
            record.workflow.status = Status::Rectified;
            ("rectified", note)
        }
        Action::Reinspect { fixed, note } => {
            require(&[Status::Rectified])?;
            let note = text("note", note, false)?;
            if *fixed {
                record.workflow.status = Status::Closed;
                case.closed_at = Some(env.now);
                ("reinspected_fixed", note)
            } else {
                // Back to the same departments, with fresh deadlines, and counted.
                send_back(record, env, "the hazard")?;
                record.workflow.status = Status::Dispatched;
                let n = record.workflow.returns;
                (
                    "reinspected_not_fixed",
                    join(
                        format!("未整改到位，退回主办部门重新整改（第 {n} 次）"),
                        note,
                    ),
                )
            }
        }
    };
    push_event(record, &actor.username, env.now, kind, note);
    // The ledgers' rows take the id of the event just written.
    let event_id = record
        .timeline
        .last()
        .map(|e| e.id.clone())
        .unwrap_or_default();
    let step = kind;
    let hazard_steps = match &record.inspection {
        Some(inspection) if HAZARD_STEPS.contains(&step) => {
            let lead = match step {
                "dispatched" => active_lead(record).map(|a| a.department.clone()),
                _ => lead_before.as_ref().map(|(d, _)| d.clone()),
            };
            let deadline = lead_before.as_ref().map(|(_, due)| *due);
            let on_time = match step {
                "rectified" => deadline.map(|due| env.now <= due),
                "reinspected_fixed" | "reinspected_not_fixed" => {
                    deadline.zip(result_before).map(|(due, at)| at <= due)
                }
                _ => None,
            };
            vec![store::HazardStep {
                id: event_id.clone(),
                record_id: record.id.to_string(),
                at: env.now,
                step: step.to_string(),
                hazard_type: inspection.hazard_type.clone(),
                risk_level: inspection.risk_level.as_str().to_string(),
                owner_grid,
                department: lead,
                on_time,
            }]
        }
        _ => Vec::new(),
    };
    let reviews = if !hazard && REVIEW_STEPS.contains(&kind) {
        vec![store::ReviewStep {
            id: event_id,
            record_id: record.id.to_string(),
            at: env.now,
            step: kind.to_string(),
            owner_grid: record.owner_grid.as_ref().and_then(|o| o.code.clone()),
        }]
    } else {
        Vec::new()
    };
    sync_case(record, case, env.now);
    Ok(CaseWrites {
        notices,
        evaluations,
        hazard_steps,
        reviews,
    })
}

/// The transitions' event kinds the hazard figures count, as `hazard_steps` keeps them.
const HAZARD_STEPS: &[&str] = &[
    "verified",
    "returned_to_worker",
    "resolved_in_grid",
    "escalated",
    "dispatched",
    "rectified",
    "reinspected_fixed",
    "reinspected_not_fixed",
];

/// The event kinds of the leaders' review of a complaint, as `complaint_reviews` keeps them.
const REVIEW_STEPS: &[&str] = &[
    "verified",
    "returned_to_worker",
    "resubmitted",
    "resolved_in_grid",
];

/// A workflow write as the server makes it: first a notice (and an `overdue` timeline event)
/// for every deadline the case has missed by `env.now` that is not in `issued` — so a
/// re-dispatch's fresh deadline, or a late reply or result, cannot make a miss disappear
/// before a sweep notices it — then [`apply`]. On an error the record and case row may be
/// half-changed: discard them.
pub fn take(
    record: &mut Record,
    case: &mut CaseRow,
    action: &Action,
    actor: &Actor,
    env: &Env<'_>,
    issued: &[(String, i64)],
) -> Result<CaseWrites, TransitionError> {
    let mut notices = crate::workflow::scheduler::missed_notices(record, case, env.now, issued);
    let mut writes = apply(record, case, action, actor, env)?;
    notices.append(&mut writes.notices);
    writes.notices = notices;
    Ok(writes)
}

/// The action a worker's field step, taken on the phone ([`sync_core::field`]), asks for.
pub fn step_action(step: FieldStep, note: &str) -> Action {
    let note = note.to_string();
    match step {
        FieldStep::Resubmit => Action::Resubmit { note },
        FieldStep::ReinspectedFixed => Action::Reinspect { fixed: true, note },
        FieldStep::ReinspectedNotFixed => Action::Reinspect { fixed: false, note },
    }
}

/// Whether `actor` may take `action` on `record` as it stands — its order, role, department
/// and content checks — by [`apply`] on copies, with a stand-in calendar and deadline class.
/// Not for `dispatch`, whose plan the service resolves from the store.
pub fn check(record: &Record, action: &Action, actor: &Actor) -> Result<(), TransitionError> {
    let calendar = Calendar::default();
    let class = DeadlineClass {
        code: "check".into(),
        name: String::new(),
        response: crate::workflow::calendar::Span::WorkingDays(1),
        handling: crate::workflow::calendar::Span::WorkingDays(1),
    };
    let env = Env {
        now: sync_core::now_ms(),
        calendar: &calendar,
        dispatch: None,
        class: Some(class),
        leader_review: false,
    };
    let mut case = CaseRow::default();
    sync_case(record, &mut case, env.now);
    apply(&mut record.clone(), &mut case, action, actor, &env).map(|_| ())
}

/// Sends a case back to the departments that hold it — the same lead and co-handlers, with
/// fresh deadlines in the case's class — clearing its result and counting the return; returns
/// the lead. `what` names the record in the refusal when no lead holds it.
fn send_back(record: &mut Record, env: &Env<'_>, what: &str) -> Result<(), TransitionError> {
    let lead = active_lead(record).map(|a| a.department.clone());
    let co: Vec<String> = record
        .workflow
        .assignments
        .iter()
        .filter(|a| a.active && a.role == AssignmentRole::CoHandler)
        .map(|a| a.department.clone())
        .collect();
    let (Some(lead), Some(class)) = (lead, env.class.as_ref()) else {
        return Err(invalid(
            "no_lead",
            format!("{what} has no lead department to return it to"),
        ));
    };
    new_assignments(record, &lead, &co, class, env);
    record.workflow.result = None;
    record.workflow.returns += 1;
    Ok(())
}

fn join(head: String, tail: String) -> String {
    if tail.is_empty() {
        head
    } else if head.is_empty() {
        tail
    } else {
        format!("{head} — {tail}")
    }
}

/// Appends a timeline event at `at`.
pub fn push_event(record: &mut Record, actor: &str, at: i64, kind: &str, note: String) {
    record.timeline.push(Event {
        id: new_record_id().to_string(),
        actor: actor.to_string(),
        at,
        kind: kind.to_string(),
        note,
    });
}

/// Copies what the document says into the case row.
pub fn sync_case(record: &Record, case: &mut CaseRow, now: i64) {
    let lead = active_lead(record);
    case.record_id = record.id.to_string();
    case.status = record.workflow.status.as_str().to_string();
    case.category = record.category.clone();
    case.owner_grid = record.owner_grid.as_ref().and_then(|o| o.code.clone());
    case.channel = record.channel.as_str().to_string();
    case.created_at = record.created_at;
    case.lead_department = lead.map(|a| a.department.clone());
    case.deadline = lead.map(|a| a.deadline);
    case.result_outcome = record
        .workflow
        .result
        .as_ref()
        .map(|r| r.outcome.as_str().to_string());
    case.result_at = record.workflow.result.as_ref().map(|r| r.at);
    case.rating = record
        .workflow
        .evaluation
        .as_ref()
        .map(|e| e.rating.as_str().to_string());
    case.evaluated_at = record.workflow.evaluation.as_ref().map(|e| e.at);
    case.returns = record.workflow.returns as i64;
    case.updated_at = now;
}

#[cfg(test)]
mod tests {
    use sync_core::{RecordBuilder, Writer};

    use super::*;
    use crate::workflow::calendar::Span;

    const NOW: i64 = 1_790_000_000_000;

    fn general() -> DeadlineClass {
        DeadlineClass {
            code: "general".into(),
            name: "一般".into(),
            response: Span::WorkingDays(1),
            handling: Span::WorkingDays(7),
        }
    }

    fn actor(role: Role, department: Option<&str>) -> Actor {
        Actor {
            username: format!("{role}"),
            role,
            department: department.map(str::to_string),
        }
    }

    struct Case {
        record: Record,
        row: CaseRow,
        calendar: Calendar,
    }

    impl Case {
        fn new() -> Case {
            let record = RecordBuilder::complaint("路灯不亮", &Writer::new("w", "p"))
                .category("municipal.lighting")
                .build();
            let mut row = CaseRow::default();
            sync_case(&record, &mut row, NOW);
            Case {
                record,
                row,
                calendar: Calendar::default(),
            }
        }

        fn take(&mut self, action: Action, who: &Actor) -> Result<CaseWrites, TransitionError> {
            let env = Env {
                now: NOW,
                calendar: &self.calendar,
                dispatch: Some(DispatchPlan {
                    lead: "housing".into(),
                    co_handlers: vec!["water".into()],
                    class: general(),
                    names: Default::default(),
                }),
                class: Some(general()),
                leader_review: false,
            };
            let mut record = self.record.clone();
            let mut row = self.row.clone();
            let writes = apply(&mut record, &mut row, &action, who, &env)?;
            record.validate().expect("still a valid record");
            (self.record, self.row) = (record, row);
            Ok(writes)
        }

        fn run(&mut self, steps: &[(&str, &Actor)]) {
            for (json, who) in steps {
                let action: Action = serde_json::from_str(json).expect(json);
                self.take(action, who)
                    .unwrap_or_else(|e| panic!("{json}: {e}"));
            }
        }
    }

    fn desk() -> Actor {
        actor(Role::Dispatcher, None)
    }
    fn housing() -> Actor {
        actor(Role::Department, Some("housing"))
    }
    fn water() -> Actor {
        actor(Role::Department, Some("water"))
    }

    fn until_result(case: &mut Case) {
        case.run(&[
            (r#"{"action":"accept"}"#, &desk()),
            (r#"{"action":"dispatch"}"#, &desk()),
            (r#"{"action":"sign_for"}"#, &housing()),
            (
                r#"{"action":"reply","note":"已收到，马上处理"}"#,
                &housing(),
            ),
            (r#"{"action":"start_handling"}"#, &housing()),
            (
                r#"{"action":"report_result","outcome":"resolved","explanation":"已更换灯泡"}"#,
                &housing(),
            ),
            (r#"{"action":"feedback","note":"电话回访"}"#, &desk()),
        ]);
    }

    #[test]
    fn a_complaint_goes_round_the_whole_loop_and_every_step_is_on_the_timeline() {
        let mut case = Case::new();
        until_result(&mut case);
        case.run(&[
            (r#"{"action":"evaluate","rating":"satisfied"}"#, &desk()),
            (r#"{"action":"close"}"#, &desk()),
        ]);
        assert_eq!(case.record.workflow.status, Status::Closed);
        let kinds: Vec<&str> = case
            .record
            .timeline
            .iter()
            .map(|e| e.kind.as_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "created",
                "accepted",
                "dispatched",
                "signed_for",
                "replied",
                "handling_started",
                "result_reported",
                "feedback_given",
                "evaluated",
                "closed"
            ]
        );
        assert_eq!(case.row.lead_department.as_deref(), Some("housing"));
        assert_eq!(case.row.replied_at, Some(NOW));
        assert_eq!(case.row.rating.as_deref(), Some("satisfied"));
        assert_eq!(case.row.closed_at, Some(NOW));
    }

    #[test]
    fn dispatch_gives_the_lead_and_each_co_handler_a_deadline_on_the_calendar() {
        let mut case = Case::new();
        case.run(&[
            (r#"{"action":"accept"}"#, &desk()),
            (r#"{"action":"dispatch"}"#, &desk()),
        ]);
        let due = general().handling.due(&case.calendar, NOW);
        let assignments: Vec<(&str, AssignmentRole, i64)> = case
            .record
            .workflow
            .assignments
            .iter()
            .map(|a| (a.department.as_str(), a.role, a.deadline))
            .collect();
        assert_eq!(
            assignments,
            [
                ("housing", AssignmentRole::Lead, due),
                ("water", AssignmentRole::CoHandler, due)
            ]
        );
        assert_eq!(
            case.row.response_due,
            Some(general().response.due(&case.calendar, NOW))
        );
    }

    #[test]
    fn a_dissatisfied_rating_returns_the_case_with_fresh_deadlines_and_counts_the_return() {
        let mut case = Case::new();
        until_result(&mut case);
        case.run(&[(
            r#"{"action":"evaluate","rating":"dissatisfied","comment":"灯还是不亮"}"#,
            &desk(),
        )]);
        let w = &case.record.workflow;
        assert_eq!(
            (w.status, w.returns, w.result.is_none()),
            (Status::Handling, 1, true)
        );
        assert_eq!(w.assignments.iter().filter(|a| a.active).count(), 2);
        assert_eq!(w.assignments.len(), 4, "the old assignments stay, inactive");
        assert_eq!(case.row.returns, 1);
        case.run(&[(
            r#"{"action":"report_result","outcome":"resolved","explanation":"换了线路"}"#,
            &housing(),
        )]);
        assert_eq!(case.record.workflow.status, Status::ResultReported);
    }

    #[test]
    fn an_action_out_of_order_is_refused_and_changes_nothing() {
        let mut case = Case::new();
        let before = case.record.clone();
        let refused = case.take(
            serde_json::from_str(r#"{"action":"close"}"#).unwrap(),
            &desk(),
        );
        assert_eq!(
            refused,
            Err(TransitionError::InvalidTransition {
                action: "close",
                status: Status::Received
            })
        );
        assert_eq!(case.record, before);
    }

    #[test]
    fn only_the_lead_department_moves_the_case_and_a_co_handler_may_only_reply() {
        let mut case = Case::new();
        case.run(&[
            (r#"{"action":"accept"}"#, &desk()),
            (r#"{"action":"dispatch"}"#, &desk()),
        ]);
        let sign = || serde_json::from_str::<Action>(r#"{"action":"sign_for"}"#).unwrap();
        assert!(matches!(
            case.take(sign(), &water()),
            Err(TransitionError::Forbidden(_))
        ));
        assert!(matches!(
            case.take(sign(), &actor(Role::Department, Some("police"))),
            Err(TransitionError::Forbidden(_))
        ));
        assert!(matches!(
            case.take(sign(), &actor(Role::Department, None)),
            Err(TransitionError::Forbidden(_))
        ));
        assert!(matches!(
            case.take(sign(), &desk()),
            Err(TransitionError::Forbidden(_))
        ));
        case.run(&[
            (r#"{"action":"sign_for"}"#, &housing()),
            (r#"{"action":"reply","note":"配合排查"}"#, &water()),
        ]);
        assert_eq!(
            case.record.workflow.status,
            Status::SignedFor,
            "a co-handler's reply is progress"
        );
        assert_eq!(case.row.replied_at, None);
    }

    #[test]
    fn an_unreasonable_demand_gets_a_plan_and_closes_only_after_its_follow_up() {
        let mut case = Case::new();
        let leader = actor(Role::GridLeader, None);
        case.run(&[
            (r#"{"action":"flag_unreasonable","note":"重复诉求，要求超出政策"}"#, &desk()),
            (r#"{"action":"consult","note":"与网格长、社区书记会商","plan":"每周上门沟通一次","follow_up_due":"2099-01-10"}"#, &leader),
        ]);
        let close = || serde_json::from_str::<Action>(r#"{"action":"close"}"#).unwrap();
        assert!(matches!(
            case.take(close(), &desk()),
            Err(TransitionError::Invalid {
                code: "plan_follow_up_pending",
                ..
            })
        ));
        case.run(&[
            (
                r#"{"action":"plan_follow_up","note":"诉求人表示理解"}"#,
                &leader,
            ),
            (r#"{"action":"close"}"#, &desk()),
        ]);
        assert_eq!(case.record.workflow.status, Status::Closed);
    }

    #[test]
    fn a_duplicate_is_linked_and_closed_but_never_to_itself() {
        let mut case = Case::new();
        let itself = format!(
            r#"{{"action":"link_duplicate","duplicate_of":"{}"}}"#,
            case.record.id
        );
        assert!(matches!(
            case.take(serde_json::from_str(&itself).unwrap(), &desk()),
            Err(TransitionError::Invalid {
                code: "invalid_duplicate",
                ..
            })
        ));
        let other = sync_core::new_record_id();
        case.run(&[(
            &format!(r#"{{"action":"link_duplicate","duplicate_of":"{other}"}}"#),
            &desk(),
        )]);
        assert_eq!(case.row.duplicate_of, Some(other.to_string()));
        assert_eq!(case.record.workflow.status, Status::Closed);
    }

    #[test]
    fn a_supervision_notice_is_returned_for_storage_and_noted_on_the_timeline() {
        let mut case = Case::new();
        case.run(&[
            (r#"{"action":"accept"}"#, &desk()),
            (r#"{"action":"dispatch"}"#, &desk()),
        ]);
        let notices = case
            .take(
                serde_json::from_str(r#"{"action":"supervise","note":"请加快办理"}"#).unwrap(),
                &actor(Role::Supervisor, None),
            )
            .unwrap()
            .notices;
        assert_eq!(notices.len(), 1);
        assert_eq!(
            (
                notices[0].subject.as_str(),
                notices[0].department.as_deref()
            ),
            ("manual", Some("housing"))
        );
        assert_eq!(case.record.timeline.last().unwrap().kind, "supervision");
    }

    #[test]
    fn empty_required_text_and_unknown_fields_are_refused() {
        let mut case = Case::new();
        assert!(matches!(
            case.take(
                serde_json::from_str(r#"{"action":"flag_unreasonable","note":"  "}"#).unwrap(),
                &desk()
            ),
            Err(TransitionError::Invalid {
                code: "missing_text",
                ..
            })
        ));
        assert!(
            serde_json::from_str::<Action>(r#"{"action":"accept","status":"closed"}"#).is_err()
        );
        assert!(serde_json::from_str::<Action>(r#"{"action":"teleport"}"#).is_err());
    }
}

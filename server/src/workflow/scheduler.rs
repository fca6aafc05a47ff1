//! The supervision scheduler (督办): a tokio task that, every interval, finds open cases whose
//! initial reply, result, evaluation or plan follow-up is past due, marks each overdue in the record's
//! timeline and issues one supervision notice per missed deadline, which supervisors list.
//!
//! Several instances may share one PostgreSQL database. Two things keep each notice single:
//! a lease row (`scheduler_leases`): only the instance holding an unexpired lease sweeps, and
//! the unique key `(record_id, subject, due_at)` of `supervision_notices`: a notice that exists
//! already makes the whole write (timeline event included) roll back, so even two sweeps that
//! overlap (a lease that expired mid-sweep) cannot issue or note a deadline twice.

use std::time::Duration;

use sync_core::Record;

use crate::error::ApiError;
use crate::records::SERVER;
use crate::state::AppState;
use crate::store::{CaseRow, CaseWrites, Notice, Store};
use crate::workflow::calendar::Date;
use crate::workflow::lifecycle::push_event;
use crate::workflow::service::{AsyncEdit, write_case};

/// The lease's name in `scheduler_leases`.
pub const LEASE: &str = "supervision";

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Whether this instance held the lease (else it did nothing).
    pub ran: bool,
    /// Notices issued by this sweep.
    pub issued: usize,
    /// Overdue deadlines found already supervised (by an earlier sweep or another instance).
    pub already_issued: usize,
}

/// The deadlines a case has missed at `now`: `(subject, due_at)`.
pub fn overdue(case: &CaseRow, now: i64) -> Vec<(&'static str, i64)> {
    if case.status == "closed" {
        return Vec::new();
    }
    let mut missed = Vec::new();
    if let (None, Some(due)) = (case.replied_at, case.response_due)
        && due < now
    {
        missed.push(("reply", due));
    }
    if let (None, Some(due)) = (case.result_at, case.deadline)
        && due < now
    {
        missed.push(("result", due));
    }
    if let Some(due) = case.plan_follow_up_due
        && due < now
    {
        missed.push(("plan_follow_up", due));
    }
    if let Some(due) = case.evaluation_due
        && due < now
    {
        missed.push(("evaluation", due));
    }
    missed
}

fn describe(subject: &str, due: i64) -> String {
    let what = match subject {
        "reply" => "the initial reply",
        "result" => "the result",
        "evaluation" => "the evaluation of the result (回访)",
        _ => "the case plan's follow-up",
    };
    format!(
        "督办: {what} was due {} (CST day), now overdue",
        Date::of_instant(due)
    )
}

/// The deadlines of a case supervised already: `(subject, due_at)`.
pub async fn issued(store: &dyn Store, record_id: &str) -> Result<Vec<(String, i64)>, ApiError> {
    Ok(store
        .notices(Some(record_id))
        .await?
        .into_iter()
        .filter_map(|n| n.due_at.map(|d| (n.subject, d)))
        .collect())
}

/// A notice for each deadline the case has missed at `now` and that is not in `issued`, each
/// noted as an `overdue` event on the record's timeline; charged to the case's lead department
/// and owner grid as they are now.
pub fn missed_notices(
    record: &mut Record,
    case: &mut CaseRow,
    now: i64,
    issued: &[(String, i64)],
) -> Vec<Notice> {
    let notices: Vec<Notice> = overdue(case, now)
        .into_iter()
        .filter(|(subject, due)| !issued.iter().any(|(s, d)| s == subject && d == due))
        .map(|(subject, due)| Notice {
            id: sync_core::new_record_id().to_string(),
            record_id: record.id.to_string(),
            subject: subject.to_string(),
            // The evaluation is the desk's to give: its miss is charged to the regions only.
            department: (subject != "evaluation")
                .then(|| case.lead_department.clone())
                .flatten(),
            due_at: Some(due),
            issued_at: now,
            issued_by: SERVER.to_string(),
            note: describe(subject, due),
            owner_grid: record.owner_grid.as_ref().and_then(|o| o.code.clone()),
        })
        .collect();
    for notice in &notices {
        push_event(record, SERVER, now, "overdue", notice.note.clone());
    }
    if !notices.is_empty() {
        case.updated_at = now;
    }
    notices
}

/// Notes the still-missed deadlines of one case that have no notice yet.
struct Supervise {
    now: i64,
    issued: Vec<(String, i64)>,
}

impl AsyncEdit for Supervise {
    async fn edit(
        &mut self,
        record: &mut Record,
        case: &mut CaseRow,
    ) -> Result<Option<CaseWrites>, ApiError> {
        let notices = missed_notices(record, case, self.now, &self.issued);
        if notices.is_empty() {
            return Ok(None);
        }
        Ok(Some(CaseWrites {
            notices,
            ..CaseWrites::default()
        }))
    }
}

/// One sweep at `now` by the instance `holder`, if it holds (or takes) the lease for
/// `lease_ttl`.
pub async fn sweep(
    state: &AppState,
    holder: &str,
    now: i64,
    lease_ttl: Duration,
) -> Result<Sweep, ApiError> {
    let store = state.store.as_ref();
    let ttl = i64::try_from(lease_ttl.as_millis()).unwrap_or(i64::MAX / 4);
    if !store.take_lease(LEASE, holder, now, ttl).await? {
        return Ok(Sweep::default());
    }
    let mut result = Sweep {
        ran: true,
        ..Sweep::default()
    };
    for case in store.cases_due(now).await? {
        let issued = issued(store, &case.record_id).await?;
        let missed = overdue(&case, now);
        let new = missed
            .iter()
            .filter(|(s, d)| !issued.iter().any(|(is, id)| is == s && id == d))
            .count();
        result.already_issued += missed.len() - new;
        if new == 0 {
            continue;
        }
        let mut edit = Supervise { now, issued };
        match write_case(state, &case.record_id, &mut edit).await {
            Ok(_) => result.issued += new,
            // Another sweep issued it between our read and our write: it stands, once.
            Err(ApiError::InvalidState {
                code: "notice_exists",
                ..
            }) => result.already_issued += new,
            Err(error) => return Err(error),
        }
    }
    if result.issued > 0 {
        tracing::info!(issued = result.issued, "supervision notices issued");
    }
    Ok(result)
}

/// Sweeps every `every` until the runtime stops; the lease lasts three intervals, so a
/// stopped instance's lease passes to another within that time.
pub async fn run(state: AppState, every: Duration) {
    let holder = format!("{}", state.actor);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = sweep(&state, &holder, sync_core::now_ms(), every * 3).await {
            tracing::warn!(error = %crate::error::cause_chain(&error), "supervision sweep failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> CaseRow {
        CaseRow {
            status: "dispatched".into(),
            response_due: Some(100),
            deadline: Some(1000),
            ..CaseRow::default()
        }
    }

    #[test]
    fn a_case_is_overdue_for_each_deadline_it_has_missed_and_not_met() {
        assert_eq!(overdue(&case(), 50), []);
        assert_eq!(overdue(&case(), 500), [("reply", 100)]);
        assert_eq!(overdue(&case(), 5000), [("reply", 100), ("result", 1000)]);
        let replied = CaseRow {
            replied_at: Some(90),
            ..case()
        };
        assert_eq!(overdue(&replied, 5000), [("result", 1000)]);
        let closed = CaseRow {
            status: "closed".into(),
            ..case()
        };
        assert_eq!(overdue(&closed, 5000), []);
    }
}

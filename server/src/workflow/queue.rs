//! What awaits a person's decision (待办): for each role, the kinds and statuses of records on
//! which the next step is theirs, and which actions they may take there. Pure; the route
//! (`GET /api/v1/queue`) lists the matching records in the caller's scope, oldest first.

use crate::domain::Role;

/// One kind of waiting work: records of `kind` in `status`, and the actions that move them;
/// `review`, when set, keeps only the complaints that are (`true`) or are not (`false`) under
/// their grid's leaders' review ([`crate::workflow::service::under_leader_review`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Awaiting {
    pub kind: &'static str,
    pub status: &'static str,
    pub actions: &'static [&'static str],
    pub review: Option<bool>,
}

const fn awaiting(
    kind: &'static str,
    status: &'static str,
    actions: &'static [&'static str],
) -> Awaiting {
    Awaiting {
        kind,
        status,
        actions,
        review: None,
    }
}

const fn reviewed(
    status: &'static str,
    review: bool,
    actions: &'static [&'static str],
) -> Awaiting {
    Awaiting {
        kind: COMPLAINT,
        status,
        actions,
        review: Some(review),
    }
}

const HAZARD: &str = "risk_inspection";
const COMPLAINT: &str = "complaint";

/// The work that waits on `role`, in the order a person takes it.
pub fn for_role(role: Role) -> &'static [Awaiting] {
    const LEADER: &[Awaiting] = &[
        reviewed(
            "received",
            true,
            &["verify", "return_to_worker", "resolve_in_grid"],
        ),
        awaiting(HAZARD, "received", &["verify", "return_to_worker"]),
        awaiting(HAZARD, "verified", &["resolve_in_grid", "escalate"]),
    ];
    const WORKER: &[Awaiting] = &[
        awaiting(HAZARD, "returned", &["resubmit"]),
        awaiting(COMPLAINT, "returned", &["resubmit"]),
        awaiting(HAZARD, "rectified", &["reinspect"]),
    ];
    const DESK: &[Awaiting] = &[
        reviewed(
            "received",
            false,
            &["accept", "flag_unreasonable", "link_duplicate"],
        ),
        awaiting(
            COMPLAINT,
            "verified",
            &["accept", "flag_unreasonable", "link_duplicate"],
        ),
        awaiting(COMPLAINT, "accepted", &["dispatch", "link_duplicate"]),
        awaiting(HAZARD, "escalated", &["dispatch"]),
        awaiting(COMPLAINT, "result_reported", &["feedback"]),
        awaiting(COMPLAINT, "feedback_given", &["evaluate"]),
        awaiting(COMPLAINT, "evaluated", &["close"]),
    ];
    const DEPARTMENT: &[Awaiting] = &[
        awaiting(COMPLAINT, "dispatched", &["sign_for"]),
        awaiting(COMPLAINT, "signed_for", &["reply"]),
        awaiting(COMPLAINT, "replied", &["start_handling", "report_result"]),
        awaiting(COMPLAINT, "handling", &["report_result"]),
        awaiting(HAZARD, "dispatched", &["report_rectification"]),
    ];
    match role {
        Role::GridLeader => LEADER,
        Role::GridWorker => WORKER,
        Role::Dispatcher | Role::Admin => DESK,
        Role::Department => DEPARTMENT,
        _ => &[],
    }
}

/// The statuses in which a case may be supervised (督办) by hand: it waits on someone.
const SUPERVISABLE: &[&str] = &[
    "dispatched",
    "signed_for",
    "replied",
    "handling",
    "result_reported",
    "feedback_given",
    "flagged_unreasonable",
    "escalated",
    "rectified",
];

/// The actions `role` may take now on a record of `kind` in `status` (`under_review`: whether
/// its grid's leaders review it first): those its queue offers there, and supervision of a
/// case that waits on someone, for the roles that supervise.
pub fn actions_for(role: Role, kind: &str, status: &str, under_review: bool) -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = for_role(role)
        .iter()
        .filter(|a| a.kind == kind && a.status == status)
        .filter(|a| a.review.is_none_or(|r| r == under_review))
        .flat_map(|a| a.actions.iter().copied())
        .collect();
    if matches!(role, Role::Supervisor | Role::Dispatcher | Role::Admin)
        && SUPERVISABLE.contains(&status)
    {
        actions.push("supervise");
    }
    actions.dedup();
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::lifecycle::Action;

    #[test]
    fn a_record_offers_what_its_queue_offers_and_supervision_while_it_waits() {
        assert_eq!(
            actions_for(Role::Dispatcher, COMPLAINT, "received", false),
            ["accept", "flag_unreasonable", "link_duplicate"]
        );
        assert!(actions_for(Role::Dispatcher, COMPLAINT, "received", true).is_empty());
        assert_eq!(
            actions_for(Role::GridLeader, COMPLAINT, "received", true),
            ["verify", "return_to_worker", "resolve_in_grid"]
        );
        assert_eq!(
            actions_for(Role::Supervisor, COMPLAINT, "handling", false),
            ["supervise"]
        );
        assert_eq!(
            actions_for(Role::Department, COMPLAINT, "handling", false),
            ["report_result"]
        );
        assert!(actions_for(Role::Supervisor, COMPLAINT, "closed", false).is_empty());
        assert!(actions_for(Role::Gis, HAZARD, "received", false).is_empty());
    }

    /// Every action a queue offers is one the role may take.
    #[test]
    fn a_queue_offers_only_actions_its_role_may_take() {
        for role in [
            Role::GridLeader,
            Role::GridWorker,
            Role::Dispatcher,
            Role::Department,
            Role::Admin,
        ] {
            for item in for_role(role) {
                for name in item.actions {
                    let json = match *name {
                        "reinspect" => serde_json::json!({ "action": name, "fixed": true }),
                        "link_duplicate" => serde_json::json!({
                            "action": name, "duplicate_of": uuid::Uuid::nil() }),
                        "evaluate" => serde_json::json!({ "action": name, "rating": "satisfied" }),
                        "report_result" => serde_json::json!({
                            "action": name, "outcome": "resolved", "explanation": "x" }),
                        _ => serde_json::json!({ "action": name, "note": "x" }),
                    };
                    let action: Action =
                        serde_json::from_value(json).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(action.roles().contains(&role), "{role} may not {name}");
                    // The hazard loop's steps are a complaint's only under the leaders'
                    // review, or (resubmit) once returned by it.
                    let reviewed = item.review == Some(true) || item.status == "returned";
                    assert!(
                        action.applies_to_hazards() && item.kind == HAZARD
                            || (!action.is_hazard_only() || reviewed) && item.kind == COMPLAINT,
                        "{name} on a {}",
                        item.kind
                    );
                }
            }
        }
    }
}

//! Who may write what: the role × field rules and the scope of an account, and the narrower
//! authority of someone outside the staff who may only create the record they report.

use sync_core::{Authority, Field, Record, Rejection, changed_fields};

use crate::domain::{Role, User};
use crate::state::MapSnapshot;
use crate::store::RecordScope;

/// What one account may read and write, for sync-core's checks.
#[derive(Debug)]
pub struct AccountAuthority<'a> {
    pub user: &'a User,
    pub map: &'a MapSnapshot,
}

impl AccountAuthority<'_> {
    /// Whether the role may change `field` (on a new record when `creating`).
    fn may_change(&self, field: Field, creating: bool) -> bool {
        use Field::*;
        match field {
            // Nobody rewrites identity or history.
            Identity | TimelineRewritten => false,
            // The server alone decides ownership (it writes with its own writer, not through here).
            OwnerGrid => false,
            TimelineAppended => true,
            Channel => creating || matches!(self.user.role, Role::Dispatcher | Role::Admin),
            Location | ClaimedGrid | Category | Title | Description | AttachmentAdded
            | Complainant | Inspection => matches!(
                self.user.role,
                Role::GridWorker | Role::GridLeader | Role::Dispatcher | Role::Admin
            ),
            AttachmentChanged => matches!(self.user.role, Role::Dispatcher | Role::Admin),
            // The case workflow moves only through the server's transitions
            // (`POST /api/v1/records/{id}/transitions`), which check order, role and
            // department and write these fields as the server's own change. No device, whatever
            // its account's role, writes them through sync.
            Status | Assignments | Returns | Replies | Result | Evaluation => false,
        }
    }

    fn sees_everything(&self) -> bool {
        matches!(
            self.user.role,
            Role::Admin | Role::Dispatcher | Role::Supervisor | Role::Gis
        )
    }

    /// [`Authority::in_scope`] for a record's row (its owner, creator and departments), without
    /// its document.
    pub fn sees_row(&self, row: &crate::store::RecordRow) -> bool {
        self.sees(&row.created_by, row.owner_grid.as_deref(), |department| {
            crate::store::departments_hold(&row.departments, department)
        })
    }

    /// The one scope rule, over what a record's document and its row both say: a department
    /// account sees the cases assigned now to its department, wherever they lie; everyone else
    /// sees everything (by role), what they made, or what is owned within their areas.
    fn sees(&self, creator: &str, owner: Option<&str>, assigned_to: impl Fn(&str) -> bool) -> bool {
        if self.user.role == Role::Department {
            return self.user.department.as_deref().is_some_and(assigned_to);
        }
        if self.sees_everything() || creator == self.user.username {
            return true;
        }
        owner.is_some_and(|code| {
            self.user
                .areas
                .iter()
                .any(|area| self.map.is_within(code, area))
        })
    }

    /// Whether every attachment that changed between `before` and `after` was removed, and
    /// each was added by this account (its `photo` event is theirs): a worker dropping a photo
    /// the server never received whole, which only its sender may do.
    fn only_drops_own_photos(&self, before: &Record, after: &Record) -> bool {
        before
            .attachments
            .iter()
            .all(|(sha, attachment)| match after.attachments.get(sha) {
                Some(kept) => kept == attachment,
                None => before
                    .timeline
                    .iter()
                    .any(|e| e.kind == "photo" && e.note == *sha && e.actor == self.user.username),
            })
    }

    /// The timeline events a device adds: an answer's id is the server's alone, and a field
    /// step ([`sync_core::field`]) is the writer's own, one per upload, and one the lifecycle
    /// would take now from the writer on the server's copy of the record — so a refused step
    /// goes back to the phone at once, with the lifecycle's reason.
    fn check_events(&self, before: Option<&Record>, after: &Record) -> Result<(), Rejection> {
        let known: std::collections::HashSet<&str> = before
            .map(|b| b.timeline.iter().map(|e| e.id.as_str()).collect())
            .unwrap_or_default();
        let added = after
            .timeline
            .iter()
            .filter(|e| !known.contains(e.id.as_str()));
        let mut steps = Vec::new();
        for event in added {
            if sync_core::field::is_answer_id(&event.id) {
                return Err(Rejection::new(
                    "forbidden_event",
                    format!(
                        "event ids ending in {:?} are the server's answers",
                        sync_core::field::ANSWER_SUFFIX
                    ),
                ));
            }
            if let Some(step) = sync_core::FieldStep::from_kind(&event.kind) {
                steps.push((step, event));
            }
        }
        let [(step, event)] = steps[..] else {
            return if steps.is_empty() {
                Ok(())
            } else {
                Err(Rejection::new(
                    "invalid_step",
                    "one field step per record per sync",
                ))
            };
        };
        if event.actor != self.user.username {
            return Err(Rejection::new(
                "wrong_author",
                format!(
                    "{} may not take a step in the name of {}",
                    self.user.username, event.actor
                ),
            ));
        }
        let Some(before) = before else {
            return Err(Rejection::new(
                "invalid_transition",
                "a field step is taken on a record the server holds",
            ));
        };
        let actor = crate::workflow::lifecycle::Actor {
            username: self.user.username.clone(),
            role: self.user.role,
            department: self.user.department.clone(),
        };
        let action = crate::workflow::lifecycle::step_action(step, &event.note);
        crate::workflow::lifecycle::check(before, &action, &actor).map_err(|e| {
            use crate::workflow::lifecycle::TransitionError as E;
            let code = match &e {
                E::InvalidTransition { .. } => "invalid_transition",
                E::Forbidden(_) => "forbidden",
                E::Invalid { code, .. } => code,
                E::AwaitingReview => "awaiting_leader_review",
            };
            Rejection::new(code, e.to_string())
        })
    }

    /// The SQL-side form of [`Authority::in_scope`].
    pub fn scope(&self) -> RecordScope {
        if self.sees_everything() {
            return RecordScope::All;
        }
        if self.user.role == Role::Department {
            // An account linked to no department has no cases: a code no department has.
            return RecordScope::Department(self.user.department.clone().unwrap_or_default());
        }
        RecordScope::Areas {
            codes: self.map.codes_within(&self.user.areas),
            creator: self.user.username.clone(),
        }
    }
}

impl Authority for AccountAuthority<'_> {
    fn check_write(&self, before: Option<&Record>, after: &Record) -> Result<(), Rejection> {
        match before {
            None if after.created_by.user != self.user.username => {
                return Err(Rejection::new(
                    "wrong_author",
                    format!(
                        "a record created by {} cannot be uploaded by {}",
                        after.created_by.user, self.user.username
                    ),
                ));
            }
            Some(before) if !self.in_scope(before) => {
                return Err(Rejection::new(
                    "out_of_scope",
                    "this record is outside your areas",
                ));
            }
            _ => {}
        }
        let creating = before.is_none();
        let forbidden: Vec<&str> = changed_fields(before, after)
            .into_iter()
            .filter(|f| !self.may_change(*f, creating))
            .filter(|f| {
                !(*f == Field::AttachmentChanged
                    && self.may_change(Field::AttachmentAdded, false)
                    && before.is_some_and(|b| self.only_drops_own_photos(b, after)))
            })
            .map(Field::as_str)
            .collect();
        if !forbidden.is_empty() {
            return Err(Rejection::new(
                "forbidden_field",
                format!(
                    "role {} may not change {}",
                    self.user.role,
                    forbidden.join(", ")
                ),
            ));
        }
        self.check_events(before, after)
    }

    fn in_scope(&self, record: &Record) -> bool {
        let owner = record.owner_grid.as_ref().and_then(|o| o.code.as_deref());
        self.sees(&record.created_by.user, owner, |department| {
            record
                .workflow
                .assignments
                .iter()
                .any(|a| a.active && a.department == department)
        })
    }
}

/// Who a write is made for.
#[derive(Debug, Clone)]
pub enum Author {
    /// A staff account: its role and areas decide what it may write and read.
    Account(User),
    /// Someone outside the staff (an Open311 client, a resident's form), named as the record's
    /// creator: may create that one record and nothing else.
    Public { name: String },
}

impl Author {
    /// Who sent a change: an account's device, namespaced by account so no device id can pose
    /// as another's (`<user id>/<device>`), or `public/<channel>`.
    pub fn origin(&self, device: &str) -> String {
        match self {
            Author::Account(user) => format!("{}/{device}", user.id),
            Author::Public { .. } => format!("public/{device}"),
        }
    }

    /// The name a record's history gives this author.
    pub fn name(&self) -> &str {
        match self {
            Author::Account(user) => &user.username,
            Author::Public { name } => name,
        }
    }
}

/// What someone outside the staff may write: a new record in their own name, with the fields a
/// complaint form has. Nothing else, and nothing to read but that record.
#[derive(Debug)]
pub struct PublicAuthority<'a> {
    pub name: &'a str,
}

impl Authority for PublicAuthority<'_> {
    fn check_write(&self, before: Option<&Record>, after: &Record) -> Result<(), Rejection> {
        if before.is_some() {
            return Err(Rejection::new(
                "out_of_scope",
                "only a new record may be reported from outside",
            ));
        }
        if after.created_by.user != self.name {
            return Err(Rejection::new(
                "wrong_author",
                format!(
                    "a record created by {} cannot be reported by {}",
                    after.created_by.user, self.name
                ),
            ));
        }
        if after.kind != sync_core::Kind::Complaint {
            return Err(Rejection::new(
                "forbidden_field",
                "a report from outside is a complaint",
            ));
        }
        use Field::*;
        let forbidden: Vec<&str> = changed_fields(None, after)
            .into_iter()
            .filter(|f| {
                !matches!(
                    f,
                    Channel
                        | Location
                        | Category
                        | Title
                        | Description
                        | Complainant
                        | AttachmentAdded
                        | TimelineAppended
                )
            })
            .map(Field::as_str)
            .collect();
        if forbidden.is_empty() {
            Ok(())
        } else {
            Err(Rejection::new(
                "forbidden_field",
                format!("a report from outside may not set {}", forbidden.join(", ")),
            ))
        }
    }

    fn in_scope(&self, record: &Record) -> bool {
        record.created_by.user == self.name
    }
}

#[cfg(test)]
mod tests {
    use sync_core::{Authority, RecordBuilder, RiskLevel, Writer};

    use super::PublicAuthority;

    #[test]
    fn someone_outside_may_report_a_complaint_in_their_own_name() {
        let resident = Writer::new("open311:resident", "open311");
        let complaint = RecordBuilder::complaint("路灯不亮", &resident)
            .description("三号楼前")
            .category("municipal.lighting")
            .build();
        let authority = PublicAuthority {
            name: "open311:resident",
        };
        assert!(authority.check_write(None, &complaint).is_ok());
        assert!(authority.in_scope(&complaint));
    }

    #[test]
    fn someone_outside_may_not_edit_a_record_or_report_in_another_name() {
        let resident = Writer::new("open311:resident", "open311");
        let complaint = RecordBuilder::complaint("路灯不亮", &resident).build();
        let other = PublicAuthority {
            name: "open311:other",
        };
        let refused = other.check_write(None, &complaint).unwrap_err();
        assert_eq!(refused.code, "wrong_author");
        assert!(!other.in_scope(&complaint));
        let same = PublicAuthority {
            name: "open311:resident",
        };
        let refused = same.check_write(Some(&complaint), &complaint).unwrap_err();
        assert_eq!(refused.code, "out_of_scope");
    }

    #[test]
    fn someone_outside_may_not_report_a_risk_inspection() {
        let resident = Writer::new("open311:resident", "open311");
        let inspection =
            RecordBuilder::risk_inspection("楼道堆物", "fire", RiskLevel::High, &resident).build();
        let authority = PublicAuthority {
            name: "open311:resident",
        };
        let refused = authority.check_write(None, &inspection).unwrap_err();
        assert_eq!(refused.code, "forbidden_field");
    }
}

//! The workflow over the store: resolves what a transition needs (calendar, deadline class,
//! dispatch rule, the caller's department), lets [`lifecycle::apply`] decide, and writes the
//! result into the record's automerge document as the server's own change, committing the
//! document, its change log entries, the case row and any notice in one transaction.

use sync_core::{Authority, Record, RecordDoc, Writer, now_ms};

use crate::domain::{Role, User};
use crate::error::ApiError;
use crate::records::{AccountAuthority, SERVER, log_entries, record_row};
use crate::state::{AppState, MapSnapshot};
use crate::store::{CaseRow, CaseWrites, DispatchRule, RecordCommit, Store, WorkflowOutcome};
use crate::workflow::calendar::{Calendar, DeadlineClass};
use crate::workflow::lifecycle::{self, Action, Actor, DispatchPlan, Env, TransitionError};

/// How many times a workflow write is redone when another writer stored the document first.
const ATTEMPTS: usize = 8;

/// The deadline class used when neither the request nor a rule names one.
pub const DEFAULT_CLASS: &str = "general";

/// The deadline class a hazard of `level` is rectified in (`rectify_critical` … `rectify_low`,
/// seeded and editable as every deadline class).
pub fn rectification_class(level: sync_core::RiskLevel) -> String {
    format!("rectify_{}", level.as_str())
}

/// The configured calendar (every year).
pub async fn calendar(store: &dyn Store) -> Result<Calendar, ApiError> {
    Ok(Calendar::new(store.calendar_days(None).await?))
}

impl From<TransitionError> for ApiError {
    fn from(error: TransitionError) -> Self {
        match error {
            TransitionError::InvalidTransition { action, status } => {
                let mut extra = serde_json::Map::new();
                extra.insert("action".into(), action.into());
                extra.insert("case_status".into(), status.as_str().into());
                ApiError::InvalidState {
                    code: "invalid_transition",
                    detail: error.to_string(),
                    extra: Some(extra),
                }
            }
            TransitionError::Forbidden(detail) => ApiError::Forbidden(detail),
            TransitionError::AwaitingReview => ApiError::InvalidState {
                code: "awaiting_leader_review",
                detail: error.to_string(),
                extra: None,
            },
            TransitionError::Invalid { code, detail } => ApiError::unprocessable(code, detail),
        }
    }
}

impl From<crate::workflow::catalogue::Refusal> for ApiError {
    fn from(refusal: crate::workflow::catalogue::Refusal) -> Self {
        ApiError::unprocessable(refusal.code, refusal.detail)
    }
}

/// The catalogue's category `code` ([`crate::workflow::catalogue::find`]), refused as 422.
pub async fn catalogue_category(
    store: &dyn Store,
    code: &str,
    for_new: bool,
) -> Result<crate::workflow::catalogue::Category, ApiError> {
    let catalogue = store.categories().await?;
    Ok(crate::workflow::catalogue::find(&catalogue, code, for_new)?.clone())
}

/// The department and deadline class the catalogue names for `category`: its own, else its
/// nearest ancestor's.
fn catalogue_default(
    categories: &[crate::workflow::catalogue::Category],
    category: &str,
) -> (Option<String>, Option<String>) {
    let mut code = Some(category);
    let (mut department, mut class) = (None, None);
    while let Some(c) = code {
        if let Some(found) = categories.iter().find(|x| x.code == c) {
            department = department.or_else(|| found.department.clone());
            class = class.or_else(|| found.deadline_class.clone());
        }
        code = crate::workflow::catalogue::parent_of(c);
    }
    (department, class)
}

/// The rule that dispatches a record of `category` owned by `owner`: among the rules whose area
/// contains the owner grid, a rule for the category beats the wildcard `*` (the category says
/// whose authority, 事权, the matter is), then the deepest area wins.
pub fn matching_rule<'r>(
    rules: &'r [DispatchRule],
    map: &MapSnapshot,
    category: &str,
    owner: Option<&str>,
) -> Option<&'r DispatchRule> {
    let owner = owner?;
    rules
        .iter()
        .filter(|r| r.category == category || r.category == "*")
        .filter(|r| map.is_within(owner, &r.area))
        .max_by_key(|r| {
            let depth = map
                .index
                .id_of(&r.area)
                .map_or(0, |id| map.index.path(id).len());
            (r.category != "*", depth)
        })
}

/// What a dispatch that names no lead or class takes: the matching rule's department and
/// class, else the catalogue's for the category; the class falls back to the default class.
/// The lead is `None` when neither names one (the desk must).
pub async fn dispatch_defaults(
    store: &dyn Store,
    map: &MapSnapshot,
    record: &Record,
) -> Result<(Option<String>, String), ApiError> {
    let rules = store.dispatch_rules().await?;
    let owner = record.owner_grid.as_ref().and_then(|o| o.code.as_deref());
    let rule = matching_rule(&rules, map, &record.category, owner);
    // With no rule, the catalogue says whose authority (事权) the category is.
    let (default_lead, default_class) = if rule.is_none() {
        catalogue_default(&store.categories().await?, &record.category)
    } else {
        (None, None)
    };
    let lead = rule.map(|r| r.department.clone()).or(default_lead);
    let class = rule
        .map(|r| r.deadline_class.clone())
        .or(default_class)
        .unwrap_or_else(|| DEFAULT_CLASS.to_string());
    Ok((lead, class))
}

/// Fills the blanks of a dispatch from the rules and checks every department and class exists.
async fn plan_dispatch(
    store: &dyn Store,
    map: &MapSnapshot,
    record: &Record,
    lead: Option<&String>,
    co_handlers: &[String],
    class: Option<&String>,
) -> Result<DispatchPlan, ApiError> {
    let (default_lead, default_class) = dispatch_defaults(store, map, record).await?;
    let Some(lead) = lead.cloned().or(default_lead) else {
        let owner = record.owner_grid.as_ref().and_then(|o| o.code.as_deref());
        return Err(ApiError::unprocessable(
            "no_dispatch_rule",
            format!(
                "no dispatch rule covers category {:?} in {}; name the lead department",
                record.category,
                owner.unwrap_or("the unassigned queue")
            ),
        ));
    };
    let class_code = class.cloned().unwrap_or(default_class);
    let departments = store.departments().await?;
    let mut co: Vec<String> = Vec::new();
    for code in co_handlers {
        if *code != lead && !co.contains(code) {
            co.push(code.clone());
        }
    }
    for code in std::iter::once(&lead).chain(&co) {
        if !departments.iter().any(|d| &d.code == code) {
            return Err(ApiError::unprocessable(
                "unknown_department",
                format!("no department {code:?}"),
            ));
        }
    }
    let class = find_class(store, &class_code).await?.ok_or_else(|| {
        ApiError::unprocessable(
            "unknown_deadline_class",
            format!("no deadline class {class_code:?}"),
        )
    })?;
    // Every department's name: the timeline names the new lead, co-handlers, and a lead that
    // shirked the case.
    let names = departments.into_iter().map(|d| (d.code, d.name)).collect();
    Ok(DispatchPlan {
        lead,
        co_handlers: co,
        class,
        names,
    })
}

async fn find_class(store: &dyn Store, code: &str) -> Result<Option<DeadlineClass>, ApiError> {
    Ok(store
        .deadline_classes()
        .await?
        .into_iter()
        .find(|c| c.code == code))
}

/// The setting that names the regions whose workers' complaints go to their grid's leaders
/// before the desk: a JSON list of area codes (each covers its subtree).
pub const LEADER_REVIEW_AREAS: &str = "leader_review_areas";

/// The regions whose workers' complaints go to their grid's leaders before the desk.
pub async fn leader_review_areas(store: &dyn Store) -> Result<Vec<String>, ApiError> {
    Ok(match store.setting(LEADER_REVIEW_AREAS).await? {
        Some(text) => serde_json::from_str(&text).map_err(ApiError::internal)?,
        None => Vec::new(),
    })
}

/// Whether a record goes to its grid's leaders before the desk: a complaint recorded in the
/// field app (by a grid worker) whose grid lies in one of `areas`.
pub fn under_leader_review(
    kind: &str,
    channel: &str,
    owner_grid: Option<&str>,
    areas: &[String],
    map: &MapSnapshot,
) -> bool {
    kind == "complaint"
        && channel == sync_core::Channel::App.as_str()
        && owner_grid.is_some_and(|grid| areas.iter().any(|a| map.is_within(grid, a)))
}

/// [`under_leader_review`] of a record, with the setting read from the store.
async fn reviewed(store: &dyn Store, map: &MapSnapshot, record: &Record) -> Result<bool, ApiError> {
    if record.kind != sync_core::Kind::Complaint {
        return Ok(false);
    }
    let areas = leader_review_areas(store).await?;
    Ok(under_leader_review(
        record.kind.as_str(),
        record.channel.as_str(),
        record.owner_grid.as_ref().and_then(|o| o.code.as_deref()),
        &areas,
        map,
    ))
}

/// The case row as stored, or a fresh one for a record that has not been through the workflow.
async fn case_of(store: &dyn Store, record: &Record, now: i64) -> Result<CaseRow, ApiError> {
    Ok(match store.case_row(&record.id.to_string()).await? {
        Some(row) => row,
        None => {
            let mut row = CaseRow::default();
            lifecycle::sync_case(record, &mut row, now);
            row
        }
    })
}

/// What one attempt produced.
enum Attempt {
    Done(Box<(Record, CaseRow)>),
    Retry,
}

/// Writes `edit`'s change of the record and case row into the document as the server, with
/// the notices it returns, retrying when the document moved.
pub async fn write_case<F>(
    state: &AppState,
    record_id: &str,
    mut edit: F,
) -> Result<(Record, CaseRow), ApiError>
where
    F: AsyncEdit,
{
    for _ in 0..ATTEMPTS {
        match attempt(state, record_id, &mut edit).await? {
            Attempt::Done(done) => return Ok(*done),
            Attempt::Retry => continue,
        }
    }
    Err(ApiError::Conflict(
        "the record is being written by others; try again".into(),
    ))
}

/// One read-decide-write of a case: given the current record and case row, change them and
/// return the notices and evaluations to store; `Ok(None)` means there is nothing to write.
pub trait AsyncEdit {
    fn edit(
        &mut self,
        record: &mut Record,
        case: &mut CaseRow,
    ) -> impl std::future::Future<Output = Result<Option<CaseWrites>, ApiError>>;

    /// Whether a notice found issued already (by a sweep that wrote first) means "read again
    /// and redo" rather than "refuse".
    fn redo_when_notice_exists(&self) -> bool {
        false
    }

    /// Whom the record's history names for the write: the server, unless a person asked for it.
    fn writer(&self) -> Writer {
        Writer::new(SERVER, SERVER)
    }
}

async fn attempt<F: AsyncEdit>(
    state: &AppState,
    record_id: &str,
    edit: &mut F,
) -> Result<Attempt, ApiError> {
    let store = state.store.as_ref();
    let stored = store
        .record_doc(record_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("record {record_id} not found")))?;
    let mut doc = RecordDoc::load(&stored.doc).map_err(ApiError::internal)?;
    let before = doc.record().map_err(ApiError::internal)?;
    let now = now_ms();
    let mut case = case_of(store, &before, now).await?;
    let mut after = before.clone();
    let Some(writes) = edit.edit(&mut after, &mut case).await? else {
        return Ok(Attempt::Done(Box::new((before, case))));
    };
    let heads = doc.heads();
    doc.set_actor(state.actor.clone());
    let written = doc
        .update(&edit.writer(), |r| {
            *r = after.clone();
            Ok(())
        })
        .map_err(ApiError::from_record_error)?
        .unwrap_or(after);
    let changes = log_entries(&doc.automerge().get_changes(&heads), SERVER);
    let commit = RecordCommit {
        row: record_row(&written, now),
        doc: doc.save(),
        expected_version: Some(stored.version),
        changes,
        contact: None,
    };
    match store.commit_workflow(&commit, &case, &writes).await? {
        WorkflowOutcome::Stored => Ok(Attempt::Done(Box::new((written, case)))),
        WorkflowOutcome::Conflict => Ok(Attempt::Retry),
        WorkflowOutcome::NoticeExists if edit.redo_when_notice_exists() => Ok(Attempt::Retry),
        WorkflowOutcome::NoticeExists => Err(ApiError::InvalidState {
            code: "notice_exists",
            detail: "this supervision notice was issued already".into(),
            extra: None,
        }),
    }
}

/// A transition requested over HTTP.
struct Transition<'a> {
    state: &'a AppState,
    map: &'a MapSnapshot,
    actor: Actor,
    action: Action,
    calendar: Calendar,
}

impl AsyncEdit for Transition<'_> {
    async fn edit(
        &mut self,
        record: &mut Record,
        case: &mut CaseRow,
    ) -> Result<Option<CaseWrites>, ApiError> {
        let store = self.state.store.as_ref();
        let now = now_ms();
        // Refuse out-of-order actions before resolving anything else, so the status code says
        // what is wrong first.
        let mut env = Env {
            now,
            calendar: &self.calendar,
            dispatch: None,
            class: None,
            leader_review: reviewed(store, self.map, record).await?,
        };
        match &self.action {
            Action::Dispatch {
                lead,
                co_handlers,
                deadline_class,
                ..
            } if matches!(
                record.workflow.status,
                sync_core::Status::Accepted
                    | sync_core::Status::Dispatched
                    | sync_core::Status::SignedFor
                    | sync_core::Status::Escalated
            ) && self.action.roles().contains(&self.actor.role) =>
            {
                // A hazard is rectified within its risk level's class unless the desk names one.
                let class = deadline_class.clone().or_else(|| {
                    record
                        .inspection
                        .as_ref()
                        .map(|i| rectification_class(i.risk_level))
                });
                env.dispatch = Some(
                    plan_dispatch(
                        store,
                        self.map,
                        record,
                        lead.as_ref(),
                        co_handlers,
                        class.as_ref(),
                    )
                    .await?,
                );
            }
            Action::Accept {
                category: Some(category),
                ..
            } if self.action.roles().contains(&self.actor.role) => {
                catalogue_category(store, category.trim(), true).await?;
            }
            Action::Evaluate { .. } | Action::Reinspect { .. } => {
                let code = case.deadline_class.as_deref().unwrap_or(DEFAULT_CLASS);
                env.class = find_class(store, code).await?;
            }
            Action::LinkDuplicate { duplicate_of, .. } => {
                let Some(stored) = store.record_doc(&duplicate_of.to_string()).await? else {
                    return Err(ApiError::unprocessable(
                        "unknown_record",
                        format!("no record {duplicate_of}"),
                    ));
                };
                // Only an open complaint stands for another: linking to a closed case (or a
                // linked duplicate, which is closed) would hide a new complaint about a
                // problem that came back.
                let original = RecordDoc::load(&stored.doc)
                    .and_then(|d| d.record())
                    .map_err(ApiError::internal)?;
                if original.kind != sync_core::Kind::Complaint {
                    return Err(ApiError::unprocessable(
                        "invalid_duplicate",
                        format!("{duplicate_of} is not a complaint"),
                    ));
                }
                if original.workflow.status == sync_core::Status::Closed {
                    return Err(ApiError::unprocessable(
                        "invalid_duplicate",
                        format!(
                            "{duplicate_of} is closed; a complaint about a problem that came \
                             back is a new case"
                        ),
                    ));
                }
            }
            _ => {}
        }
        // A deadline this case has already missed is supervised before the action changes it:
        // the miss counts whether or not a sweep got there first.
        let issued = crate::workflow::scheduler::issued(store, &case.record_id).await?;
        let writes = lifecycle::take(record, case, &self.action, &self.actor, &env, &issued)?;
        attach_photos(store, &self.actor, &self.action, record).await?;
        Ok(Some(writes))
    }

    fn redo_when_notice_exists(&self) -> bool {
        true
    }

    /// The person who took the step, over HTTP (the console or another web client).
    fn writer(&self) -> Writer {
        Writer::new(self.actor.username.clone(), "web")
    }
}

/// The most photos one action adds.
pub const MAX_ACTION_PHOTOS: usize = 9;

/// Adds the photos an action names (a department's result or rectification) to the record's
/// attachments, captioned by the action: each must be a complete blob the actor uploaded, or
/// one of the record's own photos already. Anything else is 422 `unknown_photo` and nothing
/// is written.
async fn attach_photos(
    store: &dyn Store,
    actor: &Actor,
    action: &Action,
    record: &mut Record,
) -> Result<(), ApiError> {
    let photos = action.photos();
    if photos.len() > MAX_ACTION_PHOTOS {
        return Err(ApiError::unprocessable(
            "too_many_photos",
            format!("an action adds at most {MAX_ACTION_PHOTOS} photos"),
        ));
    }
    let caption = match action {
        Action::ReportRectification { .. } => "整改后",
        _ => "处理结果",
    };
    for sha in photos {
        if record.attachments.contains_key(sha) {
            continue;
        }
        let unknown = || {
            ApiError::unprocessable(
                "unknown_photo",
                format!(
                    "{sha:?} is not a complete upload of yours; PUT or POST it to /api/v1/blobs first"
                ),
            )
        };
        if !sync_core::is_sha256_hex(sha) {
            return Err(unknown());
        }
        let blob = store.blob_state(sha).await?.ok_or_else(unknown)?;
        if !blob.complete || blob.uploaded_by.as_deref() != Some(actor.username.as_str()) {
            return Err(unknown());
        }
        record.attachments.insert(
            sha.clone(),
            sync_core::Attachment {
                sha256: sha.clone(),
                mime_type: blob
                    .mime_type
                    .unwrap_or_else(|| "application/octet-stream".into()),
                size: blob.size as u64,
                caption: Some(caption.into()),
            },
        );
    }
    Ok(())
}

/// Takes `action` on a record for `user`: scope first (a record outside the caller's areas is
/// 403 for the roles scoped by area), then the lifecycle's checks, then one commit.
pub async fn transition(
    state: &AppState,
    user: &User,
    record_id: &str,
    action: Action,
) -> Result<(Record, CaseRow), ApiError> {
    let id = uuid::Uuid::parse_str(record_id)
        .map_err(|_| {
            ApiError::bad_request("invalid_id", format!("{record_id:?} is not a record id"))
        })?
        .to_string();
    let store = state.store.as_ref();
    let map = state.grids.snapshot().await?;
    let stored = store
        .record_doc(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("record {id} not found")))?;
    let record = RecordDoc::load(&stored.doc)
        .and_then(|d| d.record())
        .map_err(ApiError::internal)?;
    // Scope before anything about the case: a department account acts on the cases assigned
    // to its department, everyone else within their areas; outside it, 403 whatever the case's
    // status.
    let authority = AccountAuthority { user, map: &map };
    if !authority.in_scope(&record) {
        return Err(ApiError::forbidden(if user.role == Role::Department {
            "this case is not assigned to your department"
        } else {
            "this record is outside your areas"
        }));
    }
    let department = user.department.clone();
    let mut transition = Transition {
        state,
        map: &map,
        actor: Actor {
            username: user.username.clone(),
            role: user.role,
            department,
        },
        action,
        calendar: calendar(store).await?,
    };
    write_case(state, &id, &mut transition).await
}

/// The field steps a worker's phone wrote ([`sync_core::field`]), answered one at a time.
struct Steps<'a> {
    state: &'a AppState,
    actor: Actor,
    calendar: Calendar,
}

impl AsyncEdit for Steps<'_> {
    async fn edit(
        &mut self,
        record: &mut Record,
        case: &mut CaseRow,
    ) -> Result<Option<CaseWrites>, ApiError> {
        let Some((step, event)) = record
            .pending_steps()
            .into_iter()
            .find(|(_, e)| e.actor == self.actor.username)
            .map(|(s, e)| (s, e.clone()))
        else {
            return Ok(None);
        };
        let store = self.state.store.as_ref();
        let now = now_ms();
        let action = lifecycle::step_action(step, &event.note);
        let class = match action {
            Action::Reinspect { .. } => {
                let code = case.deadline_class.as_deref().unwrap_or(DEFAULT_CLASS);
                find_class(store, code).await?
            }
            _ => None,
        };
        let env = Env {
            now,
            calendar: &self.calendar,
            dispatch: None,
            class,
            leader_review: false,
        };
        let issued = crate::workflow::scheduler::issued(store, &case.record_id).await?;
        let (mut taken, mut taken_case) = (record.clone(), case.clone());
        let answer = sync_core::field::answer_id(&event.id);
        match lifecycle::take(
            &mut taken,
            &mut taken_case,
            &action,
            &self.actor,
            &env,
            &issued,
        ) {
            Ok(mut writes) => {
                // The transition's own event, last on the timeline, answers the step.
                if let Some(last) = taken.timeline.last_mut() {
                    for step in writes.hazard_steps.iter_mut().filter(|h| h.id == last.id) {
                        step.id = answer.clone();
                    }
                    for step in writes.reviews.iter_mut().filter(|r| r.id == last.id) {
                        step.id = answer.clone();
                    }
                    last.id = answer;
                }
                (*record, *case) = (taken, taken_case);
                Ok(Some(writes))
            }
            Err(refusal) => {
                record.timeline.push(sync_core::Event {
                    id: answer,
                    actor: SERVER.into(),
                    at: now,
                    kind: sync_core::field::STEP_REFUSED.into(),
                    note: refusal.to_string(),
                });
                lifecycle::sync_case(record, case, now);
                Ok(Some(CaseWrites::default()))
            }
        }
    }

    fn redo_when_notice_exists(&self) -> bool {
        true
    }
}

/// Takes the field steps `user`'s phone wrote on a record and the server has not answered,
/// each as the transition it asks for (refused ones answered with the reason): what a sync
/// does after storing an upload that holds steps.
pub async fn answer_steps(state: &AppState, user: &User, record_id: &str) -> Result<(), ApiError> {
    let mut steps = Steps {
        state,
        actor: Actor {
            username: user.username.clone(),
            role: user.role,
            department: user.department.clone(),
        },
        calendar: calendar(state.store.as_ref()).await?,
    };
    // One step per write; a record holds few (the phone takes one per task).
    for _ in 0..sync_core::FieldStep::ALL.len() {
        let (record, _) = write_case(state, record_id, &mut steps).await?;
        if !record
            .pending_steps()
            .iter()
            .any(|(_, e)| e.actor == user.username)
        {
            break;
        }
    }
    Ok(())
}

impl<T: AsyncEdit> AsyncEdit for &mut T {
    async fn edit(
        &mut self,
        record: &mut Record,
        case: &mut CaseRow,
    ) -> Result<Option<CaseWrites>, ApiError> {
        (**self).edit(record, case).await
    }

    fn redo_when_notice_exists(&self) -> bool {
        (**self).redo_when_notice_exists()
    }

    fn writer(&self) -> Writer {
        (**self).writer()
    }
}

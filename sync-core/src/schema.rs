//! The record schema: the one definition of a complaint or risk inspection.
//!
//! Every field below is stored in an automerge document through autosurgeon's derives. How two
//! concurrent writes to the same field resolve is part of the schema, so each field names its
//! merge rule:
//!
//! | rule | automerge shape | fields |
//! |---|---|---|
//! | **register** (one value; concurrent writes pick a deterministic winner, the op with the greater Lamport id) | scalar or nested map | kind, ids, times, channel, location, grids, category, status, result, evaluation, complainant, and the text of an event or reply (written once, never edited) |
//! | **merging text** (character-level; concurrent edits both survive) | `Text` | title, description, findings, rectification |
//! | **append-only list** (concurrent appends both survive, ordered deterministically; nothing is ever removed) | list of maps keyed by `id` | timeline, assignments, replies |
//! | **add-wins set** (a map keyed by the element's identity; a concurrent add beats a remove) | map | attachments (keyed by sha256) |
//!
//! Registers nest: `location` is one map whose fields are each a register, so a device that moves
//! the point and a dispatcher that corrects the accuracy both keep their change.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::error::SchemaError;

/// The schema version written into every document. A reader refuses documents from another
/// schema rather than guess at their meaning. Version 2 took the complainant's name and phone
/// out of the document ([`crate::contact`]); version 3 added the statuses of the hazard loop
/// (returned, verified, resolved in the grid, escalated, rectified). Nothing of an earlier
/// version was ever deployed.
pub const SCHEMA_VERSION: u64 = 3;

/// A record's identity: a UUID v7, made on the device that created the record, so records made
/// offline on many phones never collide and sort by creation time.
pub type RecordId = uuid::Uuid;

/// Makes a new record id (UUID v7: time-ordered, random in its low bits).
pub fn new_record_id() -> RecordId {
    uuid::Uuid::now_v7()
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;
            fn reconcile<R: autosurgeon::Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
                reconciler.str(self.as_str())
            }
        }

        /// Reads the value from a string scalar or, as other automerge clients write plain
        /// strings, from a text object.
        impl Hydrate for $name {
            fn hydrate_string(s: &str) -> Result<Self, autosurgeon::HydrateError> {
                s.parse().map_err(|_| autosurgeon::HydrateError::unexpected(
                    concat!("a ", stringify!($name)),
                    format!("{s:?}"),
                ))
            }

            fn hydrate_text<D: autosurgeon::ReadDoc>(
                doc: &D,
                obj: &automerge::ObjId,
            ) -> Result<Self, autosurgeon::HydrateError> {
                Self::hydrate_string(&doc.text(obj)?)
            }
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable text form used in documents, JSON and SQL.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = SchemaError;
            fn from_str(s: &str) -> Result<Self, SchemaError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(SchemaError::UnknownValue {
                        field: stringify!($name),
                        value: other.to_string(),
                    }),
                }
            }
        }
    };
}

string_enum!(
    /// What a record is.
    Kind {
        /// A resident's complaint or request (诉求).
        Complaint = "complaint",
        /// A grid worker's survey of a risk or hazard (矛盾风险隐患摸排).
        RiskInspection = "risk_inspection",
    }
);

string_enum!(
    /// How a record entered the system.
    Channel {
        App = "app",
        Hotline = "hotline",
        SuggestionBox = "suggestion_box",
        MiniProgram = "mini_program",
        Web = "web",
        Open311 = "open311",
        GridSurvey = "grid_survey",
    }
);

string_enum!(
    /// The coordinate system a location was captured in. Phone GPS reports WGS-84; Chinese map
    /// SDKs report GCJ-02, offset by hundreds of metres. The server converts before deciding
    /// ownership.
    Crs {
        Wgs84 = "wgs84",
        Gcj02 = "gcj02",
    }
);

string_enum!(
    /// Who raised a complaint.
    ComplainantType {
        Person = "person",
        LegalPerson = "legal_person",
        Organisation = "organisation",
    }
);

string_enum!(
    /// Where a record stands in the closed loop (接诉 → 办理 → 督办 → 反馈 → 评价).
    Status {
        Received = "received",
        Accepted = "accepted",
        FlaggedUnreasonable = "flagged_unreasonable",
        Dispatched = "dispatched",
        SignedFor = "signed_for",
        Replied = "replied",
        Handling = "handling",
        ResultReported = "result_reported",
        FeedbackGiven = "feedback_given",
        Evaluated = "evaluated",
        Closed = "closed",
        /// A hazard sent back to its worker to amend (退回补充).
        Returned = "returned",
        /// A hazard its grid's leaders confirmed (已核实).
        Verified = "verified",
        /// A hazard settled inside the grid (网格内化解: 小事不出格).
        ResolvedInGrid = "resolved_in_grid",
        /// A hazard the grid cannot settle, passed to the desk (上报).
        Escalated = "escalated",
        /// A hazard its department reports rectified, awaiting re-inspection on site (已整改).
        Rectified = "rectified",
    }
);

string_enum!(
    /// A department's role on a case: one lead, any number of co-handlers.
    AssignmentRole {
        Lead = "lead",
        CoHandler = "co_handler",
    }
);

string_enum!(
    /// The outcome a department reports.
    Outcome {
        Resolved = "resolved",
        PartlyResolved = "partly_resolved",
        CannotResolve = "cannot_resolve",
    }
);

string_enum!(
    /// The complainant's rating.
    Rating {
        Satisfied = "satisfied",
        BasicallySatisfied = "basically_satisfied",
        Dissatisfied = "dissatisfied",
    }
);

string_enum!(
    /// How severe a surveyed hazard is.
    RiskLevel {
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
);

/// Who made a record: the account and the device it was made on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Author {
    #[autosurgeon(hydrate = "lenient::string")]
    pub user: String,
    #[autosurgeon(hydrate = "lenient::string")]
    pub device: String,
}

/// Where a record happened. Register fields: each coordinate is last-writer-wins on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Location {
    #[autosurgeon(hydrate = "lenient::f64")]
    pub lon: f64,
    #[autosurgeon(hydrate = "lenient::f64")]
    pub lat: f64,
    /// Horizontal accuracy in metres, as the device reported it.
    #[autosurgeon(hydrate = "lenient::opt_f64")]
    pub accuracy_m: Option<f64>,
    pub crs: Crs,
}

/// The server's decision of which grid owns a record. Only the server writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct OwnerGrid {
    /// The owning grid's code, or `None` when the point lies outside every grid (the record is
    /// then in the unassigned queue).
    #[autosurgeon(hydrate = "lenient::opt_string")]
    pub code: Option<String>,
    /// The grid map version the decision was made against.
    pub boundary_version: i64,
    /// When the decision was made (milliseconds since the Unix epoch).
    pub decided_at: i64,
}

/// A photo or file attached to a record, stored by content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Attachment {
    /// Lowercase hex SHA-256 of the content; also the key in the attachments set.
    #[autosurgeon(hydrate = "lenient::string")]
    pub sha256: String,
    #[autosurgeon(hydrate = "lenient::string")]
    pub mime_type: String,
    #[autosurgeon(hydrate = "lenient::u64")]
    pub size: u64,
    #[autosurgeon(hydrate = "lenient::opt_string")]
    pub caption: Option<String>,
}

/// The person or body who raised a complaint, as far as everyone in scope may know: whether
/// they are anonymous, what kind of complainant, and whether they left contact details. The
/// details themselves (name, phone) are personal data and never enter the document: they are
/// sealed for the server beside it ([`crate::contact`]).
///
/// Stored as a map with the key `type` for `kind`, written by hand: autosurgeon 0.8's derive
/// cannot rename a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complainant {
    pub anonymous: bool,
    #[serde(rename = "type")]
    pub kind: ComplainantType,
    /// The server holds the complainant's contact details.
    #[serde(default)]
    pub has_contact: bool,
}

impl Reconcile for Complainant {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: autosurgeon::Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        use autosurgeon::reconcile::MapReconciler;
        let mut map = reconciler.map()?;
        map.put("anonymous", self.anonymous)?;
        map.put("type", self.kind)?;
        map.put("has_contact", self.has_contact)?;
        Ok(())
    }
}

impl Hydrate for Complainant {
    fn hydrate_map<D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
    ) -> Result<Self, autosurgeon::HydrateError> {
        Ok(Complainant {
            anonymous: autosurgeon::hydrate_prop(doc, obj, "anonymous")?,
            kind: autosurgeon::hydrate_prop(doc, obj, "type")?,
            has_contact: autosurgeon::hydrate_prop(doc, obj, "has_contact")?,
        })
    }
}

/// The survey part of a risk inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Inspection {
    #[autosurgeon(hydrate = "lenient::string")]
    pub hazard_type: String,
    pub risk_level: RiskLevel,
    /// Merging text.
    #[autosurgeon(with = "text_field")]
    pub findings: String,
    /// What must be put right and how it is followed up. Merging text.
    #[autosurgeon(with = "text_field")]
    pub rectification: String,
    /// When the follow-up is due (milliseconds since the Unix epoch).
    pub follow_up_due: Option<i64>,
}

/// A department put on a case. Append-only: a reassignment adds a new entry and marks the old
/// one inactive rather than deleting it, so the history of who held the case survives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Assignment {
    #[key]
    #[autosurgeon(hydrate = "lenient::string")]
    pub id: String,
    #[autosurgeon(hydrate = "lenient::string")]
    pub department: String,
    pub role: AssignmentRole,
    /// Deadline (milliseconds since the Unix epoch).
    pub deadline: i64,
    pub assigned_at: i64,
    pub active: bool,
}

/// A department's answer to the complainant (initial reply or progress).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Reply {
    #[key]
    #[autosurgeon(hydrate = "lenient::string")]
    pub id: String,
    #[autosurgeon(hydrate = "lenient::string")]
    pub department: String,
    pub at: i64,
    #[autosurgeon(hydrate = "lenient::string")]
    pub text: String,
}

/// The reported result of handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct HandlingResult {
    pub outcome: Outcome,
    #[autosurgeon(hydrate = "lenient::string")]
    pub explanation: String,
    pub at: i64,
}

/// The complainant's rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Evaluation {
    pub rating: Rating,
    #[autosurgeon(hydrate = "lenient::opt_string")]
    pub comment: Option<String>,
    pub at: i64,
}

/// The case-handling state. Only the server and the roles that own each step write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Workflow {
    pub status: Status,
    pub assignments: Vec<Assignment>,
    pub replies: Vec<Reply>,
    pub result: Option<HandlingResult>,
    pub evaluation: Option<Evaluation>,
    /// How many times a dissatisfied evaluation sent the case back for re-handling.
    #[autosurgeon(hydrate = "lenient::u64")]
    pub returns: u64,
}

impl Default for Workflow {
    fn default() -> Self {
        Workflow {
            status: Status::Received,
            assignments: Vec::new(),
            replies: Vec::new(),
            result: None,
            evaluation: None,
            returns: 0,
        }
    }
}

/// One entry of the append-only timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Event {
    /// Unique per event (a UUID v7), so concurrent appends never merge into one.
    #[key]
    #[autosurgeon(hydrate = "lenient::string")]
    pub id: String,
    /// Who: a user name, or `server`.
    #[autosurgeon(hydrate = "lenient::string")]
    pub actor: String,
    pub at: i64,
    /// What happened, a short stable word: `created`, `note`, `photo`, `owner_changed`, …
    #[autosurgeon(hydrate = "lenient::string")]
    pub kind: String,
    #[autosurgeon(hydrate = "lenient::string")]
    pub note: String,
}

/// A complaint or risk inspection. This is the whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Record {
    #[autosurgeon(hydrate = "lenient::u64")]
    pub schema_version: u64,
    #[autosurgeon(with = "uuid_field")]
    pub id: RecordId,
    pub kind: Kind,
    /// Milliseconds since the Unix epoch, from the creating device's clock.
    pub created_at: i64,
    pub created_by: Author,
    pub channel: Channel,
    pub location: Option<Location>,
    /// The device's guess of the grid, shown until the server decides.
    #[autosurgeon(hydrate = "lenient::opt_string")]
    pub claimed_grid: Option<String>,
    pub owner_grid: Option<OwnerGrid>,
    #[autosurgeon(hydrate = "lenient::string")]
    pub category: String,
    #[autosurgeon(with = "text_field")]
    pub title: String,
    #[autosurgeon(with = "text_field")]
    pub description: String,
    /// Add-wins set keyed by sha256.
    pub attachments: BTreeMap<String, Attachment>,
    pub complainant: Option<Complainant>,
    /// Present exactly when `kind` is `risk_inspection`.
    pub inspection: Option<Inspection>,
    pub workflow: Workflow,
    pub timeline: Vec<Event>,
}

impl Record {
    /// Checks everything the document's types cannot: ranges, formats, cross-field rules and
    /// the size limits of every string and list ([`limits`]). What a write must pass.
    pub fn validate(&self) -> Result<(), SchemaError> {
        self.validate_structure()?;
        self.check_limits(None)
    }

    /// Checks that a write turning `before` into `self` keeps to the [`limits`]: a field over
    /// its limit is refused unless it was already that far over before the write (two phones
    /// appending to a full list at once merge past it; the merged record stays readable and
    /// nothing more can be added).
    pub fn check_limits(&self, before: Option<&Record>) -> Result<(), SchemaError> {
        let excused = before.map(Record::oversized).unwrap_or_default();
        match self.oversized().into_iter().find(|over| {
            !excused
                .iter()
                .any(|e| e.field == over.field && e.size >= over.size)
        }) {
            None => Ok(()),
            Some(over) if over.list => Err(SchemaError::TooMany {
                field: over.field,
                max: over.max,
            }),
            Some(over) => Err(SchemaError::TooLong {
                field: over.field,
                max: over.max,
            }),
        }
    }

    /// Every string and list of the record over its limit.
    fn oversized(&self) -> Vec<Oversized> {
        use limits::*;
        let mut over = Vec::new();
        let mut text = |field: &'static str, value: &str, max: usize| {
            // Characters never outnumber bytes: most values are decided without counting.
            if value.len() > max {
                let size = value.chars().count();
                if size > max {
                    over.push(Oversized {
                        field,
                        size,
                        max,
                        list: false,
                    });
                }
            }
        };
        text("created_by.user", &self.created_by.user, NAME);
        text("created_by.device", &self.created_by.device, DEVICE);
        if let Some(grid) = &self.claimed_grid {
            text("claimed_grid", grid, CODE);
        }
        if let Some(code) = self.owner_grid.as_ref().and_then(|o| o.code.as_ref()) {
            text("owner_grid.code", code, CODE);
        }
        text("category", &self.category, CODE);
        text("title", &self.title, TITLE);
        text("description", &self.description, TEXT);
        for attachment in self.attachments.values() {
            text("attachments.mime_type", &attachment.mime_type, MIME_TYPE);
            if let Some(caption) = &attachment.caption {
                text("attachments.caption", caption, NOTE);
            }
        }
        if let Some(i) = &self.inspection {
            text("inspection.hazard_type", &i.hazard_type, CODE);
            text("inspection.findings", &i.findings, TEXT);
            text("inspection.rectification", &i.rectification, TEXT);
        }
        let w = &self.workflow;
        for a in &w.assignments {
            text("workflow.assignments.id", &a.id, ID);
            text("workflow.assignments.department", &a.department, CODE);
        }
        for r in &w.replies {
            text("workflow.replies.id", &r.id, ID);
            text("workflow.replies.department", &r.department, CODE);
            text("workflow.replies.text", &r.text, REPLY);
        }
        if let Some(result) = &w.result {
            text("workflow.result.explanation", &result.explanation, REPLY);
        }
        if let Some(comment) = w.evaluation.as_ref().and_then(|e| e.comment.as_ref()) {
            text("workflow.evaluation.comment", comment, NOTE);
        }
        for e in &self.timeline {
            text("timeline.id", &e.id, ID);
            text("timeline.actor", &e.actor, NAME);
            text("timeline.kind", &e.kind, CODE);
            text("timeline.note", &e.note, NOTE);
        }
        let lists = [
            ("attachments", self.attachments.len(), ATTACHMENTS),
            ("workflow.assignments", w.assignments.len(), ASSIGNMENTS),
            ("workflow.replies", w.replies.len(), REPLIES),
            ("timeline", self.timeline.len(), EVENTS),
        ];
        over.extend(lists.into_iter().filter(|&(_, size, max)| size > max).map(
            |(field, size, max)| Oversized {
                field,
                size,
                max,
                list: true,
            },
        ));
        over
    }

    /// Ranges, formats and cross-field rules: what every stored record satisfies, however it
    /// was merged. Reading a document checks this much.
    pub fn validate_structure(&self) -> Result<(), SchemaError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(SchemaError::UnsupportedSchemaVersion(self.schema_version));
        }
        if self.id.is_nil() {
            return Err(SchemaError::MissingField("id"));
        }
        if self.created_by.user.is_empty() {
            return Err(SchemaError::MissingField("created_by.user"));
        }
        if self.created_by.device.is_empty() {
            return Err(SchemaError::MissingField("created_by.device"));
        }
        if let Some(loc) = &self.location {
            if !loc.lat.is_finite() || !(-90.0..=90.0).contains(&loc.lat) {
                return Err(SchemaError::OutOfRange {
                    field: "location.lat",
                    value: loc.lat,
                });
            }
            if !loc.lon.is_finite() || !(-180.0..=180.0).contains(&loc.lon) {
                return Err(SchemaError::OutOfRange {
                    field: "location.lon",
                    value: loc.lon,
                });
            }
            if let Some(acc) = loc.accuracy_m
                && (!acc.is_finite() || acc < 0.0)
            {
                return Err(SchemaError::OutOfRange {
                    field: "location.accuracy_m",
                    value: acc,
                });
            }
        }
        if self.title.trim().is_empty() {
            return Err(SchemaError::MissingField("title"));
        }
        match (self.kind, &self.inspection) {
            (Kind::RiskInspection, None) => return Err(SchemaError::MissingField("inspection")),
            (Kind::Complaint, Some(_)) => {
                return Err(SchemaError::Inconsistent(
                    "a complaint cannot carry risk-inspection fields",
                ));
            }
            _ => {}
        }
        for (key, attachment) in &self.attachments {
            if key != &attachment.sha256 || !is_sha256_hex(key) {
                return Err(SchemaError::BadAttachment(key.clone()));
            }
        }
        if let Some(c) = &self.complainant
            && c.anonymous
            && c.has_contact
        {
            return Err(SchemaError::Inconsistent(
                "an anonymous complainant leaves no contact details",
            ));
        }
        if self
            .workflow
            .assignments
            .iter()
            .filter(|a| a.active && a.role == AssignmentRole::Lead)
            .count()
            > 1
        {
            return Err(SchemaError::Inconsistent(
                "a case has at most one active lead department",
            ));
        }
        Ok(())
    }
}

/// A string or list over its limit: its size in characters or elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Oversized {
    field: &'static str,
    size: usize,
    max: usize,
    list: bool,
}

/// The most a write may put in each string (in characters) and list (in elements) of a
/// record: one table for the phone, sync, the REST API, Open311, the public form and imports,
/// which all refuse a record over it with `too_long` or `too_many` (422). Together they bound a
/// record's current state to a few megabytes whatever a client sends.
pub mod limits {
    /// A code or short identifier: a category, a grid or department code, a hazard type, an
    /// event kind.
    pub const CODE: usize = 64;
    /// An account name, as authors, actors and writers name it.
    pub const NAME: usize = 64;
    /// A device's name.
    pub const DEVICE: usize = 128;
    /// The id of a list entry (a UUID, with room for other clients' ids).
    pub const ID: usize = 64;
    /// A record's title.
    pub const TITLE: usize = 200;
    /// A description, an inspection's findings or rectification.
    pub const TEXT: usize = 20_000;
    /// A department's reply or its result's explanation.
    pub const REPLY: usize = 5_000;
    /// A timeline note, a photo's caption, an evaluation's comment.
    pub const NOTE: usize = 2_000;
    /// A MIME type (RFC 6838 allows 127 characters for each half).
    pub const MIME_TYPE: usize = 255;
    /// A complainant's name (sealed beside the document, never in it).
    pub const PERSON_NAME: usize = 100;
    /// A complainant's phone number, with an extension (sealed beside the document).
    pub const PHONE: usize = 32;
    /// Photos and files on one record.
    pub const ATTACHMENTS: usize = 100;
    /// Departments ever put on one case.
    pub const ASSIGNMENTS: usize = 50;
    /// Replies on one case.
    pub const REPLIES: usize = 200;
    /// Timeline events of one record.
    pub const EVENTS: usize = 2_000;
}

/// Whether `s` is 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Readers that accept what other automerge clients write for the same value: JavaScript stores
/// a plain string as a text object and a whole number as an integer, where this schema writes a
/// string scalar and a float or unsigned integer.
mod lenient {
    use automerge::{ScalarValue, Value};
    use autosurgeon::{HydrateError, Prop, ReadDoc};

    pub(super) fn string<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<String, HydrateError> {
        super::text_field::hydrate(doc, obj, prop)
    }

    pub(super) fn opt_string<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<Option<String>, HydrateError> {
        match doc.get(obj, &prop)? {
            None => Ok(None),
            Some((Value::Scalar(s), _)) if matches!(s.as_ref(), ScalarValue::Null) => Ok(None),
            Some(_) => string(doc, obj, prop).map(Some),
        }
    }

    fn number<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: &Prop<'_>,
    ) -> Result<Option<ScalarValue>, HydrateError> {
        match doc.get(obj, prop)? {
            None => Ok(None),
            Some((Value::Scalar(s), _)) => Ok(Some(s.into_owned())),
            Some((other, _)) => Err(HydrateError::unexpected("a number", format!("{other:?}"))),
        }
    }

    fn as_f64(value: ScalarValue) -> Result<Option<f64>, HydrateError> {
        match value {
            ScalarValue::F64(v) => Ok(Some(v)),
            ScalarValue::Int(v) => Ok(Some(v as f64)),
            ScalarValue::Uint(v) => Ok(Some(v as f64)),
            ScalarValue::Null => Ok(None),
            other => Err(HydrateError::unexpected("a number", format!("{other:?}"))),
        }
    }

    pub(super) fn f64<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<f64, HydrateError> {
        match number(doc, obj, &prop)? {
            Some(v) => {
                as_f64(v)?.ok_or_else(|| HydrateError::unexpected("a number", "null".into()))
            }
            None => Err(HydrateError::unexpected("a number", "nothing".into())),
        }
    }

    pub(super) fn opt_f64<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<Option<f64>, HydrateError> {
        number(doc, obj, &prop)?.map_or(Ok(None), as_f64)
    }

    pub(super) fn u64<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<u64, HydrateError> {
        match number(doc, obj, &prop)? {
            Some(ScalarValue::Uint(v)) => Ok(v),
            Some(ScalarValue::Int(v)) if v >= 0 => Ok(v as u64),
            other => Err(HydrateError::unexpected(
                "an unsigned integer",
                format!("{other:?}"),
            )),
        }
    }
}

/// Stores a `String` as an automerge `Text` object, so concurrent edits merge character by
/// character. Writing a new value diffs it against the document's text and splices only the
/// difference.
mod text_field {
    use autosurgeon::{HydrateError, Prop, ReadDoc, Reconciler};

    /// Writes a new text object: only for a record written whole into a new document (or a
    /// new nested map). A text already in the document is changed with `write_text`, which
    /// `reconcile_changes` calls; autosurgeon 0.8 cannot read the current text here.
    pub(super) fn reconcile<R: Reconciler>(
        value: &String,
        mut reconciler: R,
    ) -> Result<(), R::Error> {
        use autosurgeon::reconcile::TextReconciler;
        let mut text = reconciler.text()?;
        text.splice(0, 0, value)
    }

    pub(super) fn hydrate<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<String, HydrateError> {
        match doc.get(obj, &prop)? {
            Some((automerge::Value::Object(automerge::ObjType::Text), id)) => Ok(doc.text(&id)?),
            Some((automerge::Value::Scalar(s), _)) => match s.as_ref() {
                automerge::ScalarValue::Str(s) => Ok(s.to_string()),
                other => Err(HydrateError::unexpected("text", format!("{other:?}"))),
            },
            Some((other, _)) => Err(HydrateError::unexpected("text", format!("{other:?}"))),
            None => Err(HydrateError::unexpected("text", "nothing".to_string())),
        }
    }
}

/// Stores a UUID as its hyphenated string, readable from any automerge implementation.
mod uuid_field {
    use autosurgeon::{Hydrate, HydrateError, Prop, ReadDoc, Reconciler};

    pub(super) fn reconcile<R: Reconciler>(
        value: &uuid::Uuid,
        mut reconciler: R,
    ) -> Result<(), R::Error> {
        reconciler.str(value.hyphenated().to_string())
    }

    pub(super) fn hydrate<D: ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<uuid::Uuid, HydrateError> {
        let text = String::hydrate(doc, obj, prop)?;
        uuid::Uuid::parse_str(&text)
            .map_err(|_| HydrateError::unexpected("a UUID", format!("{text:?}")))
    }
}

/// Writes into `doc` only the top-level fields where `after` differs from `before`, which must
/// be what `doc` holds now. The result is what reconciling the whole of `after` would write,
/// without reading every unchanged field back from the document first (autosurgeon's whole
/// reconcile does). Events appended to the timeline are inserted one by one; any other
/// timeline change reconciles the whole list. Text (the title, the description and an
/// inspection's findings and rectification) is spliced where it differs, by `write_text`:
/// autosurgeon 0.8 can write a new text but not diff an existing one.
pub(crate) fn reconcile_changes(
    doc: &mut automerge::AutoCommit,
    before: &Record,
    after: &Record,
) -> Result<(), autosurgeon::ReconcileError> {
    use automerge::{ROOT, ReadDoc};
    use autosurgeon::{reconcile_insert, reconcile_prop};

    // Every field is named, so a field added to `Record` does not compile until it is here.
    let Record {
        schema_version,
        id,
        kind,
        created_at,
        created_by,
        channel,
        location,
        claimed_grid,
        owner_grid,
        category,
        title,
        description,
        attachments,
        complainant,
        inspection,
        workflow,
        timeline,
    } = after;
    macro_rules! plain {
        ($($field:ident),+) => {$(
            if *$field != before.$field {
                reconcile_prop(doc, ROOT, stringify!($field), $field)?;
            }
        )+};
    }
    plain!(
        schema_version,
        kind,
        created_at,
        created_by,
        channel,
        location,
        claimed_grid,
        owner_grid,
        category,
        attachments,
        complainant,
        workflow
    );
    if *inspection != before.inspection {
        match (inspection, &before.inspection, doc.get(ROOT, "inspection")?) {
            (
                Some(after),
                Some(prior),
                Some((automerge::Value::Object(automerge::ObjType::Map), obj)),
            ) => {
                let Inspection {
                    hazard_type,
                    risk_level,
                    findings,
                    rectification,
                    follow_up_due,
                } = after;
                if *hazard_type != prior.hazard_type {
                    reconcile_prop(doc, &obj, "hazard_type", hazard_type)?;
                }
                if *risk_level != prior.risk_level {
                    reconcile_prop(doc, &obj, "risk_level", risk_level)?;
                }
                if *follow_up_due != prior.follow_up_due {
                    reconcile_prop(doc, &obj, "follow_up_due", follow_up_due)?;
                }
                if *findings != prior.findings {
                    write_text(doc, &obj, "findings", findings.as_str())?;
                }
                if *rectification != prior.rectification {
                    write_text(doc, &obj, "rectification", rectification.as_str())?;
                }
            }
            // Added or removed: a new map (with new text objects) or null.
            _ => reconcile_prop(doc, ROOT, "inspection", inspection)?,
        }
    }
    if *id != before.id {
        reconcile_prop(doc, ROOT, "id", UuidValue(id))?;
    }
    if *title != before.title {
        write_text(doc, &ROOT, "title", title)?;
    }
    if *description != before.description {
        write_text(doc, &ROOT, "description", description)?;
    }
    if *timeline != before.timeline {
        match timeline.strip_prefix(before.timeline.as_slice()) {
            Some(appended) => {
                let list = match doc.get(&ROOT, "timeline")? {
                    Some((automerge::Value::Object(automerge::ObjType::List), list)) => list,
                    _ => return reconcile_prop(doc, ROOT, "timeline", timeline),
                };
                for (i, event) in appended.iter().enumerate() {
                    reconcile_insert(doc, list.clone(), before.timeline.len() + i, event)?;
                }
            }
            None => reconcile_prop(doc, ROOT, "timeline", timeline)?,
        }
    }
    Ok(())
}

/// Writes `value` into the text at `prop` of `obj`, splicing only the characters that differ
/// (automerge diffs by grapheme), so a concurrent edit elsewhere in the text survives. A text
/// that is missing, or stored as a plain string, is replaced by a new text object.
fn write_text(
    doc: &mut automerge::AutoCommit,
    obj: &automerge::ObjId,
    prop: &str,
    value: &str,
) -> Result<(), autosurgeon::ReconcileError> {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ReadDoc, Value};
    match doc.get(obj, prop)? {
        Some((Value::Object(ObjType::Text), text)) => doc.update_text(&text, value)?,
        _ => {
            let text = doc.put_object(obj, prop, ObjType::Text)?;
            doc.splice_text(&text, 0, 0, value)?;
        }
    }
    Ok(())
}

/// A UUID written as `uuid_field` writes it.
struct UuidValue<'a>(&'a uuid::Uuid);

impl Reconcile for UuidValue<'_> {
    type Key<'k> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: autosurgeon::Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
        uuid_field::reconcile(self.0, reconciler)
    }
}

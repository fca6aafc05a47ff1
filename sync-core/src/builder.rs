//! Making new records: a builder for Rust callers and [`NewRecord`], the JSON shape the phone app
//! and the staff intake send.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::contact::Contact;
use crate::document::{Writer, now_ms};
use crate::error::SchemaError;
use crate::schema::{
    Author, Channel, Complainant, ComplainantType, Event, Inspection, Kind, Location, Record,
    RiskLevel, SCHEMA_VERSION, Workflow, new_record_id,
};

/// Builds a new record with a fresh id, the creation time, its author and a `created` event.
#[derive(Debug, Clone)]
pub struct RecordBuilder {
    record: Record,
}

impl RecordBuilder {
    /// A new complaint.
    pub fn complaint(title: impl Into<String>, writer: &Writer) -> Self {
        Self::new(Kind::Complaint, title, writer)
    }

    /// A new risk inspection of `hazard_type` at `risk_level`.
    pub fn risk_inspection(
        title: impl Into<String>,
        hazard_type: impl Into<String>,
        risk_level: RiskLevel,
        writer: &Writer,
    ) -> Self {
        let mut b = Self::new(Kind::RiskInspection, title, writer);
        b.record.channel = Channel::GridSurvey;
        b.record.inspection = Some(Inspection {
            hazard_type: hazard_type.into(),
            risk_level,
            findings: String::new(),
            rectification: String::new(),
            follow_up_due: None,
        });
        b
    }

    fn new(kind: Kind, title: impl Into<String>, writer: &Writer) -> Self {
        let now = now_ms();
        let id = new_record_id();
        RecordBuilder {
            record: Record {
                schema_version: SCHEMA_VERSION,
                id,
                kind,
                created_at: now,
                created_by: Author {
                    user: writer.user.clone(),
                    device: writer.device.clone(),
                },
                channel: Channel::App,
                location: None,
                claimed_grid: None,
                owner_grid: None,
                category: String::new(),
                title: title.into(),
                description: String::new(),
                attachments: BTreeMap::new(),
                complainant: None,
                inspection: None,
                workflow: Workflow::default(),
                timeline: vec![Event {
                    id: new_record_id().to_string(),
                    actor: writer.user.clone(),
                    at: now,
                    kind: "created".into(),
                    note: String::new(),
                }],
            },
        }
    }

    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.record.description = text.into();
        self
    }

    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.record.category = category.into();
        self
    }

    pub fn channel(mut self, channel: Channel) -> Self {
        self.record.channel = channel;
        self
    }

    pub fn location(mut self, location: Location) -> Self {
        self.record.location = Some(location);
        self
    }

    pub fn claimed_grid(mut self, grid: impl Into<String>) -> Self {
        self.record.claimed_grid = Some(grid.into());
        self
    }

    pub fn complainant(mut self, complainant: Complainant) -> Self {
        self.record.complainant = Some(complainant);
        self
    }

    /// The record. It is validated when stored.
    pub fn build(self) -> Record {
        self.record
    }
}

/// A new record as JSON, from the phone app or a staff intake form. Fields the device may not
/// set (owner grid, workflow) are not part of this shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    pub kind: Kind,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    pub channel: Option<Channel>,
    pub location: Option<Location>,
    pub claimed_grid: Option<String>,
    pub complainant: Option<NewComplainant>,
    pub inspection: Option<Inspection>,
}

/// Who raised a new complaint, as the phone app or a form enters it. The name and phone are
/// split off ([`NewComplainant::split`]) and never enter the document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComplainant {
    pub anonymous: bool,
    #[serde(rename = "type")]
    pub kind: ComplainantType,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

impl NewComplainant {
    /// What the document says of the complainant, and their contact details if they left any
    /// (blank values count as none). An anonymous complainant leaves none.
    pub fn split(self) -> Result<(Complainant, Option<Contact>), SchemaError> {
        let contact = Contact {
            name: self.name,
            phone: self.phone,
        }
        .normalized();
        if self.anonymous && !contact.is_empty() {
            return Err(SchemaError::Inconsistent(
                "an anonymous complainant leaves no contact details",
            ));
        }
        contact.validate()?;
        let has_contact = !contact.is_empty();
        let complainant = Complainant {
            anonymous: self.anonymous,
            kind: self.kind,
            has_contact,
        };
        Ok((complainant, has_contact.then_some(contact)))
    }
}

impl NewRecord {
    /// The record this describes, written by `writer` now, and the complainant's contact
    /// details, which stay out of it. Validate the record by storing it.
    pub fn into_parts(self, writer: &Writer) -> Result<(Record, Option<Contact>), SchemaError> {
        let (complainant, contact) = match self.complainant.map(NewComplainant::split) {
            Some(split) => {
                let (complainant, contact) = split?;
                (Some(complainant), contact)
            }
            None => (None, None),
        };
        let mut record = RecordBuilder::new(self.kind, self.title, writer).build();
        record.description = self.description;
        record.category = self.category;
        if let Some(channel) = self.channel {
            record.channel = channel;
        } else if self.kind == Kind::RiskInspection {
            record.channel = Channel::GridSurvey;
        }
        record.location = self.location;
        record.claimed_grid = self.claimed_grid;
        record.complainant = complainant;
        record.inspection = self.inspection;
        Ok((record, contact))
    }
}

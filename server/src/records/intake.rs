//! How records enter from outside the phones: staff intake (the hotline, a suggestion box, a
//! file import) and public intake (Open311, the resident form), each with an explicit author.

use sync_core::{
    Channel, Contact, Crs, Location, NewComplainant, Record, RecordBuilder, RecordDoc, Writer,
    now_ms,
};

use super::Author;
use super::commit::{Stored, WriteContext, log_entries, record_row, store_upload};
use super::ownership::decide_owner;
use crate::domain::User;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{CommitOutcome, RecordCommit, RecordQuery, RecordScope};

/// Creates one record entered by `author` through `device` (`web` for staff pages, the
/// channel's name for public intake), as the server on its behalf, deciding its owner at once.
/// The record is checked against the author's authority as an upload from a phone would be.
/// The complainant's `contact` details are sealed and stored with it, in its transaction.
pub async fn create_record(
    state: &AppState,
    author: Author,
    device: &str,
    record: &Record,
    contact: Option<&Contact>,
) -> Result<Record, ApiError> {
    let catalogue = state.store.categories().await?;
    if let Some(refusal) = crate::workflow::catalogue::filing_refusal(&catalogue, record) {
        return Err(refusal.into());
    }
    let sealed = contact
        .map(|c| super::contact::seal(state, record.id, c, author.name()))
        .transpose()?;
    let actor = &state.actor;
    let map = state.grids.snapshot().await?;
    let writer = Writer::new(author.name(), device);
    let mut doc =
        RecordDoc::create(record, actor.clone(), &writer).map_err(ApiError::from_record_error)?;
    let upload = sync_core::DocPayload {
        id: record.id,
        bytes: doc.save(),
    };
    let ctx = WriteContext::new(author, device, map, actor.clone());
    match store_upload(state.store.as_ref(), &upload, &ctx, sealed.as_ref()).await? {
        Stored::Accepted { owner_decided, .. } => {
            if owner_decided {
                state.metrics.owner_decisions.inc();
            }
        }
        Stored::Rejected(rejection, _) => {
            return Err(ApiError::unprocessable("record_rejected", rejection.reason));
        }
    }
    let stored = state
        .store
        .record_doc(&record.id.to_string())
        .await?
        .ok_or_else(|| ApiError::NotFound("record".into()))?;
    RecordDoc::load(&stored.doc)
        .and_then(|d| d.record())
        .map_err(ApiError::internal)
}

/// Creates many records from staff intake (a file import) in one transaction, each owned
/// through the map as a synced record would be, each with its complainant's sealed details.
/// All or nothing.
pub async fn create_records(
    state: &AppState,
    user: &User,
    device: &str,
    records: &[(Record, Option<Contact>)],
) -> Result<(), ApiError> {
    let catalogue = state.store.categories().await?;
    for (record, _) in records {
        if let Some(refusal) = crate::workflow::catalogue::filing_refusal(&catalogue, record) {
            return Err(ApiError::unprocessable(
                refusal.code,
                format!("record {}: {}", record.id, refusal.detail),
            ));
        }
    }
    let sealed = records
        .iter()
        .map(|(record, contact)| {
            contact
                .as_ref()
                .map(|c| super::contact::seal(state, record.id, c, &user.username))
                .transpose()
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let map = state.grids.snapshot().await?;
    let (actor, metrics, user, device, records) = (
        state.actor.clone(),
        state.metrics.clone(),
        user.clone(),
        device.to_string(),
        records.to_vec(),
    );
    let commits = actix_web::web::block(move || {
        let writer = Writer::new(user.username.clone(), device.clone());
        let origin = Author::Account(user).origin(&device);
        records
            .iter()
            .zip(sealed)
            .map(|((record, _), contact)| {
                let mut doc = RecordDoc::create(record, actor.clone(), &writer)
                    .map_err(ApiError::from_record_error)?;
                let decided =
                    decide_owner(&mut doc, record, &map, &actor).map_err(ApiError::internal)?;
                if decided.is_some() {
                    metrics.owner_decisions.inc();
                }
                let record = decided.unwrap_or_else(|| record.clone());
                let changes = log_entries(&doc.automerge().get_changes(&[]), &origin);
                Ok(RecordCommit {
                    row: record_row(&record, now_ms()),
                    doc: doc.save(),
                    expected_version: None,
                    changes,
                    contact,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await
    .map_err(ApiError::internal)??;
    let mut commits = commits;
    commits.sort_by(|a, b| a.row.id.cmp(&b.row.id));
    let outcomes = state.store.commit_records(&commits).await?;
    if outcomes.contains(&CommitOutcome::Conflict) {
        return Err(ApiError::Conflict(
            "a record with one of these ids already exists".into(),
        ));
    }
    Ok(())
}

/// How far back and how many open complaints [`duplicate_hints`] looks at.
const DUPLICATE_WINDOW_MS: i64 = 90 * 24 * 3600 * 1000;
const DUPLICATE_CANDIDATES: i64 = 1000;

/// A complaint from outside the staff (an Open311 client, the public form), as its channel
/// read it.
pub struct PublicIntake {
    pub category: String,
    /// WGS-84 `(lon, lat)`.
    pub point: (f64, f64),
    pub description: String,
    /// Omitted or blank: the description's first 80 characters.
    pub title: Option<String>,
    pub complainant: NewComplainant,
    /// `open311:<client>`, `open311:anonymous` or `public-form`.
    pub author: String,
    pub channel: Channel,
}

/// Creates a complaint from outside as the server on behalf of its author, who has no right
/// beyond creating it ([`Author::Public`]). A blank description is 400 `missing_description`;
/// a record the schema refuses is 422 with the schema's code, as on every other way in.
pub async fn take_in_public(state: &AppState, intake: PublicIntake) -> Result<Record, ApiError> {
    let (record, contact, name) = public_record(intake)?;
    let author = Author::Public { name };
    create_record(state, author, "open311", &record, contact.as_ref()).await
}

/// The complaint a public intake makes, checked by the schema, with the complainant's contact
/// details apart (they never enter the document) and the author's name: everything public
/// intake decides before the database.
pub fn public_record(intake: PublicIntake) -> Result<(Record, Option<Contact>, String), ApiError> {
    let description = intake.description.trim().to_string();
    if description.is_empty() {
        return Err(ApiError::bad_request(
            "missing_description",
            "a description is required",
        ));
    }
    let title = intake
        .title
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| description.chars().take(80).collect());
    let (lon, lat) = intake.point;
    let (complainant, contact) = intake.complainant.split()?;
    let writer = Writer::new(intake.author.clone(), "open311");
    let record = RecordBuilder::complaint(title, &writer)
        .description(description)
        .category(intake.category)
        .channel(intake.channel)
        .location(Location {
            lon,
            lat,
            accuracy_m: None,
            crs: Crs::Wgs84,
        })
        .complainant(complainant)
        .build();
    record.validate()?;
    Ok((record, contact, intake.author))
}

/// Distance in metres between two WGS-84 points (`(lon, lat)`), on geo's mean-radius sphere.
fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    use geo::{Distance, Haversine, Point};
    Haversine.distance(Point::from(a), Point::from(b))
}

/// Open complaints of `category` created in the last 90 days within the configured radius of
/// a WGS-84 point, nearest first.
pub async fn duplicate_hints(
    state: &AppState,
    category: &str,
    point: (f64, f64),
    except: &str,
) -> Result<Vec<String>, ApiError> {
    let radius = state.settings.duplicate_radius_m;
    let now = now_ms();
    // A box around the circle for the database; the exact distance after.
    let dlat = radius / 111_320.0;
    let dlon = radius / (111_320.0 * point.1.to_radians().cos().max(0.01));
    let rows = state
        .store
        .list_records(&RecordQuery {
            kind: Some("complaint".into()),
            created_from: Some(now - DUPLICATE_WINDOW_MS),
            bbox: Some([
                point.0 - dlon,
                point.1 - dlat,
                point.0 + dlon,
                point.1 + dlat,
            ]),
            ..RecordQuery::within(RecordScope::All, DUPLICATE_CANDIDATES)
        })
        .await?;
    let mut near: Vec<(f64, String)> = rows
        .into_iter()
        .filter(|r| r.category == category && r.status != "closed" && r.id != except)
        .filter_map(|r| {
            let d = distance_m(point, (r.lon?, r.lat?));
            (d <= radius).then_some((d, r.id))
        })
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(near.into_iter().map(|(_, id)| id).collect())
}

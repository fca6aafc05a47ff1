//! How records enter from outside the phones: staff intake (the hotline, a suggestion box, a
//! file import) and public intake (Open311, the resident form), each with an explicit author.

use sync_core::{Record, RecordDoc, Writer, now_ms};

use super::Author;
use super::commit::{Stored, WriteContext, log_entries, record_row, store_upload};
use super::ownership::decide_owner;
use crate::domain::User;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{CommitOutcome, RecordCommit};

/// Creates one record entered by `author` through `device` (`web` for staff pages, the
/// channel's name for public intake), as the server on its behalf, deciding its owner at once.
/// The record is checked against the author's authority as an upload from a phone would be.
pub async fn create_record(
    state: &AppState,
    author: Author,
    device: &str,
    record: &Record,
) -> Result<Record, ApiError> {
    let actor = &state.actor;
    let map = state.grids.snapshot().await?;
    let writer = Writer::new(author.name(), device);
    let mut doc = RecordDoc::create(record, actor.clone(), &writer)
        .map_err(|e| ApiError::unprocessable("invalid_record", crate::error::cause_chain(&e)))?;
    let upload = sync_core::DocPayload {
        id: record.id,
        bytes: doc.save(),
    };
    let ctx = WriteContext::new(author, device, map, actor.clone());
    match store_upload(state.store.as_ref(), &upload, &ctx).await? {
        Stored::Accepted { .. } => {}
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
/// through the map as a synced record would be. All or nothing.
pub async fn create_records(
    state: &AppState,
    user: &User,
    device: &str,
    records: &[Record],
) -> Result<(), ApiError> {
    let map = state.grids.snapshot().await?;
    let (actor, user, device, records) = (
        state.actor.clone(),
        user.clone(),
        device.to_string(),
        records.to_vec(),
    );
    let commits = actix_web::web::block(move || {
        let writer = Writer::new(user.username.clone(), device.clone());
        let origin = Author::Account(user).origin(&device);
        records
            .iter()
            .map(|record| {
                let mut doc = RecordDoc::create(record, actor.clone(), &writer).map_err(|e| {
                    ApiError::unprocessable("invalid_record", crate::error::cause_chain(&e))
                })?;
                let record = decide_owner(&mut doc, record, &map, &actor)
                    .map_err(ApiError::internal)?
                    .unwrap_or_else(|| record.clone());
                let changes = log_entries(&doc.automerge().get_changes(&[]), &origin);
                Ok(RecordCommit {
                    row: record_row(&record, now_ms()),
                    doc: doc.save(),
                    expected_version: None,
                    changes,
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

//! Complainants' contact details: never in a document, kept sealed with the server's contact
//! key (`sync_core::contact`), opened only for those who need them to do the work, and every
//! read and write logged in the same transaction.
//!
//! Who may read: the desk (dispatchers) and admins, for records in their areas; a department
//! account, for an open case its department leads. Who may write: the desk and admins; the
//! device (or intake) that made the record, once, beside it.

use sync_core::{Contact, Record, SealedContact, Status, Verdict};

use crate::domain::{Role, User};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{ContactAccess, PutContact, SealedContactRow, StoredDoc};

/// Seals `contact` for record `id` with the server's own key, as `by` gave it (staff intake,
/// Open311, the public form).
pub fn seal(
    state: &AppState,
    id: uuid::Uuid,
    contact: &Contact,
    by: &str,
) -> Result<SealedContactRow, ApiError> {
    let key = state.contact_secret.public();
    let sealed = key.seal(id, contact)?;
    Ok(SealedContactRow {
        record_id: id.to_string(),
        key_id: key.id(),
        sealed: sealed.sealed,
        written_by: by.to_string(),
        written_at: sync_core::now_ms(),
    })
}

fn access(user: &User, id: &str, action: &str) -> ContactAccess {
    ContactAccess {
        record_id: id.to_string(),
        username: user.username.clone(),
        role: user.role.as_str().to_string(),
        action: action.to_string(),
        at: sync_core::now_ms(),
    }
}

/// Takes sealed details a device sent beside its record: they must open with this server's
/// key and name their record, which must be stored, made by this account and say it has
/// details. A retry of the same bytes is accepted again; other details for a record that has
/// some are refused (`contact_exists`: the desk corrects them).
/// `stored` is the record's stored document, read with the others of the request.
pub async fn accept_sealed(
    state: &AppState,
    user: &User,
    sealed: &SealedContact,
    stored: Option<StoredDoc>,
) -> Result<Verdict, ApiError> {
    let reject = |code: &str, reason: String| Verdict::Rejected {
        code: code.to_string(),
        reason,
    };
    let id = sealed.id.to_string();
    let Some(stored) = stored else {
        return Ok(reject(
            sync_core::RECORD_NOT_STORED,
            "the record is not stored".into(),
        ));
    };
    let record = sync_core::RecordDoc::load(&stored.doc)
        .and_then(|d| d.record())
        .map_err(ApiError::internal)?;
    if record.created_by.user != user.username {
        return Ok(reject(
            "wrong_author",
            "only the account that made a record sends its complainant's details".into(),
        ));
    }
    if !record.complainant.as_ref().is_some_and(|c| c.has_contact) {
        return Ok(reject(
            "no_contact_expected",
            "the record says its complainant left no details".into(),
        ));
    }
    if let Err(e) = state.contact_secret.open(sealed.id, &sealed.sealed) {
        return Ok(reject(e.code(), e.to_string()));
    }
    let row = SealedContactRow {
        record_id: id.clone(),
        key_id: state.contact_secret.public().id(),
        sealed: sealed.sealed.clone(),
        written_by: user.username.clone(),
        written_at: sync_core::now_ms(),
    };
    Ok(
        match state
            .store
            .put_contact(&row, false, &access(user, &id, "write"))
            .await?
        {
            PutContact::Stored | PutContact::Same => Verdict::Accepted,
            PutContact::Exists => reject(
                "contact_exists",
                "the record's complainant has details already; the desk corrects them".into(),
            ),
        },
    )
}

/// Whether `user` may read the details of `record` (in their scope already): the desk and
/// admins; a department account whose department leads the case while it is open.
fn may_read(user: &User, record: &Record) -> bool {
    match user.role {
        Role::Dispatcher | Role::Admin => true,
        Role::Department => {
            let Some(department) = &user.department else {
                return false;
            };
            record.workflow.status != Status::Closed
                && record.workflow.assignments.iter().any(|a| {
                    a.active
                        && a.role == sync_core::AssignmentRole::Lead
                        && &a.department == department
                })
        }
        _ => false,
    }
}

/// The complainant's details of record `id`, for a caller who may read them; the read is
/// logged. `None` when the complainant left none.
pub async fn read(state: &AppState, user: &User, id: &str) -> Result<Option<Contact>, ApiError> {
    let (_, record) = super::visible(state, user, id).await?;
    if !may_read(user, &record) {
        return Err(ApiError::forbidden(
            "only the desk, admins and the department leading the open case see a \
             complainant's details",
        ));
    }
    let id = record.id.to_string();
    let Some(row) = state.store.read_contact(&access(user, &id, "read")).await? else {
        return Ok(None);
    };
    state
        .contact_secret
        .open(record.id, &row.sealed)
        .map(Some)
        .map_err(ApiError::internal)
}

/// Sets (or, with an empty contact, clears to nothing readable) a complainant's details: the
/// desk and admins, for records in their areas. The document's `has_contact` is not changed
/// here; the write is logged.
pub async fn write(
    state: &AppState,
    user: &User,
    id: &str,
    contact: Contact,
) -> Result<(), ApiError> {
    if !matches!(user.role, Role::Dispatcher | Role::Admin) {
        return Err(ApiError::forbidden(
            "only the desk and admins change a complainant's details",
        ));
    }
    let (_, record) = super::visible(state, user, id).await?;
    let contact = contact.normalized();
    if record.complainant.as_ref().is_none_or(|c| c.anonymous) && !contact.is_empty() {
        return Err(ApiError::unprocessable(
            "anonymous_complainant",
            "this complaint is anonymous or names no complainant",
        ));
    }
    let row = seal(state, record.id, &contact, &user.username)?;
    state
        .store
        .put_contact(&row, true, &access(user, &row.record_id, "write"))
        .await?;
    Ok(())
}

/// Every logged read and write of a record's details: admins and supervisors.
pub async fn access_log(
    state: &AppState,
    user: &User,
    id: &str,
) -> Result<Vec<ContactAccess>, ApiError> {
    if !matches!(user.role, Role::Admin | Role::Supervisor) {
        return Err(ApiError::forbidden(
            "only admins and supervisors read who saw a complainant's details",
        ));
    }
    let (_, record) = super::visible(state, user, id).await?;
    Ok(state.store.contact_access(&record.id.to_string()).await?)
}

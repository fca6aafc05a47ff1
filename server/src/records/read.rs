//! Reading one record as an account may.

use sync_core::{Record, RecordDoc};

use super::AccountAuthority;
use crate::domain::User;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A record's document and record, if `user` may read it.
pub async fn visible(state: &AppState, user: &User, id: &str) -> ApiResult<(RecordDoc, Record)> {
    let uuid = uuid::Uuid::parse_str(id)
        .map_err(|_| ApiError::bad_request("invalid_id", format!("{id:?} is not a record id")))?;
    let stored = state
        .store
        .record_doc(&uuid.to_string())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("record {uuid} not found")))?;
    let doc = RecordDoc::load(&stored.doc).map_err(ApiError::internal)?;
    let record = doc.record().map_err(ApiError::internal)?;
    let map = state.grids.snapshot().await?;
    let authority = AccountAuthority { user, map: &map };
    if !sync_core::Authority::in_scope(&authority, &record) {
        return Err(ApiError::forbidden("this record is outside your areas"));
    }
    Ok((doc, record))
}

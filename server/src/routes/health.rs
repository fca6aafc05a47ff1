//! Liveness and metrics.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// `GET /healthz`: 200 when the database answers, 503 when it does not.
#[tracing::instrument(skip(state))]
pub async fn healthz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(Box::new(e)))?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ok", "database": state.store.backend() })))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (version, areas) = match state.grids.snapshot().await {
        Ok(snapshot) => (snapshot.version(), snapshot.index.len()),
        Err(_) => (-1, 0),
    };
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(state.metrics.render(version, areas))
}

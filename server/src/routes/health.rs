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

/// `GET /metrics`: OpenMetrics text when the client asks for it (Prometheus does), the classic
/// Prometheus text format otherwise. For the scraper's token (`--metrics-token`), or an admin
/// or supervisor account.
pub async fn metrics(
    state: web::Data<AppState>,
    request: actix_web::HttpRequest,
) -> ApiResult<HttpResponse> {
    use crate::auth::{Caller, bearer, token_hash};
    // Compared as hashes: equal lengths, and nothing learnt from where they differ.
    let scraper = match (&state.settings.metrics_token, bearer(&request)) {
        (Some(expected), Some(given)) => token_hash(expected) == token_hash(&given),
        _ => false,
    };
    if !scraper {
        let caller = Caller::resolve(&request).await?;
        caller.require_role(&[crate::domain::Role::Admin, crate::domain::Role::Supervisor])?;
    }
    let (version, areas) = match state.grids.snapshot().await {
        Ok(snapshot) => (snapshot.version(), snapshot.index.len()),
        Err(_) => (-1, 0),
    };
    let text = state.metrics.render(version, areas);
    let openmetrics = request
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    Ok(if openmetrics {
        HttpResponse::Ok()
            .content_type(crate::metrics::OPENMETRICS)
            .body(text)
    } else {
        HttpResponse::Ok()
            .content_type(crate::metrics::PROMETHEUS_TEXT)
            .body(crate::metrics::to_prometheus_text(&text))
    })
}

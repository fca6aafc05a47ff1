//! Building and running the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};

use crate::configuration::Settings;
use crate::demo;
use crate::error::{ApiError, PROBLEM_JSON, problem_response};
use crate::routes;
use crate::state::AppState;
use crate::store::{self, Store, StoreError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error("cannot open the database")]
    Store(#[from] StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The thread that commits record writes could not be started.
    #[error("cannot start the commit writer")]
    Writer(#[source] std::io::Error),
    /// The demo data could not be loaded.
    #[error("cannot load the demo city")]
    Demo(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The contact key could not be read or made.
    #[error("cannot load the contact key")]
    ContactKey(#[from] crate::configuration::ContactKeyError),
}

/// A bound, ready server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the store named by `settings.database_url` (creating and migrating it), loads the
    /// demo city if asked, and binds `settings.bind`.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let store = store::connect(&settings.database_url).await?;
        Self::build_with_store(store, settings).await
    }

    /// As [`Application::build`] over an already open store (tests run two instances on one
    /// database this way).
    pub async fn build_with_store(
        store: Arc<dyn Store>,
        settings: Settings,
    ) -> Result<Self, StartupError> {
        if settings.demo {
            demo::load(store.as_ref())
                .await
                .map_err(StartupError::Demo)?;
        }
        let listener = TcpListener::bind(&settings.bind).map_err(|source| StartupError::Bind {
            address: settings.bind.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                address: settings.bind.clone(),
                source,
            })?
            .port();
        let workers = settings.workers;
        let secret = settings.contact_secret()?;
        let state = AppState::new(store, settings, secret).map_err(StartupError::Writer)?;
        // Load the index before the first request rather than during it.
        state.grids.refresh().await?;
        // Re-ownership left unfinished by a server that stopped during a boundary edit.
        match crate::reown::resume(&state).await {
            Ok(0) => {}
            Ok(jobs) => tracing::info!(jobs, "unfinished re-ownership jobs completed"),
            Err(error) => {
                tracing::error!(cause = %crate::error::cause_chain(&error), "re-ownership jobs could not be resumed; they stay queued");
            }
        }
        let data = web::Data::new(state.clone());
        let limit = state.settings.max_body_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(limit)
                        .error_handler(|error, _| ApiError::from(error).into()),
                )
                .app_data(web::PayloadConfig::new(limit))
                .app_data(
                    web::FormConfig::default()
                        .limit(16 * 1024)
                        .error_handler(|error, _| ApiError::from(error).into()),
                )
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|error, _| ApiError::from(error).into()),
                )
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|error, _| ApiError::from(error).into()),
                )
                .configure(routes::configure)
                .default_service(web::to(routes::unrouted))
                .wrap(from_fn(crate::auth::authenticate))
                .wrap(from_fn(problems_and_metrics))
                .wrap(from_fn(routes::open311::errors_as_open311))
                // Responses are compressed for clients that ask (Accept-Encoding); request
                // bodies in gzip are decoded by the extractors.
                .wrap(actix_web::middleware::Compress::default())
        })
        // Under load a request can wait its turn for a while; the default 5 s would drop it.
        .client_request_timeout(std::time::Duration::from_secs(60))
        // A phone that syncs again within a minute (the next page of a feed, a retry, a photo
        // after its record) reuses its connection instead of paying a new handshake on a slow
        // link; actix's default closes idle connections after 5 s.
        .keep_alive(std::time::Duration::from_secs(75))
        // HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on the same port. A phone reaches the
        // server through the city's TLS proxy, which speaks HTTP/2 to it; HTTP/2 here lets a
        // proxy (or a phone on a private network) keep it end to end, where header compression
        // brings an empty poll under 200 bytes.
        .listen_auto_h2c(listener)
        .map_err(|source| StartupError::Bind {
            address: format!("port {port}"),
            source,
        })?;
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        let server = server.run();
        if let Some(every) = state.settings.supervision_interval {
            tokio::spawn(crate::workflow::scheduler::run(state.clone(), every));
        }
        tracing::info!(port, backend = state.store.backend(), "listening");
        Ok(Application {
            port,
            server,
            state,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (store, grid map, metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (Ctrl-C, SIGTERM or the handle).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Counts every response by status class, and turns any error response that is not already a
/// problem document (a framework 404/405, say) into one, so clients see one error shape. The
/// console's own pages (HTML, a form shown again with its message) stay as they are.
async fn problems_and_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let started = std::time::Instant::now();
    let (method, path) = (req.method().clone(), req.path().to_string());
    let response = next.call(req).await?.map_into_boxed_body();
    let status = response.status();
    // A body the link cut is no client's mistake: logged and counted as what it is.
    let cut = response
        .response()
        .extensions()
        .contains::<crate::error::BodyWasCut>();
    tracing::info!(
        %method,
        %path,
        status = status.as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        body_cut = cut,
        "request"
    );
    if let Some(state) = state {
        let seconds = started.elapsed().as_secs_f64();
        if cut {
            state.metrics.record_cut_body(seconds);
        } else {
            state.metrics.record_response(status.as_u16(), seconds);
        }
    }
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON) || v.starts_with("text/html"));
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let code = match status.as_u16() {
            404 => "not_found",
            405 => "method_not_allowed",
            413 => "payload_too_large",
            _ if status.is_server_error() => "internal",
            _ => "bad_request",
        };
        let detail = status.canonical_reason().unwrap_or("error");
        let (request, _) = response.into_parts();
        return Ok(ServiceResponse::new(
            request,
            problem_response(status, code, detail, None),
        ));
    }
    Ok(response)
}

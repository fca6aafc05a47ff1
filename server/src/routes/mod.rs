//! HTTP routes. Handlers are thin: parse, check the caller, call the domain, shape the answer.
//!
//! The route table below is the single source of both the router and [`ROUTES`], which the
//! OpenAPI test compares with `openapi.yaml`.

pub mod admin;
pub mod auth;
pub mod blobs;
pub mod common;
pub mod console;
pub mod dashboard;
pub mod grids;
pub mod health;
pub mod locate;
pub mod ogc;
pub mod open311;
pub mod records;
pub mod sync;
pub mod workflow;

use actix_web::web;

/// Whether a path needs a bearer token: the API and the OGC collections do, except login, the
/// public resident form and the OGC landing page, conformance and definition. (Open311, the
/// health check and `/metrics` decide for themselves.) Checked before anything else about a
/// request ([`crate::auth::authenticate`]).
pub fn needs_token(path: &str) -> bool {
    const PUBLIC: &[&str] = &[
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/ogc/",
        "/ogc/conformance",
        "/ogc/api",
    ];
    if PUBLIC.contains(&path) || path.starts_with("/api/v1/public/") {
        return false;
    }
    path.starts_with("/api/") || path.starts_with("/ogc/")
}

/// The methods served at `path`, from [`ROUTES`] (a pattern's `{param}` matches any non-empty
/// text within one segment).
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    fn segment_matches(pattern: &str, segment: &str) -> bool {
        match (pattern.find('{'), pattern.find('}')) {
            (Some(open), Some(close)) => {
                let (prefix, suffix) = (&pattern[..open], &pattern[close + 1..]);
                segment.len() > prefix.len() + suffix.len()
                    && segment.starts_with(prefix)
                    && segment.ends_with(suffix)
            }
            _ => pattern == segment,
        }
    }
    let segments: Vec<&str> = path.split('/').collect();
    let mut methods: Vec<&'static str> = ROUTES
        .iter()
        .filter(|(_, pattern)| {
            let parts: Vec<&str> = pattern.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| segment_matches(p, s))
        })
        .map(|(method, _)| match *method {
            "get" => "GET",
            "post" => "POST",
            "put" => "PUT",
            "patch" => "PATCH",
            "delete" => "DELETE",
            "head" => "HEAD",
            _ => "OPTIONS",
        })
        .collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// What answers a request no route took: 405 with `Allow` when the path is served with other
/// methods, else 404.
pub async fn unrouted(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    let methods = allowed_methods(req.path());
    if methods.is_empty() {
        return crate::error::ApiError::NotFound("no such route".into()).error_response();
    }
    let mut response = crate::error::problem_response(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!(
            "{} is not served here; use {}",
            req.method(),
            methods.join(", ")
        ),
        None,
    );
    if let Ok(allow) = actix_web::http::header::HeaderValue::from_str(&methods.join(", ")) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, allow);
    }
    response
}

/// The method guards the route table names (actix-web's, and `options`).
mod verbs {
    pub use actix_web::web::{delete, get, head, patch, post, put};

    /// Routes `OPTIONS` requests.
    pub fn options() -> actix_web::Route {
        actix_web::web::method(actix_web::http::Method::OPTIONS)
    }
}

macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// Every route served: `(method, path)`, paths in OpenAPI `{param}` form.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Registers every route.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $( cfg.route($path, verbs::$method().to($handler)); )*
        }
    };
}

route_table! {
    get "/healthz" => health::healthz;
    get "/metrics" => health::metrics;
    post "/api/v1/auth/login" => auth::login;
    post "/api/v1/auth/refresh" => auth::refresh;
    post "/api/v1/auth/logout" => auth::logout;
    get "/api/v1/auth/me" => auth::me;
    get "/api/v1/admin/users" => admin::list_users;
    post "/api/v1/admin/users" => admin::create_user;
    get "/api/v1/admin/users/{username}" => admin::get_user;
    patch "/api/v1/admin/users/{username}" => admin::update_user;
    put "/api/v1/admin/users/{username}/areas" => admin::set_areas;
    post "/api/v1/admin/users/{username}/revoke-tokens" => admin::revoke_tokens;
    get "/api/v1/admin/users/{username}/devices" => admin::list_devices;
    delete "/api/v1/admin/users/{username}/devices/{device}" => admin::revoke_device;
    post "/api/v1/grids/import" => grids::import;
    post "/api/v1/grids/merge" => grids::merge;
    post "/api/v1/grids/batch" => grids::batch;
    get "/api/v1/grids" => grids::list;
    get "/api/v1/grids/outlines" => dashboard::outlines;
    post "/api/v1/grids" => grids::create;
    get "/api/v1/grids/{code}/register" => grids::get_register;
    put "/api/v1/grids/{code}/register" => grids::put_register;
    get "/api/v1/grids/{code}" => grids::get;
    put "/api/v1/grids/{code}" => grids::replace;
    patch "/api/v1/grids/{code}" => grids::update;
    delete "/api/v1/grids/{code}" => grids::retire;
    post "/api/v1/grids/{code}/split" => grids::split;
    get "/api/v1/grids/{code}/versions" => grids::versions;
    get "/api/v1/grids/{code}/coverage" => grids::coverage;
    get "/api/v1/locate" => locate::locate;
    post "/api/v1/locate/batch" => locate::batch;
    post "/api/v1/sync" => sync::sync;
    post "/api/v1/records" => records::create;
    post "/api/v1/records/import" => records::import;
    get "/api/v1/records" => records::list;
    get "/api/v1/records/{id}" => records::get;
    get "/api/v1/records/{id}/automerge" => records::automerge;
    get "/api/v1/records/{id}/complainant" => records::complainant;
    put "/api/v1/records/{id}/complainant" => records::put_complainant;
    get "/api/v1/records/{id}/complainant/access" => records::complainant_access;
    get "/api/v1/records/{id}/history" => records::history;
    get "/ogc" => ogc::landing;
    get "/ogc/" => ogc::landing;
    get "/ogc/conformance" => ogc::conformance;
    get "/ogc/api" => ogc::api;
    get "/ogc/collections" => ogc::collections;
    get "/ogc/collections/{collection}" => ogc::collection;
    get "/ogc/collections/{collection}/items" => ogc::items;
    post "/ogc/collections/{collection}/items" => ogc::create;
    options "/ogc/collections/{collection}/items" => ogc::items_options;
    get "/ogc/collections/{collection}/items/{id}" => ogc::item;
    put "/ogc/collections/{collection}/items/{id}" => ogc::replace;
    patch "/ogc/collections/{collection}/items/{id}" => ogc::update;
    delete "/ogc/collections/{collection}/items/{id}" => ogc::delete;
    options "/ogc/collections/{collection}/items/{id}" => ogc::item_options;
    post "/api/v1/blobs" => blobs::post;
    put "/api/v1/blobs/{sha256}" => blobs::put;
    head "/api/v1/blobs/{sha256}" => blobs::head;
    get "/api/v1/blobs/{sha256}" => blobs::get;
    // Workflow.
    get "/api/v1/calendar/{year}" => workflow::get_calendar;
    put "/api/v1/calendar/{year}" => workflow::put_calendar;
    get "/api/v1/deadline-classes" => workflow::list_deadline_classes;
    put "/api/v1/deadline-classes/{code}" => workflow::put_deadline_class;
    get "/api/v1/categories" => workflow::list_categories;
    get "/api/v1/categories/{code}" => workflow::get_category;
    put "/api/v1/categories/{code}" => workflow::put_category;
    get "/api/v1/categories/{code}/history" => workflow::category_history;
    get "/api/v1/queue" => workflow::queue;
    get "/api/v1/departments" => workflow::list_departments;
    get "/api/v1/departments/{code}" => workflow::get_department;
    put "/api/v1/departments/{code}" => workflow::put_department;
    get "/api/v1/dispatch-rules" => workflow::list_dispatch_rules;
    put "/api/v1/dispatch-rules" => workflow::put_dispatch_rule;
    delete "/api/v1/dispatch-rules" => workflow::delete_dispatch_rule;
    put "/api/v1/admin/users/{username}/department" => workflow::put_user_department;
    post "/api/v1/records/{id}/transitions" => workflow::transition;
    get "/api/v1/records/{id}/case" => workflow::get_case;
    get "/api/v1/records/{id}/actions" => workflow::record_actions;
    get "/api/v1/supervision-notices" => workflow::list_notices;
    get "/api/v1/reports/rates" => workflow::rates;
    get "/api/v1/reports/monthly/{month}" => workflow::monthly_report;
    get "/api/v1/score-rules" => workflow::get_score_rules;
    put "/api/v1/score-rules" => workflow::put_score_rules;
    get "/api/v1/dashboard" => dashboard::dashboard;
    get "/api/v1/settings/leader-review" => workflow::get_leader_review;
    put "/api/v1/settings/leader-review" => workflow::put_leader_review;
    // The web console: its pages (a session cookie, not a bearer token) and its files.
    get "/" => console::root;
    get "/console/" => console::page;
    get "/console/login" => console::login_page;
    post "/console/login" => console::login;
    get "/console/assets/{file}" => console::get_asset;
    get "/console/v/{version}/{file}" => console::get_versioned;
    // Open311 GeoReport v2 and the public form: no bearer token.
    get "/open311/v2/discovery.{format}" => open311::discovery;
    get "/open311/v2/services.{format}" => open311::services;
    get "/open311/v2/services/{service_code}.{format}" => open311::service_definition;
    post "/open311/v2/requests.{format}" => open311::create_request;
    get "/open311/v2/requests.{format}" => open311::list_requests;
    get "/open311/v2/requests/{service_request_id}.{format}" => open311::get_request;
    get "/open311/v2/tokens/{token}.{format}" => open311::token;
    post "/api/v1/public/complaints" => open311::public_complaint;
    post "/api/v1/admin/open311-keys" => open311::issue_key;
}

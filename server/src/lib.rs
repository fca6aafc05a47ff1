//! # gridsync server
//!
//! The authority of a grid-governance network: it keeps the grid map, decides
//! which grid owns each point, and lets each person see what their role and areas allow.
//!
//! A tour:
//! - [`configuration`] parses flags and `GRIDSYNC_*` variables into [`configuration::Settings`];
//!   [`startup::Application::build`] opens the [`store`], loads the grid map into a
//!   [`state::GridMap`] and binds the HTTP server ([`routes`]).
//! - [`store::Store`] is the one storage interface, implemented for SQLite (WAL, the default,
//!   one file) and PostgreSQL (many instances, one database).
//! - [`geo_index::GridIndex`] answers "who owns this point" in well under a microsecond: an
//!   R-tree of bounding boxes, then prepared point-in-polygon tests, with a documented rule for
//!   points on shared edges. [`state::GridMap`] rebuilds it whenever the database's map version
//!   moves, including when another instance changed the map.
//! - [`records`] is the records domain (who may write what, the owner decision, storing a write,
//!   intake); [`sync`] is the exchange with phones over it.
//! - [`coords`] converts between WGS-84 (stored, GPS) and GCJ-02 (Chinese web maps).
//! - Errors are `application/problem+json` with a stable `code` ([`error::ApiError`]).
#![forbid(unsafe_code)]

pub mod auth;
pub mod configuration;
pub mod coords;
pub mod demo;
pub mod domain;
pub mod edits;
pub mod error;
pub mod geo_index;
pub mod geometry;
pub mod group_commit;
pub mod import;
pub mod metrics;
pub mod rate_limit;
pub mod record_import;
pub mod records;
pub mod reown;
pub mod routes;
pub mod session;
pub mod startup;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod topology;
pub mod workflow;

pub use configuration::Settings;
pub use startup::Application;
pub use state::AppState;

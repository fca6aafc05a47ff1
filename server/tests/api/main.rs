//! Integration tests: real HTTP against the server started in-process on port 0, each test run
//! twice, over a fresh SQLite file and over a fresh PostgreSQL database
//! (`GRIDSYNC_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).

/// The harness: spawning servers, fresh databases, login helpers. `#[both_backends]`
/// (`gridsync-test-macros`) runs a test body on each backend.
mod helpers;

/// Login, logout, token expiry and revocation.
mod auth;
/// The console in a real browser (chromium through Playwright): each role's core step.
mod browser;
/// The command line: bootstrapping accounts with `user add`.
mod cli;
/// The console's sessions, pages and embedded files.
mod console;
/// The server process killed with SIGKILL under sync load, restarted, nothing lost or doubled.
mod crash;
/// The city screen's live figures and simplified grid outlines.
mod dashboard;
/// Device credentials: a phone back from days offline gets a token without a password.
mod devices;
/// Problem documents, body limits, health and metrics.
mod errors;
/// The worker's hazard steps taken offline on the phone and carried by sync.
mod field;
/// A field week: many phones through an impaired link, the server killed mid-run, every record
/// once and every copy converged; prints what the link cost.
mod field_week;
/// GIS staff editing boundaries: versions, topology, coverage, split/merge, re-ownership.
mod gis;
/// Importing, listing and fetching the grid map.
mod grids;
/// The hazard loop: verify or return, settle in the grid or escalate, rectify, re-inspect.
mod hazards;
/// The month's figures against an audit trail kept by the test, for random action sequences.
mod ledger;
/// The schema's size limits on every way a record comes in.
mod limits;
/// Ownership lookups, single and batch, and index freshness across instances.
mod locate;
/// OGC API – Features over HTTP, and OWSLib as a real client.
mod ogc;
/// Open311 GeoReport v2 with the real `georeport` client, and the public resident form.
mod open311;
/// The router and `openapi.yaml` agree.
mod openapi;
/// Complainants' contact details: who receives them by every path, and the audit of reads.
mod privacy;
/// QGIS itself opening the OGC API with Basic authentication.
mod qgis;
/// The three rates over a hand-computed fixture month.
mod rates;
/// Grid leaders reviewing their workers' complaints before the desk, where a region asks.
mod review;
/// Account management and the role × endpoint × area matrix.
mod roles;
/// The supervision scheduler: overdue cases, notices issued once across instances.
mod scheduler;
/// Sync over HTTP with phones' sync-core stores, the records API and resumable photo uploads.
mod sync;
/// The complaint workflow: calendar, deadline classes, departments, dispatch rules, every
/// transition and the refused ones, supervision notices.
mod workflow;

//! Storage: one [`Store`] trait over SQLite (the default) and PostgreSQL (many instances).
//!
//! **Where a new query goes.** Write it once, in plain SQL with `$N` parameters (both backends
//! accept them), as a function in its topic's `queries!` block (`accounts.rs`, `map.rs`,
//! `records.rs`, `blobs.rs`, `contacts.rs`, `workflow.rs`), and add its signature to [`store_api!`] below, which
//! compiles it for both backends and forwards the [`Store`] method to it. Only a statement the
//! dialects truly disagree on (array parameters against `json_each`, JSON aggregation, snapshot
//! isolation) is written twice, as an item of the same name in `sqlite.rs` and `postgres.rs`.
//!
//! Every statement binds its parameters (no SQL is ever formatted from input); each backend
//! carries its own migrations under `server/migrations/<backend>`. The integration suite runs
//! every test against both, each on a fresh database.
//!
//! A topic's `queries!` expands inside a module of each backend (`sqlite::accounts`, …) whose
//! parent provides `Db` (the sqlx database), `Pool`, `DbRow` and the dialect items it names.

/// Compiles every topic's shared queries inside the backend module it is invoked in, and
/// brings them to that module's top level, where `store_api!` forwards to them.
macro_rules! shared_queries {
    () => {
        mod accounts {
            $crate::store::accounts::queries!();
        }
        mod blobs {
            $crate::store::blobs::queries!();
        }
        mod contacts {
            $crate::store::contacts::queries!();
        }
        mod map {
            $crate::store::map::queries!();
        }
        mod records {
            $crate::store::records::queries!();
        }
        mod workflow {
            $crate::store::workflow::queries!();
        }
        pub(super) use self::{
            accounts::*, blobs::*, contacts::*, map::*, records::*, workflow::*,
        };
    };
}

mod accounts;
mod blobs;
mod contacts;
mod map;
mod postgres;
mod records;
mod sqlite;
pub mod workflow;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{AreaFilter, AreaRecord, Level, NewUser, User, UserUpdate};

pub use accounts::{DeviceCredentialView, DeviceRefresh, NewDeviceCredential};
pub use blobs::{BlobAppend, BlobState};
pub use contacts::{ContactAccess, PutContact, SealedContactRow};
pub use map::{
    AreaEdit, AreaImport, AreaVersion, EditOutcome, GridPerson, GridRegister, RecordPoint,
    RegisterCounts, ReownJob,
};
pub use postgres::PostgresStore;
pub use records::{
    CommitOutcome, FeedItem, GridCount, NewChange, RecordCommit, RecordQuery, RecordRow,
    RecordScope, StoredDoc, departments_column, departments_hold,
};
pub use sqlite::SqliteStore;
pub use workflow::{
    CaseRow, CaseWrites, Contact, Department, DispatchRule, Evaluation, HazardFound, HazardMiss,
    HazardStep, Notice, ReviewStep, WorkflowOutcome,
};

use crate::workflow::calendar::{CalendarDay, DeadlineClass};

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique value (a username) is already taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// The URL names no supported backend.
    #[error("unsupported database url `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// A stored value could not be read back (a role or level the code does not know).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The thread that commits sync writes has stopped (it panicked); nothing more is written
    /// through it.
    #[error("the commit writer has stopped")]
    WriterStopped,
    /// The change would leave no active admin; nothing was changed.
    #[error("the last active admin cannot be demoted or deactivated")]
    LastAdmin,
}

/// A token's account, read in one query with what a sync exchange needs beside it.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    pub user: User,
    /// The account's scope epoch (bumped whenever its role or areas change), read in the same
    /// statement as its areas, so the two always agree.
    pub scope_epoch: i64,
    /// The change log's head when the token was checked: every change up to it is committed.
    pub change_head: i64,
}

/// Storage result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Declares [`Store`] from one list of methods and implements it for both backends, each method
/// forwarding to the function of the same name in `sqlite` or `postgres` (a shared query
/// compiled there, or that backend's own statement) on the connection the entry names:
/// `reader` (on SQLite, the read-only pool, which never waits for the writer) or `writer` (on
/// SQLite, the one connection that writes). PostgreSQL has one pool for both.
macro_rules! store_api {
    ($(
        $(#[$doc:meta])*
        $conn:ident async fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
    )*) => {
        /// Everything the server keeps. Implementations must be safe to share between request
        /// handlers and, for PostgreSQL, between server instances: the map version lives in the
        /// database.
        #[async_trait]
        pub trait Store: Send + Sync + std::fmt::Debug {
            /// `"sqlite"` or `"postgres"`.
            fn backend(&self) -> &'static str;
            $( $(#[$doc])* async fn $name(&self $(, $arg: $ty)*) -> $ret; )*
        }

        #[async_trait]
        impl Store for SqliteStore {
            fn backend(&self) -> &'static str {
                "sqlite"
            }
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    sqlite::$name(self.$conn() $(, $arg)*).await
                }
            )*
        }

        #[async_trait]
        impl Store for PostgresStore {
            fn backend(&self) -> &'static str {
                "postgres"
            }
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    postgres::$name(self.$conn() $(, $arg)*).await
                }
            )*
        }
    };
}

store_api! {
    /// A trivial round trip, for `/healthz`.
    writer async fn ping(&self) -> Result<()>;

    // --- accounts and tokens (`accounts.rs`) --------------------------------------------------

    /// Creates an account with its area assignments; [`StoreError::Conflict`] if the name is taken.
    writer async fn create_user(&self, user: &NewUser) -> Result<User>;
    /// The account with this name.
    reader async fn user_by_name(&self, username: &str) -> Result<Option<User>>;
    /// Every account, ordered by name.
    reader async fn list_users(&self) -> Result<Vec<User>>;
    /// Applies the set fields of `update`; `None` if there is no such account.
    writer async fn update_user(&self, username: &str, update: &UserUpdate) -> Result<Option<User>>;
    /// Replaces an account's area assignments; `None` if there is no such account.
    writer async fn set_user_areas(&self, username: &str, areas: &[String]) -> Result<Option<User>>;

    /// Stores a token hash for a user.
    writer async fn insert_token(
        &self,
        token_hash: &str,
        user_id: i64,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// The active account owning an unrevoked token that has not expired at `now`, with its
    /// areas, scope epoch and the change head, in one statement.
    reader async fn token_owner(&self, token_hash: &str, now: i64) -> Result<Option<TokenOwner>>;
    /// Revokes one token; `false` if it was unknown or already revoked.
    writer async fn revoke_token(&self, token_hash: &str, now: i64) -> Result<bool>;
    /// Revokes every live token of an account; returns how many.
    writer async fn revoke_user_tokens(&self, user_id: i64, now: i64) -> Result<u64>;
    /// Stores a device's credential at login, revoking the device's earlier ones.
    writer async fn issue_device_credential(&self, new: &NewDeviceCredential<'_>) -> Result<()>;
    /// Presents a device credential: a live one is rotated to `next` (valid until
    /// `expires_at`) in one transaction; see [`DeviceRefresh`] for the rest.
    writer async fn refresh_device_credential(
        &self,
        presented: &str,
        device: &str,
        next: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<DeviceRefresh>;
    /// The devices of an account holding a live credential, by device id.
    reader async fn device_credentials(&self, user_id: i64, now: i64) -> Result<Vec<DeviceCredentialView>>;
    /// Revokes the live credentials of one device (or all) of an account; how many.
    writer async fn revoke_device_credentials(
        &self,
        user_id: i64,
        device: Option<&str>,
        now: i64,
    ) -> Result<u64>;

    // --- the grid map (`map.rs`) --------------------------------------------------------------

    /// The current map version (0 before the first import). Cheap: one row by primary key.
    reader async fn map_version(&self) -> Result<i64>;
    /// Inserts or replaces areas in one transaction and bumps the map version once; every
    /// written area gets the new version, which is returned. No re-ownership is queued: for
    /// seeding a map before any record exists (the demo city, benchmarks).
    writer async fn put_areas(&self, areas: &[AreaRecord], now: i64) -> Result<i64>;
    /// An import by `actor`: [`Store::put_areas`] with the re-ownership job of the records
    /// where the areas lie now or lay before, queued in the same transaction (as a boundary
    /// edit queues its own), and the grid registers' counts the features gave.
    writer async fn import_areas(
        &self,
        areas: &[AreaRecord],
        registers: &[RegisterCounts],
        actor: &str,
        now_ms: i64,
    ) -> Result<AreaImport>;
    /// One area.
    reader async fn area(&self, code: &str) -> Result<Option<AreaRecord>>;
    /// The level of each of `codes` that exists.
    reader async fn area_levels(&self, codes: &[String]) -> Result<Vec<(String, Level)>>;
    /// The level and parent of each of these codes that names an area.
    reader async fn area_heads(&self, codes: &[String]) -> Result<Vec<(String, Level, Option<String>)>>;
    /// Areas matching a filter, ordered by code.
    reader async fn list_areas(&self, filter: &AreaFilter) -> Result<Vec<AreaRecord>>;
    /// The codes and levels `list_areas` would list, in code order, without the outlines.
    reader async fn list_area_codes(&self, filter: &AreaFilter) -> Result<Vec<(String, Level)>>;
    /// The areas with these codes, in code order.
    reader async fn areas_by_codes(&self, codes: &[String]) -> Result<Vec<AreaRecord>>;
    /// The map version and every area, read consistently (for rebuilding the index).
    reader async fn map_snapshot(&self) -> Result<(i64, Vec<AreaRecord>)>;

    // --- records, the change log and blobs (`records.rs`, `blobs.rs`) ----------------------

    /// A record's document and the version it was stored at.
    reader async fn record_doc(&self, id: &str) -> Result<Option<StoredDoc>>;
    /// The documents of several records in one read, as `(id, document)`; absent ids are left
    /// out.
    reader async fn record_docs(&self, ids: &[String]) -> Result<Vec<(String, StoredDoc)>>;
    /// The stored documents of those of `ids` that had a change at or before sequence number
    /// `seq`: records older than a device's cursor, whose earlier history it may not hold.
    reader async fn record_docs_older_than(
        &self,
        ids: &[String],
        seq: i64,
    ) -> Result<Vec<(String, StoredDoc)>>;
    /// Stores documents, their rows and their new changes in one transaction, each change with
    /// the next sequence number (taken under the `change_seq` row lock, so sequence order is
    /// commit order). A document that moved since it was read is left out and reported
    /// [`CommitOutcome::Conflict`]; the others are stored. One outcome per commit, in order.
    writer async fn commit_records(&self, commits: &[RecordCommit]) -> Result<Vec<CommitOutcome>>;
    /// The last sequence number handed out.
    reader async fn change_head(&self) -> Result<i64>;
    /// Changes with `after < seq <= upto`, not from `exclude_origin`, of records in `scope`, in
    /// sequence order, at most `limit`.
    reader async fn change_feed(
        &self,
        after: i64,
        upto: i64,
        exclude_origin: &str,
        scope: &RecordScope,
        limit: i64,
    ) -> Result<Vec<FeedItem>>;
    /// The records that left `scope` with a write numbered `after < seq <= upto` and are not
    /// in it now: for an area scope, those whose owner left one of its grids or of the grids
    /// `lost` (areas the account no longer has); for a department, those it stopped handling.
    reader async fn scope_exits(
        &self,
        after: i64,
        upto: i64,
        scope: &RecordScope,
        lost: &[String],
    ) -> Result<Vec<String>>;
    /// The records owned by one of the grids `lost` that an account with the grids `codes`
    /// that did not create them may not read.
    reader async fn records_in_lost_areas(
        &self,
        lost: &[String],
        codes: &[String],
        creator: &str,
    ) -> Result<Vec<String>>;
    /// The area codes an account lost with changes that brought its scope epoch beyond
    /// `after_epoch`.
    reader async fn area_losses(&self, user_id: i64, after_epoch: i64) -> Result<Vec<String>>;
    /// Record rows matching a query, newest first.
    reader async fn list_records(&self, query: &RecordQuery) -> Result<Vec<RecordRow>>;
    /// How many records match `query` without its cursor and page, counting at most `at_most`.
    reader async fn count_records(&self, query: &RecordQuery, at_most: i64) -> Result<i64>;
    /// Records by owner grid and kind: the open ones (neither closed nor settled in the grid),
    /// or with `created_from` (Unix ms) those created since then.
    reader async fn record_counts_by_grid(&self, created_from: Option<i64>) -> Result<Vec<GridCount>>;
    /// The `limit` records changed last, newest first: of every record, or with `owners` of
    /// those owned by one of these grids.
    reader async fn recently_changed(&self, owners: Option<&[String]>, limit: i64) -> Result<Vec<RecordRow>>;
    /// How much of a blob the server holds.
    reader async fn blob_state(&self, sha256: &str) -> Result<Option<BlobState>>;
    /// Appends a range at `start`; `None` when `start` is not what the server holds.
    writer async fn blob_append(&self, append: &BlobAppend<'_>) -> Result<Option<BlobState>>;
    /// Bytes of the blobs an account uploaded that no record references yet.
    reader async fn unreferenced_upload_bytes(&self, username: &str) -> Result<i64>;
    /// The rows of the records that reference a blob (their attachments).
    reader async fn blob_referrers(&self, sha256: &str) -> Result<Vec<RecordRow>>;
    /// Bytes `[start, start + len)` of a blob.
    reader async fn blob_read(&self, sha256: &str, start: i64, len: i64) -> Result<Vec<u8>>;
    /// Marks a blob complete, or forgets it when its hash did not verify.
    writer async fn blob_finish(&self, sha256: &str, verified: bool) -> Result<()>;

    // --- complainants' contact details (`contacts.rs`) --------------------------------------

    /// Stores sealed contact details (replacing others only when `replace`), logging `access`
    /// in the same transaction when it stores.
    writer async fn put_contact(
        &self,
        contact: &SealedContactRow,
        replace: bool,
        access: &ContactAccess,
    ) -> Result<PutContact>;
    /// A record's sealed contact details, logging the read (`access`) in the same transaction;
    /// nothing is logged when there are none.
    writer async fn read_contact(&self, access: &ContactAccess) -> Result<Option<SealedContactRow>>;
    /// Every logged read and write of a record's contact details, oldest first.
    reader async fn contact_access(&self, record_id: &str) -> Result<Vec<ContactAccess>>;

    // --- boundary edits and re-ownership (`map.rs`) ------------------------------------------

    /// Applies a boundary edit in one transaction (see [`AreaEdit`]); nothing is written when
    /// an expected version does not hold.
    writer async fn edit_areas(&self, edit: &AreaEdit) -> Result<EditOutcome>;
    /// Every version of an area, oldest first.
    reader async fn area_history(&self, code: &str) -> Result<Vec<AreaVersion>>;
    /// The areas as they stood at `at_ms` (Unix milliseconds), matching a filter, by code.
    reader async fn areas_as_of(&self, at_ms: i64, filter: &AreaFilter) -> Result<Vec<AreaRecord>>;
    /// Located records inside a box (WGS-84 `[min_lon, min_lat, max_lon, max_lat]`).
    reader async fn records_in_box(&self, bbox: [f64; 4]) -> Result<Vec<RecordPoint>>;
    /// Re-ownership jobs not finished yet, oldest first.
    reader async fn open_reown_jobs(&self) -> Result<Vec<ReownJob>>;
    /// Marks a re-ownership job done with its counts.
    writer async fn finish_reown_job(
        &self,
        id: i64,
        examined: i64,
        changed: i64,
        now_ms: i64,
    ) -> Result<()>;
    // --- the complaint workflow (`workflow.rs`) ---------------------------------------------

    /// Configured holidays and make-up working days of a year (every year when `None`), by date.
    reader async fn calendar_days(&self, year: Option<i32>) -> Result<Vec<CalendarDay>>;
    /// Replaces a year's configured days.
    writer async fn put_calendar_year(&self, year: i32, days: &[CalendarDay]) -> Result<()>;
    /// Every deadline class, by code.
    reader async fn deadline_classes(&self) -> Result<Vec<DeadlineClass>>;
    /// Creates or replaces a deadline class.
    writer async fn put_deadline_class(&self, class: &DeadlineClass) -> Result<()>;
    /// Every department, by code.
    reader async fn departments(&self) -> Result<Vec<Department>>;
    /// Creates or replaces a department.
    writer async fn put_department(&self, department: &Department, now: i64) -> Result<()>;
    /// Every dispatch rule, by category and area.
    reader async fn dispatch_rules(&self) -> Result<Vec<DispatchRule>>;
    /// Creates or replaces the rule for its category and area.
    writer async fn put_dispatch_rule(&self, rule: &DispatchRule) -> Result<()>;
    /// Removes a rule; `false` if there was none.
    writer async fn delete_dispatch_rule(&self, category: &str, area: &str) -> Result<bool>;
    /// A grid's register entries (households, population, people), if it has any.
    reader async fn grid_register(&self, code: &str) -> Result<Option<GridRegister>>;
    /// What an account made since `since`: `(CST day number, records)` by day, and when it was
    /// last seen (its latest record or login).
    reader async fn activity(&self, username: &str, since: i64) -> Result<(Vec<(i64, i64)>, Option<i64>)>;
    /// Creates or replaces a grid's register entries.
    writer async fn put_grid_register(&self, register: &GridRegister) -> Result<()>;
    /// The category catalogue, by code.
    reader async fn categories(&self) -> Result<Vec<crate::workflow::catalogue::Category>>;
    /// Creates or replaces a category and keeps the change in its history, in one transaction.
    writer async fn put_category(&self, category: &crate::workflow::catalogue::Category) -> Result<()>;
    /// A category's changes through the API, oldest first: the category as each made it.
    reader async fn category_changes(&self, code: &str) -> Result<Vec<crate::workflow::catalogue::Category>>;
    /// Links an account to the department it acts for (`None` unlinks it).
    writer async fn set_user_department(&self, user_id: i64, department: Option<&str>) -> Result<()>;
    /// The department an account acts for.
    reader async fn user_department(&self, user_id: i64) -> Result<Option<String>>;
    /// A case's row.
    reader async fn case_row(&self, record_id: &str) -> Result<Option<CaseRow>>;
    /// The case rows of these records (those that have one), in no particular order.
    reader async fn case_rows(&self, ids: &[String]) -> Result<Vec<CaseRow>>;
    /// Open cases with a reply, result or plan follow-up due before `now`.
    reader async fn cases_due(&self, now: i64) -> Result<Vec<CaseRow>>;
    /// Cases created, closed, whose reply fell due, or whose result or evaluation was given in
    /// `[from, to]`.
    reader async fn cases_between(&self, from: i64, to: i64) -> Result<Vec<CaseRow>>;
    /// Complaints created in `[from, to]`: `(id, channel, category, status, owner grid)`.
    reader async fn complaints_created_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, String, String, String, Option<String>)>>;
    /// A workflow setting (a JSON document).
    reader async fn setting(&self, key: &str) -> Result<Option<String>>;
    /// Stores a workflow setting.
    writer async fn put_setting(&self, key: &str, value: &str) -> Result<()>;
    /// Supervision notices (of one record, or all), oldest first.
    reader async fn notices(&self, record_id: Option<&str>) -> Result<Vec<Notice>>;
    /// Notices issued in `[from, to]` on complaints (the complaint figures' notices; a
    /// hazard's missed rectification is not a complaint's), oldest first.
    reader async fn notices_issued_between(&self, from: i64, to: i64) -> Result<Vec<Notice>>;
    /// Evaluations made in `[from, to]`, oldest first.
    reader async fn evaluations_between(&self, from: i64, to: i64) -> Result<Vec<Evaluation>>;
    /// Steps of the grid leaders' review of complaints taken in `[from, to]`, oldest first.
    reader async fn reviews_between(&self, from: i64, to: i64) -> Result<Vec<ReviewStep>>;
    /// Steps of the hazard loop taken in `[from, to]`, oldest first.
    reader async fn hazard_steps_between(&self, from: i64, to: i64) -> Result<Vec<HazardStep>>;
    /// Rectification deadlines that fell due in `[from, to]` and were missed (the `result`
    /// notices on hazards), oldest first.
    reader async fn hazard_misses_between(&self, from: i64, to: i64) -> Result<Vec<HazardMiss>>;
    /// Risk inspections made in `[from, to]` (by their creation time), oldest first.
    reader async fn hazards_created_between(&self, from: i64, to: i64) -> Result<Vec<HazardFound>>;
    /// Stores a workflow write in one transaction: the document, its row and changes (as
    /// [`Store::commit_records`] does), the case row, new notices and evaluations. Nothing is
    /// stored when the document moved ([`WorkflowOutcome::Conflict`]) or a notice exists
    /// already.
    writer async fn commit_workflow(
        &self,
        commit: &RecordCommit,
        case: &CaseRow,
        writes: &CaseWrites,
    ) -> Result<WorkflowOutcome>;
    /// Takes or renews the lease `name` for `holder` until `now + ttl_ms`; `false` while
    /// another holder's lease is unexpired.
    writer async fn take_lease(&self, name: &str, holder: &str, now: i64, ttl_ms: i64) -> Result<bool>;
}

/// Opens (creating and migrating) the store a URL names: `sqlite://PATH` (also `sqlite:PATH`,
/// `sqlite::memory:`) or `postgres://…` / `postgresql://…`.
pub async fn connect(database_url: &str) -> Result<Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(database_url).await?))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(database_url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact(database_url)))
    }
}

/// The URL without any password, fit for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => {
                    format!(
                        "{}{}:***{}",
                        &url[..scheme_end + 3],
                        &userinfo[..colon],
                        &url[at..]
                    )
                }
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn parse_role(value: &str) -> Result<crate::domain::Role> {
    value
        .parse()
        .map_err(|e: crate::domain::UnknownRole| StoreError::Corrupt(e.to_string()))
}

fn parse_level(value: &str) -> Result<Level> {
    value
        .parse()
        .map_err(|e: crate::domain::UnknownLevel| StoreError::Corrupt(e.to_string()))
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}

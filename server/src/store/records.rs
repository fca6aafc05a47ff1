//! Records: each one's whole document and a listable row, the change log the sync feed reads,
//! and the writes that store documents, rows and changes together.

/// The listable fields of a record, derived from its document on every commit.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub channel: String,
    pub category: String,
    pub title: String,
    /// `None`: outside every grid, or no location (the unassigned queue).
    pub owner_grid: Option<String>,
    pub claimed_grid: Option<String>,
    /// WGS-84.
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// The departments the case is assigned to now, as `,code,code,` (empty: none): what a
    /// department account's scope matches ([`RecordScope::Department`]).
    pub departments: String,
    /// The sha256 of every attachment (written with the row, not read back in listings).
    pub attachments: Vec<String>,
    /// A risk inspection's hazard type and risk level.
    pub hazard_type: Option<String>,
    pub risk_level: Option<String>,
}

/// How many records of a kind a grid owns (`None`: not yet owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridCount {
    pub owner_grid: Option<String>,
    pub kind: String,
    pub count: i64,
}

/// A change to store, with the device it came from (`<user id>/<device>`) or `server`.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub hash: Vec<u8>,
    pub origin: String,
    pub bytes: Vec<u8>,
}

/// One document write: the whole document, its row, and its new changes, stored together.
#[derive(Debug, Clone)]
pub struct RecordCommit {
    pub row: RecordRow,
    pub doc: Vec<u8>,
    /// The version the document was read at; `None` to create it.
    pub expected_version: Option<i64>,
    pub changes: Vec<NewChange>,
    /// The complainant's sealed contact details, stored with the record (when it has none yet).
    pub contact: Option<super::SealedContactRow>,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Stored; the document's new version and its changes' last sequence number.
    Stored { version: i64, last_seq: i64 },
    /// Someone else wrote the document since it was read (or created it first): read, merge and
    /// try again.
    Conflict,
}

/// A stored document and the version it was read at.
#[derive(Debug, Clone)]
pub struct StoredDoc {
    pub doc: Vec<u8>,
    pub version: i64,
}

/// One change of the feed.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub seq: i64,
    pub record_id: String,
    /// Who sent the change (`<user id>/<device>`, or one of the server's origins).
    pub origin: String,
    pub bytes: Vec<u8>,
}

/// Which records an account reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordScope {
    /// Every record, the unassigned queue included.
    All,
    /// Records owned by one of these grids (or regions), and those the account created.
    Areas { codes: Vec<String>, creator: String },
    /// The cases assigned now to this department, wherever they lie.
    Department(String),
}

impl RecordScope {
    /// `(everything, area codes, creator, department pattern)` for binding into a query.
    pub(crate) fn parts(&self) -> (bool, &[String], &str, Option<String>) {
        match self {
            RecordScope::All => (true, &[], "", None),
            RecordScope::Areas { codes, creator } => {
                (false, codes.as_slice(), creator.as_str(), None)
            }
            RecordScope::Department(code) => (false, &[], "", Some(department_pattern(code))),
        }
    }
}

/// The `LIKE` pattern matching rows whose `departments` hold `code` (its wildcards escaped
/// with `\`, though department codes cannot hold them).
pub(crate) fn department_pattern(code: &str) -> String {
    let escaped = code
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%,{escaped},%")
}

/// Whether a `departments` column value holds `code`.
pub fn departments_hold(column: &str, code: &str) -> bool {
    column
        .strip_prefix(',')
        .and_then(|c| c.strip_suffix(','))
        .is_some_and(|codes| codes.split(',').any(|c| c == code))
}

/// A record's active departments as the `departments` column keeps them.
pub fn departments_column(record: &sync_core::Record) -> String {
    let mut codes: Vec<&str> = record
        .workflow
        .assignments
        .iter()
        .filter(|a| a.active)
        .map(|a| a.department.as_str())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    if codes.is_empty() {
        String::new()
    } else {
        format!(",{},", codes.join(","))
    }
}

/// A records listing query. Paging is by `(created_at, id)` descending.
#[derive(Debug, Clone)]
pub struct RecordQuery {
    pub scope: RecordScope,
    /// Only records owned by one of these codes (already expanded to a subtree); `None`: any.
    pub owners: Option<Vec<String>>,
    /// Only the unassigned queue.
    pub unassigned: bool,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub channel: Option<String>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// Only located records inside `[min_lon, min_lat, max_lon, max_lat]` (WGS-84).
    pub bbox: Option<[f64; 4]>,
    /// Continue after this `(created_at, id)`.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

impl RecordQuery {
    /// Up to `limit` records of `scope`, unfiltered.
    pub fn within(scope: RecordScope, limit: i64) -> RecordQuery {
        RecordQuery {
            scope,
            owners: None,
            unassigned: false,
            kind: None,
            status: None,
            channel: None,
            created_from: None,
            created_to: None,
            bbox: None,
            after: None,
            limit,
        }
    }
}

/// The record queries, for one backend (see `store/mod.rs`): documents and rows, the change
/// feed, and `commit_records` with the helpers the workflow's commit shares.
macro_rules! queries {
    () => {
        use std::collections::HashSet;

        use sqlx::Row;

        use super::{
            COUNT_RECORDS, Db, DbRow, FEED_IN_AREAS, LIST_RECORDS, Pool, RECENTLY_CHANGED_OWNED, RECORD_DOCS,
            RECORD_DOCS_OLDER_THAN, EXITS_FROM_AREAS, RECORDS_IN_LOST_AREAS, text_list,
        };
        use $crate::store::Result;
        use $crate::store::records::{
            CommitOutcome, FeedItem, NewChange, RecordCommit, RecordQuery, RecordRow, RecordScope,
            StoredDoc, department_pattern,
        };

        pub(in crate::store) async fn record_doc(pool: &Pool, id: &str) -> Result<Option<StoredDoc>> {
            let row = sqlx::query("SELECT doc, version FROM records WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|r| StoredDoc {
                doc: r.get(0),
                version: r.get(1),
            }))
        }

        /// An `(id, doc, version)` row.
        fn stored_doc(r: DbRow) -> (String, StoredDoc) {
            (
                r.get(0),
                StoredDoc {
                    doc: r.get(1),
                    version: r.get(2),
                },
            )
        }

        pub(in crate::store) async fn record_docs(
            pool: &Pool,
            ids: &[String],
        ) -> Result<Vec<(String, StoredDoc)>> {
            let rows = sqlx::query(RECORD_DOCS)
                .bind(text_list(ids))
                .fetch_all(pool)
                .await?;
            Ok(rows.into_iter().map(stored_doc).collect())
        }

        pub(in crate::store) async fn record_docs_older_than(
            pool: &Pool,
            ids: &[String],
            seq: i64,
        ) -> Result<Vec<(String, StoredDoc)>> {
            let rows = sqlx::query(RECORD_DOCS_OLDER_THAN)
                .bind(text_list(ids))
                .bind(seq)
                .fetch_all(pool)
                .await?;
            Ok(rows.into_iter().map(stored_doc).collect())
        }

        pub(in crate::store) async fn change_head(pool: &Pool) -> Result<i64> {
            Ok(sqlx::query("SELECT seq FROM change_seq WHERE id = 1")
                .fetch_one(pool)
                .await?
                .get(0))
        }

        pub(in crate::store) async fn change_feed(
            pool: &Pool,
            after: i64,
            upto: i64,
            exclude_origin: &str,
            scope: &RecordScope,
            limit: i64,
        ) -> Result<Vec<FeedItem>> {
            let rows = match scope {
                // Everything is in scope: walk the log from the cursor.
                RecordScope::All => {
                    sqlx::query(
                        "SELECT seq, record_id, origin, bytes FROM record_changes \
                         WHERE seq > $1 AND seq <= $2 AND origin <> $3 ORDER BY seq \
                         LIMIT CAST($4 AS BIGINT)",
                    )
                    .bind(after)
                    .bind(upto)
                    .bind(exclude_origin)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                }
                // Only the records in scope that changed since the cursor, found through their
                // owner or creator and `last_seq`, then their changes since the cursor.
                // A department's cases: those assigned to it now that changed since the cursor.
                RecordScope::Department(code) => {
                    sqlx::query(
                        "SELECT c.seq, c.record_id, c.origin, c.bytes FROM record_changes c \
                         WHERE c.record_id IN (SELECT id FROM records WHERE last_seq > $1 \
                             AND departments LIKE $2 ESCAPE '\\') \
                         AND c.seq > $1 AND c.seq <= $3 AND c.origin <> $4 ORDER BY c.seq \
                         LIMIT CAST($5 AS BIGINT)",
                    )
                    .bind(after)
                    .bind(department_pattern(code))
                    .bind(upto)
                    .bind(exclude_origin)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                }
                RecordScope::Areas { codes, creator } => {
                    sqlx::query(FEED_IN_AREAS)
                        .bind(after)
                        .bind(text_list(codes))
                        .bind(creator)
                        .bind(upto)
                        .bind(exclude_origin)
                        .bind(limit)
                        .fetch_all(pool)
                        .await?
                }
            };
            Ok(rows
                .into_iter()
                .map(|r| FeedItem {
                    seq: r.get(0),
                    record_id: r.get(1),
                    origin: r.get(2),
                    bytes: r.get(3),
                })
                .collect())
        }

        pub(in crate::store) async fn scope_exits(
            pool: &Pool,
            after: i64,
            upto: i64,
            scope: &RecordScope,
            lost: &[String],
        ) -> Result<Vec<String>> {
            let rows = match scope {
                RecordScope::All => return Ok(Vec::new()),
                RecordScope::Areas { codes, creator } => {
                    let left: Vec<String> = codes.iter().chain(lost).cloned().collect();
                    sqlx::query(EXITS_FROM_AREAS)
                        .bind(after)
                        .bind(upto)
                        .bind(text_list(&left))
                        .bind(creator)
                        .bind(text_list(codes))
                        .fetch_all(pool)
                        .await?
                }
                RecordScope::Department(code) => {
                    sqlx::query(
                        "SELECT DISTINCT e.record_id FROM scope_exits e \
                         JOIN records r ON r.id = e.record_id \
                         WHERE e.seq > $1 AND e.seq <= $2 AND e.departments LIKE $3 ESCAPE '\\' \
                         AND r.departments NOT LIKE $3 ESCAPE '\\' ORDER BY e.record_id",
                    )
                    .bind(after)
                    .bind(upto)
                    .bind(department_pattern(code))
                    .fetch_all(pool)
                    .await?
                }
            };
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        }

        pub(in crate::store) async fn records_in_lost_areas(
            pool: &Pool,
            lost: &[String],
            codes: &[String],
            creator: &str,
        ) -> Result<Vec<String>> {
            let rows = sqlx::query(RECORDS_IN_LOST_AREAS)
                .bind(text_list(lost))
                .bind(text_list(codes))
                .bind(creator)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        }

        /// A record query's parameters bound to [`LIST_RECORDS`] or [`COUNT_RECORDS`] (whose
        /// list parameters each dialect spells its own way); `limit` is `$17`.
        fn bind_record_query<'q>(
            sql: &'static str,
            q: &'q RecordQuery,
            limit: i64,
        ) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments> {
            let (all, codes, creator, department) = q.scope.parts();
            let owners = q.owners.as_deref().map(text_list);
            let (after_at, after_id) = match &q.after {
                Some((at, id)) => (Some(*at), Some(id.as_str())),
                None => (None, None),
            };
            let bbox = |i: usize| q.bbox.map(|b| b[i]);
            sqlx::query(sql)
                .bind(all)
                .bind(text_list(codes))
                .bind(creator)
                .bind(owners)
                .bind(q.unassigned)
                .bind(q.kind.as_deref())
                .bind(q.status.as_deref())
                .bind(q.channel.as_deref())
                .bind(q.created_from)
                .bind(q.created_to)
                .bind(after_at)
                .bind(after_id)
                .bind(bbox(0))
                .bind(bbox(1))
                .bind(bbox(2))
                .bind(bbox(3))
                .bind(limit)
                .bind(department)
        }

        /// Record rows matching a query, newest first.
        pub(in crate::store) async fn list_records(pool: &Pool, q: &RecordQuery) -> Result<Vec<RecordRow>> {
            let rows = bind_record_query(LIST_RECORDS, q, q.limit).fetch_all(pool).await?;
            Ok(rows.iter().map(record_row).collect())
        }

        /// How many records match a query, ignoring its cursor and page size; counts stop at
        /// `at_most`.
        pub(in crate::store) async fn count_records(pool: &Pool, q: &RecordQuery, at_most: i64) -> Result<i64> {
            let unpaged = RecordQuery { after: None, ..q.clone() };
            let row = bind_record_query(COUNT_RECORDS, &unpaged, at_most).fetch_one(pool).await?;
            Ok(row.get("n"))
        }

        pub(in crate::store) async fn record_counts_by_grid(
            pool: &Pool,
            created_from: Option<i64>,
        ) -> Result<Vec<$crate::store::records::GridCount>> {
            // Open records (nothing more expected of closed ones and those settled in the
            // grid), or those created since `created_from`, by owner and kind.
            let rows = match created_from {
                None => sqlx::query(
                    "SELECT owner_grid, kind, COUNT(*) AS n FROM records \
                     WHERE status NOT IN ('closed', 'resolved_in_grid') \
                     GROUP BY owner_grid, kind",
                )
                .fetch_all(pool)
                .await?,
                Some(from) => sqlx::query(
                    "SELECT owner_grid, kind, COUNT(*) AS n FROM records WHERE created_at >= $1 \
                     GROUP BY owner_grid, kind",
                )
                .bind(from)
                .fetch_all(pool)
                .await?,
            };
            rows.iter()
                .map(|r| {
                    Ok($crate::store::records::GridCount {
                        owner_grid: r.try_get("owner_grid")?,
                        kind: r.try_get("kind")?,
                        count: r.try_get("n")?,
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn recently_changed(
            pool: &Pool,
            owners: Option<&[String]>,
            limit: i64,
        ) -> Result<Vec<RecordRow>> {
            let rows = match owners {
                None => sqlx::query(
                    "SELECT id, kind, status, channel, category, title, owner_grid, claimed_grid, \
                     lon, lat, created_by, created_at, updated_at, departments, hazard_type, \
                     risk_level FROM records ORDER BY updated_at DESC, id DESC LIMIT CAST($1 AS BIGINT)",
                )
                .bind(limit)
                .fetch_all(pool)
                .await?,
                Some(owners) => sqlx::query(RECENTLY_CHANGED_OWNED)
                    .bind(text_list(owners))
                    .bind(limit)
                    .fetch_all(pool)
                    .await?,
            };
            Ok(rows.iter().map(record_row).collect())
        }

        fn record_row(r: &DbRow) -> RecordRow {
            RecordRow {
                id: r.get("id"),
                kind: r.get("kind"),
                status: r.get("status"),
                channel: r.get("channel"),
                category: r.get("category"),
                title: r.get("title"),
                owner_grid: r.get("owner_grid"),
                claimed_grid: r.get("claimed_grid"),
                lon: r.get("lon"),
                lat: r.get("lat"),
                created_by: r.get("created_by"),
                created_at: r.get("created_at"),
                updated_at: r.get("updated_at"),
                departments: r.get("departments"),
                attachments: Vec::new(),
                hazard_type: r.get("hazard_type"),
                risk_level: r.get("risk_level"),
            }
        }

        pub(in crate::store) async fn commit_records(
            pool: &Pool,
            commits: &[RecordCommit],
        ) -> Result<Vec<CommitOutcome>> {
            let mut tx = pool.begin().await?;
            // Take the sequence row first: its lock orders whole transactions, so sequence
            // numbers are handed out in commit order. Each commit gets its range up front; one
            // that conflicts leaves its range unused.
            let first: i64 = sqlx::query("UPDATE change_seq SET seq = seq WHERE id = 1 RETURNING seq")
                .fetch_one(&mut *tx)
                .await?
                .get(0);
            let mut last_seqs = Vec::with_capacity(commits.len());
            let mut seq = first;
            for commit in commits {
                seq += commit.changes.len() as i64;
                last_seqs.push(seq);
            }
            let new: Vec<(&RecordCommit, i64)> = commits
                .iter()
                .zip(&last_seqs)
                .filter(|(c, _)| c.expected_version.is_none())
                .map(|(c, &s)| (c, s))
                .collect();
            let mut inserted = insert_rows(&mut tx, &new).await?;
            let mut written = Vec::with_capacity(commits.len());
            for (commit, &last_seq) in commits.iter().zip(&last_seqs) {
                written.push(match commit.expected_version {
                    // Only the first of two uploads of one document in a batch was written.
                    None => inserted.remove(&commit.row.id),
                    Some(_) => write_row(&mut tx, commit, last_seq).await? == 1,
                });
            }
            let changes: Vec<(i64, &RecordCommit, &NewChange)> = commits
                .iter()
                .zip(&last_seqs)
                .zip(&written)
                .filter(|(_, written)| **written)
                .flat_map(|((commit, &last_seq), _)| change_rows(commit, last_seq))
                .collect();
            insert_change_rows(&mut tx, &changes).await?;
            let stored: Vec<&RecordCommit> = commits
                .iter()
                .zip(&written)
                .filter(|(_, written)| **written)
                .map(|(commit, _)| commit)
                .collect();
            write_attachments(&mut tx, &stored).await?;
            for (commit, written) in commits.iter().zip(&written) {
                if let (Some(contact), true) = (&commit.contact, written) {
                    super::contacts::insert_contact(&mut tx, contact).await?;
                }
            }
            sqlx::query("UPDATE change_seq SET seq = $1 WHERE id = 1")
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(commits
                .iter()
                .zip(written)
                .zip(&last_seqs)
                .map(|((commit, written), &last_seq)| {
                    if written {
                        CommitOutcome::Stored {
                            version: commit.expected_version.unwrap_or(0) + 1,
                            last_seq,
                        }
                    } else {
                        CommitOutcome::Conflict
                    }
                })
                .collect())
        }

        /// Rows in one multi-row insert of records (19 values each), within both databases'
        /// limits on bound parameters.
        const ROWS_PER_INSERT: usize = 200;
        /// Rows in one multi-row insert of changes (6 values each).
        const CHANGES_PER_INSERT: usize = 500;

        /// Replaces the attachment index of written records (a new record's has nothing to
        /// replace): one delete and one multi-row insert per 500 records.
        pub(in crate::store) async fn write_attachments(
            tx: &mut sqlx::Transaction<'_, Db>,
            commits: &[&RecordCommit],
        ) -> Result<()> {
            let updated: Vec<&str> = commits
                .iter()
                .filter(|c| c.expected_version.is_some())
                .map(|c| c.row.id.as_str())
                .collect();
            for chunk in updated.chunks(500) {
                let mut delete = sqlx::QueryBuilder::<Db>::new(
                    "DELETE FROM record_attachments WHERE record_id IN (",
                );
                let mut ids = delete.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                delete.push(")");
                delete.build().execute(&mut **tx).await?;
            }
            let pairs: Vec<(&str, &str)> = commits
                .iter()
                .flat_map(|c| c.row.attachments.iter().map(|sha| (sha.as_str(), c.row.id.as_str())))
                .collect();
            for chunk in pairs.chunks(500) {
                let mut insert = sqlx::QueryBuilder::<Db>::new(
                    "INSERT INTO record_attachments (sha256, record_id) ",
                );
                insert.push_values(chunk, |mut b, (sha, id)| {
                    b.push_bind(*sha).push_bind(*id);
                });
                insert.push(" ON CONFLICT DO NOTHING");
                insert.build().execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// The rows of the records that reference a blob.
        pub(in crate::store) async fn blob_referrers(pool: &Pool, sha256: &str) -> Result<Vec<RecordRow>> {
            let rows = sqlx::query(
                "SELECT id, kind, status, channel, category, title, owner_grid, claimed_grid, \
                 lon, lat, created_by, created_at, updated_at, departments, hazard_type, risk_level \
                 FROM records \
                 WHERE id IN (SELECT record_id FROM record_attachments WHERE sha256 = $1)",
            )
            .bind(sha256)
            .fetch_all(pool)
            .await?;
            Ok(rows.iter().map(record_row).collect())
        }

        /// Inserts new records' rows and documents, each with its last sequence number, in
        /// multi-row inserts. Returns the ids written; an id that exists already is not.
        async fn insert_rows(
            tx: &mut sqlx::Transaction<'_, Db>,
            rows: &[(&RecordCommit, i64)],
        ) -> Result<HashSet<String>> {
            let mut written = HashSet::with_capacity(rows.len());
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut insert = sqlx::QueryBuilder::<Db>::new(
                    "INSERT INTO records (id, kind, status, channel, category, title, owner_grid, \
                     claimed_grid, lon, lat, created_by, created_at, updated_at, last_seq, version, \
                     doc, departments, hazard_type, risk_level) ",
                );
                insert.push_values(chunk, |mut b, (commit, last_seq)| {
                    let row = &commit.row;
                    b.push_bind(&row.id)
                        .push_bind(&row.kind)
                        .push_bind(&row.status)
                        .push_bind(&row.channel)
                        .push_bind(&row.category)
                        .push_bind(&row.title)
                        .push_bind(row.owner_grid.as_deref())
                        .push_bind(row.claimed_grid.as_deref())
                        .push_bind(row.lon)
                        .push_bind(row.lat)
                        .push_bind(&row.created_by)
                        .push_bind(row.created_at)
                        .push_bind(row.updated_at)
                        .push_bind(*last_seq)
                        .push_bind(1i64)
                        .push_bind(&commit.doc)
                        .push_bind(&row.departments)
                        .push_bind(row.hazard_type.as_deref())
                        .push_bind(row.risk_level.as_deref());
                });
                insert.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
                for row in insert.build().fetch_all(&mut **tx).await? {
                    written.insert(row.try_get(0)?);
                }
            }
            Ok(written)
        }

        /// A written commit's change-log entries: `(seq, commit, change)`, ending at `last_seq`.
        fn change_rows(
            commit: &RecordCommit,
            last_seq: i64,
        ) -> impl Iterator<Item = (i64, &RecordCommit, &NewChange)> {
            let first = last_seq - commit.changes.len() as i64 + 1;
            commit
                .changes
                .iter()
                .enumerate()
                .map(move |(k, change)| (first + k as i64, commit, change))
        }

        /// Inserts change-log entries in multi-row inserts.
        async fn insert_change_rows(
            tx: &mut sqlx::Transaction<'_, Db>,
            changes: &[(i64, &RecordCommit, &NewChange)],
        ) -> Result<()> {
            for chunk in changes.chunks(CHANGES_PER_INSERT) {
                let mut insert = sqlx::QueryBuilder::<Db>::new(
                    "INSERT INTO record_changes (seq, record_id, hash, origin, bytes, stored_at) ",
                );
                insert.push_values(chunk, |mut b, (seq, commit, change)| {
                    b.push_bind(*seq)
                        .push_bind(&commit.row.id)
                        .push_bind(&change.hash)
                        .push_bind(&change.origin)
                        .push_bind(&change.bytes)
                        .push_bind(commit.row.updated_at);
                });
                insert.push(" ON CONFLICT (record_id, hash) DO NOTHING");
                insert.build().execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Inserts (no expected version) or updates (at the expected version) a record's row and
        /// document; 0 rows written means another writer got there first.
        pub(in crate::store) async fn write_row(
            tx: &mut sqlx::Transaction<'_, Db>,
            commit: &RecordCommit,
            last_seq: i64,
        ) -> Result<u64> {
            let row = &commit.row;
            let Some(version) = commit.expected_version else {
                return Ok(insert_rows(tx, &[(commit, last_seq)]).await?.len() as u64);
            };
            // Where the record was, when this write moves it to another owner or takes it from
            // a department: devices that held it under that scope are told to drop it.
            sqlx::query(
                "INSERT INTO scope_exits (seq, record_id, grid, departments) \
                 SELECT $1, id, \
                     CASE WHEN owner_grid IS NOT NULL AND ($2 IS NULL OR owner_grid <> $2) \
                         THEN owner_grid END, \
                     CASE WHEN departments <> '' AND departments <> $3 THEN departments END \
                 FROM records WHERE id = $4 AND version = $5 \
                     AND ((owner_grid IS NOT NULL AND ($2 IS NULL OR owner_grid <> $2)) \
                         OR (departments <> '' AND departments <> $3)) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(last_seq)
            .bind(row.owner_grid.as_deref())
            .bind(&row.departments)
            .bind(&row.id)
            .bind(version)
            .execute(&mut **tx)
            .await?;
            Ok(sqlx::query(
                "UPDATE records SET kind = $1, status = $2, channel = $3, category = $4, title = $5, \
                 owner_grid = $6, claimed_grid = $7, lon = $8, lat = $9, updated_at = $10, last_seq = $11, \
                 version = version + 1, doc = $12, departments = $15, hazard_type = $16, \
                 risk_level = $17 WHERE id = $13 AND version = $14",
            )
            .bind(&row.kind)
            .bind(&row.status)
            .bind(&row.channel)
            .bind(&row.category)
            .bind(&row.title)
            .bind(row.owner_grid.as_deref())
            .bind(row.claimed_grid.as_deref())
            .bind(row.lon)
            .bind(row.lat)
            .bind(row.updated_at)
            .bind(last_seq)
            .bind(&commit.doc)
            .bind(&row.id)
            .bind(version)
            .bind(&row.departments)
            .bind(row.hazard_type.as_deref())
            .bind(row.risk_level.as_deref())
            .execute(&mut **tx)
            .await?
            .rows_affected())
        }

        /// Inserts a written commit's changes, numbered from `first_seq`.
        pub(in crate::store) async fn insert_changes(
            tx: &mut sqlx::Transaction<'_, Db>,
            commit: &RecordCommit,
            first_seq: i64,
        ) -> Result<()> {
            let last_seq = first_seq + commit.changes.len() as i64 - 1;
            let changes: Vec<_> = change_rows(commit, last_seq).collect();
            insert_change_rows(tx, &changes).await
        }
    };
}

pub(super) use queries;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{department_pattern, departments_hold};

    proptest! {
        /// What the column says a record's departments are is exactly the set written, and
        /// the SQL pattern names the same code.
        #[test]
        fn the_departments_column_holds_exactly_the_active_departments(
            codes in proptest::collection::btree_set("[a-z_.-]{1,8}", 0..4),
            probe in "[a-z_.-]{1,8}",
        ) {
            let column = if codes.is_empty() {
                String::new()
            } else {
                format!(",{},", codes.iter().cloned().collect::<Vec<_>>().join(","))
            };
            prop_assert_eq!(departments_hold(&column, &probe), codes.contains(&probe));
            prop_assert!(department_pattern(&probe).starts_with("%,"));
        }
    }
}

//! Storing record documents, their rows and their change-log entries (`Store::commit_records`,
//! and the workflow's transitions through [`write_row`](sqlite::write_row) and
//! [`insert_changes`](sqlite::insert_changes)). Written once with `$N` parameters, which SQLite
//! and PostgreSQL both accept, and instantiated for each backend by [`record_write_queries!`],
//! as `gis.rs` and `workflow.rs` do, so the two backends cannot drift apart.

/// Instantiates the record-writing queries for one backend.
macro_rules! record_write_queries {
    ($pool:ty, $db:ty) => {
        use std::collections::HashSet;

        use sqlx::Row;

        use $crate::store::Result;
        use $crate::store::records::{CommitOutcome, NewChange, RecordCommit};

        pub(in crate::store) async fn commit_records(
            pool: &$pool,
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

        /// Rows in one multi-row insert of records (16 values each), within both databases'
        /// limits on bound parameters.
        const ROWS_PER_INSERT: usize = 200;
        /// Rows in one multi-row insert of changes (6 values each).
        const CHANGES_PER_INSERT: usize = 500;

        /// Inserts new records' rows and documents, each with its last sequence number, in
        /// multi-row inserts. Returns the ids written; an id that exists already is not.
        async fn insert_rows(
            tx: &mut sqlx::Transaction<'_, $db>,
            rows: &[(&RecordCommit, i64)],
        ) -> Result<HashSet<String>> {
            let mut written = HashSet::with_capacity(rows.len());
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO records (id, kind, status, channel, category, title, owner_grid, \
                     claimed_grid, lon, lat, created_by, created_at, updated_at, last_seq, version, doc) ",
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
                        .push_bind(&commit.doc);
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
            tx: &mut sqlx::Transaction<'_, $db>,
            changes: &[(i64, &RecordCommit, &NewChange)],
        ) -> Result<()> {
            for chunk in changes.chunks(CHANGES_PER_INSERT) {
                let mut insert = sqlx::QueryBuilder::<$db>::new(
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
            tx: &mut sqlx::Transaction<'_, $db>,
            commit: &RecordCommit,
            last_seq: i64,
        ) -> Result<u64> {
            let row = &commit.row;
            let Some(version) = commit.expected_version else {
                return Ok(insert_rows(tx, &[(commit, last_seq)]).await?.len() as u64);
            };
            Ok(sqlx::query(
                "UPDATE records SET kind = $1, status = $2, channel = $3, category = $4, title = $5, \
                 owner_grid = $6, claimed_grid = $7, lon = $8, lat = $9, updated_at = $10, last_seq = $11, \
                 version = version + 1, doc = $12 WHERE id = $13 AND version = $14",
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
            .execute(&mut **tx)
            .await?
            .rows_affected())
        }

        /// Inserts a written commit's changes, numbered from `first_seq`.
        pub(in crate::store) async fn insert_changes(
            tx: &mut sqlx::Transaction<'_, $db>,
            commit: &RecordCommit,
            first_seq: i64,
        ) -> Result<()> {
            let last_seq = first_seq + commit.changes.len() as i64 - 1;
            let changes: Vec<_> = change_rows(commit, last_seq).collect();
            insert_change_rows(tx, &changes).await
        }
    };
}

/// The SQLite instantiation.
pub(super) mod sqlite {
    record_write_queries!(sqlx::SqlitePool, sqlx::Sqlite);
}

/// The PostgreSQL instantiation.
pub(super) mod postgres {
    record_write_queries!(sqlx::PgPool, sqlx::Postgres);
}

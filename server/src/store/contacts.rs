//! Complainants' contact details, sealed (see `sync_core::contact`), and the audit of every
//! read and write of them.

use serde::Serialize;

/// A complainant's contact details as kept: sealed for the server's key `key_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedContactRow {
    pub record_id: String,
    pub key_id: String,
    pub sealed: Vec<u8>,
    pub written_by: String,
    pub written_at: i64,
}

/// Someone reading or writing a complainant's contact details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactAccess {
    pub record_id: String,
    pub username: String,
    pub role: String,
    /// `read` or `write`.
    pub action: String,
    pub at: i64,
}

/// What storing contact details did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutContact {
    /// Stored (new, or replacing what was there when asked to).
    Stored,
    /// The same sealed bytes were there already (a retried upload).
    Same,
    /// Other details are there, and replacing was not asked for.
    Exists,
}

/// The contact queries, for one backend (see `store/mod.rs`).
macro_rules! queries {
    () => {
        use sqlx::Row;

        use super::{Db, Pool};
        use $crate::store::Result;
        use $crate::store::contacts::{ContactAccess, PutContact, SealedContactRow};

        async fn log_access(
            tx: &mut sqlx::Transaction<'_, Db>,
            access: &ContactAccess,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO contact_access (record_id, username, role, action, at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&access.record_id)
            .bind(&access.username)
            .bind(&access.role)
            .bind(&access.action)
            .bind(access.at)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Inserts the details unless some are there already, in a transaction of the
        /// caller's (a record's commit carries its complainant's details).
        pub(in crate::store) async fn insert_contact(
            tx: &mut sqlx::Transaction<'_, Db>,
            contact: &SealedContactRow,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO complainant_contacts \
                 (record_id, key_id, sealed, written_by, written_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (record_id) DO NOTHING",
            )
            .bind(&contact.record_id)
            .bind(&contact.key_id)
            .bind(&contact.sealed)
            .bind(&contact.written_by)
            .bind(contact.written_at)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        pub(in crate::store) async fn put_contact(
            pool: &Pool,
            contact: &SealedContactRow,
            replace: bool,
            access: &ContactAccess,
        ) -> Result<PutContact> {
            let mut tx = pool.begin().await?;
            let existing: Option<Vec<u8>> =
                sqlx::query("SELECT sealed FROM complainant_contacts WHERE record_id = $1")
                    .bind(&contact.record_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.get(0));
            let outcome = match existing {
                Some(sealed) if sealed == contact.sealed => PutContact::Same,
                Some(_) if !replace => PutContact::Exists,
                Some(_) => {
                    sqlx::query(
                        "UPDATE complainant_contacts SET key_id = $2, sealed = $3, \
                         written_by = $4, written_at = $5 WHERE record_id = $1",
                    )
                    .bind(&contact.record_id)
                    .bind(&contact.key_id)
                    .bind(&contact.sealed)
                    .bind(&contact.written_by)
                    .bind(contact.written_at)
                    .execute(&mut *tx)
                    .await?;
                    PutContact::Stored
                }
                None => {
                    insert_contact(&mut tx, contact).await?;
                    PutContact::Stored
                }
            };
            if outcome == PutContact::Stored {
                log_access(&mut tx, access).await?;
            }
            tx.commit().await?;
            Ok(outcome)
        }

        pub(in crate::store) async fn read_contact(
            pool: &Pool,
            access: &ContactAccess,
        ) -> Result<Option<SealedContactRow>> {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(
                "SELECT record_id, key_id, sealed, written_by, written_at \
                 FROM complainant_contacts WHERE record_id = $1",
            )
            .bind(&access.record_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            log_access(&mut tx, access).await?;
            tx.commit().await?;
            Ok(Some(SealedContactRow {
                record_id: row.get(0),
                key_id: row.get(1),
                sealed: row.get(2),
                written_by: row.get(3),
                written_at: row.get(4),
            }))
        }

        pub(in crate::store) async fn contact_access(
            pool: &Pool,
            record_id: &str,
        ) -> Result<Vec<ContactAccess>> {
            let rows = sqlx::query(
                "SELECT record_id, username, role, action, at FROM contact_access \
                 WHERE record_id = $1 ORDER BY at, id",
            )
            .bind(record_id)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| ContactAccess {
                    record_id: r.get(0),
                    username: r.get(1),
                    role: r.get(2),
                    action: r.get(3),
                    at: r.get(4),
                })
                .collect())
        }
    };
}

pub(super) use queries;

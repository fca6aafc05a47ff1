//! Accounts (with the areas they work in), bearer tokens and device credentials (both stored
//! as hashes only).

/// A device credential to store.
#[derive(Debug, Clone, Copy)]
pub struct NewDeviceCredential<'a> {
    /// SHA-256 of the credential, hex.
    pub hash: &'a str,
    pub user_id: i64,
    pub device: &'a str,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
}

/// What presenting a device credential did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceRefresh {
    /// It was good, and is replaced by the next one; the account's name.
    Rotated { username: String },
    /// Unknown, revoked, expired, of an inactive account, or of another device.
    Invalid,
    /// Rotated already and its successor used since: presented twice, so possibly copied.
    /// Every credential of the device is revoked.
    Reused,
}

/// A device of an account that holds a live credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCredentialView {
    pub device: String,
    /// When its current credential was issued (at login or the last refresh), Unix seconds.
    pub refreshed_at: i64,
    pub expires_at: i64,
}

/// The account and token queries, for one backend (see `store/mod.rs`).
macro_rules! queries {
    () => {
        use std::collections::HashMap;

        use sqlx::Row;

        use super::{Db, DbRow, Pool, TOKEN_OWNER, token_areas};
        use $crate::domain::{NewUser, User, UserUpdate};
        use $crate::store::accounts::{DeviceCredentialView, DeviceRefresh, NewDeviceCredential};
        use $crate::store::{Result, StoreError, TokenOwner, is_unique_violation, parse_role};

        pub(super) fn user_from_row(row: &DbRow) -> Result<User> {
            Ok(User {
                id: row.try_get("id")?,
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                role: parse_role(row.try_get::<&str, _>("role")?)?,
                active: row.try_get("active")?,
                areas: Vec::new(),
                department: row.try_get("department")?,
                created_at: row.try_get("created_at")?,
            })
        }

        /// An account by name with its areas, read on `conn` (from the pool, or the
        /// transaction that has just written it).
        async fn fetch_user(
            conn: &mut <Db as sqlx::Database>::Connection,
            username: &str,
        ) -> Result<Option<User>> {
            let row = sqlx::query(
                "SELECT u.id, u.username, u.password_hash, u.role, u.active, u.created_at, \
                 (SELECT department FROM user_departments d WHERE d.user_id = u.id) AS department \
                 FROM users u WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let mut user = user_from_row(&row)?;
            user.areas = sqlx::query(
                "SELECT area_code FROM user_areas WHERE user_id = $1 ORDER BY area_code",
            )
            .bind(user.id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
            Ok(Some(user))
        }

        /// Replaces an account's area assignments inside `tx`.
        async fn replace_areas(
            tx: &mut sqlx::Transaction<'_, Db>,
            user_id: i64,
            areas: &[String],
        ) -> Result<()> {
            sqlx::query("DELETE FROM user_areas WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
            for code in areas {
                sqlx::query(
                    "INSERT INTO user_areas (user_id, area_code) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(user_id)
                .bind(code)
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        pub(in crate::store) async fn create_user(pool: &Pool, user: &NewUser) -> Result<User> {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO users (username, password_hash, role, active, created_at) \
                 VALUES ($1, $2, $3, TRUE, $4) RETURNING id",
            )
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(user.role.as_str())
            .bind(user.created_at)
            .fetch_one(&mut *tx)
            .await;
            let id: i64 = match inserted {
                Ok(row) => row.try_get(0)?,
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::Conflict(format!("user `{}`", user.username)));
                }
                Err(e) => return Err(e.into()),
            };
            replace_areas(&mut tx, id, &user.areas).await?;
            let created = fetch_user(&mut *tx, &user.username).await?;
            tx.commit().await?;
            created.ok_or_else(|| StoreError::Corrupt("created user vanished".into()))
        }

        pub(in crate::store) async fn user_by_name(
            pool: &Pool,
            username: &str,
        ) -> Result<Option<User>> {
            fetch_user(&mut *pool.acquire().await?, username).await
        }

        pub(in crate::store) async fn list_users(pool: &Pool) -> Result<Vec<User>> {
            let rows = sqlx::query(
                "SELECT u.id, u.username, u.password_hash, u.role, u.active, u.created_at, \
                 (SELECT department FROM user_departments d WHERE d.user_id = u.id) AS department \
                 FROM users u ORDER BY username",
            )
            .fetch_all(pool)
            .await?;
            let mut users = rows.iter().map(user_from_row).collect::<Result<Vec<_>>>()?;
            // Every account is listed, so every assignment is read.
            let mut areas: HashMap<i64, Vec<String>> = HashMap::new();
            let rows =
                sqlx::query("SELECT user_id, area_code FROM user_areas ORDER BY user_id, area_code")
                    .fetch_all(pool)
                    .await?;
            for row in rows {
                areas.entry(row.try_get(0)?).or_default().push(row.try_get(1)?);
            }
            for user in &mut users {
                user.areas = areas.remove(&user.id).unwrap_or_default();
            }
            Ok(users)
        }

        pub(in crate::store) async fn update_user(
            pool: &Pool,
            username: &str,
            update: &UserUpdate,
        ) -> Result<Option<User>> {
            let mut tx = pool.begin().await?;
            // Lock the admins' rows (PostgreSQL; SQLite has one writer), so two admins demoting
            // each other at once cannot both see the other one left.
            sqlx::query("UPDATE users SET role = role WHERE role = 'admin' AND active")
                .execute(&mut *tx)
                .await?;
            let result = sqlx::query(
                "UPDATE users SET role = COALESCE($1, role), \
                 password_hash = COALESCE($2, password_hash), active = COALESCE($3, active) \
                 WHERE username = $4",
            )
            .bind(update.role.map(|r| r.as_str()))
            .bind(update.password_hash.as_deref())
            .bind(update.active)
            .bind(username)
            .execute(&mut *tx)
            .await?;
            if result.rows_affected() == 0 {
                return Ok(None);
            }
            let admins: i64 =
                sqlx::query("SELECT count(*) FROM users WHERE role = 'admin' AND active")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
            if admins == 0 {
                // Dropping the transaction rolls the update back.
                return Err(StoreError::LastAdmin);
            }
            let user = fetch_user(&mut *tx, username).await?;
            tx.commit().await?;
            Ok(user)
        }

        pub(in crate::store) async fn set_user_areas(
            pool: &Pool,
            username: &str,
            areas: &[String],
        ) -> Result<Option<User>> {
            let mut tx = pool.begin().await?;
            // An update, not a read: it locks the account's row on PostgreSQL, so two
            // replacements of one account's areas run one after the other.
            let row = sqlx::query(
                "UPDATE users SET scope_epoch = scope_epoch WHERE username = $1 RETURNING id",
            )
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let user_id: i64 = row.try_get(0)?;
            let before: Vec<String> =
                sqlx::query("SELECT area_code FROM user_areas WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?;
            replace_areas(&mut tx, user_id, areas).await?;
            let user = fetch_user(&mut *tx, username).await?;
            // The areas it lost, at the epoch the change brought: devices with an older cursor
            // are told to drop what they may no longer read.
            let lost: Vec<&String> = before.iter().filter(|c| !areas.contains(c)).collect();
            if !lost.is_empty() {
                let epoch: i64 = sqlx::query("SELECT scope_epoch FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
                for code in lost {
                    sqlx::query(
                        "INSERT INTO area_losses (user_id, epoch, area_code) VALUES ($1, $2, $3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(user_id)
                    .bind(epoch)
                    .bind(code)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(user)
        }

        pub(in crate::store) async fn area_losses(
            pool: &Pool,
            user_id: i64,
            after_epoch: i64,
        ) -> Result<Vec<String>> {
            sqlx::query(
                "SELECT DISTINCT area_code FROM area_losses WHERE user_id = $1 AND epoch > $2 \
                 ORDER BY area_code",
            )
            .bind(user_id)
            .bind(after_epoch)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        }

        pub(in crate::store) async fn insert_token(
            pool: &Pool,
            token_hash: &str,
            user_id: i64,
            created_at: i64,
            expires_at: i64,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO tokens (token_hash, user_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(created_at)
            .bind(expires_at)
            .execute(pool)
            .await?;
            Ok(())
        }

        /// The account behind a token, with its areas, scope epoch and the change head, in
        /// one statement ([`TOKEN_OWNER`], which each dialect writes its own way).
        pub(in crate::store) async fn token_owner(
            pool: &Pool,
            token_hash: &str,
            now: i64,
        ) -> Result<Option<TokenOwner>> {
            let row = sqlx::query(TOKEN_OWNER)
                .bind(token_hash)
                .bind(now)
                .fetch_optional(pool)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let mut user = user_from_row(&row)?;
            user.areas = token_areas(&row, user.id)?;
            Ok(Some(TokenOwner {
                user,
                scope_epoch: row.try_get("scope_epoch")?,
                change_head: row.try_get("head")?,
            }))
        }

        pub(in crate::store) async fn revoke_token(
            pool: &Pool,
            token_hash: &str,
            now: i64,
        ) -> Result<bool> {
            let result = sqlx::query(
                "UPDATE tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(token_hash)
            .execute(pool)
            .await?;
            Ok(result.rows_affected() > 0)
        }

        pub(in crate::store) async fn revoke_user_tokens(
            pool: &Pool,
            user_id: i64,
            now: i64,
        ) -> Result<u64> {
            let result = sqlx::query(
                "UPDATE tokens SET revoked_at = $1 \
                 WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(user_id)
            .execute(pool)
            .await?;
            Ok(result.rows_affected())
        }

        /// Revokes the live credentials of one device (or every device) of an account.
        async fn revoke_device(
            conn: &mut <Db as sqlx::Database>::Connection,
            user_id: i64,
            device: Option<&str>,
            now: i64,
        ) -> Result<u64> {
            let result = sqlx::query(
                "UPDATE device_credentials SET revoked_at = $1 \
                 WHERE user_id = $2 AND ($3 IS NULL OR device = $3) AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .bind(device)
            .execute(&mut *conn)
            .await?;
            Ok(result.rows_affected())
        }

        async fn insert_device_credential(
            conn: &mut <Db as sqlx::Database>::Connection,
            new: &NewDeviceCredential<'_>,
            parent: Option<&str>,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO device_credentials \
                 (credential_hash, user_id, device, parent_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(new.hash)
            .bind(new.user_id)
            .bind(new.device)
            .bind(parent)
            .bind(new.created_at)
            .bind(new.expires_at)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        pub(in crate::store) async fn issue_device_credential(
            pool: &Pool,
            new: &NewDeviceCredential<'_>,
        ) -> Result<()> {
            let mut tx = pool.begin().await?;
            revoke_device(&mut tx, new.user_id, Some(new.device), new.created_at).await?;
            insert_device_credential(&mut tx, new, None).await?;
            tx.commit().await?;
            Ok(())
        }

        pub(in crate::store) async fn refresh_device_credential(
            pool: &Pool,
            presented: &str,
            device: &str,
            next: &str,
            now: i64,
            expires_at: i64,
        ) -> Result<DeviceRefresh> {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(
                "SELECT c.user_id, c.device, c.expires_at, c.rotated_at, c.revoked_at, \
                 u.username, u.active FROM device_credentials c JOIN users u ON u.id = c.user_id \
                 WHERE c.credential_hash = $1",
            )
            .bind(presented)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Ok(DeviceRefresh::Invalid);
            };
            let user_id: i64 = row.try_get("user_id")?;
            let username: String = row.try_get("username")?;
            let live = row.try_get::<String, _>("device")? == device
                && row.try_get::<Option<i64>, _>("revoked_at")?.is_none()
                && row.try_get::<i64, _>("expires_at")? > now
                && row.try_get::<bool, _>("active")?;
            if !live {
                return Ok(DeviceRefresh::Invalid);
            }
            // Rotate it, unless it was rotated already (by an earlier refresh, or by one running
            // beside this one, which the condition waits for on PostgreSQL).
            let rotated_here = row.try_get::<Option<i64>, _>("rotated_at")?.is_none()
                && sqlx::query(
                    "UPDATE device_credentials SET rotated_at = $1 \
                     WHERE credential_hash = $2 AND rotated_at IS NULL",
                )
                .bind(now)
                .bind(presented)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
            if rotated_here {
                // A successor used: the others issued beside it (the same refresh answered
                // twice) are spent.
                sqlx::query(
                    "UPDATE device_credentials SET revoked_at = $1 \
                     WHERE parent_hash = (SELECT parent_hash FROM device_credentials \
                         WHERE credential_hash = $2) \
                     AND credential_hash <> $2 AND rotated_at IS NULL AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(presented)
                .execute(&mut *tx)
                .await?;
            } else {
                // No successor used yet: the answer that carried one was lost, or the request
                // reached the server twice and the phone holds either answer. Issue another
                // beside it; the first of them used spends the rest. One used: this is a copy.
                let unused: Option<String> = sqlx::query(
                    "SELECT credential_hash FROM device_credentials \
                     WHERE parent_hash = $1 AND revoked_at IS NULL AND rotated_at IS NULL \
                     LIMIT 1",
                )
                .bind(presented)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
                if unused.is_none() {
                    revoke_device(&mut tx, user_id, Some(device), now).await?;
                    tx.commit().await?;
                    return Ok(DeviceRefresh::Reused);
                }
            }
            let new = NewDeviceCredential {
                hash: next,
                user_id,
                device,
                created_at: now,
                expires_at,
            };
            insert_device_credential(&mut tx, &new, Some(presented)).await?;
            tx.commit().await?;
            Ok(DeviceRefresh::Rotated { username })
        }

        pub(in crate::store) async fn device_credentials(
            pool: &Pool,
            user_id: i64,
            now: i64,
        ) -> Result<Vec<DeviceCredentialView>> {
            let rows = sqlx::query(
                "SELECT device, MAX(created_at), MAX(expires_at) FROM device_credentials \
                 WHERE user_id = $1 AND revoked_at IS NULL AND rotated_at IS NULL \
                 AND expires_at > $2 GROUP BY device ORDER BY device",
            )
            .bind(user_id)
            .bind(now)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(DeviceCredentialView {
                        device: r.try_get(0)?,
                        refreshed_at: r.try_get(1)?,
                        expires_at: r.try_get(2)?,
                    })
                })
                .collect()
        }

        pub(in crate::store) async fn revoke_device_credentials(
            pool: &Pool,
            user_id: i64,
            device: Option<&str>,
            now: i64,
        ) -> Result<u64> {
            let mut conn = pool.acquire().await?;
            revoke_device(&mut conn, user_id, device, now).await
        }
    };
}

pub(super) use queries;

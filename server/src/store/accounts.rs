//! Accounts (with the areas they work in) and bearer tokens (stored as hashes only).

/// The account and token queries, for one backend (see `store/mod.rs`).
macro_rules! queries {
    () => {
        use std::collections::HashMap;

        use sqlx::Row;

        use super::{Db, DbRow, Pool, TOKEN_OWNER, token_areas};
        use $crate::domain::{NewUser, User, UserUpdate};
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
            replace_areas(&mut tx, row.try_get(0)?, areas).await?;
            let user = fetch_user(&mut *tx, username).await?;
            tx.commit().await?;
            Ok(user)
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
    };
}

pub(super) use queries;

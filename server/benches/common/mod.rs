//! What the server's benchmarks share: a throwaway PostgreSQL database, and accounts with
//! tokens made straight in the store.

/// A fresh PostgreSQL database (at `GRIDSYNC_TEST_PG_URL`, default
/// `postgres://postgres@127.0.0.1:5432/postgres`), dropped with its guard.
#[allow(dead_code)] // Benchmarks on SQLite alone need no PostgreSQL database.
pub struct BenchDatabase {
    pub url: String,
    admin: String,
    name: String,
}

#[allow(dead_code)]
impl BenchDatabase {
    pub async fn create() -> BenchDatabase {
        let admin = std::env::var("GRIDSYNC_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("gridsync_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
            .await
            .unwrap();
        // The name is made here from hex digits only.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin.clone());
        BenchDatabase {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }

    /// Drops the database.
    pub async fn drop_database(self) {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&self.admin)
            .await
            .unwrap();
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await;
    }
}

/// Creates an account with these areas straight in the store and returns a bearer token for it
/// (valid for an hour).
#[allow(dead_code)] // Not every benchmark makes accounts.
pub async fn account(
    store: &dyn gridsync_server::store::Store,
    password_hash: &str,
    username: &str,
    role: gridsync_server::domain::Role,
    areas: &[&str],
) -> String {
    use gridsync_server::auth::{new_token, token_hash};
    use gridsync_server::domain::{NewUser, now_unix};
    let user = store
        .create_user(&NewUser {
            username: username.to_string(),
            password_hash: password_hash.to_string(),
            role,
            areas: areas.iter().map(|a| a.to_string()).collect(),
            created_at: now_unix(),
        })
        .await
        .unwrap();
    let token = new_token();
    store
        .insert_token(&token_hash(&token), user.id, now_unix(), now_unix() + 3600)
        .await
        .unwrap();
    token
}

//! What the server's benchmarks share: a throwaway PostgreSQL database.

/// A fresh PostgreSQL database (at `GRIDSYNC_TEST_PG_URL`, default
/// `postgres://postgres@127.0.0.1:5432/postgres`), dropped with its guard.
pub struct BenchDatabase {
    pub url: String,
    admin: String,
    name: String,
}

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

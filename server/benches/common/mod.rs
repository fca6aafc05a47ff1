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

/// A village of `side × side` grids near Siping, each a 32-vertex outline inside its cell.
#[allow(dead_code)] // Only the map benchmarks draw synthetic grids.
pub fn synthetic_grids(count: usize) -> Vec<gridsync_server::domain::AreaRecord> {
    use gridsync_server::coords::Crs;
    use gridsync_server::domain::{AreaRecord, Level};
    use gridsync_server::geometry;
    let side = (count as f64).sqrt().ceil() as usize;
    let cell = 0.002;
    let (lon0, lat0) = (124.2, 43.0);
    let mut areas = vec![];
    for i in 0..count {
        let (cx, cy) = (
            lon0 + cell * ((i % side) as f64 + 0.5),
            lat0 + cell * ((i / side) as f64 + 0.5),
        );
        let mut ring: Vec<(f64, f64)> = (0..32)
            .map(|k| {
                let angle = std::f64::consts::TAU * k as f64 / 32.0;
                let r = cell * (0.45 + 0.03 * ((k * 7 + i) % 5) as f64 / 5.0);
                (cx + r * angle.cos(), cy + r * angle.sin())
            })
            .collect();
        ring.push(ring[0]);
        let polygon = geo::Polygon::new(geo::LineString::from(ring), vec![]);
        let multi = geo::MultiPolygon(vec![polygon]);
        areas.push(AreaRecord {
            code: format!("G{i:06}"),
            name: format!("第{i}网格"),
            level: Level::Grid,
            parent: None,
            bbox: geometry::bbox(&multi),
            geometry: geometry::to_geojson(&multi, Crs::Wgs84).to_string(),
            version: 0,
            updated_at: 0,
        });
    }
    areas
}

/// Serves `store` in this process as deployed (two workers, the default one-second map check);
/// the server's base address.
#[allow(dead_code)] // Not every benchmark serves HTTP this way.
pub async fn serve(store: std::sync::Arc<dyn gridsync_server::store::Store>, url: &str) -> String {
    let mut settings = gridsync_server::Settings::for_tests(url);
    settings.workers = Some(2);
    settings.map_check_interval = std::time::Duration::from_secs(1);
    let app = gridsync_server::Application::build_with_store(store, settings)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

//! The test harness: an in-process server on port 0 over a fresh database of either backend.

use std::sync::{Arc, OnceLock};

use actix_web::dev::ServerHandle;
use gridsync_server::auth::hash_password;
use gridsync_server::domain::{NewUser, Role, now_unix};
use gridsync_server::store::{self, Store};
use gridsync_server::{Application, Settings, demo, telemetry};
use serde_json::{Value, json};

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The password of every account made by [`TestApp::add_user`].
pub const PASSWORD: &str = "correct-horse";

/// Argon2 is slow by design: hash the shared test password once per test binary.
fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).expect("hash"))
        .clone()
}

/// The PostgreSQL server's admin URL (a database it may create databases from).
pub fn pg_admin_url() -> String {
    std::env::var("GRIDSYNC_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_database(admin_url: &str, name: &str) -> String {
    let base = admin_url.split('?').next().unwrap_or(admin_url);
    let cut = base
        .rfind('/')
        .filter(|&i| i > base.find("://").map_or(0, |s| s + 2))
        .unwrap_or(base.len());
    format!("{}/{name}", &base[..cut])
}

/// A fresh, empty database URL; the guard removes it when dropped.
pub async fn fresh_database(backend: Backend) -> (String, DatabaseGuard) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("gridsync.db").display());
            (url, DatabaseGuard::Sqlite(dir))
        }
        Backend::Postgres => {
            let admin = pg_admin_url();
            let name = format!("gridsync_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                .await
                .expect("connect to the PostgreSQL admin database (set GRIDSYNC_TEST_PG_URL)");
            // The name is generated here from hex digits only, never from input.
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            (
                with_database(&admin, &name),
                DatabaseGuard::Postgres { admin, name },
            )
        }
    }
}

/// Removes a test database.
#[derive(Debug)]
pub enum DatabaseGuard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin: String, name: String },
}

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        if let DatabaseGuard::Postgres { admin, name } = self {
            let (admin, name) = (admin.clone(), name.clone());
            // Drop runs inside the test's runtime: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        if let Ok(mut conn) =
                            <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await
                        {
                            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                                .execute(&mut conn)
                                .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// A running server and a client for it.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub database_url: String,
    pub backend: Backend,
    handle: ServerHandle,
    // Declared last: dropped after the server is stopped.
    guard: Option<DatabaseGuard>,
}

impl TestApp {
    /// A server over a fresh database.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server over a fresh database, with adjusted settings.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        telemetry::init_for_tests();
        let (url, guard) = fresh_database(backend).await;
        let mut app = Self::spawn_on(backend, &url, adjust).await;
        app.guard = Some(guard);
        app
    }

    /// Another server instance on an existing database (as a second machine would be).
    pub async fn spawn_on(
        backend: Backend,
        url: &str,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut settings = Settings::for_tests(url);
        adjust(&mut settings);
        let store = store::connect(url).await.expect("open store");
        let application = Application::build_with_store(store.clone(), settings)
            .await
            .expect("build app");
        let address = format!("http://127.0.0.1:{}", application.port());
        let handle = application.handle();
        tokio::spawn(application.run_until_stopped());
        TestApp {
            address,
            client: reqwest::Client::new(),
            store,
            database_url: url.to_string(),
            backend,
            handle,
            guard: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Creates an account with [`PASSWORD`] directly in the store.
    pub async fn add_user(&self, username: &str, role: Role, areas: &[&str]) {
        self.store
            .create_user(&NewUser {
                username: username.into(),
                password_hash: password_hash(),
                role,
                areas: areas.iter().map(|s| s.to_string()).collect(),
                created_at: now_unix(),
            })
            .await
            .expect("create user");
    }

    /// Logs in and returns the bearer token.
    pub async fn login(&self, username: &str) -> String {
        let body = self.login_answer(username).await;
        body["token"].as_str().expect("token").to_string()
    }

    /// Logs in and returns the whole answer (token, account, the server's contact key).
    pub async fn login_answer(&self, username: &str) -> Value {
        let response = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), 200, "login of {username}");
        response.json().await.expect("login json")
    }

    /// A record as `token`'s account reads it (`GET /api/v1/records/{id}`, which must answer 200).
    pub async fn record(&self, token: &str, id: &str) -> Value {
        let response = self
            .get(&format!("/api/v1/records/{id}"), Some(token))
            .await;
        assert_eq!(response.status(), 200, "reading record {id}");
        response.json().await.expect("record json")
    }

    /// Creates an account and logs it in.
    pub async fn user_token(&self, username: &str, role: Role, areas: &[&str]) -> String {
        self.add_user(username, role, areas).await;
        self.login(username).await
    }

    /// A department serving `areas` and an account acting for it, logged in: its token.
    pub async fn department_account(
        &self,
        code: &str,
        name: &str,
        areas: &[&str],
        username: &str,
    ) -> String {
        let department = gridsync_server::store::Department {
            code: code.into(),
            name: name.into(),
            areas: areas.iter().map(|s| s.to_string()).collect(),
            contacts: Vec::new(),
        };
        self.store
            .put_department(&department, now_unix())
            .await
            .expect("department");
        self.add_user(username, Role::Department, areas).await;
        let user = self.store.user_by_name(username).await.unwrap().unwrap();
        self.store
            .set_user_department(user.id, Some(code))
            .await
            .expect("link the account");
        self.login(username).await
    }

    /// The monthly reports of every month from the one holding `from` to the one holding `to`
    /// (Unix ms): a test that adds them up counts the same when it runs across midnight at a
    /// month's end.
    pub async fn monthly_reports(&self, token: &str, from: i64, to: i64) -> Vec<Value> {
        use gridsync_server::workflow::calendar::Date;
        use gridsync_server::workflow::report::Month;
        let month_of = |ms: i64| {
            let (year, month, _) = Date::of_instant(ms).ymd();
            Month { year, month }
        };
        let (mut month, last) = (month_of(from), month_of(to));
        let mut reports = Vec::new();
        while month <= last {
            let response = self
                .get(&format!("/api/v1/reports/monthly/{month}"), Some(token))
                .await;
            assert_eq!(response.status(), 200, "the report of {month}");
            reports.push(response.json().await.expect("report json"));
            month = month.next();
        }
        reports
    }

    /// Loads the demo map (47 areas around Siping) straight into the store.
    pub async fn load_demo_map(&self) -> i64 {
        self.store
            .put_areas(&demo::areas(), now_unix())
            .await
            .expect("demo map")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, path, token, body)
            .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the database guard (dropped next) then removes the database.
        drop(self.handle.stop(false));
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("application/problem+json"),
        "content type {content_type}"
    );
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["code"], code, "problem code in {body}");
    assert_eq!(body["status"], status);
    body
}

/// A GeoJSON Feature with a rectangle polygon.
pub fn rect_feature(
    code: &str,
    parent: Option<&str>,
    level: Option<&str>,
    rect: [f64; 4],
) -> Value {
    let [x0, y0, x1, y1] = rect;
    json!({
        "type": "Feature",
        "properties": {
            "code": code, "name": format!("area {code}"), "parent": parent, "level": level,
        },
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
        },
    })
}

/// A FeatureCollection.
pub fn collection(features: Vec<Value>) -> Value {
    json!({ "type": "FeatureCollection", "features": features })
}

/// Every sheet of a workbook as a spreadsheet reader (calamine) reads it: `(name, rows)`, each
/// cell as its text; whole numbers without a decimal point.
pub fn read_xlsx(bytes: &[u8]) -> Vec<(String, Vec<Vec<String>>)> {
    use calamine::{Data, Reader, Xlsx};
    let mut book = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an XLSX workbook");
    let names = book.sheet_names();
    names
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).expect("a sheet");
            let rows = range
                .rows()
                .map(|row| {
                    row.iter()
                        .map(|cell| match cell {
                            Data::Float(v) if v.fract() == 0.0 => format!("{v:.0}"),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect();
            (name, rows)
        })
        .collect()
}

/// What openpyxl (the spreadsheet library of Python) reads of a report workbook's layout:
/// each sheet's frozen pane, the number format of a rate, the cell type of a 14-digit grid code
/// and the width of the names column (`tests/python/xlsx_check.py`).
pub fn check_xlsx_in_python(bytes: &[u8]) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.xlsx");
    std::fs::write(&path, bytes).unwrap();
    let output = std::process::Command::new(python)
        .arg(root.join("tests/python/xlsx_check.py"))
        .arg(&path)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "xlsx_check failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("xlsx_check prints JSON")
}

/// Asserts an Open311 error in GeoReport v2's format — `[{code, description}]` in JSON,
/// `<errors><error><code/><description/></error></errors>` in XML — with this status and
/// code; returns the description.
pub async fn assert_open311_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.text().await.unwrap();
    if content_type.starts_with("text/xml") {
        let start = body
            .find("<errors><error><code>")
            .expect("an errors document")
            + 21;
        let found = &body[start..body[start..].find("</code>").unwrap() + start];
        assert_eq!(found, code, "{body}");
        let description = body.split("<description>").nth(1).unwrap();
        description
            .split("</description>")
            .next()
            .unwrap()
            .to_string()
    } else {
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value[0]["code"], code, "{body}");
        value[0]["description"].as_str().unwrap().to_string()
    }
}

/// Another server instance's state over the same database: its own pool and automerge actor.
pub async fn instance(app: &TestApp) -> gridsync_server::AppState {
    let store = store::connect(&app.database_url).await.expect("open store");
    let settings = Settings::for_tests(&app.database_url);
    let secret = settings.contact_secret().expect("a test key");
    gridsync_server::AppState::new(store, settings, secret).expect("start the commit writer")
}

/// Counts objects (`{"found": 1, …}`) added up key by key; `{}` for none.
pub fn add_counts<'a>(counts: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut total = serde_json::Map::new();
    for count in counts {
        for (key, value) in count.as_object().expect("a counts object") {
            let sum = total.get(key).and_then(Value::as_u64).unwrap_or(0)
                + value.as_u64().expect("a count");
            total.insert(key.clone(), json!(sum));
        }
    }
    Value::Object(total)
}

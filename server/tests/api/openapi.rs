use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gridsync_server::routes::ROUTES;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The OpenAPI document that must describe the server: the repository's `openapi.yaml`.
fn spec_files() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![manifest.join("../openapi.yaml")]
}

fn documented(path: &Path) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(path).expect("read spec");
    let spec: serde_norway::Value = serde_norway::from_str(&text).expect("spec is YAML");
    let paths = spec
        .get("paths")
        .and_then(|p| p.as_mapping())
        .expect("spec has paths");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("path is a string").to_string();
        let item = item.as_mapping().expect("path item is a mapping");
        for (key, _) in item {
            let key = key.as_str().unwrap_or_default();
            if METHODS.contains(&key) {
                routes.insert((key.to_string(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_served() {
    let files = spec_files();
    assert!(!files.is_empty(), "no openapi.yaml found");
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    for file in files {
        let documented = documented(&file);
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "{}: served but not documented: {undocumented:?}",
            file.display()
        );
        assert!(
            unserved.is_empty(),
            "{}: documented but not served: {unserved:?}",
            file.display()
        );
    }
}

#[test]
fn every_operation_documents_its_error_responses_as_problem_json() {
    for file in spec_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let spec: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        let paths = spec["paths"].as_mapping().unwrap();
        for (path, item) in paths {
            for (method, operation) in item.as_mapping().unwrap() {
                if !METHODS.contains(&method.as_str().unwrap_or_default()) {
                    continue;
                }
                let responses = operation["responses"].as_mapping().expect("responses");
                assert!(
                    responses
                        .keys()
                        .any(|k| k.as_str().is_some_and(|s| s.starts_with('4')
                            || s.starts_with('5')
                            || s == "default")),
                    "{}: {} {} documents no error response",
                    file.display(),
                    method.as_str().unwrap(),
                    path.as_str().unwrap()
                );
            }
        }
    }
}

/// Account changes that end the run's own session (a new password revokes the account's
/// tokens, and schemathesis learns the admin's name from the account list): tested on their
/// own, after everything else.
const SESSION_ENDING: &str = "PATCH /api/v1/admin/users/{username}";

/// Runs schemathesis over `openapi.yaml` against the app with `filter` (its operation filter
/// arguments) and returns what it printed, failing the test on any failure it reports.
async fn schemathesis(app: &crate::helpers::TestApp, token: &str, filter: [&str; 2]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let schemathesis = root.join(".venv/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "{} is missing: scripts/test.sh installs tests/python/requirements.txt into .venv",
        schemathesis.display()
    );
    let examples = std::env::var("SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "10".into());
    let mut command = std::process::Command::new(schemathesis);
    command
        .arg("run")
        .arg(root.join("openapi.yaml"))
        .args(["--url", &app.address])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,\
             content_type_conformance,negative_data_rejection",
        ])
        .args(["--max-examples", &examples])
        .args(["--generation-deterministic", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--exclude-path", "/api/v1/auth/logout"])
        .args([
            "--exclude-path",
            "/api/v1/admin/users/{username}/revoke-tokens",
        ])
        .args(["--exclude-path", "/api/v1/sync"])
        .args(filter)
        .env("NO_COLOR", "1");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run schemathesis");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed
}

/// Schemathesis (from PyPI) generates requests from `openapi.yaml` for every operation (examples,
/// the boundary values of every schema, and random ones) as an admin of a city with its map,
/// and checks every answer: never a server error, every status documented for its operation,
/// every body as the spec describes it, every request the spec forbids refused. Logout, revoking
/// tokens and the binary sync frames are left out (the first two would end the run's own
/// session; sync has its own fuzzers). The examples per operation are `SCHEMATHESIS_EXAMPLES`
/// (default 10: modest in CI).
#[gridsync_test_macros::both_backends]
async fn schemathesis_finds_no_server_error_and_nothing_outside_the_spec(
    app: crate::helpers::TestApp,
) {
    app.load_demo_map().await;
    let admin = app
        .user_token("root", gridsync_server::domain::Role::Admin, &[])
        .await;

    let everything_else = schemathesis(&app, &admin, ["--exclude-name", SESSION_ENDING]).await;
    let session_ending = schemathesis(&app, &admin, ["--include-name", SESSION_ENDING]).await;

    assert!(everything_else.contains("Tested: 97"), "{everything_else}");
    assert!(
        !everything_else.contains("Authentication failed"),
        "operations were tested without a working token:\n{everything_else}"
    );
    assert!(session_ending.contains("Tested: 1"), "{session_ending}");
}

/// The OGC API as desktop GIS meets it: schemathesis reads the definition the server serves at
/// `/ogc/api` (OpenAPI 3.0, what QGIS reads), authenticates with HTTP Basic as a GIS officer,
/// and checks every answer against that definition: never a server error, every status
/// documented, every body and media type as described. (Not `negative_data_rejection`: the
/// standard has a `limit` above the schema's maximum served as the maximum.)
#[gridsync_test_macros::both_backends]
async fn the_ogc_api_answers_as_its_own_definition_says(app: crate::helpers::TestApp) {
    app.load_demo_map().await;
    app.add_user("gis", gridsync_server::domain::Role::Gis, &[])
        .await;
    let definition = app.get("/ogc/api", None).await.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ogc-api.json");
    std::fs::write(&path, definition).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let examples = std::env::var("SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "10".into());
    let mut command = std::process::Command::new(root.join(".venv/bin/schemathesis"));
    command
        .arg("run")
        .arg(&path)
        .args(["--url", &format!("{}/ogc", app.address)])
        .args(["--auth", &format!("gis:{}", crate::helpers::PASSWORD)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,\
             content_type_conformance",
        ])
        .args(["--max-examples", &examples])
        .args(["--generation-deterministic", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .env("NO_COLOR", "1");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run schemathesis");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("Tested: 25"), "{printed}");
    assert!(!printed.contains("Authentication failed"), "{printed}");
}

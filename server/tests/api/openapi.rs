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

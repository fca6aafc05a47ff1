use gridsync_server::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, collection, rect_feature};
use gridsync_test_macros::both_backends;

#[both_backends]
async fn an_admin_creates_an_account_with_areas_and_changes_its_role(app: TestApp) {
    app.load_demo_map().await;
    let admin = app.user_token("root", Role::Admin, &[]).await;

    let created = app
        .post(
            "/api/v1/admin/users",
            Some(&admin),
            &json!({
                "username": "li",
                "password": "long-enough",
                "role": "grid_leader",
                "areas": ["220302001001"],
            }),
        )
        .await;
    let updated = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/admin/users/li",
            Some(&admin),
            &json!({ "role": "dispatcher" }),
        )
        .await;
    let reassigned = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/admin/users/li/areas",
            Some(&admin),
            &json!({ "areas": ["220303", "2203"] }),
        )
        .await;

    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["areas"], json!(["220302001001"]));
    assert_eq!(updated.status(), 200);
    assert_eq!(updated.json::<Value>().await.unwrap()["role"], "dispatcher");
    assert_eq!(
        reassigned.json::<Value>().await.unwrap()["areas"],
        json!(["2203", "220303"])
    );
    let listed: Value = app
        .get("/api/v1/admin/users", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["li", "root"]);
    let fetched: Value = app
        .get("/api/v1/admin/users/li", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["role"], "dispatcher");
}

#[both_backends]
async fn the_last_active_admin_can_be_neither_demoted_nor_deactivated(app: TestApp) {
    let root = app.user_token("root", Role::Admin, &[]).await;
    let patch = |who: &'static str, body: Value| {
        let (app, root) = (&app, root.clone());
        async move {
            let path = format!("/api/v1/admin/users/{who}");
            app.send_json(reqwest::Method::PATCH, &path, Some(&root), &body)
                .await
        }
    };
    for body in [json!({ "role": "supervisor" }), json!({ "active": false })] {
        assert_problem(patch("root", body).await, 409, "last_admin").await;
    }
    let me: Value = app
        .get("/api/v1/auth/me", Some(&root))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["role"].clone(), me["active"].clone()),
        (json!("admin"), json!(true))
    );

    // With a second admin, either may step down; then the other is the last.
    app.add_user("deputy", Role::Admin, &[]).await;
    assert_eq!(
        patch("deputy", json!({ "active": false })).await.status(),
        200
    );
    assert_problem(
        patch("root", json!({ "role": "gis" })).await,
        409,
        "last_admin",
    )
    .await;
    assert_eq!(
        patch("deputy", json!({ "active": true })).await.status(),
        200
    );
    assert_eq!(patch("root", json!({ "role": "gis" })).await.status(), 200);
}

#[both_backends]
async fn bad_account_requests_are_refused_with_their_reason(app: TestApp) {
    app.load_demo_map().await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let create = |body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move { app.post("/api/v1/admin/users", Some(&admin), &body).await }
    };

    let duplicate =
        create(json!({ "username": "root", "password": "long-enough", "role": "gis" })).await;
    let weak = create(json!({ "username": "a", "password": "short", "role": "gis" })).await;
    let bad_name =
        create(json!({ "username": "a b", "password": "long-enough", "role": "gis" })).await;
    let bad_role =
        create(json!({ "username": "a", "password": "long-enough", "role": "mayor" })).await;
    let unknown_area = create(
        json!({ "username": "a", "password": "long-enough", "role": "gis", "areas": ["9999"] }),
    )
    .await;
    let missing = app.get("/api/v1/admin/users/nobody", Some(&admin)).await;

    assert_problem(duplicate, 409, "conflict").await;
    assert_problem(weak, 400, "weak_password").await;
    assert_problem(bad_name, 400, "invalid_username").await;
    assert_problem(bad_role, 400, "invalid_json").await;
    assert_problem(unknown_area, 422, "unknown_area").await;
    assert_problem(missing, 404, "not_found").await;
}

/// One row of the matrix: who, what, and the status they must get.
struct Case {
    role: Role,
    areas: &'static [&'static str],
    endpoint: &'static str,
    expected: u16,
}

const GRID: &str = "22030200100101";
const OTHER_GRID: &str = "22030300200204";

/// Every role, at a grid-level and a region-level assignment, against each kind of endpoint:
/// admin-only, map editing, reading an area inside and outside the assignment, locating, the
/// work queue, reading and changing the category catalogue and the leader-review setting.
fn matrix() -> Vec<Case> {
    let mut cases = Vec::new();
    for role in Role::ALL {
        for areas in [&[GRID][..], &["220302"][..]] {
            let is_admin = role == Role::Admin;
            let edits_map = matches!(role, Role::Admin | Role::Gis);
            let whole_map = edits_map;
            cases.push(Case {
                role,
                areas,
                endpoint: "list users",
                expected: if is_admin { 200 } else { 403 },
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "import",
                expected: if edits_map { 200 } else { 403 },
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "read own grid",
                expected: 200,
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "read own township",
                expected: 200,
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "read other grid",
                expected: if whole_map { 200 } else { 403 },
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "locate",
                expected: 200,
            });
            // Everyone has a queue (empty for the roles nothing waits on) and reads the
            // category catalogue their records are filed under; only admins change it.
            cases.push(Case {
                role,
                areas,
                endpoint: "queue",
                expected: 200,
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "register of own grid",
                expected: 200,
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "register of other grid",
                expected: if whole_map { 200 } else { 403 },
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "read categories",
                expected: 200,
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "write a category",
                expected: if is_admin { 200 } else { 403 },
            });
            // The leader-review setting: read by those who work with it, changed by admins.
            cases.push(Case {
                role,
                areas,
                endpoint: "read leader review",
                expected: if matches!(
                    role,
                    Role::Admin | Role::Dispatcher | Role::Supervisor | Role::GridLeader
                ) {
                    200
                } else {
                    403
                },
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "set leader review",
                expected: if is_admin { 200 } else { 403 },
            });
            cases.push(Case {
                role,
                areas,
                endpoint: "category history",
                expected: if matches!(role, Role::Admin | Role::Dispatcher) {
                    200
                } else {
                    403
                },
            });
        }
    }
    cases
}

#[both_backends]
async fn roles_and_assigned_areas_decide_what_each_account_may_do(app: TestApp) {
    app.load_demo_map().await;
    let mut failures = Vec::new();
    let mut tokens: Vec<((Role, &[&str]), String)> = Vec::new();
    for (n, case) in matrix().into_iter().enumerate() {
        let key = (case.role, case.areas);
        let token = match tokens.iter().find(|(k, _)| *k == key) {
            Some((_, token)) => token.clone(),
            None => {
                let token = app
                    .user_token(&format!("u{n}"), case.role, case.areas)
                    .await;
                tokens.push((key, token.clone()));
                token
            }
        };
        let status = match case.endpoint {
            "list users" => app.get("/api/v1/admin/users", Some(&token)).await.status(),
            "import" => {
                let body = collection(vec![rect_feature(
                    &format!("X{n}"),
                    None,
                    Some("grid"),
                    [10.0, 10.0, 10.1, 10.1],
                )]);
                app.post("/api/v1/grids/import", Some(&token), &body)
                    .await
                    .status()
            }
            "read own grid" => app
                .get(&format!("/api/v1/grids/{GRID}"), Some(&token))
                .await
                .status(),
            "read own township" => app
                .get("/api/v1/grids/220302001", Some(&token))
                .await
                .status(),
            "read other grid" => app
                .get(&format!("/api/v1/grids/{OTHER_GRID}"), Some(&token))
                .await
                .status(),
            "locate" => app
                .get("/api/v1/locate?lon=124.3&lat=43.1", Some(&token))
                .await
                .status(),
            "queue" => app.get("/api/v1/queue", Some(&token)).await.status(),
            "register of own grid" => app
                .get(&format!("/api/v1/grids/{GRID}/register"), Some(&token))
                .await
                .status(),
            "register of other grid" => app
                .get(
                    &format!("/api/v1/grids/{OTHER_GRID}/register"),
                    Some(&token),
                )
                .await
                .status(),
            "read categories" => app.get("/api/v1/categories", Some(&token)).await.status(),
            "write a category" => app
                .send_json(
                    reqwest::Method::PUT,
                    "/api/v1/categories/other",
                    Some(&token),
                    &serde_json::json!({ "name": "其他", "name_en": "Other" }),
                )
                .await
                .status(),
            "category history" => app
                .get("/api/v1/categories/other/history", Some(&token))
                .await
                .status(),
            "read leader review" => app
                .get("/api/v1/settings/leader-review", Some(&token))
                .await
                .status(),
            "set leader review" => app
                .send_json(
                    reqwest::Method::PUT,
                    "/api/v1/settings/leader-review",
                    Some(&token),
                    &serde_json::json!({ "areas": ["220302"] }),
                )
                .await
                .status(),
            other => unreachable!("unknown endpoint {other}"),
        };
        if status.as_u16() != case.expected {
            failures.push(format!(
                "{} {:?} {}: got {status}, want {}",
                case.role, case.areas, case.endpoint, case.expected
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "matrix failures:\n{}",
        failures.join("\n")
    );
}

#[both_backends]
async fn every_protected_endpoint_refuses_anonymous_callers(app: TestApp) {
    // Which operations are public is written once, in openapi.yaml: those without
    // `security`. Every other route must refuse a caller without a token.
    let public = public_operations();
    assert!(
        public.contains(&("get".to_string(), "/healthz".to_string())),
        "{public:?}"
    );
    // Public by design, and nothing else: health, login and a device credential's refresh
    // (each checks what it is given), the OGC API's landing page,
    // conformance classes and API definition (they say nothing about the data), Open311
    // and the resident form (complaint intake from anyone), and the console's pages and
    // files (its pages check the session cookie themselves; the login page needs the files).
    for (method, path) in &public {
        let allowed = [
            "/healthz",
            "/api/v1/auth/login",
            "/api/v1/auth/refresh",
            "/ogc",
            "/ogc/",
            "/ogc/conformance",
            "/ogc/api",
        ]
        .contains(&path.as_str())
            || path.starts_with("/open311/")
            || path == "/api/v1/public/complaints"
            || path == "/"
            || path.starts_with("/console/");
        assert!(allowed, "{method} {path} is documented without security");
    }
    for (method, path) in gridsync_server::routes::ROUTES {
        if public.contains(&(method.to_string(), path.to_string())) {
            continue;
        }
        let path = path
            .replace("{username}", "x")
            .replace("{code}", "x")
            .replace("{collection}", "grids")
            .replace("{id}", "x");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app.send_json(method.clone(), &path, None, &json!([])).await;
        assert_eq!(response.status(), 401, "{method} {path}");
    }
}

#[both_backends]
async fn a_grid_worker_lists_only_their_grid_and_its_ancestors(app: TestApp) {
    app.load_demo_map().await;
    let token = app.user_token("wang", Role::GridWorker, &[GRID]).await;

    let listed: Value = app
        .get("/api/v1/grids", Some(&token))
        .await
        .json()
        .await
        .unwrap();

    let codes: Vec<&str> = listed["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["2203", "220302", "220302001", "220302001001", GRID]);
}

#[both_backends]
async fn a_department_assigned_a_county_sees_its_whole_subtree(app: TestApp) {
    app.load_demo_map().await;
    let token = app.user_token("dept", Role::Department, &["220303"]).await;

    let listed: Value = app
        .get("/api/v1/grids?level=grid", Some(&token))
        .await
        .json()
        .await
        .unwrap();

    let codes: Vec<&str> = listed["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 16);
    assert!(codes.iter().all(|c| c.starts_with("220303")));
}

/// `(method, path)` of the operations openapi.yaml documents without `security`.
fn public_operations() -> std::collections::BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
        .expect("openapi.yaml");
    let spec: serde_norway::Value = serde_norway::from_str(&text).expect("spec is YAML");
    let mut public = std::collections::BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        for (method, operation) in item.as_mapping().expect("path item") {
            let method = method.as_str().unwrap_or_default();
            if ["get", "put", "post", "delete", "patch", "head"].contains(&method)
                && operation.get("security").is_none()
            {
                public.insert((method.to_string(), path.as_str().unwrap().to_string()));
            }
        }
    }
    public
}

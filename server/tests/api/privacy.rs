//! A complainant's name and phone reach the desk, admins and the department leading the case,
//! and no one else, by any path: sync feeds, the records API, automerge exports (searched
//! through their whole history with the JavaScript automerge), the history endpoint. Every read
//! of them is logged.

use std::path::{Path, PathBuf};
use std::process::Command;

use gridsync_server::domain::Role;
use serde_json::{Value, json};
use sync_core::{SyncResponse, UpdateMode};

use crate::helpers::{TestApp, assert_problem};
use crate::sync::{COMPLAINANT_NAME, COMPLAINANT_PHONE, Phone, centre};
use gridsync_test_macros::both_backends;

const GRID: &str = "22030200100101";
const FORM_NAME: &str = "某业主委员会李娜";
const FORM_PHONE: &str = "0434-7654321";
const HOTLINE_NAME: &str = "王建国";
const HOTLINE_PHONE: &str = "13700001111";

fn needles() -> [&'static str; 6] {
    [
        COMPLAINANT_NAME,
        COMPLAINANT_PHONE,
        FORM_NAME,
        FORM_PHONE,
        HOTLINE_NAME,
        HOTLINE_PHONE,
    ]
}

/// Searches automerge files through their whole history with the JavaScript automerge
/// (`tests/interop/scan_history.mjs`); returns what it found and how many changes it read.
fn scan_with_javascript(files: &[PathBuf]) -> (Vec<Value>, u64) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
    assert!(
        dir.join("node_modules/@automerge/automerge/package.json")
            .is_file(),
        "run `npm ci --prefix tests/interop` (scripts/test.sh does)"
    );
    let work = tempfile::tempdir().unwrap();
    let needles_file = work.path().join("needles.json");
    std::fs::write(&needles_file, serde_json::to_vec(&needles()).unwrap()).unwrap();
    let run = Command::new("node")
        .arg(dir.join("scan_history.mjs"))
        .arg(&needles_file)
        .args(files)
        .current_dir(&dir)
        .output()
        .expect("node (Node.js 20 or later) on PATH");
    assert!(
        run.status.success(),
        "scan_history.mjs failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let printed: Value = serde_json::from_slice(&run.stdout).unwrap();
    (
        printed["found"].as_array().unwrap().clone(),
        printed["changes"].as_u64().unwrap(),
    )
}

struct City {
    app: TestApp,
    desk: String,
    admin: String,
    /// The phone that took the complaint.
    worker: Phone,
}

async fn city(app: TestApp) -> City {
    app.load_demo_map().await;
    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    for (code, name) in [("housing", "住建局"), ("water", "水务集团")] {
        let put = app
            .send_json(
                reqwest::Method::PUT,
                &format!("/api/v1/departments/{code}"),
                Some(&desk),
                &json!({ "name": name, "areas": ["2203"] }),
            )
            .await;
        assert_eq!(put.status(), 200);
    }
    let rule = json!({
        "category": "municipal", "area": "2203", "department": "housing",
        "deadline_class": "general",
    });
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/dispatch-rules",
            Some(&desk),
            &rule,
        )
        .await;
    assert_eq!(put.status(), 200);
    let worker = Phone::new(&app, "wang", Role::GridWorker, &[GRID]).await;
    City {
        app,
        desk,
        admin,
        worker,
    }
}

/// A department account linked to `department`.
async fn department_account(city: &City, username: &str, department: &str) -> String {
    city.app
        .add_user(username, Role::Department, &["2203"])
        .await;
    let linked = city
        .app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/admin/users/{username}/department"),
            Some(&city.admin),
            &json!({ "department": department }),
        )
        .await;
    assert_eq!(linked.status(), 200);
    city.app.login(username).await
}

async fn text(response: reqwest::Response) -> String {
    response.text().await.unwrap()
}

#[both_backends]
async fn no_role_but_the_desk_admins_and_the_lead_department_ever_receives_a_complainants_details(
    app: TestApp,
) {
    let mut city = city(app).await;
    let app = &city.app;
    // Three complaints with details: from a phone, the public form and the hotline.
    let from_phone = city
        .worker
        .complaint_at("楼道堆物", centre(GRID), sync_core::Crs::Wgs84);
    let report = city.worker.sync_all(app).await;
    assert_eq!(report.contacts_acknowledged, [from_phone]);
    assert_eq!(city.worker.store.pending_contacts().unwrap(), 0);
    let (lon, lat) = centre(GRID);
    let form: Value = app
        .post(
            "/api/v1/public/complaints",
            None,
            &json!({
                "category": "municipal", "description": "小区路灯坏了", "lon": lon, "lat": lat,
                "complainant": {
                    "anonymous": false, "type": "organisation", "name": FORM_NAME, "phone": FORM_PHONE,
                },
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let hotline: Value = app
        .post(
            "/api/v1/records",
            Some(&city.desk),
            &json!({
                "kind": "complaint", "title": "噪音扰民", "channel": "hotline", "category": "municipal",
                "location": { "lon": lon, "lat": lat, "accuracy_m": null, "crs": "wgs84" },
                "complainant": {
                    "anonymous": false, "type": "person", "name": HOTLINE_NAME, "phone": HOTLINE_PHONE,
                },
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hotline["complainant"]["has_contact"], true, "{hotline}");
    let ids = [
        from_phone.to_string(),
        form["id"].as_str().unwrap().to_string(),
        hotline["id"].as_str().unwrap().to_string(),
    ];
    // The desk takes the phone's complaint and dispatches it: housing leads.
    for action in [
        json!({ "action": "accept" }),
        json!({ "action": "dispatch" }),
    ] {
        let step = app
            .post(
                &format!("/api/v1/records/{from_phone}/transitions"),
                Some(&city.desk),
                &action,
            )
            .await;
        assert_eq!(step.status(), 200, "{action}");
    }
    let housing = department_account(&city, "hou", "housing").await;
    let water = department_account(&city, "shui", "water").await;

    // Every role: a fresh phone syncs everything it may; its REST views, exports and history.
    let files = tempfile::tempdir().unwrap();
    let mut automerge_files = Vec::new();
    let mut answers = String::new();
    let roles = [
        ("li", Role::GridWorker, vec![GRID]),
        ("zhao", Role::GridLeader, vec![GRID]),
        ("gis", Role::Gis, vec![]),
        ("qian", Role::Dispatcher, vec!["2203"]),
        ("sun", Role::Supervisor, vec!["2203"]),
        ("boss", Role::Admin, vec![]),
    ];
    let mut tokens = Vec::new();
    for (name, role, areas) in &roles {
        let mut phone = Phone::new(app, name, *role, areas).await;
        for round in 0..20 {
            let request = phone.store.prepare_sync(4 * 1024).unwrap();
            let response = phone.exchange(app, request.bytes).await;
            assert_eq!(response.status(), 200);
            let bytes = response.bytes().await.unwrap();
            let decoded = SyncResponse::decode(&bytes).unwrap();
            for (i, update) in decoded.updates.iter().enumerate() {
                assert_eq!(update.mode, UpdateMode::Merge);
                let file = files.path().join(format!("feed-{name}-{round}-{i}"));
                std::fs::write(&file, &update.bytes).unwrap();
                automerge_files.push(file);
            }
            if !phone.store.apply_sync(&bytes).unwrap().more {
                break;
            }
        }
        tokens.push((*role, phone.token.clone()));
    }
    for (role, token) in tokens.iter().map(|(r, t)| (*r, t.as_str())).chain([
        (Role::Department, housing.as_str()),
        (Role::Department, water.as_str()),
    ]) {
        answers.push_str(&text(app.get("/api/v1/records", Some(token)).await).await);
        for id in &ids {
            answers.push_str(
                &text(app.get(&format!("/api/v1/records/{id}"), Some(token)).await).await,
            );
            let history = app
                .get(&format!("/api/v1/records/{id}/history"), Some(token))
                .await;
            answers.push_str(&text(history).await);
            let export = app
                .get(&format!("/api/v1/records/{id}/automerge"), Some(token))
                .await;
            if export.status() == 200 {
                let file = files.path().join(format!("export-{role}-{id}"));
                std::fs::write(&file, export.bytes().await.unwrap()).unwrap();
                automerge_files.push(file);
            }
        }
    }
    // Open311 (public) and the month's reports and rates in every format.
    answers.push_str(&text(app.get("/open311/v2/requests.json", None).await).await);
    answers.push_str(&text(app.get("/open311/v2/requests.xml", None).await).await);
    let month = {
        let now = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8));
        format!("{}-{:02}", now.year(), u8::from(now.month()))
    };
    for format in ["json", "svg"] {
        let path = format!("/api/v1/reports/monthly/{month}?format={format}");
        answers.push_str(&text(app.get(&path, Some(&city.admin)).await).await);
    }
    for table in [
        "overview",
        "channels",
        "categories",
        "statuses",
        "regions",
        "hot_categories",
        "hot_grids",
        "prominent",
        "rates",
        "scores",
        "trend",
    ] {
        let path = format!("/api/v1/reports/monthly/{month}?format=csv&table={table}");
        answers.push_str(&text(app.get(&path, Some(&city.admin)).await).await);
    }
    answers.push_str(&text(app.get("/api/v1/reports/rates", Some(&city.admin)).await).await);
    for needle in needles() {
        assert!(!answers.contains(needle), "{needle} in a REST answer");
    }
    assert!(automerge_files.len() > 20, "{}", automerge_files.len());
    let (found, changes) = scan_with_javascript(&automerge_files);
    assert!(changes > 20, "the scan read {changes} changes");
    assert_eq!(
        found,
        Vec::<Value>::new(),
        "personal data in a document's history"
    );

    // The details themselves: the desk, admins and the lead department; no one else.
    let contact_path = format!("/api/v1/records/{from_phone}/complainant");
    let expected = json!({ "name": COMPLAINANT_NAME, "phone": COMPLAINANT_PHONE });
    for token in [&city.desk, &city.admin, &housing] {
        let read = app.get(&contact_path, Some(token)).await;
        assert_eq!(read.headers()["cache-control"], "no-store");
        assert_eq!(read.json::<Value>().await.unwrap(), expected);
    }
    for (role, token) in &tokens {
        let read = app.get(&contact_path, Some(token)).await;
        let allowed = matches!(role, Role::Dispatcher | Role::Admin);
        assert_eq!(read.status(), if allowed { 200 } else { 403 }, "{role:?}");
    }
    assert_problem(app.get(&contact_path, Some(&water)).await, 403, "forbidden").await;
    let form_contact = app
        .get(
            &format!("/api/v1/records/{}/complainant", ids[1]),
            Some(&city.desk),
        )
        .await;
    assert_eq!(
        form_contact.json::<Value>().await.unwrap(),
        json!({ "name": FORM_NAME, "phone": FORM_PHONE })
    );

    // Every read is logged: who, in which role.
    let log: Value = app
        .get(&format!("{contact_path}/access"), Some(&city.admin))
        .await
        .json()
        .await
        .unwrap();
    let readers: Vec<(&str, &str)> = log["access"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "read")
        .map(|a| (a["username"].as_str().unwrap(), a["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        readers,
        [
            ("zhou", "dispatcher"),
            ("root", "admin"),
            ("hou", "department"),
            ("qian", "dispatcher"),
            ("boss", "admin"),
        ]
    );
    let writers: Vec<&str> = log["access"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "write")
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(writers, ["wang"], "the phone that took it wrote it");
    assert_problem(
        app.get(&format!("{contact_path}/access"), Some(&housing))
            .await,
        403,
        "forbidden",
    )
    .await;
}

#[both_backends]
async fn the_desk_corrects_a_complainants_details_and_a_phone_cannot_overwrite_them(app: TestApp) {
    let mut city = city(app).await;
    let app = &city.app;
    let id = city
        .worker
        .complaint_at("井盖松动", centre(GRID), sync_core::Crs::Wgs84);
    city.worker.sync_all(app).await;
    let path = format!("/api/v1/records/{id}/complainant");
    let corrected = json!({ "name": "张三丰", "phone": "13900000000" });
    let put = app
        .send_json(reqwest::Method::PUT, &path, Some(&city.desk), &corrected)
        .await;
    assert_eq!(put.status(), 204);
    let read: Value = app.get(&path, Some(&city.desk)).await.json().await.unwrap();
    assert_eq!(read, corrected);

    // The worker may neither read nor write them over REST.
    let by_worker = app
        .send_json(
            reqwest::Method::PUT,
            &path,
            Some(&city.worker.token),
            &corrected,
        )
        .await;
    assert_problem(by_worker, 403, "forbidden").await;
    let too_long = json!({ "name": "长".repeat(101) });
    let refused = app
        .send_json(reqwest::Method::PUT, &path, Some(&city.desk), &too_long)
        .await;
    assert_problem(refused, 422, "too_long").await;

    // Details sealed again for the same record (a second phone of the same account, say) are
    // refused: the desk's correction stands.
    let mut again = sync_core::Store::open_in_memory("wang", "wang-tablet").unwrap();
    let key = city.worker.store.contact_key().unwrap().unwrap();
    again.pin_contact_key(&key.to_bytes()).unwrap();
    let sealed = key
        .seal(
            id,
            &sync_core::Contact {
                name: Some("冒名".into()),
                phone: None,
            },
        )
        .unwrap();
    let request = sync_core::SyncRequest {
        request_id: 1,
        response_budget: 64 * 1024,
        contacts: vec![sealed],
        ..sync_core::SyncRequest::default()
    };
    let response = city.worker.exchange(app, request.encode()).await;
    let answer = SyncResponse::decode(&response.bytes().await.unwrap()).unwrap();
    assert!(
        matches!(&answer.contact_acks[0].verdict,
            sync_core::Verdict::Rejected { code, .. } if code == "contact_exists"),
        "{:?}",
        answer.contact_acks
    );
    let read: Value = app.get(&path, Some(&city.desk)).await.json().await.unwrap();
    assert_eq!(read, corrected);
}

/// Sends a whole blob in one range as `token`.
async fn upload(app: &TestApp, token: &str, bytes: &[u8]) -> reqwest::Response {
    let name = sync_core::sha256_hex(bytes);
    app.client
        .put(app.url(&format!("/api/v1/blobs/{name}")))
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

async fn fetch(app: &TestApp, token: &str, sha: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[both_backends]
async fn a_photo_is_read_by_whoever_may_read_its_record_and_by_no_one_else(app: TestApp) {
    let mut city = city(app).await;
    let app = &city.app;
    let elsewhere = app
        .user_token("zhao", Role::GridWorker, &["22030200100102"])
        .await;
    let id = city
        .worker
        .complaint_at("墙体裂缝", centre(GRID), sync_core::Crs::Wgs84);
    let photo = crate::sync::jpeg(30_000);
    let attachment = city
        .worker
        .store
        .attach(&id, &photo, "image/jpeg", None)
        .unwrap();
    city.worker.sync_all(app).await;
    assert_eq!(upload(app, &city.worker.token, &photo).await.status(), 200);

    for token in [&city.worker.token, &city.desk, &city.admin] {
        let read = fetch(app, token, &attachment.sha256).await;
        assert_eq!(read.status(), 200);
        let headers = read.headers();
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("inline; filename=")
        );
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("sandbox")
        );
        assert_eq!(read.bytes().await.unwrap().as_ref(), photo.as_slice());
    }
    // A worker of another grid: as if there were no such photo.
    assert_problem(
        fetch(app, &elsewhere, &attachment.sha256).await,
        404,
        "not_found",
    )
    .await;
    let head = app
        .client
        .head(app.url(&format!("/api/v1/blobs/{}", attachment.sha256)))
        .bearer_auth(&elsewhere)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
}

#[both_backends]
async fn uploads_are_sniffed_and_unreferenced_ones_are_bounded(app: TestApp) {
    let app = TestApp::spawn_with(app.backend, |s| s.unreferenced_upload_bytes = 100_000).await;
    let worker = app.user_token("wang", Role::GridWorker, &[GRID]).await;
    let other = app.user_token("zhao", Role::GridWorker, &[GRID]).await;

    // A page of HTML that calls itself a photo is refused by its bytes.
    let html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>";
    let refused = upload(&app, &worker, html).await;
    assert_problem(refused, 415, "unsupported_media_type").await;

    // Photos taken before their record synced: up to the quota, then no more.
    let first = crate::sync::jpeg(60_000);
    assert_eq!(upload(&app, &worker, &first).await.status(), 200);
    let second = crate::sync::jpeg(60_001);
    assert_problem(upload(&app, &worker, &second).await, 409, "upload_quota").await;
    // The one who sent an unreferenced photo reads it; nobody else does.
    let sha = sync_core::sha256_hex(&first);
    assert_eq!(fetch(&app, &worker, &sha).await.status(), 200);
    assert_problem(fetch(&app, &other, &sha).await, 404, "not_found").await;
}

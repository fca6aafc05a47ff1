//! The console in a real browser: Debian's chromium, driven through Playwright for Python
//! (`tests/browser/console.py`), against the demo city. Each role logs in through the form and
//! takes its core step through the record's page; the test then reads the server's own state.
//! Screenshots land in `target/console-screenshots/`.

use std::path::{Path, PathBuf};

use gridsync_server::demo::DEMO_ACCOUNTS;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

const GRID: &str = "22030200100101";
const MARKUP: &str = "<img src=x onerror=alert(1)>";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The demo city on a fresh database of `backend`.
async fn demo(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| s.demo = true).await
}

fn password(username: &str) -> &'static str {
    DEMO_ACCOUNTS
        .iter()
        .find(|a| a.0 == username)
        .unwrap_or_else(|| panic!("no demo account {username}"))
        .1
}

async fn token(app: &TestApp, username: &str) -> String {
    let body: Value = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": username, "password": password(username) }),
        )
        .await
        .json()
        .await
        .unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// Runs the browser through `plan` as `username`; what the page showed.
async fn in_browser(app: &TestApp, username: &str, shots: &str, mut plan: Value) -> Value {
    let dir = root().join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let backend = format!("{:?}", app.backend).to_lowercase();
    plan["base"] = json!(app.address);
    plan["username"] = json!(username);
    plan["password"] = json!(password(username));
    plan["screenshots"] = json!(dir.join(format!("{shots}-{backend}")));
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "scripts/test.sh installs Playwright into .venv"
    );
    let script = root().join("tests/browser/console.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .arg(plan.to_string())
        .output()
        .await
        .expect("run the browser");
    assert!(
        output.status.success(),
        "the browser run failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: Value = serde_json::from_slice(&output.stdout).expect("the driver's JSON");
    assert_eq!(shown["errors"], json!([]), "errors in the page: {shown}");
    shown
}

async fn create(app: &TestApp, token: &str, body: Value) -> String {
    let created = app.post("/api/v1/records", Some(token), &body).await;
    assert_eq!(created.status(), 201);
    created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn centre(code: &str) -> (f64, f64) {
    crate::sync::centre(code)
}

async fn complaint(app: &TestApp, desk: &str, title: &str) -> String {
    let (lon, lat) = centre(GRID);
    create(
        app,
        desk,
        json!({
            "kind": "complaint", "title": title, "description": title,
            "category": "environment.noise", "channel": "hotline",
            "location": { "lon": lon, "lat": lat, "accuracy_m": 5.0, "crs": "wgs84" },
        }),
    )
    .await
}

/// A complaint accepted and dispatched to the environment bureau (the demo's department
/// account) by the desk; its id.
async fn dispatched(app: &TestApp, desk: &str, title: &str) -> String {
    let id = complaint(app, desk, title).await;
    act(app, desk, &id, json!({ "action": "accept" })).await;
    act(
        app,
        desk,
        &id,
        json!({ "action": "dispatch", "lead": "environment" }),
    )
    .await;
    id
}

async fn status(app: &TestApp, token: &str, id: &str) -> String {
    let record: Value = app
        .get(&format!("/api/v1/records/{id}"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    record["workflow"]["status"].as_str().unwrap().to_string()
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) {
    let response = app
        .post(
            &format!("/api/v1/records/{id}/transitions"),
            Some(token),
            &body,
        )
        .await;
    assert_eq!(response.status(), 200, "{body}");
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::helpers::Backend::Postgres).await;
            }
        }
    )*};
}

on_both_backends!(
    the_desk_sees_a_workers_overruled_category_marked_in_the_timeline,
    an_admin_keeps_accounts_departments_and_categories,
    the_desk_links_a_duplicate_from_the_hints_beside_it,
    the_desk_dispatches_where_the_form_says_the_rules_send_it,
    the_desk_sees_markup_in_a_title_as_text_accepts_it_and_logs_out,
    a_leader_verifies_a_hazard_from_the_grid,
    a_configured_basemap_is_drawn_under_the_grids,
    a_department_signs_for_its_case,
    a_department_reports_its_result_with_a_photo,
    a_supervisor_supervises_an_open_case,
);

async fn the_desk_sees_markup_in_a_title_as_text_accepts_it_and_logs_out(backend: Backend) {
    let app = demo(backend).await;
    let desk = token(&app, "dispatcher").await;
    let id = complaint(&app, &desk, MARKUP).await;

    let shown = in_browser(
        &app,
        "dispatcher",
        "desk-accepts",
        json!({
            "record": id, "action": "accept",
            "fields": { "note": "诉求清楚，予以受理" },
            "logout": true,
        }),
    )
    .await;

    assert_eq!(shown["dialogs"], json!([]), "no script ran from user text");
    assert_eq!(shown["injected_images"], 0);
    assert!(
        shown["queue_titles"]
            .as_array()
            .unwrap()
            .contains(&json!(MARKUP)),
        "{shown}"
    );
    assert_eq!(shown["record_title"], MARKUP);
    assert_eq!(shown["notice"], "已受理");
    assert_eq!(shown["record_status"], "已受理");
    assert_eq!(status(&app, &desk, &id).await, "accepted");

    // The cookie was out of the page's reach, and logging out ended it on the server.
    assert_eq!(shown["cookie"]["httpOnly"], true);
    assert_eq!(shown["cookie"]["sameSite"], "Strict");
    assert!(
        shown["after_logout"]
            .as_str()
            .unwrap()
            .ends_with("/console/login")
    );
    let replayed = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header(
            "cookie",
            format!("gs_session={}", shown["cookie"]["value"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
}

async fn a_leader_verifies_a_hazard_from_the_grid(backend: Backend) {
    let app = demo(backend).await;
    let worker = token(&app, "worker").await;
    let (lon, lat) = centre(GRID);
    let id = create(
        &app,
        &worker,
        json!({
            "kind": "risk_inspection", "title": "楼道堆放杂物",
            "location": { "lon": lon, "lat": lat, "accuracy_m": 5.0, "crs": "wgs84" },
            "inspection": {
                "hazard_type": "fire", "risk_level": "high",
                "findings": "三单元楼道堆放纸箱，堵塞疏散通道", "rectification": "",
            },
        }),
    )
    .await;

    let shown = in_browser(
        &app,
        "leader",
        "leader-verifies",
        json!({
            "grids": true,
            "record": id, "action": "verify", "fields": { "note": "现场核实属实" },
        }),
    )
    .await;

    // The leader's grids are drawn on the map, the busiest one's register beside it.
    let leader = token(&app, "leader").await;
    let grids: Value = app
        .get("/api/v1/grids?level=grid", Some(&leader))
        .await
        .json()
        .await
        .unwrap();
    let grids = grids["features"].as_array().unwrap();
    assert_eq!(shown["drawn_grids"], grids.len(), "{shown}");
    assert!(
        grids
            .iter()
            .any(|g| g["properties"]["name"] == shown["register"]),
        "{shown}"
    );
    assert_eq!(shown["actions"], json!(["verify", "return_to_worker"]));
    assert_eq!(shown["record_status"], "已核实");
    assert_eq!(status(&app, &worker, &id).await, "verified");
}

/// A tile server on its own port (another origin): every request gets the same small PNG.
/// Returns its address and how many tiles it served.
async fn tile_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    let tile = gridsync_server::demo::demo_photo();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (tile, count) = (tile.clone(), count.clone());
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\n\
                     access-control-allow-origin: *\r\nconnection: close\r\n\r\n",
                    tile.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&tile).await;
            });
        }
    });
    (address, served)
}

async fn a_configured_basemap_is_drawn_under_the_grids(backend: Backend) {
    let (tiles, served) = tile_server().await;
    let template = format!("{tiles}/{{z}}/{{x}}/{{y}}.png");
    let basemap = gridsync_server::configuration::Basemap::parse(&template).unwrap();
    let app = TestApp::spawn_with(backend, |s| {
        s.demo = true;
        s.basemap = Some(basemap);
        s.basemap_attribution = Some("© 四平市自然资源局 <测绘>".into());
    })
    .await;

    let shown = in_browser(&app, "leader", "leader-basemap", json!({ "grids": true })).await;

    // Drawn with no policy violation (the page logged no error) and the tiles fetched.
    assert!(shown["drawn_grids"].as_u64().unwrap() > 0, "{shown}");
    assert!(
        served.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "no tile was fetched"
    );
    assert_eq!(shown["attribution"], "© 四平市自然资源局 <测绘>");
}

async fn a_department_signs_for_its_case(backend: Backend) {
    let app = demo(backend).await;
    let desk = token(&app, "dispatcher").await;
    let id = complaint(&app, &desk, "夜间工地噪音扰民").await;
    act(&app, &desk, &id, json!({ "action": "accept" })).await;
    // The record's page tells the desk where a dispatch would go by the demo's rules.
    let offered: Value = app
        .get(&format!("/api/v1/records/{id}/actions"), Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(offered["dispatch"]["lead"], "environment", "{offered}");
    assert!(
        offered["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("dispatch"))
    );
    act(
        &app,
        &desk,
        &id,
        json!({ "action": "dispatch", "lead": "environment" }),
    )
    .await;

    let shown = in_browser(
        &app,
        "department",
        "department-signs-for",
        json!({ "record": id, "action": "sign_for", "fields": { "note": "已签收，安排执法人员" } }),
    )
    .await;

    assert_eq!(shown["record_status"], "已签收");
    assert_eq!(status(&app, &desk, &id).await, "signed_for");
}

async fn a_department_reports_its_result_with_a_photo(backend: Backend) {
    let app = demo(backend).await;
    let desk = token(&app, "dispatcher").await;
    let department = token(&app, "department").await;
    let id = dispatched(&app, &desk, "小区门口路面塌陷").await;
    for step in [
        json!({ "action": "sign_for" }),
        json!({ "action": "reply", "note": "已安排抢修" }),
        json!({ "action": "start_handling" }),
    ] {
        act(&app, &department, &id, step).await;
    }
    // The demo's picture with bytes after its end: a file the server has not seen.
    let mut photo = gridsync_server::demo::demo_photo();
    photo.extend_from_slice(b" repaired pavement");
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("修复后.png");
    std::fs::write(&file, &photo).unwrap();

    let shown = in_browser(
        &app,
        "department",
        "department-reports-result",
        json!({
            "record": id,
            "action": "report_result",
            "fields": { "outcome": "resolved", "explanation": "已回填压实并恢复路面" },
            "files": { "photos": [file] },
        }),
    )
    .await;

    assert_eq!(shown["record_status"], "已办结");
    let record: Value = app
        .get(&format!("/api/v1/records/{id}"), Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["workflow"]["status"], "result_reported");
    let sha = sync_core::sha256_hex(&photo);
    assert_eq!(
        record["attachments"][&sha]["caption"], "处理结果",
        "{record}"
    );
    assert_eq!(record["attachments"][&sha]["mime_type"], "image/png");
    assert_eq!(shown["photos"], json!([sha]), "the page shows the photo");
}

async fn a_supervisor_supervises_an_open_case(backend: Backend) {
    let app = demo(backend).await;
    let desk = token(&app, "dispatcher").await;
    let supervisor = token(&app, "supervisor").await;
    let id = dispatched(&app, &desk, "垃圾清运不及时").await;

    let shown = in_browser(
        &app,
        "supervisor",
        "supervisor-supervises",
        json!({
            "city": true,
            "reports": true,
            "record": id, "action": "supervise", "fields": { "note": "请加快办理" },
            "supervision": true,
        }),
    )
    .await;

    // The city screen drew every grid of the city and the same figures the API gives.
    let outlines: Value = app
        .get("/api/v1/grids/outlines", Some(&supervisor))
        .await
        .json()
        .await
        .unwrap();
    let figures: Value = app
        .get("/api/v1/dashboard", Some(&supervisor))
        .await
        .json()
        .await
        .unwrap();
    let city = &shown["city"];
    assert_eq!(
        city["drawn_grids"],
        outlines["features"].as_array().unwrap().len(),
        "{shown}"
    );
    assert_eq!(city["open"], figures["open"]["complaints"]);
    assert_eq!(city["open_hazards"], figures["open"]["hazards"]);
    assert_eq!(city["latest"], figures["latest"].as_array().unwrap().len());

    // The month's report drew its charts and tables, and its workbook downloads and opens.
    assert_eq!(shown["report_tables"], 4, "{shown}");
    let sheets = shown["workbook_sheets"].as_array().unwrap();
    assert!(sheets.contains(&json!("三率")), "{sheets:?}");
    let name = shown["workbook_name"].as_str().unwrap();
    assert!(
        name.starts_with("report-") && name.ends_with(".xlsx"),
        "{shown}"
    );

    assert_eq!(shown["notice"], "已督办");
    let notices: Value = app
        .get(
            &format!("/api/v1/supervision-notices?record={id}"),
            Some(&supervisor),
        )
        .await
        .json()
        .await
        .unwrap();
    let notices = notices["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["subject"], "manual");
    // The supervision page lists the notice with a link to its case.
    assert!(
        shown["notice_links"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("#/record/{id}"))),
        "{shown}"
    );
}

async fn an_admin_keeps_accounts_departments_and_categories(backend: Backend) {
    let app = demo(backend).await;
    let shown = in_browser(
        &app,
        "admin",
        "admin-creates-account",
        json!({
            "new_user": {
                "username": "zhang", "password": "zhang-password", "role": "grid_worker",
                "areas": GRID,
            },
            "reset_password": { "username": "worker", "password": "a-new-password-1" },
            "department": {
                "code": "water", "name": "四平市水务集团", "areas": "220302, 220303",
                "contacts": "值班室 0434-3271234 24小时值班",
            },
            "category": {
                "code": "municipal.bus_shelter", "name": "公交候车亭破损", "department": "water",
                "deadline_class": "urgent", "keywords": "候车亭, 站牌",
            },
        }),
    )
    .await;

    assert_eq!(shown["admin_notice"], "zhang 已停用", "{shown}");
    let user = app.store.user_by_name("zhang").await.unwrap().unwrap();
    assert_eq!(user.role, gridsync_server::domain::Role::GridWorker);
    assert_eq!(user.areas, vec![GRID.to_string()]);
    assert!(!user.active);
    // The reset password logs in; the old one no longer does.
    let login = |password: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/login",
                None,
                &json!({ "username": "worker", "password": password }),
            )
            .await
            .status()
        }
    };
    assert_eq!(login("a-new-password-1").await, 200, "{shown}");
    assert_eq!(login(password("worker")).await, 401);
    let admin = token(&app, "admin").await;
    let water: Value = app
        .get("/api/v1/departments/water", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(water["name"], "四平市水务集团");
    assert_eq!(water["areas"], json!(["220302", "220303"]));
    assert_eq!(
        water["contacts"],
        json!([{ "name": "值班室", "phone": "0434-3271234", "duty": "24小时值班" }])
    );
    let shelter: Value = app
        .get("/api/v1/categories/municipal.bus_shelter", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &shelter["name"],
            &shelter["department"],
            &shelter["deadline_class"],
            &shelter["keywords"],
            &shelter["active"],
        ),
        (
            &json!("公交候车亭破损"),
            &json!("water"),
            &json!("urgent"),
            &json!(["候车亭", "站牌"]),
            &json!(false),
        ),
        "{shelter}"
    );
}

async fn the_desk_links_a_duplicate_from_the_hints_beside_it(backend: Backend) {
    let app = demo(backend).await;
    let desk = token(&app, "dispatcher").await;
    let first = complaint(&app, &desk, "广场舞音响扰民").await;
    let again = complaint(&app, &desk, "晚上广场音响太吵").await;

    let shown = in_browser(
        &app,
        "dispatcher",
        "desk-links-duplicate",
        json!({ "record": again, "duplicate_of": first }),
    )
    .await;

    assert_eq!(shown["prefilled"], first, "{shown}");
    assert_eq!(shown["notice"], "已合并重复");
    assert_eq!(status(&app, &desk, &again).await, "closed");
    let case: Value = app
        .get(&format!("/api/v1/records/{again}/case"), Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(case["duplicate_of"], first);
    assert_eq!(status(&app, &desk, &first).await, "received");
}

async fn the_desk_dispatches_where_the_form_says_the_rules_send_it(backend: Backend) {
    let app = demo(backend).await;
    let desk = token(&app, "dispatcher").await;
    let id = complaint(&app, &desk, "夜里工地打桩").await;
    act(&app, &desk, &id, json!({ "action": "accept" })).await;

    let shown = in_browser(
        &app,
        "dispatcher",
        "desk-dispatches",
        json!({ "record": id, "action": "dispatch", "fields": { "note": "请尽快核查" } }),
    )
    .await;

    assert_eq!(
        shown["lead_blank"], "按派单规则：四平市生态环境局",
        "{shown}"
    );
    assert_eq!(shown["record_status"], "已派单");
    let case: Value = app
        .get(&format!("/api/v1/records/{id}/case"), Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(case["lead_department"], "environment");
    assert_eq!(status(&app, &desk, &id).await, "dispatched");
}

/// A worker, offline, reclassifies a complaint while the desk accepts it under another
/// category: the desk's value stands, and the record's page shows the desk the overruled value
/// as a marked timeline entry.
async fn the_desk_sees_a_workers_overruled_category_marked_in_the_timeline(backend: Backend) {
    let app = demo(backend).await;
    let desk = token(&app, "dispatcher").await;
    let (mut worker, _, id) = crate::sync::category_overruled_by_the_desk(&app, &desk).await;
    assert_eq!(worker.sync_all(&app).await.conflicts.len(), 1);

    let shown = in_browser(
        &app,
        "dispatcher",
        "desk-sees-conflict",
        json!({ "record": id.to_string() }),
    )
    .await;

    assert_eq!(
        shown["conflicts"],
        json!(["同时修改「分类」：保留 路灯照明（dispatcher），未采用 排水管网（wang）"]),
        "{shown}"
    );
    assert_ne!(shown["conflict_colour"], shown["event_colour"], "{shown}");
    assert_eq!(
        shown["events"],
        json!(["登记", "确定所属网格", "备注", "受理", "同时修改"]),
        "every event in words, none as its code: {shown}"
    );
    assert_eq!(shown["errors"], json!([]), "{shown}");
}

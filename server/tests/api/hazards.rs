//! The hazard loop over HTTP: a worker's risk inspection is verified or returned by the grid's
//! leaders, settled in the grid or escalated, dispatched for rectification within its risk
//! level's deadline, rectified, and re-inspected on site; every refused step changes nothing.

use std::time::Duration;

use gridsync_server::domain::Role;
use gridsync_server::workflow::scheduler::sweep;
use serde_json::{Value, json};

use crate::helpers::{TestApp, add_counts, assert_problem, instance};
use gridsync_test_macros::both_backends;

const GRID: &str = "22030200100101";
const OTHER_GRID: &str = "22030300200204";
const DAY_MS: i64 = 24 * 3600 * 1000;

fn centre(code: &str) -> (f64, f64) {
    let area = gridsync_server::demo::areas()
        .into_iter()
        .find(|a| a.code == code)
        .unwrap();
    (
        (area.bbox[0] + area.bbox[2]) / 2.0,
        (area.bbox[1] + area.bbox[3]) / 2.0,
    )
}

/// The people of the loop: the grid's worker and leader, those of another grid, the desk and
/// the housing bureau's account.
struct Grid {
    app: TestApp,
    worker: String,
    leader: String,
    other_worker: String,
    other_leader: String,
    desk: String,
    housing: String,
}

impl Grid {
    async fn new(app: TestApp) -> Grid {
        app.load_demo_map().await;
        let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
        let housing = app
            .department_account("housing", "住建局", &["2203"], "hou")
            .await;
        Grid {
            worker: app.user_token("wang", Role::GridWorker, &[GRID]).await,
            leader: app.user_token("li", Role::GridLeader, &[GRID]).await,
            other_worker: app
                .user_token("zhao", Role::GridWorker, &[OTHER_GRID])
                .await,
            other_leader: app.user_token("sun", Role::GridLeader, &[OTHER_GRID]).await,
            housing,
            desk,
            app,
        }
    }

    /// A risk inspection recorded by the grid's worker; returns its id.
    async fn hazard(&self, level: &str) -> String {
        let (lon, lat) = centre(GRID);
        let created = self
            .app
            .post(
                "/api/v1/records",
                Some(&self.worker),
                &json!({
                    "kind": "risk_inspection", "title": "楼道堆放杂物",
                    "location": { "lon": lon, "lat": lat, "accuracy_m": 5.0, "crs": "wgs84" },
                    "inspection": {
                        "hazard_type": "fire", "risk_level": level,
                        "findings": "三单元楼道堆放纸箱，堵塞疏散通道", "rectification": "",
                    },
                }),
            )
            .await;
        assert_eq!(created.status(), 201);
        created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The worker's evidence photo of the hazard, taken on the phone and synced: its sha256.
    async fn evidence(&self, id: &str) -> String {
        let mut phone = crate::sync::Phone {
            store: sync_core::Store::open_in_memory("wang", "wang-phone").unwrap(),
            token: self.worker.clone(),
            device: "wang-phone".into(),
        };
        phone.sync_all(&self.app).await;
        let id: sync_core::RecordId = id.parse().unwrap();
        let photo = phone
            .store
            .attach(
                &id,
                &crate::sync::jpeg(2_000),
                "image/jpeg",
                Some("现场照片"),
            )
            .unwrap();
        phone.sync_all(&self.app).await;
        photo.sha256
    }

    async fn act(&self, id: &str, token: &str, body: Value) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/records/{id}/transitions"),
                Some(token),
                &body,
            )
            .await
    }

    async fn step(&self, id: &str, token: &str, body: Value) -> Value {
        let response = self.act(id, token, body.clone()).await;
        let status = response.status();
        let value: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body} → {value}");
        value
    }

    async fn record(&self, id: &str) -> Value {
        self.app
            .get(&format!("/api/v1/records/{id}"), Some(&self.desk))
            .await
            .json()
            .await
            .unwrap()
    }
}

#[both_backends]
async fn a_hazard_goes_from_report_to_rectification_and_re_inspection(app: TestApp) {
    let grid = Grid::new(app).await;
    let id = grid.hazard("high").await;

    // The leader sends it back for what is missing; the worker amends and submits again.
    grid.step(
        &id,
        &grid.leader,
        json!({ "action": "return_to_worker", "note": "请补充现场照片和楼栋号" }),
    )
    .await;
    let resubmitted = grid
        .step(
            &id,
            &grid.worker,
            json!({ "action": "resubmit", "note": "已补充" }),
        )
        .await;
    assert_eq!(resubmitted["record"]["workflow"]["status"], "received");
    grid.step(&id, &grid.leader, json!({ "action": "verify" }))
        .await;
    grid.step(
        &id,
        &grid.leader,
        json!({ "action": "escalate", "note": "需物业和消防联合整改" }),
    )
    .await;

    // The desk dispatches: rectification due within the high-risk class, three working days.
    let dispatched = grid
        .step(
            &id,
            &grid.desk,
            json!({ "action": "dispatch", "lead": "housing" }),
        )
        .await;
    let case = &dispatched["case"];
    assert_eq!(
        (
            case["deadline_class"].as_str(),
            case["lead_department"].as_str(),
            case["response_due"].as_i64()
        ),
        (Some("rectify_high"), Some("housing"), None)
    );
    let first_deadline = case["deadline"].as_i64().unwrap();
    let dispatched_at = case["dispatched_at"].as_i64().unwrap();
    assert!(
        first_deadline > dispatched_at + 2 * DAY_MS && first_deadline < dispatched_at + 8 * DAY_MS
    );

    // Rectified, but the re-inspection on site finds it not fixed: back to housing, counted.
    grid.step(
        &id,
        &grid.housing,
        json!({ "action": "report_rectification", "note": "已清理杂物" }),
    )
    .await;
    let not_fixed = grid
        .step(
            &id,
            &grid.worker,
            json!({ "action": "reinspect", "fixed": false, "note": "又堆上了" }),
        )
        .await;
    assert_eq!(
        (
            not_fixed["record"]["workflow"]["status"].as_str(),
            not_fixed["case"]["returns"].as_i64(),
            not_fixed["case"]["result_at"].as_i64()
        ),
        (Some("dispatched"), Some(1), None)
    );
    grid.step(
        &id,
        &grid.housing,
        json!({ "action": "report_rectification", "note": "清理并张贴禁止堆放告示" }),
    )
    .await;
    let fixed = grid
        .step(
            &id,
            &grid.worker,
            json!({ "action": "reinspect", "fixed": true }),
        )
        .await;
    assert_eq!(fixed["record"]["workflow"]["status"], "closed");
    let kinds: Vec<&str> = fixed["record"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.ends_with(&[
            "returned_to_worker",
            "resubmitted",
            "verified",
            "escalated",
            "dispatched",
            "rectified",
            "reinspected_not_fixed",
            "rectified",
            "reinspected_fixed"
        ]),
        "{kinds:?}"
    );
}

#[both_backends]
async fn a_small_hazard_is_settled_in_the_grid_and_a_missed_rectification_is_supervised(
    app: TestApp,
) {
    let grid = Grid::new(app).await;
    let small = grid.hazard("low").await;
    grid.step(&small, &grid.leader, json!({ "action": "verify" }))
        .await;
    let no_such_photo = grid
        .act(
            &small,
            &grid.leader,
            json!({ "action": "resolve_in_grid", "note": "已劝离", "evidence": "ab".repeat(32) }),
        )
        .await;
    assert_problem(no_such_photo, 422, "unknown_attachment").await;
    let no_photo = grid
        .act(
            &small,
            &grid.leader,
            json!({ "action": "resolve_in_grid", "note": "网格长上门劝导，已清理" }),
        )
        .await;
    assert_problem(no_photo, 422, "missing_evidence").await;
    let photo = grid.evidence(&small).await;
    let settled = grid
        .step(
            &small,
            &grid.leader,
            json!({ "action": "resolve_in_grid", "note": "网格长上门劝导，已清理", "evidence": photo }),
        )
        .await;
    assert_eq!(settled["record"]["workflow"]["status"], "resolved_in_grid");

    // A critical hazard nobody rectifies: the sweep supervises its rectification deadline.
    let critical = grid.hazard("critical").await;
    grid.step(&critical, &grid.leader, json!({ "action": "verify" }))
        .await;
    grid.step(
        &critical,
        &grid.leader,
        json!({ "action": "escalate", "note": "燃气管道老化" }),
    )
    .await;
    let dispatched = grid
        .step(
            &critical,
            &grid.desk,
            json!({ "action": "dispatch", "lead": "housing" }),
        )
        .await;
    let due = dispatched["case"]["deadline"].as_i64().unwrap();
    assert_eq!(
        due - dispatched["case"]["dispatched_at"].as_i64().unwrap(),
        24 * 3600 * 1000,
        "critical: within 24 hours"
    );
    let server = instance(&grid.app).await;
    let swept = sweep(&server, "a", due + 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(swept.issued, 1);
    let notices: Value = grid
        .app
        .get(
            &format!("/api/v1/supervision-notices?record={critical}"),
            Some(&grid.desk),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            notices["notices"][0]["subject"].as_str(),
            notices["notices"][0]["department"].as_str()
        ),
        (Some("result"), Some("housing"))
    );
    // A missed rectification is the hazard loop's, not a complaint's: the complaint points of
    // the month do not count it.
    let (y, m, _) = gridsync_server::workflow::calendar::Date::of_instant(due + 1).ymd();
    let report: Value = grid
        .app
        .get(
            &format!("/api/v1/reports/monthly/{y:04}-{m:02}"),
            Some(&grid.desk),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["overdue"], json!([]));
    assert!(
        report["department_scores"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["overdue"] == 0)
    );
}

#[both_backends]
async fn a_step_by_the_wrong_role_grid_or_order_is_refused_and_changes_nothing(app: TestApp) {
    let grid = Grid::new(app).await;
    let id = grid.hazard("medium").await;
    let (lon, lat) = centre(GRID);
    let complaint: Value = grid
        .app
        .post(
            "/api/v1/records",
            Some(&grid.desk),
            &json!({
                "kind": "complaint", "title": "路灯不亮", "channel": "hotline",
                "category": "municipal.lighting",
                "location": { "lon": lon, "lat": lat, "accuracy_m": null, "crs": "wgs84" },
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let complaint = complaint["id"].as_str().unwrap();
    let before = grid.record(&id).await;

    let refusals = [
        (
            &grid.other_leader,
            json!({ "action": "verify" }),
            403,
            "forbidden",
        ),
        (
            &grid.worker,
            json!({ "action": "verify" }),
            403,
            "forbidden",
        ),
        (&grid.desk, json!({ "action": "verify" }), 403, "forbidden"),
        (
            &grid.leader,
            json!({ "action": "escalate", "note": "x" }),
            409,
            "invalid_transition",
        ),
        (
            &grid.desk,
            json!({ "action": "dispatch", "lead": "housing" }),
            409,
            "invalid_transition",
        ),
        (
            &grid.other_worker,
            json!({ "action": "reinspect", "fixed": true }),
            403,
            "forbidden",
        ),
        (
            &grid.worker,
            json!({ "action": "reinspect", "fixed": true }),
            409,
            "invalid_transition",
        ),
        (
            &grid.housing,
            json!({ "action": "report_rectification", "note": "x" }),
            403,
            "forbidden",
        ),
        (
            &grid.desk,
            json!({ "action": "accept" }),
            422,
            "not_a_complaint",
        ),
        (
            &grid.leader,
            json!({ "action": "return_to_worker", "note": " " }),
            422,
            "missing_text",
        ),
    ];
    for (token, body, status, code) in refusals {
        let refused = grid.act(&id, token, body.clone()).await;
        assert_eq!(refused.status().as_u16(), status, "{body}");
        assert_problem(refused, status, code).await;
    }
    let on_complaint = grid
        .act(complaint, &grid.desk, json!({ "action": "verify" }))
        .await;
    assert_problem(on_complaint, 403, "forbidden").await;
    let by_leader_on_complaint = grid
        .act(
            complaint,
            &grid.leader,
            json!({ "action": "escalate", "note": "x" }),
        )
        .await;
    assert_problem(by_leader_on_complaint, 422, "not_a_hazard").await;
    assert_eq!(grid.record(&id).await, before);
}

/// `(id, status, actions, deadline)` of the caller's queue.
async fn queue(grid: &Grid, token: &str) -> Vec<(String, String, Vec<String>, Option<i64>)> {
    let answer: Value = grid
        .app
        .get("/api/v1/queue", Some(token))
        .await
        .json()
        .await
        .unwrap();
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
                i["actions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
                i["deadline"].as_i64(),
            )
        })
        .collect()
}

#[both_backends]
async fn each_person_s_queue_holds_what_awaits_their_decision_in_their_grids(app: TestApp) {
    let grid = Grid::new(app).await;
    let first = grid.hazard("medium").await;
    let second = grid.hazard("high").await;
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // Two new reports wait on the grid's leader, oldest first; nothing on the other grid's.
    assert_eq!(
        queue(&grid, &grid.leader).await,
        [
            (
                first.clone(),
                "received".into(),
                strings(&["verify", "return_to_worker"]),
                None
            ),
            (
                second.clone(),
                "received".into(),
                strings(&["verify", "return_to_worker"]),
                None
            ),
        ]
    );
    assert_eq!(queue(&grid, &grid.other_leader).await, []);

    // One goes back to the worker; the other is escalated and waits on the desk, then on the
    // department with its rectification deadline.
    grid.step(
        &first,
        &grid.leader,
        json!({ "action": "return_to_worker", "note": "补充照片" }),
    )
    .await;
    grid.step(&second, &grid.leader, json!({ "action": "verify" }))
        .await;
    grid.step(
        &second,
        &grid.leader,
        json!({ "action": "escalate", "note": "需部门整改" }),
    )
    .await;
    assert_eq!(
        queue(&grid, &grid.worker).await,
        [(
            first.clone(),
            "returned".into(),
            strings(&["resubmit"]),
            None
        )]
    );
    assert_eq!(queue(&grid, &grid.other_worker).await, []);
    let desk = queue(&grid, &grid.desk).await;
    assert!(desk.contains(&(
        second.clone(),
        "escalated".into(),
        strings(&["dispatch"]),
        None
    )));
    let dispatched = grid
        .step(
            &second,
            &grid.desk,
            json!({ "action": "dispatch", "lead": "housing" }),
        )
        .await;
    assert_eq!(
        queue(&grid, &grid.housing).await,
        [(
            second.clone(),
            "dispatched".into(),
            strings(&["report_rectification"]),
            dispatched["case"]["deadline"].as_i64()
        )]
    );
    assert_eq!(queue(&grid, &grid.leader).await, []);
}

/// The demo city, from `serve --demo`: hazards at every stage wait in each person's queue.
async fn demo_hazards(backend: crate::helpers::Backend) {
    let app = TestApp::spawn_with(backend, |s| s.demo = true).await;
    let mut queues = std::collections::BTreeMap::new();
    let mut tokens = std::collections::BTreeMap::new();
    for (username, password, ..) in gridsync_server::demo::DEMO_ACCOUNTS {
        let body: Value = app
            .post(
                "/api/v1/auth/login",
                None,
                &json!({ "username": username, "password": password }),
            )
            .await
            .json()
            .await
            .unwrap();
        let token = body["token"].as_str().unwrap().to_string();
        tokens.insert(username, token.clone());
        let queue: Value = app
            .get("/api/v1/queue", Some(&token))
            .await
            .json()
            .await
            .unwrap();
        let mut statuses: Vec<String> = queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == "risk_inspection")
            .map(|i| i["status"].as_str().unwrap().to_string())
            .collect();
        statuses.sort();
        queues.insert(username, statuses);
    }
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // The leader reviews the two new reports and decides on the verified one; the worker
    // amends the returned one and re-inspects the rectified one; the desk dispatches the
    // escalated one; the environment bureau rectifies the one it holds.
    assert_eq!(
        queues["leader"],
        strings(&["received", "received", "verified"])
    );
    assert_eq!(queues["worker"], strings(&["rectified", "returned"]));
    assert_eq!(queues["dispatcher"], strings(&["escalated"]));
    assert_eq!(queues["department"], strings(&["dispatched"]));
    assert_eq!(queues["supervisor"], Vec::<String>::new());

    // The hazard settled in the grid carries its evidence photo, which the server holds.
    let desk = &tokens["dispatcher"];
    let settled: Value = app
        .get(
            "/api/v1/records?kind=risk_inspection&status=resolved_in_grid",
            Some(desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = settled["records"][0]["id"]
        .as_str()
        .expect("a settled hazard");
    let record: Value = app
        .get(&format!("/api/v1/records/{id}"), Some(desk))
        .await
        .json()
        .await
        .unwrap();
    let (sha, attachment) = record["attachments"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .expect("the evidence photo");
    assert_eq!(attachment["mime_type"], "image/png");
    assert_eq!(record["missing_blobs"], json!([]));
    let photo = app.get(&format!("/api/v1/blobs/{sha}"), Some(desk)).await;
    assert_eq!(photo.status(), 200);
    assert_eq!(photo.headers()["content-type"], "image/png");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_has_hazards_waiting_at_every_stage_sqlite() {
    demo_hazards(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_has_hazards_waiting_at_every_stage_postgres() {
    demo_hazards(crate::helpers::Backend::Postgres).await;
}

#[both_backends]
async fn a_grid_s_register_holds_its_people_households_and_what_lies_open_in_it(app: TestApp) {
    let grid = Grid::new(app).await;
    let gis = grid.app.user_token("gis", Role::Gis, &[]).await;
    grid.hazard("high").await;
    let verified = grid.hazard("medium").await;
    grid.step(&verified, &grid.leader, json!({ "action": "verify" }))
        .await;
    let register = json!({
        "households": 312,
        "population": 868,
        "people": [
            { "title": "网格长", "name": "李明", "username": "li" },
            { "title": "网格员", "name": "王芳", "phone": "13904341002", "username": "wang" },
            { "title": "楼栋长", "name": "赵刚" },
        ],
    });
    let put = |token: String, body: Value| {
        let app = &grid.app;
        async move {
            app.send_json(
                reqwest::Method::PUT,
                &format!("/api/v1/grids/{GRID}/register"),
                Some(&token),
                &body,
            )
            .await
        }
    };
    let by_leader = put(grid.leader.clone(), register.clone()).await;
    let stranger = put(
        gis.clone(),
        json!({ "people": [{ "title": "网格员", "name": "某某", "username": "nobody" }] }),
    )
    .await;
    let negative = put(gis.clone(), json!({ "households": -1 })).await;
    assert_problem(by_leader, 403, "forbidden").await;
    assert_problem(stranger, 422, "unknown_user").await;
    assert_problem(negative, 422, "invalid_register").await;
    assert_eq!(put(gis.clone(), register).await.status(), 200);

    let read: Value = grid
        .app
        .get(
            &format!("/api/v1/grids/{GRID}/register"),
            Some(&grid.leader),
        )
        .await
        .json()
        .await
        .unwrap();
    let titles: Vec<(&str, &str)> = read["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["title"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        titles,
        [("网格长", "李明"), ("网格员", "王芳"), ("楼栋长", "赵刚")]
    );
    assert_eq!(
        (read["households"].as_i64(), read["population"].as_i64()),
        (Some(312), Some(868))
    );
    assert_eq!(
        read["open_hazards"],
        json!({
            "by_level": { "high": 1, "medium": 1 },
            "by_status": { "received": 1, "verified": 1 },
        })
    );
    // This month's three rates of the grid, as the monthly report counts them: no complaint of
    // the grid has fallen due or been evaluated, so none has a sample.
    assert_eq!(
        (
            read["rates"]["response"].clone(),
            read["rates"]["resolution"].clone(),
            read["rates"]["satisfaction"].clone()
        ),
        (Value::Null, Value::Null, Value::Null)
    );
    assert_eq!(read["rates"]["month"].as_str().map(str::len), Some(7));
    // The worker made the two reports today (the last of the 30 days); the leader made none.
    let activity = |username: &str| {
        read["activity"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["username"] == username)
            .cloned()
            .unwrap()
    };
    let (wang, li) = (activity("wang"), activity("li"));
    let days = wang["records_per_day"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days.iter().map(|d| d.as_i64().unwrap()).sum::<i64>(), 2);
    // Last seen is in Unix milliseconds whether it came from a record or (the leader's, who
    // made none) from a login: both within the test's own run.
    let started_ms = (gridsync_server::domain::now_unix() - 3600) * 1000;
    for seen in [&wang["last_seen"], &li["last_seen"]] {
        let seen = seen.as_i64().unwrap();
        assert!(
            seen >= started_ms && seen <= started_ms + 7_200_000,
            "{seen}"
        );
    }
    assert!(
        li["records_per_day"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d == 0)
    );
    let elsewhere = grid
        .app
        .get(
            &format!("/api/v1/grids/{GRID}/register"),
            Some(&grid.other_leader),
        )
        .await;
    assert_problem(elsewhere, 403, "forbidden").await;
}

#[both_backends]
async fn the_month_counts_every_step_of_the_loop_and_judges_each_rectification_once(app: TestApp) {
    let grid = Grid::new(app).await;
    let started = gridsync_server::workflow::calendar::Date::of_instant(sync_core::now_ms());
    // Rectified on time, found not fixed, rectified again and fixed.
    let returned = grid.hazard("high").await;
    grid.step(
        &returned,
        &grid.leader,
        json!({ "action": "return_to_worker", "note": "补充" }),
    )
    .await;
    grid.step(&returned, &grid.worker, json!({ "action": "resubmit" }))
        .await;
    grid.step(&returned, &grid.leader, json!({ "action": "verify" }))
        .await;
    grid.step(
        &returned,
        &grid.leader,
        json!({ "action": "escalate", "note": "上报" }),
    )
    .await;
    grid.step(
        &returned,
        &grid.desk,
        json!({ "action": "dispatch", "lead": "housing" }),
    )
    .await;
    for fixed in [false, true] {
        grid.step(
            &returned,
            &grid.housing,
            json!({ "action": "report_rectification", "note": "已整改" }),
        )
        .await;
        grid.step(
            &returned,
            &grid.worker,
            json!({ "action": "reinspect", "fixed": fixed }),
        )
        .await;
    }
    // Settled in the grid.
    let small = grid.hazard("low").await;
    grid.step(&small, &grid.leader, json!({ "action": "verify" }))
        .await;
    let photo = grid.evidence(&small).await;
    grid.step(
        &small,
        &grid.leader,
        json!({ "action": "resolve_in_grid", "note": "已劝离", "evidence": photo }),
    )
    .await;
    // Nobody rectifies the critical one: its deadline is missed.
    let critical = grid.hazard("critical").await;
    grid.step(&critical, &grid.leader, json!({ "action": "verify" }))
        .await;
    grid.step(
        &critical,
        &grid.leader,
        json!({ "action": "escalate", "note": "燃气" }),
    )
    .await;
    let dispatched = grid
        .step(
            &critical,
            &grid.desk,
            json!({ "action": "dispatch", "lead": "housing" }),
        )
        .await;
    let due = dispatched["case"]["deadline"].as_i64().unwrap();
    let server = instance(&grid.app).await;
    sweep(&server, "a", due + 1, Duration::from_secs(60))
        .await
        .unwrap();

    let reports = grid
        .app
        .monthly_reports(&grid.desk, started.start_ms(), due)
        .await;
    let total = add_counts(reports.iter().map(|r| &r["hazards"]["total"]));

    assert_eq!(
        total,
        json!({
            "found": 3, "verified": 3, "returned": 1, "resolved_in_grid": 1, "escalated": 2,
            "dispatched": 2, "rectified_on_time": 2, "rectified_late": 0, "overdue": 1,
            "reinspected": 2, "failed_reinspections": 1,
            "fixed_on_time": 1, "reinspected_on_time": 2,
        })
    );
    // 整改率 = 1 / (2 + 1), charged to housing; found by level; every region up from the grid.
    let housing = group_totals(&reports, "by_department", "housing");
    assert_eq!(
        (
            housing["fixed_on_time"].as_u64(),
            housing["reinspected_on_time"].as_u64(),
            housing["overdue"].as_u64()
        ),
        (Some(1), Some(2), Some(1))
    );
    let named = reports
        .iter()
        .flat_map(|r| r["hazards"]["by_department"].as_array().unwrap().clone())
        .find(|g| g["code"] == "housing")
        .unwrap();
    assert_eq!(named["name"], "住建局");
    for (level, found) in [("critical", 1), ("high", 1), ("low", 1), ("medium", 0)] {
        assert_eq!(
            group_totals(&reports, "by_risk_level", level)["found"],
            found,
            "{level}"
        );
    }
    let in_grid = group_totals(&reports, "by_region", GRID);
    assert_eq!(
        (in_grid["found"].as_u64(), in_grid["overdue"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(group_totals(&reports, "by_type", "fire")["found"], 3);
    let first = &reports[0]["hazards"];
    assert_eq!(first["by_type"][0]["name"], "消防安全");
    assert_eq!(
        first["by_risk_level"][0]["name"], "重大",
        "the gravest level first"
    );
    if reports.len() == 1 {
        assert_eq!(first["rectification"]["rate"], 1.0 / 3.0);
    }

    // The workbook's sheet says the same, read back by a spreadsheet reader.
    let month = reports[0]["month"].as_str().unwrap();
    let xlsx = grid
        .app
        .get(
            &format!("/api/v1/reports/monthly/{month}?format=xlsx"),
            Some(&grid.desk),
        )
        .await
        .bytes()
        .await
        .unwrap();
    let workbook = crate::helpers::read_xlsx(&xlsx);
    let sheet = &workbook
        .iter()
        .find(|(n, _)| n == "隐患整改")
        .expect("the hazard sheet")
        .1;
    let column = |h: &str| sheet[0].iter().position(|x| x == h).unwrap();
    let total = &sheet[1];
    assert_eq!(
        (
            total[column("分组")].as_str(),
            total[column("发现")].as_str()
        ),
        ("合计", "3")
    );
    let grid_row = sheet
        .iter()
        .find(|r| r[column("编码")] == GRID)
        .expect("the grid's row, its code as text");
    assert_eq!(grid_row[column("分组")], "区域");
    assert!(sheet.iter().any(|r| r[column("名称")] == "住建局"));

    // The grid's register shows its hazard figures and rectification rate this month, as the
    // month's report counts them.
    let register: Value = grid
        .app
        .get(
            &format!("/api/v1/grids/{GRID}/register"),
            Some(&grid.leader),
        )
        .await
        .json()
        .await
        .unwrap();
    let month = register["rates"]["month"].as_str().unwrap();
    let report: Value = grid
        .app
        .get(
            &format!("/api/v1/reports/monthly/{month}"),
            Some(&grid.desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let in_report = report["hazards"]["by_region"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["code"] == GRID)
        .cloned()
        .unwrap_or(json!({ "tally": null, "rectification": null }));
    assert_eq!(register["rates"]["hazards"], in_report["tally"]);
    assert_eq!(
        register["rates"]["rectification"],
        in_report["rectification"]
    );
    if month == reports[0]["month"] {
        assert_eq!(register["rates"]["hazards"]["found"], 3);
    }
}

/// A group's tally added up over `reports` (`{"found": 0}` when no report has it).
fn group_totals(reports: &[Value], grouping: &str, code: &str) -> Value {
    let tallies: Vec<&Value> = reports
        .iter()
        .flat_map(|r| r["hazards"][grouping].as_array().unwrap())
        .filter(|g| g["code"] == code)
        .map(|g| &g["tally"])
        .collect();
    if tallies.is_empty() {
        return json!({ "found": 0 });
    }
    add_counts(tallies)
}

/// A hazard brought to `status` by the people whose steps lead there.
async fn hazard_at(grid: &Grid, status: &str) -> String {
    let id = grid.hazard("high").await;
    let path: &[(&str, Value)] = match status {
        "received" => &[],
        "returned" => &[(
            "leader",
            json!({ "action": "return_to_worker", "note": "补充" }),
        )],
        "verified" => &[("leader", json!({ "action": "verify" }))],
        "escalated" => &[
            ("leader", json!({ "action": "verify" })),
            ("leader", json!({ "action": "escalate", "note": "上报" })),
        ],
        "dispatched" | "rectified" => &[
            ("leader", json!({ "action": "verify" })),
            ("leader", json!({ "action": "escalate", "note": "上报" })),
            ("desk", json!({ "action": "dispatch", "lead": "housing" })),
        ],
        other => unreachable!("{other}"),
    };
    for (who, body) in path {
        let token = if *who == "leader" {
            &grid.leader
        } else {
            &grid.desk
        };
        grid.step(&id, token, body.clone()).await;
    }
    if status == "rectified" {
        let body = json!({ "action": "report_rectification", "note": "已整改" });
        grid.step(&id, &grid.housing, body).await;
    }
    id
}

#[both_backends]
async fn every_role_takes_only_its_own_steps_of_the_hazard_loop(app: TestApp) {
    let grid = Grid::new(app).await;
    // One account of each role, in the hazard's grid (the department one acts for housing).
    let mut accounts = Vec::new();
    for role in Role::ALL {
        let token = match role {
            Role::GridWorker => grid.worker.clone(),
            Role::GridLeader => grid.leader.clone(),
            Role::Dispatcher => grid.desk.clone(),
            Role::Department => grid.housing.clone(),
            _ => {
                let name = format!("r-{role}");
                grid.app.user_token(&name, role, &[GRID]).await
            }
        };
        accounts.push((role, token));
    }
    use Role::*;
    let steps: [(&str, Value, &[Role]); 9] = [
        (
            "received",
            json!({ "action": "verify" }),
            &[GridLeader, Admin],
        ),
        (
            "received",
            json!({ "action": "return_to_worker", "note": "补充" }),
            &[GridLeader, Admin],
        ),
        (
            "returned",
            json!({ "action": "resubmit" }),
            &[GridWorker, Admin],
        ),
        (
            "verified",
            json!({ "action": "resolve_in_grid", "note": "已化解" }),
            &[GridLeader, Admin],
        ),
        (
            "verified",
            json!({ "action": "escalate", "note": "上报" }),
            &[GridLeader, Admin],
        ),
        (
            "escalated",
            json!({ "action": "dispatch", "lead": "housing" }),
            &[Dispatcher, Admin],
        ),
        (
            "dispatched",
            json!({ "action": "report_rectification", "note": "已整改" }),
            &[Department, Admin],
        ),
        (
            "dispatched",
            json!({ "action": "supervise", "note": "请加快整改" }),
            &[Supervisor, Dispatcher, Admin],
        ),
        (
            "rectified",
            json!({ "action": "reinspect", "fixed": true }),
            &[GridWorker, Admin],
        ),
    ];
    let mut wrong = Vec::new();
    for (status, body, allowed) in &steps {
        for (role, token) in &accounts {
            let id = hazard_at(&grid, status).await;
            let mut body = body.clone();
            if body["action"] == "resolve_in_grid" {
                body["evidence"] = json!(grid.evidence(&id).await);
            }
            let before = grid.record(&id).await;
            let got = grid.act(&id, token, body.clone()).await.status().as_u16();
            let want = if allowed.contains(role) { 200 } else { 403 };
            if got != want {
                wrong.push(format!("{role} {body}: got {got}, want {want}"));
            }
            if want == 403 && grid.record(&id).await != before {
                wrong.push(format!("{role} {body}: refused but changed the record"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

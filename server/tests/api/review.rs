//! Grid leaders reviewing their workers' complaints before the desk, in the regions that ask
//! for it: verify (then the desk takes it), return to the worker with a note (amended and
//! submitted again from the phone), or settle it in the grid.

use gridsync_server::domain::Role;
use serde_json::{Value, json};
use sync_core::{Crs, FieldStep, RecordId, Status, Task};

use crate::helpers::{TestApp, add_counts, assert_problem};
use crate::sync::{Phone, centre};
use gridsync_test_macros::both_backends;

const GRID: &str = "22030200100101";
/// The county holding [`GRID`]: the region that asks for the leaders' review.
const COUNTY: &str = "220302";
const OTHER_GRID: &str = "22030300100103";

struct Review {
    app: TestApp,
    wang: Phone,
    zhao: Phone,
    leader: String,
    other_leader: String,
    desk: String,
    admin: String,
}

impl Review {
    async fn new(app: TestApp) -> Review {
        app.load_demo_map().await;
        let admin = app.user_token("root", Role::Admin, &[]).await;
        let put = app
            .send_json(
                reqwest::Method::PUT,
                "/api/v1/settings/leader-review",
                Some(&admin),
                &json!({ "areas": [COUNTY] }),
            )
            .await;
        assert_eq!(put.status(), 200);
        Review {
            wang: Phone::new(&app, "wang", Role::GridWorker, &[GRID]).await,
            zhao: Phone::new(&app, "zhao", Role::GridWorker, &[OTHER_GRID]).await,
            leader: app.user_token("li", Role::GridLeader, &[GRID]).await,
            other_leader: app.user_token("sun", Role::GridLeader, &[OTHER_GRID]).await,
            desk: app.user_token("zhou", Role::Dispatcher, &["2203"]).await,
            admin,
            app,
        }
    }

    async fn act(&self, id: RecordId, token: &str, body: Value) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/records/{id}/transitions"),
                Some(token),
                &body,
            )
            .await
    }

    async fn step(&self, id: RecordId, token: &str, body: Value) -> Value {
        let response = self.act(id, token, body.clone()).await;
        let status = response.status();
        let value: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body} → {value}");
        value
    }

    /// The ids and actions of the caller's queue.
    async fn queue(&self, token: &str) -> Vec<(String, Vec<String>)> {
        let queue: Value = self
            .app
            .get("/api/v1/queue", Some(token))
            .await
            .json()
            .await
            .unwrap();
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["id"].as_str().unwrap().to_string(),
                    i["actions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                )
            })
            .collect()
    }
}

fn listed(queue: &[(String, Vec<String>)], id: RecordId) -> Option<Vec<&str>> {
    queue
        .iter()
        .find(|(i, _)| *i == id.to_string())
        .map(|(_, actions)| actions.iter().map(String::as_str).collect())
}

/// A complaint a worker's phone records in its grid and syncs.
async fn complaint(phone: &mut Phone, app: &TestApp, grid: &str, title: &str) -> RecordId {
    let id = phone.complaint_at(title, centre(grid), Crs::Wgs84);
    phone.sync_all(app).await;
    id
}

/// The leaders' review figures of the monthly reports from the month of `from` to that of
/// now, added up, in total and the grid's.
async fn review_figures(review: &Review, from: i64) -> (Value, Value) {
    let reports = review
        .app
        .monthly_reports(&review.desk, from, sync_core::now_ms())
        .await;
    let total = add_counts(reports.iter().map(|r| &r["leader_review"]["total"]));
    let grid = add_counts(
        reports
            .iter()
            .flat_map(|r| r["leader_review"]["by_region"].as_array().unwrap())
            .filter(|g| g["code"] == GRID)
            .map(|g| &g["tally"]),
    );
    (total, grid)
}

#[both_backends]
async fn a_workers_complaint_goes_to_the_grid_leaders_before_the_desk(app: TestApp) {
    let mut review = Review::new(app).await;
    let started = sync_core::now_ms();
    let id = complaint(&mut review.wang, &review.app, GRID, "楼道灯不亮").await;

    // The desk waits; the leader's queue has it with the review's actions.
    let early = review
        .act(id, &review.desk, json!({ "action": "accept" }))
        .await;
    assert_problem(early, 409, "awaiting_leader_review").await;
    assert_eq!(listed(&review.queue(&review.desk).await, id), None);
    assert_eq!(
        listed(&review.queue(&review.leader).await, id),
        Some(vec!["verify", "return_to_worker", "resolve_in_grid"])
    );

    // Returned with a note; the worker amends it on the phone and submits it again.
    review
        .step(
            id,
            &review.leader,
            json!({ "action": "return_to_worker", "note": "请补充具体楼栋" }),
        )
        .await;
    let report = review.wang.sync_all(&review.app).await;
    assert_eq!(report.needs_action, vec![id]);
    assert_eq!(
        review.wang.store.get(&id).unwrap().task_for("wang"),
        Some(Task::Amend)
    );
    review
        .wang
        .store
        .patch(
            &id,
            serde_json::from_value(json!({ "description": "3号楼2单元楼道灯不亮" })).unwrap(),
        )
        .unwrap();
    review
        .wang
        .store
        .take_step(&id, FieldStep::Resubmit, "已补充楼栋")
        .unwrap();
    review.wang.sync(&review.app).await;
    assert_eq!(
        review.wang.store.get(&id).unwrap().workflow.status,
        Status::Received
    );

    // Verified by the leader: now it is the desk's, and accepted as any complaint.
    review
        .step(
            id,
            &review.leader,
            json!({ "action": "verify", "note": "属实" }),
        )
        .await;
    assert_eq!(
        listed(&review.queue(&review.desk).await, id),
        Some(vec!["accept", "flag_unreasonable", "link_duplicate"])
    );
    assert_eq!(listed(&review.queue(&review.leader).await, id), None);
    let accepted = review
        .step(
            id,
            &review.desk,
            json!({ "action": "accept", "category": "municipal" }),
        )
        .await;
    assert_eq!(accepted["record"]["workflow"]["status"], "accepted");
    let kinds: Vec<&str> = accepted["record"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "owner_assigned",
            "returned_to_worker",
            "field_resubmit",
            "resubmitted",
            "verified",
            "accepted"
        ]
    );

    // The month's report counts the review, in total and for the grid and every region above.
    let (total, grid) = review_figures(&review, started).await;
    let expected = json!({ "verified": 1, "returned": 1, "resubmitted": 1, "resolved_in_grid": 0 });
    assert_eq!(total, expected);
    assert_eq!(grid, expected);
}

#[both_backends]
async fn a_leader_settles_a_small_complaint_in_the_grid(app: TestApp) {
    let mut review = Review::new(app).await;
    let id = complaint(&mut review.wang, &review.app, GRID, "邻里噪音").await;
    let no_note = review
        .act(
            id,
            &review.leader,
            json!({ "action": "resolve_in_grid", "note": " " }),
        )
        .await;
    assert_problem(no_note, 422, "missing_text").await;
    let other_grid = review
        .act(
            id,
            &review.other_leader,
            json!({ "action": "resolve_in_grid", "note": "已调解" }),
        )
        .await;
    assert_problem(other_grid, 403, "forbidden").await;

    let settled = review
        .step(
            id,
            &review.leader,
            json!({ "action": "resolve_in_grid", "note": "网格长上门调解，双方谅解" }),
        )
        .await;

    assert_eq!(settled["record"]["workflow"]["status"], "resolved_in_grid");
    assert!(settled["case"]["closed_at"].as_i64().is_some());
    let late = review
        .act(id, &review.desk, json!({ "action": "accept" }))
        .await;
    assert_problem(late, 409, "invalid_transition").await;
}

#[both_backends]
async fn elsewhere_and_from_other_channels_complaints_go_straight_to_the_desk(app: TestApp) {
    let mut review = Review::new(app).await;
    // A worker's complaint in a county that does not ask for the review.
    let elsewhere = complaint(&mut review.zhao, &review.app, OTHER_GRID, "井盖缺失").await;
    let verify = review
        .act(
            elsewhere,
            &review.other_leader,
            json!({ "action": "verify" }),
        )
        .await;
    assert_problem(verify, 422, "not_a_hazard").await;
    assert!(listed(&review.queue(&review.desk).await, elsewhere).is_some());
    review
        .step(
            elsewhere,
            &review.desk,
            json!({ "action": "accept", "category": "municipal" }),
        )
        .await;

    // A hotline complaint in the reviewing county: the desk took the call.
    let (lon, lat) = centre(GRID);
    let created = review
        .app
        .post(
            "/api/v1/records",
            Some(&review.desk),
            &json!({
                "kind": "complaint", "title": "路灯不亮", "channel": "hotline",
                "category": "municipal",
                "location": { "lon": lon, "lat": lat, "accuracy_m": 5.0, "crs": "wgs84" },
            }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let hotline: RecordId = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    review
        .step(hotline, &review.desk, json!({ "action": "accept" }))
        .await;

    // With the setting cleared, the county's workers' complaints go straight to the desk too.
    let cleared = review
        .app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/settings/leader-review",
            Some(&review.admin),
            &json!({ "areas": [] }),
        )
        .await;
    assert_eq!(cleared.status(), 200);
    let id = complaint(&mut review.wang, &review.app, GRID, "垃圾未清运").await;
    review
        .step(
            id,
            &review.desk,
            json!({ "action": "accept", "category": "municipal" }),
        )
        .await;
}

#[both_backends]
async fn the_review_setting_is_the_admins_and_names_areas_on_the_map(app: TestApp) {
    let review = Review::new(app).await;
    let read: Value = review
        .app
        .get("/api/v1/settings/leader-review", Some(&review.leader))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, json!({ "areas": [COUNTY] }));
    let put = async |token: &str, body: Value| {
        review
            .app
            .send_json(
                reqwest::Method::PUT,
                "/api/v1/settings/leader-review",
                Some(token),
                &body,
            )
            .await
    };
    assert_problem(
        put(&review.desk, json!({ "areas": [] })).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        put(&review.admin, json!({ "areas": ["999999"] })).await,
        422,
        "unknown_area",
    )
    .await;
    assert_problem(
        put(&review.admin, json!({ "areas": [], "extra": 1 })).await,
        400,
        "invalid_json",
    )
    .await;
    let worker_reads = review
        .app
        .get("/api/v1/settings/leader-review", Some(&review.wang.token))
        .await;
    assert_problem(worker_reads, 403, "forbidden").await;
    let after: Value = review
        .app
        .get("/api/v1/settings/leader-review", Some(&review.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        after,
        json!({ "areas": [COUNTY] }),
        "refused writes changed nothing"
    );
}

use gridsync_server::demo;
use gridsync_server::domain::Role;
use gridsync_server::workflow::calendar::{Calendar, Date, Span};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use gridsync_test_macros::both_backends;

const GRID: &str = "22030200100101";
const OTHER_COUNTY_GRID: &str = "22030300200204";

fn centre(code: &str) -> (f64, f64) {
    let area = demo::areas()
        .into_iter()
        .find(|a| a.code == code)
        .expect("demo grid");
    (
        (area.bbox[0] + area.bbox[2]) / 2.0,
        (area.bbox[1] + area.bbox[3]) / 2.0,
    )
}

/// A city with a dispatcher, an admin, two linked department accounts and one unlinked, three
/// departments and a dispatch rule for street lighting in county 220302.
struct City {
    app: TestApp,
    admin: String,
    desk: String,
    housing: String,
    water: String,
    unlinked: String,
}

impl City {
    async fn new(app: TestApp) -> City {
        app.load_demo_map().await;
        let admin = app.user_token("root", Role::Admin, &[]).await;
        let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
        for (code, name) in [
            ("housing", "住建局"),
            ("water", "水务集团"),
            ("police", "公安局"),
        ] {
            let put = app
                .send_json(
                    reqwest::Method::PUT,
                    &format!("/api/v1/departments/{code}"),
                    Some(&desk),
                    &json!({
                        "name": name,
                        "areas": ["2203"],
                        "contacts": [{ "name": "值班室", "phone": "0434-1234567" }],
                    }),
                )
                .await;
            assert_eq!(put.status(), 200, "department {code}");
        }
        let rule = app
            .send_json(
                reqwest::Method::PUT,
                "/api/v1/dispatch-rules",
                Some(&desk),
                &json!({
                    "category": "municipal.lighting",
                    "area": "220302",
                    "department": "housing",
                    "deadline_class": "general",
                }),
            )
            .await;
        assert_eq!(rule.status(), 200);
        let mut tokens = Vec::new();
        for (user, department) in [
            ("hou", Some("housing")),
            ("shui", Some("water")),
            ("nobody", None),
        ] {
            app.add_user(user, Role::Department, &["2203"]).await;
            if let Some(department) = department {
                let linked = app
                    .send_json(
                        reqwest::Method::PUT,
                        &format!("/api/v1/admin/users/{user}/department"),
                        Some(&admin),
                        &json!({ "department": department }),
                    )
                    .await;
                assert_eq!(linked.status(), 200);
            }
            tokens.push(app.login(user).await);
        }
        let [housing, water, unlinked] = tokens.try_into().unwrap();
        City {
            app,
            admin,
            desk,
            housing,
            water,
            unlinked,
        }
    }

    /// A hotline complaint in `grid`, entered by the dispatcher; returns its id.
    async fn complaint(&self, grid: &str, category: &str) -> String {
        let (lon, lat) = centre(grid);
        let created = self
            .app
            .post(
                "/api/v1/records",
                Some(&self.desk),
                &json!({
                    "kind": "complaint",
                    "title": "路灯不亮",
                    "channel": "hotline",
                    "category": category,
                    "location": { "lon": lon, "lat": lat, "accuracy_m": null, "crs": "wgs84" },
                }),
            )
            .await;
        assert_eq!(created.status(), 201);
        created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
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

    /// Takes a step that must succeed and returns the response body.
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

    /// accept → dispatch (by rule, with water co-handling) → sign for → reply → handle → result
    /// → feedback.
    async fn until_feedback(&self, id: &str) {
        self.step(
            id,
            &self.desk,
            json!({ "action": "accept", "note": "属实" }),
        )
        .await;
        self.step(
            id,
            &self.desk,
            json!({ "action": "dispatch", "co_handlers": ["water"] }),
        )
        .await;
        self.step(id, &self.housing, json!({ "action": "sign_for" }))
            .await;
        self.step(
            id,
            &self.housing,
            json!({ "action": "reply", "note": "已派人查看" }),
        )
        .await;
        self.step(id, &self.housing, json!({ "action": "start_handling" }))
            .await;
        self.step(
            id,
            &self.housing,
            json!({
                "action": "report_result",
                "outcome": "resolved",
                "explanation": "更换了灯具",
            }),
        )
        .await;
        self.step(
            id,
            &self.desk,
            json!({ "action": "feedback", "note": "电话回访诉求人" }),
        )
        .await;
    }
}

#[both_backends]
async fn an_admin_configures_the_calendar_and_deadline_classes(app: TestApp) {
    let city = City::new(app).await;
    let app = &city.app;
    let days = json!({ "days": [
        { "date": "2026-10-01", "kind": "holiday", "name": "国庆节" },
        { "date": "2026-10-02", "kind": "holiday", "name": "国庆节" },
        { "date": "2026-09-27", "kind": "workday", "name": "国庆调休" },
    ]});

    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/calendar/2026",
            Some(&city.admin),
            &days,
        )
        .await;
    let class = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/deadline-classes/consultation",
            Some(&city.admin),
            &json!({
                "name": "咨询", "response": { "hours": 4 }, "handling": { "working_days": 3 },
            }),
        )
        .await;

    assert_eq!(put.status(), 200);
    let year: Value = app
        .get("/api/v1/calendar/2026", Some(&city.desk))
        .await
        .json()
        .await
        .unwrap();
    let dates: Vec<&str> = year["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2026-09-27", "2026-10-01", "2026-10-02"]);
    assert_eq!(year["days"][0]["kind"], "workday");
    assert_eq!(class.status(), 200);
    let classes: Value = app
        .get("/api/v1/deadline-classes", Some(&city.housing))
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> = classes["deadline_classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "complex",
            "consultation",
            "emergency",
            "general",
            "rectify_critical",
            "rectify_high",
            "rectify_low",
            "rectify_medium",
            "urgent"
        ]
    );
    assert_eq!(
        classes["deadline_classes"][3]["handling"],
        json!({ "working_days": 7 })
    );
    let empty: Value = app
        .get("/api/v1/calendar/2027", Some(&city.desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty["days"], json!([]));
}

#[both_backends]
async fn bad_calendar_and_class_settings_are_refused_and_change_nothing(app: TestApp) {
    let city = City::new(app).await;
    let app = &city.app;
    let put = |path: &'static str, token: String, body: Value| async move {
        app.send_json(reqwest::Method::PUT, path, Some(&token), &body)
            .await
    };
    let good = json!({ "days": [{ "date": "2026-10-01", "kind": "holiday" }] });
    assert_eq!(
        put("/api/v1/calendar/2026", city.admin.clone(), good)
            .await
            .status(),
        200
    );

    let other_year = put(
        "/api/v1/calendar/2026",
        city.admin.clone(),
        json!({ "days": [{ "date": "2027-01-01", "kind": "holiday" }] }),
    )
    .await;
    let twice = put(
        "/api/v1/calendar/2026",
        city.admin.clone(),
        json!({ "days": [
        { "date": "2026-10-01", "kind": "holiday" },
        { "date": "2026-10-01", "kind": "workday" },
    ] }),
    )
    .await;
    let bad_date = put(
        "/api/v1/calendar/2026",
        city.admin.clone(),
        json!({ "days": [{ "date": "2026-02-30", "kind": "holiday" }] }),
    )
    .await;
    let bad_year = put(
        "/api/v1/calendar/99999",
        city.admin.clone(),
        json!({ "days": [] }),
    )
    .await;
    let by_dispatcher = put(
        "/api/v1/calendar/2026",
        city.desk.clone(),
        json!({ "days": [] }),
    )
    .await;
    let zero_span = put(
        "/api/v1/deadline-classes/x",
        city.admin.clone(),
        json!({ "name": "x", "response": { "hours": 0 }, "handling": { "hours": 1 } }),
    )
    .await;
    let unknown_unit = put(
        "/api/v1/deadline-classes/x",
        city.admin.clone(),
        json!({ "name": "x", "response": { "weeks": 1 }, "handling": { "hours": 1 } }),
    )
    .await;
    let bad_code = put(
        "/api/v1/deadline-classes/a%20b",
        city.admin.clone(),
        json!({ "name": "x", "response": { "hours": 1 }, "handling": { "hours": 1 } }),
    )
    .await;

    assert_problem(other_year, 422, "invalid_calendar").await;
    assert_problem(twice, 422, "invalid_calendar").await;
    assert_problem(bad_date, 400, "invalid_json").await;
    assert_problem(bad_year, 400, "invalid_year").await;
    assert_problem(by_dispatcher, 403, "forbidden").await;
    assert_problem(zero_span, 422, "invalid_span").await;
    assert_problem(unknown_unit, 400, "invalid_json").await;
    assert_problem(bad_code, 400, "invalid_code").await;
    let year: Value = app
        .get("/api/v1/calendar/2026", Some(&city.desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        year["days"],
        json!([{ "date": "2026-10-01", "kind": "holiday", "name": "" }])
    );
    let classes: Value = app
        .get("/api/v1/deadline-classes", Some(&city.desk))
        .await
        .json()
        .await
        .unwrap();
    // The seeded classes only: four for complaints, four for rectifying hazards.
    assert_eq!(classes["deadline_classes"].as_array().unwrap().len(), 8);
}

#[both_backends]
async fn the_desk_manages_departments_and_dispatch_rules_and_others_may_only_read_them(
    app: TestApp,
) {
    let city = City::new(app).await;
    let app = &city.app;
    let worker = app.user_token("wang", Role::GridWorker, &[GRID]).await;
    let put_rule = |token: String, body: Value| async move {
        app.send_json(
            reqwest::Method::PUT,
            "/api/v1/dispatch-rules",
            Some(&token),
            &body,
        )
        .await
    };

    let wildcard = put_rule(
        city.desk.clone(),
        json!({
            "category": "*",
            "area": "2203",
            "department": "police",
            "deadline_class": "urgent",
        }),
    )
    .await;
    let unknown_category = put_rule(
        city.desk.clone(),
        json!({
            "category": "ufo.sighting",
            "area": "2203",
            "department": "police",
            "deadline_class": "general",
        }),
    )
    .await;
    let unknown_department = put_rule(
        city.desk.clone(),
        json!({
            "category": "roads.damage",
            "area": "2203",
            "department": "fire",
            "deadline_class": "general",
        }),
    )
    .await;
    let unknown_class = put_rule(
        city.desk.clone(),
        json!({
            "category": "roads.damage",
            "area": "2203",
            "department": "police",
            "deadline_class": "soon",
        }),
    )
    .await;
    let unknown_area = put_rule(
        city.desk.clone(),
        json!({
            "category": "roads.damage",
            "area": "9999",
            "department": "police",
            "deadline_class": "general",
        }),
    )
    .await;
    let by_worker = put_rule(
        worker.clone(),
        json!({
            "category": "roads.damage",
            "area": "2203",
            "department": "police",
            "deadline_class": "general",
        }),
    )
    .await;
    let department_by_worker = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/departments/fire",
            Some(&worker),
            &json!({ "name": "消防" }),
        )
        .await;
    let department_in_unknown_area = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/departments/fire",
            Some(&city.desk),
            &json!({ "name": "消防", "areas": ["9999"] }),
        )
        .await;
    let link_a_dispatcher = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/admin/users/zhou/department",
            Some(&city.admin),
            &json!({ "department": "police" }),
        )
        .await;

    assert_eq!(wildcard.status(), 200);
    assert_problem(unknown_category, 422, "unknown_category").await;
    assert_problem(unknown_department, 422, "unknown_department").await;
    assert_problem(unknown_class, 422, "unknown_deadline_class").await;
    assert_problem(unknown_area, 422, "unknown_area").await;
    assert_problem(by_worker, 403, "forbidden").await;
    assert_problem(department_by_worker, 403, "forbidden").await;
    assert_problem(department_in_unknown_area, 422, "unknown_area").await;
    assert_problem(link_a_dispatcher, 422, "not_a_department_account").await;
    let rules: Value = app
        .get("/api/v1/dispatch-rules", Some(&worker))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rules["dispatch_rules"].as_array().unwrap().len(), 2);
    let housing: Value = app
        .get("/api/v1/departments/housing", Some(&worker))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            housing["name"].as_str(),
            housing["contacts"][0]["name"].as_str()
        ),
        (Some("住建局"), Some("值班室"))
    );
    assert_eq!(
        app.get("/api/v1/departments/fire", Some(&worker))
            .await
            .status(),
        404
    );
    let deleted = app
        .client
        .delete(app.url("/api/v1/dispatch-rules?category=*&area=2203"))
        .bearer_auth(&city.desk)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let again = app
        .client
        .delete(app.url("/api/v1/dispatch-rules?category=*&area=2203"))
        .bearer_auth(&city.desk)
        .send()
        .await
        .unwrap();
    assert_problem(again, 404, "not_found").await;
}

#[both_backends]
async fn a_complaint_goes_round_the_whole_loop_with_deadlines_on_the_calendar(app: TestApp) {
    let city = City::new(app).await;
    let id = city.complaint(GRID, "municipal.lighting").await;

    city.until_feedback(&id).await;
    city.step(
        &id,
        &city.desk,
        json!({ "action": "evaluate", "rating": "basically_satisfied", "comment": "还行" }),
    )
    .await;
    let closed = city
        .step(
            &id,
            &city.desk,
            json!({ "action": "close", "note": "办结" }),
        )
        .await;

    let record = &closed["record"];
    assert_eq!(record["workflow"]["status"], "closed");
    let timeline: Vec<(&str, &str)> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        timeline[2..],
        [
            ("zhou", "accepted"),
            ("zhou", "dispatched"),
            ("hou", "signed_for"),
            ("hou", "replied"),
            ("hou", "handling_started"),
            ("hou", "result_reported"),
            ("zhou", "feedback_given"),
            ("zhou", "evaluated"),
            ("zhou", "closed"),
        ]
    );
    let assignments = record["workflow"]["assignments"].as_array().unwrap();
    assert_eq!(assignments.len(), 2);
    assert_eq!(
        (
            assignments[0]["department"].as_str(),
            assignments[0]["role"].as_str()
        ),
        (Some("housing"), Some("lead"))
    );
    assert_eq!(
        (
            assignments[1]["department"].as_str(),
            assignments[1]["role"].as_str()
        ),
        (Some("water"), Some("co_handler"))
    );
    let assigned_at = assignments[0]["assigned_at"].as_i64().unwrap();
    let seven_working_days = Span::WorkingDays(7).due(&Calendar::default(), assigned_at);
    assert_eq!(
        assignments[0]["deadline"].as_i64(),
        Some(seven_working_days),
        "the rule's class is general"
    );
    assert_eq!(record["workflow"]["replies"][0]["department"], "housing");
    assert_eq!(
        record["workflow"]["evaluation"]["rating"],
        "basically_satisfied"
    );
    let case = &closed["case"];
    assert_eq!(
        (
            case["lead_department"].as_str(),
            case["deadline_class"].as_str()
        ),
        (Some("housing"), Some("general"))
    );
    assert_eq!(
        case["response_due"].as_i64(),
        Some(Span::WorkingDays(1).due(&Calendar::default(), assigned_at))
    );
    let fetched: Value = city
        .app
        .get(&format!("/api/v1/records/{id}/case"), Some(&city.desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(&fetched, case);
    let history: Value = city
        .app
        .get(&format!("/api/v1/records/{id}/history"), Some(&city.desk))
        .await
        .json()
        .await
        .unwrap();
    let writers: Vec<(&str, &str)> = history["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["user"].as_str().unwrap(), c["device"].as_str().unwrap()))
        .collect();
    // The history names whoever took each step, from the web, as the timeline does.
    let steps: Vec<(&str, &str)> = timeline[2..].iter().map(|(who, _)| (*who, "web")).collect();
    assert_eq!(writers[2..], steps, "{writers:?}");
}

#[both_backends]
async fn a_deadline_skips_a_configured_holiday_and_counts_a_make_up_day(app: TestApp) {
    let city = City::new(app).await;
    // Every day of the next two weeks is a holiday except the 10th, a make-up working day.
    let today = Date::of_instant(sync_core::now_ms());
    let mut days = Vec::new();
    let mut years = std::collections::BTreeMap::<i32, Vec<Value>>::new();
    for offset in 1..=14 {
        let date = Date::from_days(today.days() + offset);
        let kind = if offset == 10 { "workday" } else { "holiday" };
        days.push((date, kind));
        years
            .entry(date.year())
            .or_default()
            .push(json!({ "date": date.to_string(), "kind": kind }));
    }
    for (year, days) in &years {
        let put = city
            .app
            .send_json(
                reqwest::Method::PUT,
                &format!("/api/v1/calendar/{year}"),
                Some(&city.admin),
                &json!({ "days": days }),
            )
            .await;
        assert_eq!(put.status(), 200);
    }
    let id = city.complaint(GRID, "municipal.lighting").await;

    city.step(&id, &city.desk, json!({ "action": "accept" }))
        .await;
    let dispatched = city
        .step(
            &id,
            &city.desk,
            json!({ "action": "dispatch", "deadline_class": "general" }),
        )
        .await;

    let response_due = dispatched["case"]["response_due"].as_i64().unwrap();
    assert_eq!(
        Date::of_instant(response_due),
        Date::from_days(today.days() + 10),
        "the first working day is the make-up day"
    );
    assert_eq!(response_due, Date::from_days(today.days() + 10).end_ms());
    let deadline = dispatched["case"]["deadline"].as_i64().unwrap();
    assert!(
        Date::of_instant(deadline).days() > today.days() + 14,
        "seven working days start after the holidays"
    );
}

#[both_backends]
async fn invalid_transitions_are_refused_with_a_stable_code_and_change_nothing(app: TestApp) {
    let city = City::new(app).await;
    let app = &city.app;
    let worker = app.user_token("wang", Role::GridWorker, &[GRID]).await;
    let supervisor = app.user_token("jiwei", Role::Supervisor, &["2203"]).await;
    let id = city.complaint(GRID, "municipal.lighting").await;
    let before = city.record(&id).await;

    let close_too_early = city
        .act(&id, &city.desk, json!({ "action": "close" }))
        .await;
    let sign_undispatched = city
        .act(&id, &city.housing, json!({ "action": "sign_for" }))
        .await;
    let unknown_action = city
        .act(&id, &city.desk, json!({ "action": "teleport" }))
        .await;
    let extra_field = city
        .act(
            &id,
            &city.desk,
            json!({ "action": "accept", "status": "closed" }),
        )
        .await;
    let missing_rating = city
        .act(&id, &city.desk, json!({ "action": "evaluate" }))
        .await;
    let by_worker = city.act(&id, &worker, json!({ "action": "accept" })).await;
    let by_supervisor = city
        .act(&id, &supervisor, json!({ "action": "accept" }))
        .await;
    let empty_note = city
        .act(
            &id,
            &city.desk,
            json!({ "action": "flag_unreasonable", "note": " " }),
        )
        .await;
    let unknown_record = city
        .act(
            &uuid::Uuid::now_v7().to_string(),
            &city.desk,
            json!({ "action": "accept" }),
        )
        .await;
    let bad_id = city
        .act("not-a-uuid", &city.desk, json!({ "action": "accept" }))
        .await;
    let anonymous = app
        .post(
            &format!("/api/v1/records/{id}/transitions"),
            None,
            &json!({ "action": "accept" }),
        )
        .await;

    let body = assert_problem(close_too_early, 409, "invalid_transition").await;
    assert_eq!(
        (body["action"].as_str(), body["case_status"].as_str()),
        (Some("close"), Some("received"))
    );
    let refused = assert_problem(sign_undispatched, 403, "forbidden").await;
    assert!(
        refused.get("case_status").is_none(),
        "a case not assigned to the department tells it nothing of its status: {refused}"
    );
    assert_problem(unknown_action, 422, "invalid_transition_request").await;
    assert_problem(extra_field, 422, "invalid_transition_request").await;
    assert_problem(missing_rating, 422, "invalid_transition_request").await;
    assert_problem(by_worker, 403, "forbidden").await;
    assert_problem(by_supervisor, 403, "forbidden").await;
    assert_problem(empty_note, 422, "missing_text").await;
    assert_problem(unknown_record, 404, "not_found").await;
    assert_problem(bad_id, 400, "invalid_id").await;
    assert_problem(anonymous, 401, "unauthenticated").await;
    assert_eq!(
        city.record(&id).await,
        before,
        "nothing of a refused step was written"
    );
}

#[both_backends]
async fn a_department_sees_its_cases_wherever_they_lie_and_nothing_else(app: TestApp) {
    let city = City::new(app).await;
    let app = &city.app;
    // A housing account whose areas are the other county: areas do not scope departments.
    app.add_user("hou2", Role::Department, &["220303"]).await;
    let link = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/admin/users/hou2/department",
            Some(&city.admin),
            &json!({ "department": "housing" }),
        )
        .await;
    assert_eq!(link.status(), 200);
    let far_housing = app.login("hou2").await;
    let theirs = city.complaint(GRID, "municipal.lighting").await;
    let not_yet = city.complaint(GRID, "municipal.lighting").await;
    city.step(&theirs, &city.desk, json!({ "action": "accept" }))
        .await;
    city.step(&theirs, &city.desk, json!({ "action": "dispatch" }))
        .await;

    let listed = |token: &str| {
        let (app, token) = (app, token.to_string());
        async move {
            let list: Value = app
                .get("/api/v1/records", Some(&token))
                .await
                .json()
                .await
                .unwrap();
            list["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(&far_housing).await, std::slice::from_ref(&theirs));
    assert_eq!(listed(&city.housing).await, std::slice::from_ref(&theirs));
    assert_eq!(
        listed(&city.water).await,
        Vec::<String>::new(),
        "in water's areas, not its case"
    );
    let read = app
        .get(&format!("/api/v1/records/{theirs}"), Some(&far_housing))
        .await;
    assert_eq!(read.status(), 200);
    city.step(&theirs, &far_housing, json!({ "action": "sign_for" }))
        .await;

    // Everything else is 403, whatever the case's status: nothing tells.
    for (id, token) in [(&not_yet, &city.housing), (&theirs, &city.water)] {
        let get = app.get(&format!("/api/v1/records/{id}"), Some(token)).await;
        assert_problem(get, 403, "forbidden").await;
        let act = city
            .act(id, token, json!({ "action": "reply", "note": "x" }))
            .await;
        let body = assert_problem(act, 403, "forbidden").await;
        assert!(body.get("case_status").is_none(), "{body}");
        let contact = app
            .get(&format!("/api/v1/records/{id}/complainant"), Some(token))
            .await;
        assert_problem(contact, 403, "forbidden").await;
    }
}

#[both_backends]
async fn a_department_acts_only_on_cases_assigned_to_it_and_only_the_lead_moves_them(app: TestApp) {
    let city = City::new(app).await;
    let id = city.complaint(GRID, "municipal.lighting").await;
    city.step(&id, &city.desk, json!({ "action": "accept" }))
        .await;
    city.step(
        &id,
        &city.desk,
        json!({ "action": "dispatch", "co_handlers": ["water"] }),
    )
    .await;

    let by_co_handler = city
        .act(&id, &city.water, json!({ "action": "sign_for" }))
        .await;
    let by_unlinked = city
        .act(&id, &city.unlinked, json!({ "action": "sign_for" }))
        .await;
    city.step(&id, &city.housing, json!({ "action": "sign_for" }))
        .await;
    let progress = city
        .step(
            &id,
            &city.water,
            json!({ "action": "reply", "note": "已排查管线" }),
        )
        .await;
    let redispatched = city
        .step(
            &id,
            &city.desk,
            json!({ "action": "dispatch", "lead": "police", "note": "改派" }),
        )
        .await;
    let old_lead = city
        .act(&id, &city.housing, json!({ "action": "sign_for" }))
        .await;

    assert_problem(by_co_handler, 403, "forbidden").await;
    assert_problem(by_unlinked, 403, "forbidden").await;
    assert_eq!(
        progress["record"]["workflow"]["status"], "signed_for",
        "a co-handler's reply does not move the case"
    );
    assert_eq!(progress["case"]["replied_at"], Value::Null);
    assert_eq!(
        progress["record"]["workflow"]["replies"][0]["department"],
        "water"
    );
    let assignments = redispatched["record"]["workflow"]["assignments"]
        .as_array()
        .unwrap();
    let active: Vec<&str> = assignments
        .iter()
        .filter(|a| a["active"] == true)
        .map(|a| a["department"].as_str().unwrap())
        .collect();
    assert_eq!((assignments.len(), active), (3, vec!["police"]));
    assert_eq!(redispatched["record"]["workflow"]["status"], "dispatched");
    assert_problem(old_lead, 403, "forbidden").await;
}

#[both_backends]
async fn dispatch_without_a_matching_rule_needs_a_named_lead(app: TestApp) {
    let city = City::new(app).await;
    let other_county = city
        .complaint(OTHER_COUNTY_GRID, "municipal.lighting")
        .await;
    let other_category = city.complaint(GRID, "environment.noise").await;
    for id in [&other_county, &other_category] {
        city.step(id, &city.desk, json!({ "action": "accept" }))
            .await;
    }

    let refused = city
        .act(&other_county, &city.desk, json!({ "action": "dispatch" }))
        .await;
    let unknown_lead = city
        .act(
            &other_category,
            &city.desk,
            json!({ "action": "dispatch", "lead": "fire" }),
        )
        .await;
    let unknown_class = city
        .act(
            &other_category,
            &city.desk,
            json!({ "action": "dispatch", "lead": "police", "deadline_class": "soon" }),
        )
        .await;
    let named = city
        .step(
            &other_category,
            &city.desk,
            json!({ "action": "dispatch", "lead": "police", "deadline_class": "urgent" }),
        )
        .await;

    assert_problem(refused, 422, "no_dispatch_rule").await;
    assert_problem(unknown_lead, 422, "unknown_department").await;
    assert_problem(unknown_class, 422, "unknown_deadline_class").await;
    let case = &named["case"];
    assert_eq!(
        case["deadline"].as_i64().unwrap() - case["dispatched_at"].as_i64().unwrap(),
        24 * 3600 * 1000
    );
    assert_eq!(
        case["response_due"].as_i64().unwrap() - case["dispatched_at"].as_i64().unwrap(),
        2 * 3600 * 1000
    );
}

#[both_backends]
async fn a_dissatisfied_rating_sends_the_case_back_and_counts_the_return(app: TestApp) {
    let city = City::new(app).await;
    let id = city.complaint(GRID, "municipal.lighting").await;
    city.until_feedback(&id).await;

    let returned = city
        .step(
            &id,
            &city.desk,
            json!({ "action": "evaluate", "rating": "dissatisfied", "comment": "灯还是不亮" }),
        )
        .await;
    let close = city
        .act(&id, &city.desk, json!({ "action": "close" }))
        .await;
    city.step(
        &id,
        &city.housing,
        json!({
            "action": "report_result",
            "outcome": "partly_resolved",
            "explanation": "线路老化，已报改造",
        }),
    )
    .await;
    city.step(
        &id,
        &city.desk,
        json!({ "action": "feedback", "note": "再次回访" }),
    )
    .await;
    let second = city
        .step(
            &id,
            &city.desk,
            json!({ "action": "evaluate", "rating": "satisfied" }),
        )
        .await;

    let workflow = &returned["record"]["workflow"];
    assert_eq!(
        (workflow["status"].as_str(), workflow["returns"].as_u64()),
        (Some("handling"), Some(1))
    );
    assert_eq!(workflow["result"], Value::Null);
    assert_eq!(
        workflow["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["active"] == true)
            .count(),
        2
    );
    assert_eq!(returned["case"]["returns"], 1);
    assert_problem(close, 409, "invalid_transition").await;
    assert_eq!(second["record"]["workflow"]["status"], "evaluated");
    assert_eq!(second["case"]["returns"], 1);
    assert_eq!(second["case"]["result_outcome"], "partly_resolved");
}

impl City {
    /// Uploads `bytes` whole as `token`'s account (POST /api/v1/blobs); returns the response.
    async fn upload(&self, token: &str, bytes: Vec<u8>) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/api/v1/blobs"))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap()
    }
}

#[both_backends]
async fn a_department_reports_its_result_with_photos_it_uploaded(app: TestApp) {
    let city = City::new(app).await;
    let id = city.complaint(GRID, "municipal.lighting").await;
    city.step(&id, &city.desk, json!({ "action": "accept" }))
        .await;
    city.step(&id, &city.desk, json!({ "action": "dispatch" }))
        .await;
    city.step(&id, &city.housing, json!({ "action": "sign_for" }))
        .await;
    city.step(
        &id,
        &city.housing,
        json!({ "action": "reply", "note": "已派人查看" }),
    )
    .await;
    let photo = crate::sync::jpeg(5_000);
    let uploaded = city.upload(&city.housing, photo.clone()).await;
    assert_eq!(uploaded.status(), 200);
    let blob: Value = uploaded.json().await.unwrap();
    let sha = sync_core::sha256_hex(&photo);
    assert_eq!(
        (blob["sha256"].as_str(), blob["complete"].as_bool()),
        (Some(sha.as_str()), Some(true))
    );
    // Another account's upload, a hash the server never saw, and a text file are refused.
    let desk_photo = crate::sync::jpeg(4_000);
    assert_eq!(
        city.upload(&city.desk, desk_photo.clone()).await.status(),
        200
    );
    let not_a_photo = city.upload(&city.housing, b"hello".to_vec()).await;
    assert_problem(not_a_photo, 415, "unsupported_media_type").await;
    let before = city.record(&id).await;
    let result = |photos: Vec<String>| {
        json!({
            "action": "report_result",
            "outcome": "resolved",
            "explanation": "更换了灯具",
            "photos": photos,
        })
    };
    for (photos, code) in [
        (vec![sync_core::sha256_hex(&desk_photo)], "unknown_photo"),
        (vec!["0".repeat(64)], "unknown_photo"),
        (vec!["not a hash".to_string()], "unknown_photo"),
        (vec![sha.clone(); 10], "too_many_photos"),
    ] {
        let refused = city.act(&id, &city.housing, result(photos)).await;
        assert_problem(refused, 422, code).await;
    }
    assert_eq!(
        city.record(&id).await,
        before,
        "a refused result changes nothing"
    );

    let reported = city
        .step(&id, &city.housing, result(vec![sha.clone()]))
        .await;

    let record = &reported["record"];
    assert_eq!(record["workflow"]["status"], "result_reported");
    assert_eq!(
        record["attachments"][&sha],
        json!({ "sha256": sha, "mime_type": "image/jpeg", "size": 5_000, "caption": "处理结果" })
    );
    // Whoever may read the record may now read the photo.
    let read = city
        .app
        .get(&format!("/api/v1/blobs/{sha}"), Some(&city.desk))
        .await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.bytes().await.unwrap().to_vec(), photo);
}

/// The months (`YYYY-MM`, CST) of a record's timeline events of `kinds`.
async fn months_of(city: &City, id: &str, kinds: &[&str]) -> Vec<String> {
    let record = city.record(id).await;
    let mut months: Vec<String> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| kinds.contains(&e["kind"].as_str().unwrap()))
        .map(|e| {
            let (y, m, _) = Date::of_instant(e["at"].as_i64().unwrap()).ymd();
            format!("{y:04}-{m:02}")
        })
        .collect();
    months.dedup();
    months
}

#[both_backends]
async fn a_return_counts_in_its_month_whatever_the_case_does_next(app: TestApp) {
    let city = City::new(app).await;
    let id = city.complaint(GRID, "municipal.lighting").await;
    city.until_feedback(&id).await;
    city.step(
        &id,
        &city.desk,
        json!({ "action": "evaluate", "rating": "dissatisfied", "comment": "灯还是不亮" }),
    )
    .await;
    city.step(
        &id,
        &city.housing,
        json!({ "action": "report_result", "outcome": "resolved", "explanation": "换了线路" }),
    )
    .await;
    city.step(
        &id,
        &city.desk,
        json!({ "action": "feedback", "note": "再次回访" }),
    )
    .await;
    city.step(
        &id,
        &city.desk,
        json!({ "action": "evaluate", "rating": "basically_satisfied" }),
    )
    .await;

    // Both evaluations count, each in its own month (the same one unless the test ran across
    // a month's end): one return, one accepted resolution out of two evaluated results.
    let months = months_of(&city, &id, &["returned", "evaluated"]).await;
    let (mut returned, mut dissatisfied, mut resolved, mut evaluated, mut scores) =
        (Vec::new(), 0, 0, 0, Vec::new());
    for month in &months {
        let report: Value = city
            .app
            .get(
                &format!("/api/v1/reports/monthly/{month}"),
                Some(&city.desk),
            )
            .await
            .json()
            .await
            .unwrap();
        returned.extend(report["returned"].as_array().unwrap().iter().cloned());
        let housing = report["department_scores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["code"] == "housing")
            .cloned()
            .unwrap();
        dissatisfied += housing["dissatisfied"].as_u64().unwrap();
        resolved += housing["resolved"].as_u64().unwrap();
        scores.push(housing["score"].as_f64().unwrap());
        let rates = report["rates"]["departments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["code"] == "housing")
            .cloned()
            .unwrap();
        evaluated += rates["satisfaction"]["denominator"].as_u64().unwrap();
    }
    assert_eq!(returned, [json!(id)]);
    assert_eq!((dissatisfied, resolved, evaluated), (1, 1, 2));
    if months.len() == 1 {
        // 100 + 1 for the accepted resolution − 1 for the return: a case sent back scores
        // below one resolved the first time (101).
        assert_eq!(scores, [100.0]);
    }
}

#[both_backends]
async fn a_closed_case_cannot_stand_for_a_new_complaint_or_be_reopened(app: TestApp) {
    let city = City::new(app).await;
    let done = city.complaint(GRID, "municipal.lighting").await;
    city.until_feedback(&done).await;
    city.step(
        &done,
        &city.desk,
        json!({ "action": "evaluate", "rating": "satisfied" }),
    )
    .await;
    city.step(&done, &city.desk, json!({ "action": "close" }))
        .await;
    let again = city.complaint(GRID, "municipal.lighting").await;
    let open = city.complaint(GRID, "municipal.lighting").await;
    city.step(&again, &city.desk, json!({ "action": "accept" }))
        .await;

    // The problem came back: linking the new complaint to the closed case would hide it.
    let hidden = city
        .act(
            &again,
            &city.desk,
            json!({ "action": "link_duplicate", "duplicate_of": done }),
        )
        .await;
    assert_problem(hidden, 422, "invalid_duplicate").await;
    assert_eq!(city.record(&again).await["workflow"]["status"], "accepted");
    // Nor is there a way back into a closed case: every action is refused.
    let before = city.record(&done).await;
    for body in [
        json!({ "action": "accept" }),
        json!({ "action": "flag_unreasonable", "note": "重复" }),
        json!({ "action": "dispatch", "lead": "water" }),
        json!({ "action": "sign_for" }),
        json!({ "action": "reply", "note": "再看看" }),
        json!({ "action": "start_handling" }),
        json!({ "action": "report_result", "outcome": "resolved", "explanation": "再修" }),
        json!({ "action": "feedback", "note": "回访" }),
        json!({ "action": "evaluate", "rating": "dissatisfied" }),
        json!({ "action": "close" }),
        json!({ "action": "link_duplicate", "duplicate_of": open }),
        json!({ "action": "consult", "note": "会商", "plan": "方案", "follow_up_due": "2099-12-31" }),
        json!({ "action": "plan_follow_up", "note": "跟进" }),
        json!({ "action": "supervise", "note": "督办" }),
    ] {
        let refused = city.act(&done, &city.admin, body.clone()).await;
        assert_eq!(refused.status(), 409, "{body}");
        assert_problem(refused, 409, "invalid_transition").await;
    }
    assert_eq!(city.record(&done).await, before);
}

#[both_backends]
async fn duplicates_are_linked_by_the_desk_and_unreasonable_demands_get_a_plan(app: TestApp) {
    let city = City::new(app).await;
    let leader = city.app.user_token("li", Role::GridLeader, &[GRID]).await;
    let original = city.complaint(GRID, "municipal.lighting").await;
    let duplicate = city.complaint(GRID, "municipal.lighting").await;
    let petition = city.complaint(GRID, "municipal.lighting").await;

    let to_nothing = city
        .act(
            &duplicate,
            &city.desk,
            json!({ "action": "link_duplicate", "duplicate_of": uuid::Uuid::now_v7() }),
        )
        .await;
    let linked = city
        .step(
            &duplicate,
            &city.desk,
            json!({ "action": "link_duplicate", "duplicate_of": original }),
        )
        .await;
    city.step(
        &petition,
        &city.desk,
        json!({ "action": "flag_unreasonable", "note": "第五次重复反映，诉求超出政策" }),
    )
    .await;
    let plan = city
        .step(
            &petition,
            &leader,
            json!({
                "action": "consult",
                "note": "网格长、社区书记、司法所会商",
                "plan": "每周上门一次，协调低保复核",
                "follow_up_due": "2099-12-31",
            }),
        )
        .await;
    let early_close = city
        .act(&petition, &city.desk, json!({ "action": "close" }))
        .await;
    city.step(
        &petition,
        &leader,
        json!({ "action": "plan_follow_up", "note": "诉求人情绪稳定" }),
    )
    .await;
    let closed = city
        .step(&petition, &city.desk, json!({ "action": "close" }))
        .await;

    assert_problem(to_nothing, 422, "unknown_record").await;
    assert_eq!(linked["record"]["workflow"]["status"], "closed");
    assert_eq!(linked["case"]["duplicate_of"], original.as_str());
    assert_eq!(
        plan["record"]["timeline"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["kind"],
        "case_plan"
    );
    assert_eq!(
        plan["case"]["plan_follow_up_due"].as_i64(),
        Some("2099-12-31".parse::<Date>().unwrap().end_ms())
    );
    assert_problem(early_close, 422, "plan_follow_up_pending").await;
    assert_eq!(closed["record"]["workflow"]["status"], "closed");
}

#[both_backends]
async fn a_supervisor_issues_a_notice_that_the_desk_can_list(app: TestApp) {
    let city = City::new(app).await;
    let supervisor = city
        .app
        .user_token("jiwei", Role::Supervisor, &["2203"])
        .await;
    let id = city.complaint(GRID, "municipal.lighting").await;
    let too_early = city
        .act(
            &id,
            &supervisor,
            json!({ "action": "supervise", "note": "请加快" }),
        )
        .await;
    city.step(&id, &city.desk, json!({ "action": "accept" }))
        .await;
    city.step(&id, &city.desk, json!({ "action": "dispatch" }))
        .await;

    let supervised = city
        .step(
            &id,
            &supervisor,
            json!({ "action": "supervise", "note": "请三日内答复" }),
        )
        .await;

    assert_problem(too_early, 409, "invalid_transition").await;
    assert_eq!(
        supervised["record"]["timeline"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["kind"],
        "supervision"
    );
    let listed: Value = city
        .app
        .get(
            &format!("/api/v1/supervision-notices?record={id}"),
            Some(&city.desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let notices = listed["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(
        (
            notices[0]["subject"].as_str(),
            notices[0]["issued_by"].as_str(),
            notices[0]["department"].as_str()
        ),
        (Some("manual"), Some("jiwei"), Some("housing"))
    );
    let to_housing: Value = city
        .app
        .get("/api/v1/supervision-notices", Some(&city.housing))
        .await
        .json()
        .await
        .unwrap();
    let to_water: Value = city
        .app
        .get("/api/v1/supervision-notices", Some(&city.water))
        .await
        .json()
        .await
        .unwrap();
    let to_nobody: Value = city
        .app
        .get("/api/v1/supervision-notices", Some(&city.unlinked))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        to_housing["notices"].as_array().unwrap().len(),
        1,
        "the lead department sees the notice addressed to it"
    );
    assert_eq!(
        (to_water["notices"].clone(), to_nobody["notices"].clone()),
        (json!([]), json!([]))
    );
    let worker = city.app.user_token("wang", Role::GridWorker, &[GRID]).await;
    let by_worker = city
        .app
        .get("/api/v1/supervision-notices", Some(&worker))
        .await;
    assert_problem(by_worker, 403, "forbidden").await;
}

#[both_backends]
async fn a_case_follows_its_record_when_a_boundary_edit_re_owns_it(app: TestApp) {
    let city = City::new(app).await;
    let id = city.complaint(GRID, "municipal.lighting").await;
    city.step(&id, &city.desk, json!({ "action": "accept" }))
        .await;
    let stored = city.app.store.record_doc(&id).await.unwrap().unwrap();
    let record = sync_core::RecordDoc::load(&stored.doc)
        .unwrap()
        .record()
        .unwrap();

    // What a re-ownership writes: the record's row (and document) with the new owner.
    let mut row = gridsync_server::records::record_row(&record, sync_core::now_ms());
    row.owner_grid = Some(OTHER_COUNTY_GRID.into());
    let commit = gridsync_server::store::RecordCommit {
        row,
        doc: stored.doc,
        expected_version: Some(stored.version),
        changes: vec![],
        contact: None,
    };
    city.app.store.commit_records(&[commit]).await.unwrap();

    let case: Value = city
        .app
        .get(&format!("/api/v1/records/{id}/case"), Some(&city.desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        case["owner_grid"], OTHER_COUNTY_GRID,
        "rates and reports count it in its new region"
    );
    assert_eq!(case["status"], "accepted");
}

#[both_backends]
async fn group_complaints_and_legacy_problems_earn_bonus_points_and_shirking_costs_them(
    app: TestApp,
) {
    let city = City::new(app).await;
    let group = city.complaint(GRID, "municipal.lighting").await;
    let legacy = city.complaint(GRID, "municipal.lighting").await;
    city.step(
        &group,
        &city.desk,
        json!({ "action": "accept", "group_complaint": true, "note": "30户联名" }),
    )
    .await;
    city.step(
        &legacy,
        &city.desk,
        json!({ "action": "accept", "legacy": true }),
    )
    .await;
    for id in [&group, &legacy] {
        city.step(id, &city.desk, json!({ "action": "dispatch" }))
            .await;
    }
    let first_time = city
        .act(
            &group,
            &city.desk,
            json!({ "action": "accept", "group_complaint": true }),
        )
        .await;
    // housing pushes the group complaint back: the desk re-dispatches it to water and records
    // the shirking against housing.
    let redispatched = city
        .step(
            &group,
            &city.desk,
            json!({
                "action": "dispatch",
                "lead": "water",
                "shirking": true,
                "note": "住建局推诿",
            }),
        )
        .await;
    let fresh = city.complaint(GRID, "municipal.lighting").await;
    city.step(&fresh, &city.desk, json!({ "action": "accept" }))
        .await;
    let shirk_first_dispatch = city
        .act(
            &fresh,
            &city.desk,
            json!({ "action": "dispatch", "shirking": true }),
        )
        .await;
    for (id, department) in [(&group, &city.water), (&legacy, &city.housing)] {
        city.step(id, department, json!({ "action": "sign_for" }))
            .await;
        city.step(id, department, json!({ "action": "reply", "note": "收到" }))
            .await;
        city.step(
            id,
            department,
            json!({ "action": "report_result", "outcome": "resolved", "explanation": "已解决" }),
        )
        .await;
        city.step(
            id,
            &city.desk,
            json!({ "action": "feedback", "note": "回访" }),
        )
        .await;
        city.step(
            id,
            &city.desk,
            json!({ "action": "evaluate", "rating": "satisfied" }),
        )
        .await;
    }

    assert_problem(first_time, 409, "invalid_transition").await;
    assert_problem(shirk_first_dispatch, 422, "not_a_redispatch").await;
    assert_eq!(redispatched["case"]["group_complaint"], true);
    let case: Value = city
        .app
        .get(&format!("/api/v1/records/{legacy}/case"), Some(&city.desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (case["legacy"].as_bool(), case["group_complaint"].as_bool()),
        (Some(true), Some(false))
    );
    let notices: Value = city
        .app
        .get(
            &format!("/api/v1/supervision-notices?record={group}"),
            Some(&city.desk),
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
        (Some("shirking"), Some("housing"))
    );
    let evaluated_at = case["evaluated_at"].as_i64().unwrap();
    let (y, m, _) = Date::of_instant(evaluated_at).ymd();
    let report: Value = city
        .app
        .get(
            &format!("/api/v1/reports/monthly/{y:04}-{m:02}"),
            Some(&city.desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let score = |code: &str| {
        report["department_scores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["code"] == code)
            .cloned()
            .unwrap()
    };
    // Defaults: 100, +1 per resolved, +2 per resolved group complaint, +3 per resolved legacy
    // problem, −3 per shirked case.
    let (water, housing) = (score("water"), score("housing"));
    assert_eq!(
        (
            water["resolved_group"].as_u64(),
            water["score"].as_f64(),
            water["rank"].as_u64()
        ),
        (Some(1), Some(103.0), Some(1))
    );
    assert_eq!(
        (
            housing["resolved_legacy"].as_u64(),
            housing["shirked"].as_u64(),
            housing["score"].as_f64(),
            housing["rank"].as_u64()
        ),
        (Some(1), Some(1), Some(101.0), Some(2))
    );
    assert!(
        report["department_scores"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["code"] != "police"),
        "police had nothing this month"
    );
}

/// The demo city, from `serve --demo`: a newcomer can take its noise complaint round the loop.
async fn demo_loop(backend: crate::helpers::Backend) {
    let app = TestApp::spawn_with(backend, |s| s.demo = true).await;
    let login = |username: &'static str| {
        let app = &app;
        async move {
            let password = demo::DEMO_ACCOUNTS
                .iter()
                .find(|a| a.0 == username)
                .unwrap()
                .1;
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
            body["token"].as_str().unwrap().to_string()
        }
    };
    let desk = login("dispatcher").await;
    let department = login("department").await;
    let listed: Value = app
        .get("/api/v1/records?channel=hotline", Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    let noise = listed["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["category"] == "environment.noise")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let act = |token: String, body: Value| {
        let (app, noise) = (&app, noise.clone());
        async move {
            app.post(
                &format!("/api/v1/records/{noise}/transitions"),
                Some(&token),
                &body,
            )
            .await
        }
    };

    assert_eq!(
        act(desk.clone(), json!({ "action": "accept" }))
            .await
            .status(),
        200
    );
    let dispatched: Value = act(desk.clone(), json!({ "action": "dispatch" }))
        .await
        .json()
        .await
        .unwrap();
    let signed = act(department.clone(), json!({ "action": "sign_for" })).await;

    assert_eq!(
        (
            dispatched["case"]["lead_department"].as_str(),
            dispatched["case"]["deadline_class"].as_str()
        ),
        (Some("environment"), Some("urgent"))
    );
    assert_eq!(
        signed.status(),
        200,
        "the demo department account acts for the environment bureau"
    );
    let departments: Value = app
        .get("/api/v1/departments", Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(departments["departments"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_has_departments_and_rules_so_a_newcomer_can_dispatch_sqlite() {
    demo_loop(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_has_departments_and_rules_so_a_newcomer_can_dispatch_postgres() {
    demo_loop(crate::helpers::Backend::Postgres).await;
}

async fn demo_past(backend: crate::helpers::Backend) {
    let app = TestApp::spawn_with(backend, |s| s.demo = true).await;
    let token = app.user_token("root", Role::Admin, &[]).await;
    let (year, month, _) =
        gridsync_server::workflow::calendar::Date::of_instant(sync_core::now_ms()).ymd();
    let last = if month == 1 {
        format!("{}-12", year - 1)
    } else {
        format!("{year}-{:02}", month - 1)
    };
    let report: Value = app
        .get(&format!("/api/v1/reports/monthly/{last}"), Some(&token))
        .await
        .json()
        .await
        .unwrap();

    // Every county has enough rated cases last month to be ranked on all three rates.
    for county in ["220302", "220303"] {
        let row = report["rates"]["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["code"] == county)
            .unwrap_or_else(|| panic!("{county} in {report}"));
        for rate in ["response", "resolution", "satisfaction"] {
            assert!(row[rate]["rank"].is_u64(), "{county} {rate}: {row}");
        }
    }
    let trend = report["trend"].as_array().unwrap();
    let with_figures = trend
        .iter()
        .filter(|m| m["satisfaction"].is_number())
        .count();
    assert!(with_figures >= 5, "months of history: {trend:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_has_months_of_rated_cases_behind_its_reports_sqlite() {
    demo_past(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_has_months_of_rated_cases_behind_its_reports_postgres() {
    demo_past(crate::helpers::Backend::Postgres).await;
}

#[both_backends]
async fn the_category_then_the_deepest_area_decides_which_rule_dispatches(app: TestApp) {
    let city = City::new(app).await;
    for (category, area, department) in [
        ("*", "220302001", "water"),
        ("municipal.lighting", "2203", "police"),
    ] {
        let put = city
            .app
            .send_json(
                reqwest::Method::PUT,
                "/api/v1/dispatch-rules",
                Some(&city.desk),
                &json!({
                    "category": category,
                    "area": area,
                    "department": department,
                    "deadline_class": "general",
                }),
            )
            .await;
        assert_eq!(put.status(), 200);
    }
    let cases = [
        // Exact at the county beats the township's wildcard.
        (GRID, "municipal.lighting", "housing"),
        (GRID, "environment.noise", "water"), // only the wildcard covers it
        (OTHER_COUNTY_GRID, "municipal.lighting", "police"), // the city-wide exact rule
    ];
    for (grid, category, lead) in cases {
        let id = city.complaint(grid, category).await;
        city.step(&id, &city.desk, json!({ "action": "accept" }))
            .await;

        let dispatched = city
            .step(&id, &city.desk, json!({ "action": "dispatch" }))
            .await;

        assert_eq!(
            dispatched["case"]["lead_department"], lead,
            "{category} in {grid}"
        );
    }
}

#[both_backends]
async fn an_admin_keeps_the_category_catalogue_and_intake_files_only_under_it(app: TestApp) {
    let city = City::new(app).await;
    let app = &city.app;
    let put = |code: &str, body: Value| {
        let token = city.admin.clone();
        let path = format!("/api/v1/categories/{code}");
        async move {
            app.send_json(reqwest::Method::PUT, &path, Some(&token), &body)
                .await
        }
    };
    // Every installation starts with a catalogue: phones and residents file under it.
    let catalogue: Value = app
        .get("/api/v1/categories?active=true", Some(&city.housing))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = catalogue["categories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["level"] == 1)
        .map(|c| (c["code"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert!(names.contains(&("property", "物业管理")), "{names:?}");
    assert!(names.contains(&("utilities", "供水供暖")), "{names:?}");

    // A new third-level category under an existing one, answered by water by default.
    let created = put(
        "municipal.drainage.flooding",
        json!({
            "name": "道路积水", "name_en": "Flooded road", "department": "water",
            "deadline_class": "urgent", "keywords": ["积水", "内涝"],
        }),
    )
    .await;
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        (created["parent"].as_str(), created["level"].as_u64()),
        (Some("municipal.drainage"), Some(3))
    );
    let orphan = put("ufo.sighting", json!({ "name": "不明飞行物" })).await;
    let four_levels = put("municipal.drainage.flooding.deep", json!({ "name": "深" })).await;
    let no_department = put(
        "municipal.drainage",
        json!({ "name": "排水", "department": "fire" }),
    )
    .await;
    let parent_retired_first = put(
        "municipal.drainage",
        json!({ "name": "排水管网", "active": false }),
    )
    .await;
    let bad_list = put(
        "municipal.drainage.flooding",
        json!({ "name": "道路积水", "attributes": [
            { "code": "depth", "datatype": "singlevaluelist", "description": "积水深度" }
        ] }),
    )
    .await;
    assert_problem(orphan, 422, "unknown_parent").await;
    assert_problem(four_levels, 400, "invalid_code").await;
    assert_problem(no_department, 422, "unknown_department").await;
    assert_problem(parent_retired_first, 409, "active_children").await;
    assert_problem(bad_list, 422, "invalid_attribute").await;
    let by_desk = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/categories/other",
            Some(&city.desk),
            &json!({ "name": "其他" }),
        )
        .await;
    assert_problem(by_desk, 403, "forbidden").await;

    // With no dispatch rule for it, the catalogue's department takes the case, in its class.
    let flooded = city.complaint(GRID, "municipal.drainage.flooding").await;
    city.step(&flooded, &city.desk, json!({ "action": "accept" }))
        .await;
    let dispatched = city
        .step(&flooded, &city.desk, json!({ "action": "dispatch" }))
        .await;
    assert_eq!(
        (
            dispatched["case"]["lead_department"].as_str(),
            dispatched["case"]["deadline_class"].as_str()
        ),
        (Some("water"), Some("urgent"))
    );

    // Retired: no new complaint files under it; the one filed before keeps it.
    let retired = put(
        "municipal.drainage.flooding",
        json!({ "name": "道路积水", "active": false }),
    )
    .await;
    assert_eq!(retired.status(), 200);
    let (lon, lat) = centre(GRID);
    let complaint = |category: &str| {
        json!({
            "kind": "complaint", "title": "积水", "channel": "hotline", "category": category,
            "location": { "lon": lon, "lat": lat, "accuracy_m": null, "crs": "wgs84" },
        })
    };
    let into_retired = app
        .post(
            "/api/v1/records",
            Some(&city.desk),
            &complaint("municipal.drainage.flooding"),
        )
        .await;
    let into_nothing = app
        .post("/api/v1/records", Some(&city.desk), &complaint("ufo"))
        .await;
    assert_problem(into_retired, 422, "retired_category").await;
    assert_problem(into_nothing, 422, "unknown_category").await;
    assert_eq!(
        city.record(&flooded).await["category"],
        "municipal.drainage.flooding"
    );

    // An unclassified complaint is classified at acceptance, into an active category.
    let unclassified = city.complaint(GRID, "").await;
    let without = city
        .act(&unclassified, &city.desk, json!({ "action": "accept" }))
        .await;
    let into_retired = city
        .act(
            &unclassified,
            &city.desk,
            json!({ "action": "accept", "category": "municipal.drainage.flooding" }),
        )
        .await;
    assert_problem(without, 422, "missing_category").await;
    assert_problem(into_retired, 422, "retired_category").await;
    city.step(
        &unclassified,
        &city.desk,
        json!({ "action": "accept", "category": "municipal.drainage" }),
    )
    .await;

    // The history keeps every change, and who made it.
    let history: Value = app
        .get(
            "/api/v1/categories/municipal.drainage.flooding/history",
            Some(&city.desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let changes: Vec<(bool, &str)> = history["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["active"].as_bool().unwrap(),
                c["updated_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(changes, [(true, "root"), (false, "root")]);
}

#[both_backends]
async fn a_case_reassigned_to_another_department_leaves_the_old_departments_phone(app: TestApp) {
    let city = City::new(app).await;
    let id = city.complaint(GRID, "municipal.lighting").await;
    city.step(&id, &city.desk, json!({ "action": "accept" }))
        .await;
    city.step(&id, &city.desk, json!({ "action": "dispatch" }))
        .await;
    let mut housing = crate::sync::Phone::login_as(&city.app, "hou").await;
    housing.sync_all(&city.app).await;
    let record: sync_core::RecordId = id.parse().unwrap();
    assert!(housing.store.get(&record).is_ok());

    city.step(
        &id,
        &city.desk,
        json!({ "action": "dispatch", "lead": "police", "note": "改派" }),
    )
    .await;
    let report = housing.sync_all(&city.app).await;

    assert_eq!(
        report.left_scope,
        vec![sync_core::LeftScope {
            id: record,
            code: "reassigned".into(),
            unsent_changes_kept: false,
        }]
    );
    assert!(housing.store.load(&record).unwrap().is_none());
}

use std::time::Duration;

use gridsync_server::domain::Role;
use gridsync_server::workflow::scheduler::{Sweep, sweep};
use serde_json::{Value, json};

use crate::helpers::{TestApp, instance};
use gridsync_test_macros::both_backends;

const GRID: &str = "22030200100101";
const DAY_MS: i64 = 24 * 3600 * 1000;
const LEASE: Duration = Duration::from_secs(60);

/// A complaint dispatched to a department that never answers; returns its id.
async fn neglected_case(app: &TestApp) -> (String, String) {
    app.load_demo_map().await;
    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/departments/housing",
            Some(&desk),
            &json!({ "name": "住建局" }),
        )
        .await;
    assert_eq!(put.status(), 200);
    let area = gridsync_server::demo::areas()
        .into_iter()
        .find(|a| a.code == GRID)
        .unwrap();
    let (lon, lat) = (
        (area.bbox[0] + area.bbox[2]) / 2.0,
        (area.bbox[1] + area.bbox[3]) / 2.0,
    );
    let created: Value = app
        .post(
            "/api/v1/records",
            Some(&desk),
            &json!({
                "kind": "complaint", "title": "井盖缺失", "channel": "hotline", "category": "roads",
                "location": { "lon": lon, "lat": lat, "accuracy_m": null, "crs": "wgs84" },
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    for body in [
        json!({ "action": "accept" }),
        json!({ "action": "dispatch", "lead": "housing", "deadline_class": "general" }),
    ] {
        let response = app
            .post(
                &format!("/api/v1/records/{id}/transitions"),
                Some(&desk),
                &body,
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    (id, desk)
}

async fn overdue_events(app: &TestApp, id: &str, token: &str) -> Vec<String> {
    let record: Value = app
        .get(&format!("/api/v1/records/{id}"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "overdue")
        .map(|e| e["note"].as_str().unwrap().to_string())
        .collect()
}

#[both_backends]
async fn an_overdue_case_gets_one_notice_per_missed_deadline_on_its_timeline(app: TestApp) {
    let (id, desk) = neglected_case(&app).await;
    let server = instance(&app).await;
    let now = sync_core::now_ms();

    let before_due = sweep(&server, "a", now, LEASE).await.unwrap();
    let reply_late = sweep(&server, "a", now + 5 * DAY_MS, LEASE).await.unwrap();
    let both_late = sweep(&server, "a", now + 30 * DAY_MS, LEASE).await.unwrap();
    let again = sweep(&server, "a", now + 31 * DAY_MS, LEASE).await.unwrap();

    assert_eq!(
        before_due,
        Sweep {
            ran: true,
            issued: 0,
            already_issued: 0
        }
    );
    assert_eq!(
        reply_late,
        Sweep {
            ran: true,
            issued: 1,
            already_issued: 0
        }
    );
    assert_eq!(
        both_late,
        Sweep {
            ran: true,
            issued: 1,
            already_issued: 1
        }
    );
    assert_eq!(
        again,
        Sweep {
            ran: true,
            issued: 0,
            already_issued: 2
        }
    );
    let notices: Value = app
        .get(
            &format!("/api/v1/supervision-notices?record={id}"),
            Some(&desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let subjects: Vec<(&str, &str, Option<&str>)> = notices["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["subject"].as_str().unwrap(),
                n["issued_by"].as_str().unwrap(),
                n["department"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        subjects,
        [
            ("reply", "server", Some("housing")),
            ("result", "server", Some("housing"))
        ]
    );
    let events = overdue_events(&app, &id, &desk).await;
    assert_eq!(events.len(), 2);
    assert!(events[0].contains("initial reply"), "{}", events[0]);

    // The monthly report deducts 2 points per notice issued in its month.
    let month_of = |ms: i64| {
        let (y, m, _) = gridsync_server::workflow::calendar::Date::of_instant(ms).ymd();
        format!("{y:04}-{m:02}")
    };
    let month = month_of(now + 30 * DAY_MS);
    let in_month = [now + 5 * DAY_MS, now + 30 * DAY_MS]
        .iter()
        .filter(|&&t| month_of(t) == month)
        .count() as u64;
    let report: Value = app
        .get(&format!("/api/v1/reports/monthly/{month}"), Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    let housing = report["department_scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "housing");
    assert_eq!(report["overdue"], json!([id]));
    if let Some(housing) = housing {
        assert_eq!(
            (housing["overdue"].as_u64(), housing["score"].as_f64()),
            (Some(in_month), Some(100.0 - 2.0 * in_month as f64))
        );
    } else {
        panic!("housing is scored in {month}: {report}");
    }
}

#[both_backends]
async fn two_instances_sweeping_at_once_issue_each_notice_once(app: TestApp) {
    let (id, desk) = neglected_case(&app).await;
    let second = TestApp::spawn_on(app.backend, &app.database_url, |_| {}).await;
    let (a, b) = (instance(&app).await, instance(&second).await);
    let late = sync_core::now_ms() + 30 * DAY_MS;

    let (first, other) = tokio::join!(
        sweep(&a, "instance-a", late, LEASE),
        sweep(&b, "instance-b", late, LEASE)
    );
    let (first, other) = (first.unwrap(), other.unwrap());
    // The lease runs out; the other instance takes over and finds the work done.
    let takeover = sweep(&b, "instance-b", late + 2 * LEASE.as_millis() as i64, LEASE)
        .await
        .unwrap();

    assert_eq!(
        u8::from(first.ran) + u8::from(other.ran),
        1,
        "one instance holds the lease: {first:?} {other:?}"
    );
    assert_eq!(first.issued + other.issued, 2);
    assert_eq!(
        takeover,
        Sweep {
            ran: true,
            issued: 0,
            already_issued: 2
        }
    );
    let notices: Value = second
        .get("/api/v1/supervision-notices", Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(notices["notices"].as_array().unwrap().len(), 2);
    assert_eq!(overdue_events(&second, &id, &desk).await.len(), 2);
}

#[both_backends]
async fn even_overlapping_sweeps_under_one_lease_issue_each_notice_once(app: TestApp) {
    // Two instances that both believe they hold the lease (it expired mid-sweep): the
    // notices' unique key decides, and the loser's timeline event is rolled back with it.
    let (id, desk) = neglected_case(&app).await;
    let (a, b) = (instance(&app).await, instance(&app).await);
    let late = sync_core::now_ms() + 30 * DAY_MS;

    let (first, other) = tokio::join!(
        sweep(&a, "same", late, LEASE),
        sweep(&b, "same", late, LEASE)
    );
    let (first, other) = (first.unwrap(), other.unwrap());

    assert!(first.ran && other.ran);
    assert_eq!(first.issued + other.issued, 2, "{first:?} {other:?}");
    let notices: Value = app
        .get(
            &format!("/api/v1/supervision-notices?record={id}"),
            Some(&desk),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(notices["notices"].as_array().unwrap().len(), 2);
    assert_eq!(overdue_events(&app, &id, &desk).await.len(), 2);
}

#[both_backends]
async fn a_result_left_unevaluated_is_supervised_and_charged_to_the_regions_not_the_department(
    app: TestApp,
) {
    let (id, desk) = neglected_case(&app).await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    for body in [
        json!({ "action": "sign_for" }),
        json!({ "action": "reply", "note": "收到" }),
        json!({ "action": "report_result", "outcome": "resolved", "explanation": "已补装井盖" }),
    ] {
        let response = app
            .post(
                &format!("/api/v1/records/{id}/transitions"),
                Some(&admin),
                &body,
            )
            .await;
        assert_eq!(response.status(), 200, "{body}");
    }
    let case: Value = app
        .get(&format!("/api/v1/records/{id}/case"), Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    let due = case["evaluation_due"]
        .as_i64()
        .expect("an evaluation deadline");
    let server = instance(&app).await;

    // Nobody calls the complainant back: three working days later the miss is supervised.
    let before = sweep(&server, "a", due, LEASE).await.unwrap();
    let after = sweep(&server, "a", due + 1, LEASE).await.unwrap();

    assert_eq!((before.issued, after.issued), (0, 1));
    let notices: Value = app
        .get(
            &format!("/api/v1/supervision-notices?record={id}"),
            Some(&desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let notice = &notices["notices"][0];
    assert_eq!(
        (
            notice["subject"].as_str(),
            notice["department"].as_str(),
            notice["owner_grid"].as_str()
        ),
        (Some("evaluation"), None, Some(GRID))
    );
    let (y, m, _) = gridsync_server::workflow::calendar::Date::of_instant(due + 1).ymd();
    let report: Value = app
        .get(
            &format!("/api/v1/reports/monthly/{y:04}-{m:02}"),
            Some(&desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let overdue_of = |kind: &str, code: &str| {
        report[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["code"] == code)
            .map(|s| s["overdue"].as_u64().unwrap())
    };
    assert_eq!(overdue_of("region_scores", GRID), Some(1));
    assert_eq!(overdue_of("region_scores", "2203"), Some(1));
    assert_ne!(overdue_of("department_scores", "housing"), Some(1));
    assert_eq!(report["overdue"], json!([id]));
}

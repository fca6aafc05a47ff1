//! The three rates over a hand-computed fixture month: October 2026, with the National Day
//! holiday (1–7 October) and its make-up working days (Sunday 27 September, Saturday
//! 10 October); 57 complaints, 54 of them counting in October, over 3 departments and 2 counties.

use gridsync_server::domain::Role;
use gridsync_server::records::{SERVER, log_entries, record_row};
use gridsync_server::store::{CaseRow, CaseWrites, RecordCommit};
use gridsync_server::workflow::calendar::{
    Calendar, CalendarDay, Date, DayKind, DeadlineClass, Span,
};
use gridsync_server::workflow::lifecycle::{self, Action, Actor, DispatchPlan, Env};
use serde_json::{Value, json};
use sync_core::{
    Channel, Crs, Location, Outcome, OwnerGrid, Rating, RecordBuilder, RecordDoc, Writer,
};

use crate::helpers::{TestApp, assert_problem};
use gridsync_test_macros::both_backends;

const GRID_A: &str = "22030200100101"; // county 220302
const GRID_B: &str = "22030300200204"; // county 220303
const HOUR: i64 = 3600 * 1000;

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

/// `hour` o'clock CST on `day`.
fn at(day: &str, hour: i64) -> i64 {
    date(day).start_ms() + hour * HOUR
}

fn calendar() -> Calendar {
    let mut days: Vec<CalendarDay> = (1..=7)
        .map(|d| CalendarDay {
            date: Date::from_ymd(2026, 10, d).unwrap(),
            kind: DayKind::Holiday,
            name: "国庆节".into(),
        })
        .collect();
    for d in ["2026-09-27", "2026-10-10"] {
        days.push(CalendarDay {
            date: date(d),
            kind: DayKind::Workday,
            name: "国庆调休".into(),
        });
    }
    Calendar::new(days)
}

fn general() -> DeadlineClass {
    DeadlineClass {
        code: "general".into(),
        name: "一般".into(),
        response: Span::WorkingDays(1),
        handling: Span::WorkingDays(7),
    }
}

/// One fixture complaint: `O` reply on time (dispatch day 15:00), `L` late (six days later),
/// `-` never; result `R`esolved, `P`artly, `C`annot, `-`; rating `S`, `B`, `D`, `-`.
struct Spec {
    grid: &'static str,
    department: &'static str,
    code: &'static str,
}

/// The 54 October complaints, numbered 1–54 in order (see the tallies in the test).
fn october() -> Vec<Spec> {
    let groups: [(&str, &str, &[&str]); 6] = [
        (
            "housing",
            GRID_A,
            &[
                "ORS", "ORS", "ORS", "ORB", "ORB", "OPD", "LRS", "LC-", "O--", "---", "ORS", "OR-",
            ],
        ),
        (
            "housing",
            GRID_B,
            &["ORS", "ORS", "LRB", "OPB", "ORD", "L--", "ORS", "OCD"],
        ),
        (
            "water",
            GRID_A,
            &["ORS", "LRS", "LPB", "OR-", "---", "ORS", "ORB", "LCD"],
        ),
        (
            "water",
            GRID_B,
            &[
                "ORS", "ORS", "ORS", "ORB", "ORB", "LPB", "ORS", "O--", "LRD", "ORS",
            ],
        ),
        (
            "police",
            GRID_A,
            &["ORS", "LRB", "OPD", "---", "ORS", "OR-"],
        ),
        (
            "police",
            GRID_B,
            &[
                "ORS", "ORS", "LRS", "OCB", "ORB", "LPD", "ORS", "ORS", "L--", "ORD",
            ],
        ),
    ];
    groups
        .into_iter()
        .flat_map(|(department, grid, codes)| {
            codes.iter().map(move |code| Spec {
                grid,
                department,
                code,
            })
        })
        .collect()
}

/// The moments of one complaint's steps.
struct Times {
    dispatched: i64,
    replied: i64,
    result: i64,
    evaluated: i64,
}

fn ordinary(day: &str, late: bool) -> Times {
    let d = date(day);
    let plus = |n: i32, hour: i64| Date::from_days(d.days() + n).start_ms() + hour * HOUR;
    Times {
        dispatched: plus(0, 10),
        replied: if late { plus(6, 10) } else { plus(0, 15) },
        result: plus(7, 10),
        evaluated: plus(8, 10),
    }
}

/// Builds the case through the real lifecycle at the given times and stores it as the server
/// would (document, row, change log, case row in one commit).
async fn store_case(app: &TestApp, n: usize, spec: &Spec, times: Times) -> CaseRow {
    let calendar = calendar();
    let desk = Actor {
        username: "zhou".into(),
        role: Role::Dispatcher,
        department: None,
    };
    let handler = Actor {
        username: format!("{}-staff", spec.department),
        role: Role::Department,
        department: Some(spec.department.into()),
    };
    let area = gridsync_server::demo::areas()
        .into_iter()
        .find(|a| a.code == spec.grid)
        .unwrap();
    let mut record = RecordBuilder::complaint(format!("诉求 {n}"), &Writer::new("zhou", "web"))
        .category("municipal")
        .channel(Channel::Hotline)
        .location(Location {
            lon: (area.bbox[0] + area.bbox[2]) / 2.0,
            lat: (area.bbox[1] + area.bbox[3]) / 2.0,
            accuracy_m: None,
            crs: Crs::Wgs84,
        })
        .build();
    record.created_at = times.dispatched - HOUR;
    record.owner_grid = Some(OwnerGrid {
        code: Some(spec.grid.into()),
        boundary_version: 1,
        decided_at: record.created_at,
    });
    let mut case = CaseRow::default();
    lifecycle::sync_case(&record, &mut case, record.created_at);
    let code: Vec<char> = spec.code.chars().collect();
    let mut steps: Vec<(i64, &Actor, Action)> = vec![
        (
            times.dispatched - HOUR / 2,
            &desk,
            Action::Accept {
                note: String::new(),
                category: None,
                group_complaint: false,
                legacy: false,
            },
        ),
        (
            times.dispatched,
            &desk,
            Action::Dispatch {
                note: String::new(),
                lead: None,
                co_handlers: vec![],
                deadline_class: None,
                shirking: false,
            },
        ),
        (
            times.dispatched + HOUR,
            &handler,
            Action::SignFor {
                note: String::new(),
            },
        ),
    ];
    if code[0] != '-' {
        steps.push((
            times.replied,
            &handler,
            Action::Reply {
                note: "已收到".into(),
            },
        ));
    }
    let outcome = match code[1] {
        'R' => Some(Outcome::Resolved),
        'P' => Some(Outcome::PartlyResolved),
        'C' => Some(Outcome::CannotResolve),
        _ => None,
    };
    if let Some(outcome) = outcome {
        steps.push((
            times.result - HOUR,
            &handler,
            Action::StartHandling {
                note: String::new(),
            },
        ));
        steps.push((
            times.result,
            &handler,
            Action::ReportResult {
                outcome,
                explanation: "已处理".into(),
                note: String::new(),
                photos: vec![],
            },
        ));
    }
    let rating = match code[2] {
        'S' => Some(Rating::Satisfied),
        'B' => Some(Rating::BasicallySatisfied),
        'D' => Some(Rating::Dissatisfied),
        _ => None,
    };
    if let Some(rating) = rating {
        steps.push((
            times.evaluated - HOUR,
            &desk,
            Action::Feedback {
                note: "回访".into(),
            },
        ));
        steps.push((
            times.evaluated,
            &desk,
            Action::Evaluate {
                rating,
                comment: None,
                note: String::new(),
            },
        ));
    }
    let mut writes = CaseWrites::default();
    for (now, who, action) in steps {
        let env = Env {
            now,
            calendar: &calendar,
            dispatch: Some(DispatchPlan {
                lead: spec.department.into(),
                co_handlers: vec![],
                class: general(),
                names: Default::default(),
            }),
            class: Some(general()),
            leader_review: false,
        };
        let mut done = lifecycle::apply(&mut record, &mut case, &action, who, &env)
            .unwrap_or_else(|e| panic!("case {n} {}: {e}", action.name()));
        writes.notices.append(&mut done.notices);
        writes.evaluations.append(&mut done.evaluations);
    }
    let mut doc = RecordDoc::create(
        &record,
        sync_core::new_actor(),
        &Writer::new(SERVER, SERVER),
    )
    .unwrap();
    let changes = log_entries(&doc.automerge().get_changes(&[]), SERVER);
    let commit = RecordCommit {
        row: record_row(&record, times.evaluated),
        doc: doc.save(),
        expected_version: None,
        changes,
        contact: None,
    };
    let stored = app
        .store
        .commit_workflow(&commit, &case, &writes)
        .await
        .unwrap();
    assert_eq!(stored, gridsync_server::store::WorkflowOutcome::Stored);
    case
}

async fn fixture(app: &TestApp) {
    app.load_demo_map().await;
    for (code, name) in [
        ("housing", "住建局"),
        ("water", "水务集团"),
        ("police", "公安局"),
    ] {
        let department = gridsync_server::store::Department {
            code: code.into(),
            name: name.into(),
            areas: vec!["2203".into()],
            contacts: vec![],
        };
        app.store.put_department(&department, 0).await.unwrap();
    }
    for (i, spec) in october().iter().enumerate() {
        let n = i + 1;
        let days = ["12", "13", "14", "15", "16", "19", "20", "21", "22", "23"];
        let times = match n {
            // Dispatched the day before the holiday: the reply is due at the end of the first
            // working day after it, 8 October, so a reply on 6 October is on time.
            1 => Times {
                dispatched: at("2026-09-30", 10),
                replied: at("2026-10-06", 10),
                result: at("2026-10-08", 10),
                evaluated: at("2026-10-09", 10),
            },
            // Dispatched on Friday 9 October: the next working day is the make-up Saturday, so
            // a reply on Sunday is late.
            53 => Times {
                dispatched: at("2026-10-09", 10),
                replied: at("2026-10-11", 10),
                result: 0,
                evaluated: 0,
            },
            _ => ordinary(
                &format!("2026-10-{}", days[(n - 1) % 10]),
                spec.code.starts_with('L'),
            ),
        };
        let case = store_case(app, n, spec, times).await;
        match n {
            1 => assert_eq!(case.response_due, Some(date("2026-10-08").end_ms())),
            53 => assert_eq!(case.response_due, Some(date("2026-10-10").end_ms())),
            _ => {}
        }
    }
    // Outside October: everything in September, or dispatched in November.
    let outside = [
        ("2026-09-21", GRID_A, "housing"),
        ("2026-11-02", GRID_B, "water"),
        ("2026-11-02", GRID_A, "police"),
    ];
    for (i, (day, grid, department)) in outside.into_iter().enumerate() {
        store_case(
            app,
            55 + i,
            &Spec {
                grid,
                department,
                code: "ORS",
            },
            ordinary(day, false),
        )
        .await;
    }
}

fn rate(group: &Value, which: &str) -> (f64, u64, Option<u64>) {
    let r = &group[which];
    (
        r["numerator"].as_f64().unwrap(),
        r["denominator"].as_u64().unwrap(),
        r["rank"].as_u64(),
    )
}

fn group<'a>(report: &'a Value, kind: &str, code: &str) -> &'a Value {
    report[kind]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["code"] == code)
        .unwrap_or_else(|| panic!("{kind} {code}"))
}

fn assert_rate(group: &Value, which: &str, numerator: f64, denominator: u64, rank: Option<u64>) {
    let (n, d, r) = rate(group, which);
    assert!(
        (n - numerator).abs() < 1e-9 && d == denominator && r == rank,
        "{} {which}: {n}/{d} rank {r:?}, want {numerator}/{denominator} rank {rank:?}",
        group["code"]
    );
    let value = group[which]["rate"].as_f64().unwrap();
    assert!((value - numerator / denominator as f64).abs() < 1e-12);
}

#[both_backends]
async fn the_fixture_months_rates_and_rankings_are_exactly_as_computed_by_hand(app: TestApp) {
    fixture(&app).await;
    let supervisor = app.user_token("jiwei", Role::Supervisor, &["2203"]).await;

    let report: Value = app
        .get(
            "/api/v1/reports/rates?from=2026-10-01&to=2026-10-31&basic_weight=0.8&min_sample=12",
            Some(&supervisor),
        )
        .await
        .json()
        .await
        .unwrap();

    // Departments. housing: replies 15 of 20 on time; of 15 evaluations, 11 accepted a resolved
    // result (case 17's resolved result was sent back as dissatisfied: not a resolution; cases
    // 6 and 20 were partly resolved and unresolvable); 8 satisfied + 4 basically of 15.
    let housing = group(&report, "departments", "housing");
    assert_rate(housing, "response", 15.0, 20, Some(1));
    assert_rate(housing, "resolution", 11.0, 15, Some(1));
    assert_rate(housing, "satisfaction", 8.0 + 0.8 * 4.0, 15, Some(2));
    // water: 12 of 18; 11 of 15 (equal to housing: both rank 1); 8 + 0.8 × 5 of 15.
    let water = group(&report, "departments", "water");
    assert_rate(water, "response", 12.0, 18, Some(3));
    assert_rate(water, "resolution", 11.0, 15, Some(1));
    assert_rate(water, "satisfaction", 8.0 + 0.8 * 5.0, 15, Some(1));
    // police: 11 of 16; 9 of 13; 7 + 0.8 × 3 of 13.
    let police = group(&report, "departments", "police");
    assert_rate(police, "response", 11.0, 16, Some(2));
    assert_rate(police, "resolution", 9.0, 13, Some(3));
    assert_rate(police, "satisfaction", 7.0 + 0.8 * 3.0, 13, Some(3));
    assert_eq!(report["departments"].as_array().unwrap().len(), 3);

    // Counties, ranked against each other.
    let a = group(&report, "regions", "220302");
    assert_eq!(a["level"], "county");
    assert_rate(a, "response", 17.0, 26, Some(2));
    assert_rate(a, "resolution", 14.0, 18, Some(1));
    assert_rate(a, "satisfaction", 10.0 + 0.8 * 5.0, 18, Some(1));
    let b = group(&report, "regions", "220303");
    assert_rate(b, "response", 21.0, 28, Some(1));
    assert_rate(b, "resolution", 17.0, 25, Some(2));
    assert_rate(b, "satisfaction", 13.0 + 0.8 * 7.0, 25, Some(2));
    // The city is the sum; every level down to the two grids is reported.
    let city = group(&report, "regions", "2203");
    assert_rate(city, "response", 38.0, 54, Some(1));
    assert_rate(city, "resolution", 31.0, 43, Some(1));
    assert_rate(city, "satisfaction", 23.0 + 0.8 * 12.0, 43, Some(1));
    let levels: Vec<&str> = report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels,
        [
            "city", "county", "county", "township", "township", "village", "village", "grid",
            "grid"
        ]
    );
    assert_rate(
        group(&report, "regions", GRID_A),
        "response",
        17.0,
        26,
        Some(2),
    );

    let csv = app
        .get(
            "/api/v1/reports/rates?from=2026-10-01&to=2026-10-31&basic_weight=0.8&min_sample=12\
             &format=csv",
            Some(&supervisor),
        )
        .await
        .text()
        .await
        .unwrap();
    // For Excel: a byte-order mark, one header row, names beside codes, long area codes kept
    // as text.
    let csv = csv.strip_prefix('\u{feff}').expect("a byte-order mark");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("类型,编码,名称,层级,按时响应,应响应,响应率,响应率排名"));
    assert_eq!(lines.len(), 1 + 9 + 3);
    assert!(
        lines.contains(&"部门,police,公安局,,11,16,0.6875,2,13,9,0.6923,3,9.4,0.7231,3"),
        "{csv}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "区域,\"=\"\"{GRID_A}\"\"\",铁西区南街道东风社区第1网格,网格,"
        ))),
        "{csv}"
    );
}

#[both_backends]
async fn the_rates_are_for_supervisors_and_the_desk_and_refuse_a_bad_period(app: TestApp) {
    app.load_demo_map().await;
    let worker = app.user_token("wang", Role::GridWorker, &[GRID_A]).await;
    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;

    let by_worker = app
        .get(
            "/api/v1/reports/rates?from=2026-10-01&to=2026-10-31",
            Some(&worker),
        )
        .await;
    let backwards = app
        .get(
            "/api/v1/reports/rates?from=2026-10-31&to=2026-10-01",
            Some(&desk),
        )
        .await;
    let not_a_date = app
        .get(
            "/api/v1/reports/rates?from=2026-10&to=2026-10-31",
            Some(&desk),
        )
        .await;
    let heavy = app
        .get(
            "/api/v1/reports/rates?from=2026-10-01&to=2026-10-31&basic_weight=2",
            Some(&desk),
        )
        .await;
    let empty: Value = app
        .get(
            "/api/v1/reports/rates?from=2026-10-01&to=2026-10-31",
            Some(&desk),
        )
        .await
        .json()
        .await
        .unwrap();

    assert_problem(by_worker, 403, "forbidden").await;
    assert_problem(backwards, 400, "invalid_period").await;
    assert_problem(not_a_date, 400, "invalid_query").await;
    assert_problem(heavy, 400, "invalid_weight").await;
    assert_eq!(
        (
            empty["regions"].clone(),
            empty["departments"].clone(),
            empty["min_sample"].clone()
        ),
        (json!([]), json!([]), json!(10))
    );
}

fn score(report: &Value, kind: &str, code: &str) -> (f64, u64, u64, u64, u64) {
    let s = report[kind]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == code)
        .unwrap_or_else(|| panic!("{kind} {code}"));
    (
        s["score"].as_f64().unwrap(),
        s["rank"].as_u64().unwrap(),
        s["resolved"].as_u64().unwrap(),
        s["overdue"].as_u64().unwrap(),
        s["dissatisfied"].as_u64().unwrap(),
    )
}

#[both_backends]
async fn the_fixture_months_report_counts_scores_and_trend_are_exactly_as_computed_by_hand(
    app: TestApp,
) {
    fixture(&app).await;
    let supervisor = app.user_token("jiwei", Role::Supervisor, &["2203"]).await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let path = "/api/v1/reports/monthly/2026-10?min_sample=12";

    let report: Value = app.get(path, Some(&supervisor)).await.json().await.unwrap();

    // Created in October: cases 2–54 (case 1 came in on 30 September).
    assert_eq!(report["complaints"], 53);
    assert_eq!(
        report["by_channel"],
        json!([{ "code": "hotline", "name": "12345 热线", "count": 53 }])
    );
    assert_eq!(
        report["by_status"],
        json!([
            { "code": "evaluated", "name": "已评价", "count": 34 },
            { "code": "handling", "name": "办理中", "count": 8 },
            { "code": "replied", "name": "已答复", "count": 4 },
            { "code": "result_reported", "name": "已办结", "count": 4 },
            { "code": "signed_for", "name": "已签收", "count": 3 },
        ])
    );
    assert_eq!(
        report["by_region"],
        json!([
            { "code": "220302", "name": "铁西区", "count": 25 },
            { "code": "220303", "name": "铁东区", "count": 28 },
        ])
    );
    // September had cases 1 and 55, both in grid A.
    assert_eq!(
        report["hot_categories"],
        json!([{ "key": "municipal", "name": "市政设施", "count": 53, "previous": 2, "change": 51 }])
    );
    assert_eq!(
        report["hot_grids"],
        json!([
            { "key": GRID_B, "name": "铁东区北街道红旗社区第4网格", "count": 28, "previous": 0, "change": 28 },
            { "key": GRID_A, "name": "铁西区南街道东风社区第1网格", "count": 25, "previous": 2, "change": 23 },
        ])
    );
    assert_eq!(
        (
            group(&report["rates"], "departments", "water")["name"].as_str(),
            group(&report["rates"], "regions", "220303")["name"].as_str(),
        ),
        (Some("水务集团"), Some("铁东区"))
    );
    assert_eq!(
        report["returned"].as_array().unwrap().len(),
        8,
        "the eight dissatisfied cases"
    );
    assert_eq!(
        (report["overdue"].clone(), report["duplicates"].clone()),
        (json!([]), json!([]))
    );
    // Default points: 100 + 1 per accepted resolution − 2 per overdue notice − 1 per
    // dissatisfied evaluation.
    assert_eq!(
        score(&report, "department_scores", "water"),
        (109.0, 1, 11, 0, 2)
    );
    assert_eq!(
        score(&report, "department_scores", "housing"),
        (108.0, 2, 11, 0, 3)
    );
    assert_eq!(
        score(&report, "department_scores", "police"),
        (106.0, 3, 9, 0, 3)
    );
    assert_eq!(
        score(&report, "region_scores", "220302"),
        (111.0, 2, 14, 0, 3)
    );
    assert_eq!(
        score(&report, "region_scores", "220303"),
        (112.0, 1, 17, 0, 5)
    );
    assert_rate(
        group(&report["rates"], "departments", "police"),
        "response",
        11.0,
        16,
        Some(2),
    );
    let trend = report["trend"].as_array().unwrap();
    let months: Vec<&str> = trend.iter().map(|p| p["month"].as_str().unwrap()).collect();
    assert_eq!(
        (months.len(), months[0], months[11]),
        (12, "2025-11", "2026-10")
    );
    assert!(trend[..10].iter().all(|p| p["response"].is_null()));
    assert_eq!(
        trend[10],
        json!({ "month": "2026-09", "response": 1.0, "resolution": 1.0, "satisfaction": 1.0 })
    );
    assert!((trend[11]["satisfaction"].as_f64().unwrap() - 32.6 / 43.0).abs() < 1e-12);
    assert!((trend[11]["resolution"].as_f64().unwrap() - 31.0 / 43.0).abs() < 1e-12);

    // Other rules: no base, −1 per dissatisfied only: water −2, housing and police −3 share rank 2.
    let rules = json!({ "base": 0, "resolved": 0, "overdue": -2, "dissatisfied": -1 });
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/score-rules",
            Some(&admin),
            &rules,
        )
        .await;
    assert_eq!(put.status(), 200);
    let rescored: Value = app.get(path, Some(&supervisor)).await.json().await.unwrap();
    assert_eq!(
        rescored["score_rules"],
        json!({
            "base": 0.0, "resolved": 0.0, "overdue": -2.0, "dissatisfied": -1.0,
            "group_resolved": 2.0, "legacy_resolved": 3.0, "shirking": -3.0,
        })
    );
    assert_eq!(
        score(&rescored, "department_scores", "water"),
        (-2.0, 1, 11, 0, 2)
    );
    assert_eq!(
        score(&rescored, "department_scores", "housing"),
        (-3.0, 2, 11, 0, 3)
    );
    assert_eq!(
        score(&rescored, "department_scores", "police"),
        (-3.0, 2, 9, 0, 3)
    );

    // CSV: one table per file, in a zip; each with a byte-order mark and one header row.
    let zipped = app
        .get(&format!("{path}&format=csv"), Some(&supervisor))
        .await;
    assert_eq!(zipped.headers()["content-type"], "application/zip");
    let bytes = zipped.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut files: Vec<String> = archive
        .file_names()
        .map(|name| name.unwrap().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "categories.csv",
            "channels.csv",
            "hazards.csv",
            "hot_categories.csv",
            "hot_grids.csv",
            "leader_review.csv",
            "overview.csv",
            "prominent.csv",
            "rates.csv",
            "regions.csv",
            "scores.csv",
            "statuses.csv",
            "trend.csv"
        ]
    );
    let mut tables = std::collections::BTreeMap::new();
    for name in &files {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name(name).unwrap(), &mut text).unwrap();
        let text = text
            .strip_prefix('\u{feff}')
            .expect("a byte-order mark")
            .to_string();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        assert!(rows.iter().all(|r| r.len() == header.len()), "{name}");
        tables.insert(name.clone(), (header, rows));
    }
    let (header, rows) = &tables["scores.csv"];
    let water = rows.iter().find(|r| r[1] == "water").unwrap();
    let column = |h: &str| header.iter().position(|x| x == h).unwrap();
    assert_eq!(
        (
            water[column("名称")].as_str(),
            water[column("得分")].as_str(),
            water[column("排名")].as_str()
        ),
        ("水务集团", "-2", "1")
    );
    let (_, trend) = &tables["trend.csv"];
    assert!(trend.contains(&vec![
        "2026-09".to_string(),
        "1.0000".into(),
        "1.0000".into(),
        "1.0000".into()
    ]));
    let one = app
        .get(
            &format!("{path}&format=csv&table=regions"),
            Some(&supervisor),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        one,
        "\u{feff}编码,区域,诉求数\n220302,铁西区,25\n220303,铁东区,28\n"
    );

    let svg = app
        .get(&format!("{path}&format=svg"), Some(&supervisor))
        .await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.ends_with("</svg>")
    );
    assert_eq!(
        svg.matches("class=\"rate\"").count(),
        3,
        "one line per rate over September and October"
    );
    assert_eq!(svg.matches("class=\"marker\"").count(), 6);

    // XLSX, read back by a spreadsheet reader: one sheet per table, headers over their values,
    // codes as text, names beside them.
    let xlsx = app
        .get(&format!("{path}&format=xlsx"), Some(&supervisor))
        .await;
    assert_eq!(
        xlsx.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = xlsx.bytes().await.unwrap().to_vec();
    let workbook = crate::helpers::read_xlsx(&bytes);
    let sheets: Vec<&str> = workbook.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        sheets,
        [
            "概况",
            "渠道",
            "分类",
            "状态",
            "区域",
            "热点分类",
            "热点网格",
            "重点诉求",
            "三率",
            "隐患整改",
            "网格长审核",
            "积分",
            "趋势"
        ]
    );
    for (name, rows) in &workbook {
        let width = rows[0].len();
        assert!(rows.iter().all(|r| r.len() == width), "{name}");
    }
    let scores = &workbook.iter().find(|(n, _)| n == "积分").unwrap().1;
    let column = |h: &str| scores[0].iter().position(|x| x == h).unwrap();
    let water = scores.iter().find(|r| r[1] == "water").unwrap();
    assert_eq!(
        (
            water[column("名称")].as_str(),
            water[column("得分")].as_str(),
            water[column("排名")].as_str()
        ),
        ("水务集团", "-2", "1")
    );
    let grid = scores
        .iter()
        .find(|r| r[1] == GRID_A)
        .expect("a grid code kept as text");
    assert_eq!(grid[column("名称")], "铁西区南街道东风社区第1网格");
    let checked = crate::helpers::check_xlsx_in_python(&bytes);
    assert_eq!(checked["frozen"], json!(vec!["A2"; 13]), "{checked}");
    assert_eq!(checked["rate_format"], "0.0%", "{checked}");
    assert_eq!(checked["grid_code_type"], "s", "{checked}");
    assert!(checked["name_width"].as_f64().unwrap() >= 20.0, "{checked}");
}

#[both_backends]
async fn the_monthly_report_and_its_rules_refuse_bad_input_and_other_roles(app: TestApp) {
    app.load_demo_map().await;
    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let worker = app.user_token("wang", Role::GridWorker, &[GRID_A]).await;

    let bad_month = app
        .get("/api/v1/reports/monthly/2026-13", Some(&desk))
        .await;
    let bad_format = app
        .get("/api/v1/reports/monthly/2026-10?format=pdf", Some(&desk))
        .await;
    let by_worker = app
        .get("/api/v1/reports/monthly/2026-10", Some(&worker))
        .await;
    let rules_by_desk = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/score-rules",
            Some(&desk),
            &json!({ "base": 0, "resolved": 0, "overdue": 0, "dissatisfied": 0 }),
        )
        .await;
    let huge = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/score-rules",
            Some(&admin),
            &json!({ "base": 1e9, "resolved": 0, "overdue": 0, "dissatisfied": 0 }),
        )
        .await;
    let missing = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/score-rules",
            Some(&admin),
            &json!({ "base": 1 }),
        )
        .await;
    let empty: Value = app
        .get("/api/v1/reports/monthly/2026-10", Some(&desk))
        .await
        .json()
        .await
        .unwrap();

    assert_problem(bad_month, 400, "invalid_month").await;
    assert_problem(bad_format, 400, "invalid_format").await;
    assert_problem(by_worker, 403, "forbidden").await;
    assert_problem(rules_by_desk, 403, "forbidden").await;
    assert_problem(huge, 422, "invalid_score_rules").await;
    assert_problem(missing, 400, "invalid_json").await;
    let rules: Value = app
        .get("/api/v1/score-rules", Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        rules,
        json!({
            "base": 100.0, "resolved": 1.0, "overdue": -2.0, "dissatisfied": -1.0,
            "group_resolved": 2.0, "legacy_resolved": 3.0, "shirking": -3.0,
        })
    );
    assert_eq!(
        (
            empty["complaints"].clone(),
            empty["trend"].as_array().unwrap().len()
        ),
        (json!(0), 12)
    );
}

#[both_backends]
async fn a_re_dispatch_supervises_the_deadlines_already_missed_and_leaves_the_reply_where_it_fell_due(
    app: TestApp,
) {
    app.load_demo_map().await;
    // Dispatched to housing on 12 October, signed for, never answered; no sweep ran since.
    let spec = Spec {
        grid: GRID_A,
        department: "housing",
        code: "---",
    };
    let case = store_case(&app, 1, &spec, ordinary("2026-10-12", false)).await;
    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let water = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/departments/water",
            Some(&desk),
            &json!({ "name": "水务集团", "areas": ["2203"], "contacts": [] }),
        )
        .await;
    assert_eq!(water.status(), 200);
    let id = &case.record_id;

    // The desk hands it to water, which would give the case fresh deadlines and nobody a miss.
    let redispatched = app
        .post(
            &format!("/api/v1/records/{id}/transitions"),
            Some(&desk),
            &json!({ "action": "dispatch", "lead": "water" }),
        )
        .await;
    assert_eq!(redispatched.status(), 200);
    let body: Value = redispatched.json().await.unwrap();

    let notices: Value = app
        .get(
            &format!("/api/v1/supervision-notices?record={id}"),
            Some(&desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let missed: Vec<(&str, &str, i64)> = notices["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["subject"].as_str().unwrap(),
                n["department"].as_str().unwrap(),
                n["due_at"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        missed,
        [
            ("reply", "housing", case.response_due.unwrap()),
            ("result", "housing", case.deadline.unwrap()),
        ]
    );
    let kinds: Vec<&str> = body["record"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .rev()
        .take(3)
        .collect();
    assert_eq!(kinds, ["dispatched", "overdue", "overdue"]);
    assert_eq!(body["case"]["lead_department"], "water");

    // The misses count against housing in the month they were supervised…
    let issued = notices["notices"][0]["issued_at"].as_i64().unwrap();
    let (y, m, _) = Date::of_instant(issued).ymd();
    let report: Value = app
        .get(
            &format!("/api/v1/reports/monthly/{y:04}-{m:02}"),
            Some(&desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let housing = report["department_scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "housing")
        .cloned()
        .unwrap();
    assert_eq!(
        (housing["overdue"].as_u64(), housing["score"].as_f64()),
        (Some(2), Some(96.0))
    );
    assert_eq!(report["overdue"], json!([id]));
    // …and October's missed reply stays housing's, not the new lead's.
    let october: Value = app
        .get(
            "/api/v1/reports/rates?from=2026-10-01&to=2026-10-31&min_sample=1",
            Some(&desk),
        )
        .await
        .json()
        .await
        .unwrap();
    let departments: Vec<(&str, u64, u64)> = october["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["code"].as_str().unwrap(),
                g["response"]["numerator"].as_f64().unwrap() as u64,
                g["response"]["denominator"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(departments, [("housing", 0, 1)]);
}

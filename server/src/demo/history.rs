//! Six months of the demo city's past: complaints from the hotline, the mini-program and the
//! suggestion boxes, taken through the real lifecycle at the times they happened (accepted,
//! dispatched by the demo's rules, replied to — a few late —, handled, rated, closed; a few
//! rated dissatisfied and handled again; the newest still open), so the reports, the charts
//! and the city screen have figures the day the demo starts.
//!
//! Deterministic: the same city every time (no randomness, only the record ids and the
//! starting instant differ). The worker's own grid is left out, so the demo phone's first
//! sync stays small.

use sync_core::{Channel, Crs, Location, Rating, Record, RecordBuilder, RecordDoc, Writer};

use crate::domain::{Level, Role};
use crate::records::{SERVER, decide_owner, log_entries, record_row};
use crate::store::{CaseRow, CaseWrites, RecordCommit, Store};
use crate::workflow::calendar::Calendar;
use crate::workflow::lifecycle::{self, Action, Actor, DispatchPlan, Env};
use sync_core::Outcome;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// How many past complaints the demo city has.
pub const PAST_COMPLAINTS: usize = 180;

/// The grid the demo worker walks (its records stay few).
const WORKER_GRID: &str = "22030200100101";

/// Categories with what residents said about them.
const TOPICS: &[(&str, &[&str])] = &[
    (
        "municipal.lighting",
        &["小区路灯不亮", "路口路灯白天常亮", "背街小巷缺少照明"],
    ),
    (
        "environment.noise",
        &["夜间施工噪音扰民", "广场舞音响声音过大", "商铺外放音乐扰民"],
    ),
    (
        "roads.damage",
        &["路面坑洼积水", "人行道地砖松动", "井盖下沉"],
    ),
    (
        "municipal.drainage",
        &["下水道堵塞返味", "雨后路面积水排不出"],
    ),
    ("property.fees", &["物业费上涨未公示", "停车费收费不合理"]),
    ("utilities.heating", &["室温不达标", "暖气不热"]),
    (
        "market.food_safety",
        &["早市售卖过期食品", "餐馆后厨卫生差"],
    ),
    (
        "public_safety.order",
        &["楼道有人聚集喧哗", "电动车乱停占道"],
    ),
];

/// A number in `0..100` for case `i` and purpose `salt`: the same every run.
fn dice(i: usize, salt: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(40_503)).wrapping_mul(97) % 100
}

fn actor(username: &str, role: Role, department: Option<&str>) -> Actor {
    Actor {
        username: username.into(),
        role,
        department: department.map(str::to_string),
    }
}

/// Who answers for a department in the timeline: the demo's department account for the
/// environment bureau, a duty officer for the others.
fn department_actor(code: &str) -> Actor {
    let name = if code == "environment" {
        "department".to_string()
    } else {
        format!("{code}-duty")
    };
    actor(&name, Role::Department, Some(code))
}

/// The steps of case `i`, each with the hours after the complaint it is taken at.
fn steps(i: usize, lead: &str, urgent: bool) -> Vec<(Action, Actor, i64)> {
    let desk = actor("dispatcher", Role::Dispatcher, None);
    let department = department_actor(lead);
    let (reply_at, result_at) = match (urgent, dice(i, 1)) {
        (true, late) if late < 10 => (5, 30),
        (true, _) => (1, 10),
        (false, late) if late < 12 => (130, 170),
        (false, _) => (4, 24 + (dice(i, 2) as i64) * 2),
    };
    let outcome = match dice(i, 3) {
        0..=84 => Outcome::Resolved,
        85..=94 => Outcome::PartlyResolved,
        _ => Outcome::CannotResolve,
    };
    let rating = match dice(i, 4) {
        0..=64 => Rating::Satisfied,
        65..=87 => Rating::BasicallySatisfied,
        _ => Rating::Dissatisfied,
    };
    let note = |text: &str| text.to_string();
    let result = |explanation: &str| Action::ReportResult {
        outcome,
        explanation: explanation.into(),
        note: String::new(),
        photos: vec![],
    };
    let mut steps = vec![
        (
            Action::Accept {
                note: String::new(),
                category: None,
                group_complaint: false,
                legacy: false,
            },
            desk.clone(),
            1,
        ),
        (
            Action::Dispatch {
                note: String::new(),
                lead: None,
                co_handlers: vec![],
                deadline_class: None,
                shirking: false,
            },
            desk.clone(),
            1,
        ),
        (
            Action::SignFor {
                note: String::new(),
            },
            department.clone(),
            reply_at.min(2),
        ),
        (
            Action::Reply {
                note: note("已安排人员现场核实"),
            },
            department.clone(),
            reply_at,
        ),
        (
            Action::StartHandling {
                note: String::new(),
            },
            department.clone(),
            reply_at + 1,
        ),
        (
            result("已现场处置，问题解决"),
            department.clone(),
            result_at,
        ),
        (
            Action::Feedback {
                note: note("电话回访诉求人，告知办理结果"),
            },
            desk.clone(),
            result_at + 3,
        ),
        (
            Action::Evaluate {
                rating,
                comment: None,
                note: String::new(),
            },
            desk.clone(),
            result_at + 20,
        ),
    ];
    let mut at = result_at + 20;
    if rating == Rating::Dissatisfied {
        steps.push((result("重新组织处置，已彻底解决"), department, at + 48));
        steps.push((
            Action::Feedback {
                note: note("再次回访"),
            },
            desk.clone(),
            at + 50,
        ));
        steps.push((
            Action::Evaluate {
                rating: Rating::BasicallySatisfied,
                comment: None,
                note: String::new(),
            },
            desk.clone(),
            at + 70,
        ));
        at += 70;
    }
    steps.push((
        Action::Close {
            note: String::new(),
        },
        desk,
        at + 1,
    ));
    steps
}

/// Writes the demo city's past complaints, up to `now` (Unix ms); how many.
pub async fn seed(
    store: &dyn Store,
    map: &crate::state::MapSnapshot,
    now: i64,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let grids: Vec<_> = super::areas()
        .into_iter()
        .filter(|a| a.level == Level::Grid && a.code != WORKER_GRID)
        .collect();
    let classes = store.deadline_classes().await?;
    let names = super::department_names();
    let calendar = Calendar::new(store.calendar_days(None).await?);
    let server_actor = sync_core::new_actor();
    let hotline = Writer::new("dispatcher", "web");
    let channels = [
        Channel::Hotline,
        Channel::Hotline,
        Channel::MiniProgram,
        Channel::SuggestionBox,
    ];
    for i in 0..PAST_COMPLAINTS {
        let grid = &grids[i * 7 % grids.len()];
        let (category, titles) = TOPICS[dice(i, 5) * TOPICS.len() / 100];
        let title = titles[i % titles.len()];
        // Spread over the last six months, the newest a few hours old.
        let created = now - (i as i64 * DAY) - (dice(i, 6) as i64 % 20) * HOUR - 3 * HOUR;
        let lon = grid.bbox[0] + (grid.bbox[2] - grid.bbox[0]) * (0.2 + dice(i, 7) as f64 / 170.0);
        let lat = grid.bbox[1] + (grid.bbox[3] - grid.bbox[1]) * (0.2 + dice(i, 8) as f64 / 170.0);
        let mut record: Record = RecordBuilder::complaint(title, &hotline)
            .description(format!("{title}，请尽快处理。"))
            .category(category)
            .channel(channels[i % channels.len()])
            .location(Location {
                lon,
                lat,
                accuracy_m: None,
                crs: Crs::Wgs84,
            })
            .build();
        record.created_at = created;
        let mut doc = RecordDoc::create(&record, server_actor.clone(), &hotline)?;
        record = decide_owner(&mut doc, &record, map, &server_actor)?.unwrap_or(record);
        for event in &mut record.timeline {
            event.at = created;
        }
        if let Some(owner) = record.owner_grid.as_mut() {
            owner.decided_at = created;
        }
        let (lead, class_code) = super::rule_for(category, &grid.code)
            .ok_or_else(|| format!("no demo dispatch rule for {category} in {}", grid.code))?;
        // One plan for every step of the case (only a dispatch reads it).
        let dispatch = classes
            .iter()
            .find(|c| c.code == class_code)
            .map(|class| DispatchPlan {
                lead: lead.into(),
                co_handlers: vec![],
                class: class.clone(),
                names: names.clone(),
            });
        let class = dispatch.as_ref().map(|plan| plan.class.clone());
        let mut case = CaseRow::default();
        lifecycle::sync_case(&record, &mut case, created);
        let mut writes = CaseWrites::default();
        let mut updated = created;
        for (action, by, hours) in steps(i, lead, class_code == "urgent") {
            let at = created + hours * HOUR;
            if at > now {
                break;
            }
            let env = Env {
                now: at,
                calendar: &calendar,
                dispatch: dispatch.clone(),
                class: class.clone(),
                leader_review: false,
            };
            let mut done = lifecycle::apply(&mut record, &mut case, &action, &by, &env)?;
            writes.notices.append(&mut done.notices);
            writes.evaluations.append(&mut done.evaluations);
            writes.hazard_steps.append(&mut done.hazard_steps);
            writes.reviews.append(&mut done.reviews);
            updated = at;
        }
        let mut doc =
            RecordDoc::create(&record, server_actor.clone(), &Writer::new(SERVER, SERVER))?;
        let changes = log_entries(&doc.automerge().get_changes(&[]), "demo");
        let commit = RecordCommit {
            row: record_row(&record, updated),
            doc: doc.save(),
            expected_version: None,
            changes,
            contact: None,
        };
        store.commit_workflow(&commit, &case, &writes).await?;
    }
    Ok(PAST_COMPLAINTS)
}

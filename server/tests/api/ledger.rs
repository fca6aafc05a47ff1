//! For random sequences of lifecycle actions and supervision sweeps over the weeks around a
//! month, the month's rates, points and prominent lists equal what an audit trail kept by this
//! test says, recomputed here without the report's code: every evaluation, return, overdue
//! and shirking notice counts in the month it happened, charged to whoever held the case then.

use std::collections::BTreeMap;

use gridsync_server::domain::Role;
use gridsync_server::store::{CaseRow, Evaluation, Notice};
use gridsync_server::workflow::calendar::{Calendar, DeadlineClass, Span};
use gridsync_server::workflow::lifecycle::{self, Action, Actor, DispatchPlan, Env};
use gridsync_server::workflow::rates::{self, RateSettings};
use gridsync_server::workflow::report::{self, IssuedNotice, Month, MonthlyInput, ScoreRules};
use gridsync_server::workflow::scheduler;
use proptest::prelude::*;
use sync_core::{Outcome, OwnerGrid, Rating, Record, RecordBuilder, Writer};

const HOUR: i64 = 3600 * 1000;
const DEPARTMENTS: [&str; 3] = ["housing", "water", "police"];
const GRIDS: [&str; 2] = ["g1", "g2"];

/// Replies are due a day after the first dispatch, results three days after each assignment.
fn class() -> DeadlineClass {
    DeadlineClass {
        code: "test".into(),
        name: "测试".into(),
        response: Span::Hours(24),
        handling: Span::Hours(72),
    }
}

/// What the test asks for; turned into an [`Action`] against the case as it stands.
#[derive(Debug, Clone)]
enum Step {
    Accept {
        group: bool,
        legacy: bool,
    },
    Flag,
    Dispatch {
        lead: usize,
        shirking: bool,
    },
    SignFor,
    Reply,
    StartHandling,
    Report(Outcome),
    Feedback,
    Evaluate(Rating),
    Close,
    LinkDuplicate(usize),
    Supervise,
    /// The scheduler's sweep over every case.
    Sweep,
}

fn step() -> impl Strategy<Value = Step> {
    let outcome = prop_oneof![
        Just(Outcome::Resolved),
        Just(Outcome::PartlyResolved),
        Just(Outcome::CannotResolve)
    ];
    let rating = prop_oneof![
        Just(Rating::Satisfied),
        Just(Rating::BasicallySatisfied),
        Just(Rating::Dissatisfied)
    ];
    prop_oneof![
        2 => (any::<bool>(), any::<bool>()).prop_map(|(group, legacy)| Step::Accept { group, legacy }),
        1 => Just(Step::Flag),
        3 => (0..DEPARTMENTS.len(), prop::bool::weighted(0.3))
            .prop_map(|(lead, shirking)| Step::Dispatch { lead, shirking }),
        2 => Just(Step::SignFor),
        2 => Just(Step::Reply),
        2 => Just(Step::StartHandling),
        3 => outcome.prop_map(Step::Report),
        2 => Just(Step::Feedback),
        3 => rating.prop_map(Step::Evaluate),
        1 => Just(Step::Close),
        1 => (0..8usize).prop_map(Step::LinkDuplicate),
        1 => Just(Step::Supervise),
        2 => Just(Step::Sweep),
    ]
}

/// The test's own view of a case, kept from the steps that were taken.
#[derive(Debug, Clone, Default)]
struct Trail {
    grid: String,
    closed: bool,
    lead: Option<String>,
    group: bool,
    legacy: bool,
    response_due: Option<i64>,
    replied_at: Option<i64>,
    /// Who answers for the initial reply.
    response_department: Option<String>,
    /// The active lead's result deadline, and the standing result.
    deadline: Option<i64>,
    result: Option<Outcome>,
    /// When the standing result must have been evaluated by.
    evaluation_due: Option<i64>,
    /// `(subject, due_at)` of the deadlines supervised.
    supervised: Vec<(String, i64)>,
}

/// A fact of the audit trail: `(at, what, department, grid)`.
#[derive(Debug, Clone)]
enum Fact {
    Evaluated {
        at: i64,
        rating: Rating,
        outcome: Outcome,
        department: Option<String>,
        grid: String,
        group: bool,
        legacy: bool,
        case: usize,
    },
    Overdue {
        at: i64,
        department: Option<String>,
        grid: String,
        case: usize,
    },
    Shirked {
        at: i64,
        department: String,
        grid: String,
    },
}

impl Trail {
    /// The deadlines missed at `now` and not yet supervised, as the trail sees them; marks
    /// them supervised.
    fn misses(&mut self, now: i64, case: usize, facts: &mut Vec<Fact>) {
        if self.closed {
            return;
        }
        let mut missed = Vec::new();
        if let (None, Some(due)) = (self.replied_at, self.response_due)
            && due < now
        {
            missed.push(("reply", due));
        }
        if let (None, Some(due)) = (self.result, self.deadline)
            && due < now
        {
            missed.push(("result", due));
        }
        if let Some(due) = self.evaluation_due
            && due < now
        {
            missed.push(("evaluation", due));
        }
        for (subject, due) in missed {
            if self
                .supervised
                .iter()
                .any(|(s, d)| s == subject && *d == due)
            {
                continue;
            }
            self.supervised.push((subject.to_string(), due));
            facts.push(Fact::Overdue {
                at: now,
                // A missed evaluation is the desk's, charged to the regions only.
                department: if subject == "evaluation" {
                    None
                } else {
                    self.lead.clone()
                },
                grid: self.grid.clone(),
                case,
            });
        }
    }
}

struct World {
    records: Vec<Record>,
    cases: Vec<CaseRow>,
    trails: Vec<Trail>,
    evaluations: Vec<Evaluation>,
    notices: Vec<Notice>,
    facts: Vec<Fact>,
}

impl World {
    fn new(n: usize, grids: &[usize]) -> World {
        let mut world = World {
            records: Vec::new(),
            cases: Vec::new(),
            trails: Vec::new(),
            evaluations: Vec::new(),
            notices: Vec::new(),
            facts: Vec::new(),
        };
        for i in 0..n {
            let grid = GRIDS[grids[i % grids.len()] % GRIDS.len()];
            let mut record =
                RecordBuilder::complaint(format!("诉求 {i}"), &Writer::new("desk", "web"))
                    .category("municipal")
                    .build();
            record.owner_grid = Some(OwnerGrid {
                code: Some(grid.into()),
                boundary_version: 1,
                decided_at: 0,
            });
            let mut case = CaseRow::default();
            lifecycle::sync_case(&record, &mut case, 0);
            world.records.push(record);
            world.cases.push(case);
            world.trails.push(Trail {
                grid: grid.into(),
                ..Trail::default()
            });
        }
        world
    }

    fn issued(&self, i: usize) -> Vec<(String, i64)> {
        self.notices
            .iter()
            .filter(|n| n.record_id == self.cases[i].record_id)
            .filter_map(|n| n.due_at.map(|d| (n.subject.clone(), d)))
            .collect()
    }

    fn sweep(&mut self, now: i64) {
        for i in 0..self.records.len() {
            let issued = self.issued(i);
            let mut notices =
                scheduler::missed_notices(&mut self.records[i], &mut self.cases[i], now, &issued);
            self.notices.append(&mut notices);
            self.trails[i].misses(now, i, &mut self.facts);
        }
    }

    /// Takes `step` on case `i` at `now` as the server does; when it is taken, writes what it
    /// means into the trail.
    fn take(&mut self, i: usize, step: &Step, now: i64, calendar: &Calendar) {
        let desk = Actor {
            username: "desk".into(),
            role: Role::Dispatcher,
            department: None,
        };
        let lead = self.trails[i].lead.clone();
        let department = Actor {
            username: "staff".into(),
            role: Role::Department,
            department: lead.clone(),
        };
        let note = String::new();
        let (action, actor, plan) = match step {
            Step::Sweep => return self.sweep(now),
            Step::Accept { group, legacy } => (
                Action::Accept {
                    note,
                    category: None,
                    group_complaint: *group,
                    legacy: *legacy,
                },
                &desk,
                None,
            ),
            Step::Flag => (
                Action::FlagUnreasonable {
                    note: "重复".into(),
                },
                &desk,
                None,
            ),
            Step::Dispatch { lead, shirking } => (
                Action::Dispatch {
                    note,
                    lead: None,
                    co_handlers: vec![],
                    deadline_class: None,
                    shirking: *shirking,
                },
                &desk,
                Some(DispatchPlan {
                    lead: DEPARTMENTS[*lead].into(),
                    co_handlers: vec![],
                    class: class(),
                    names: Default::default(),
                }),
            ),
            Step::SignFor => (Action::SignFor { note }, &department, None),
            Step::Reply => (
                Action::Reply {
                    note: "收到".into(),
                },
                &department,
                None,
            ),
            Step::StartHandling => (Action::StartHandling { note }, &department, None),
            Step::Report(outcome) => (
                Action::ReportResult {
                    outcome: *outcome,
                    explanation: "处理".into(),
                    note,
                    photos: vec![],
                },
                &department,
                None,
            ),
            Step::Feedback => (
                Action::Feedback {
                    note: "回访".into(),
                },
                &desk,
                None,
            ),
            Step::Evaluate(rating) => (
                Action::Evaluate {
                    rating: *rating,
                    comment: None,
                    note,
                },
                &desk,
                None,
            ),
            Step::Close => (Action::Close { note }, &desk, None),
            Step::LinkDuplicate(other) => (
                Action::LinkDuplicate {
                    duplicate_of: self.records[other % self.records.len()].id,
                    note,
                },
                &desk,
                None,
            ),
            Step::Supervise => (
                Action::Supervise {
                    note: "督办".into(),
                },
                &desk,
                None,
            ),
        };
        let env = Env {
            now,
            calendar,
            dispatch: plan,
            class: Some(class()),
            leader_review: false,
        };
        let issued = self.issued(i);
        let (mut record, mut case) = (self.records[i].clone(), self.cases[i].clone());
        let Ok(mut writes) = lifecycle::take(&mut record, &mut case, &action, actor, &env, &issued)
        else {
            return;
        };
        (self.records[i], self.cases[i]) = (record, case);
        self.notices.append(&mut writes.notices);
        self.evaluations.append(&mut writes.evaluations);

        // The trail: misses first, then what the step did.
        let trail = &mut self.trails[i];
        trail.misses(now, i, &mut self.facts);
        match step {
            Step::Accept { group, legacy } => {
                (trail.group, trail.legacy) = (*group, *legacy);
            }
            Step::Dispatch { lead, shirking } => {
                if *shirking {
                    self.facts.push(Fact::Shirked {
                        at: now,
                        department: trail.lead.clone().expect("a shirked case had a lead"),
                        grid: trail.grid.clone(),
                    });
                }
                let lead = DEPARTMENTS[*lead].to_string();
                let due = *trail.response_due.get_or_insert(now + 24 * HOUR);
                if trail.replied_at.is_none() && now <= due {
                    trail.response_department = Some(lead.clone());
                }
                trail.lead = Some(lead);
                trail.deadline = Some(now + 72 * HOUR);
            }
            Step::Reply if case_was_signed_for_first_reply(trail, &self.records[i]) => {
                trail.replied_at = Some(now);
            }
            Step::Report(outcome) => {
                trail.result = Some(*outcome);
                trail.evaluation_due = Some(lifecycle::EVALUATION_SPAN.due(calendar, now));
            }
            Step::Evaluate(rating) => {
                self.facts.push(Fact::Evaluated {
                    at: now,
                    rating: *rating,
                    outcome: trail.result.expect("an evaluated case had a result"),
                    department: trail.lead.clone(),
                    grid: trail.grid.clone(),
                    group: trail.group,
                    legacy: trail.legacy,
                    case: i,
                });
                trail.evaluation_due = None;
                if *rating == Rating::Dissatisfied {
                    trail.result = None;
                    trail.deadline = Some(now + 72 * HOUR);
                }
            }
            Step::Close | Step::LinkDuplicate(_) => trail.closed = true,
            _ => {}
        }
    }
}

/// Whether a reply just taken was the lead's first reply (the one that answers the case): the
/// trail has none yet and the record now shows the case replied.
fn case_was_signed_for_first_reply(trail: &Trail, record: &Record) -> bool {
    trail.replied_at.is_none() && record.timeline.last().is_some_and(|e| e.kind == "replied")
}

/// What the trail says a group earned in `[from, to]`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Expected {
    reply_due: u64,
    on_time: u64,
    evaluated: u64,
    resolved: u64,
    group: u64,
    legacy: u64,
    satisfied: u64,
    basic: u64,
    dissatisfied: u64,
    overdue: u64,
    shirked: u64,
}

impl Expected {
    fn score(&self, rules: &ScoreRules) -> f64 {
        rules.base
            + rules.resolved * self.resolved as f64
            + rules.group_resolved * self.group as f64
            + rules.legacy_resolved * self.legacy as f64
            + rules.overdue * self.overdue as f64
            + rules.shirking * self.shirked as f64
            + rules.dissatisfied * self.dissatisfied as f64
    }
}

/// The regions of a grid in this test: the grid and the city.
fn regions_of(grid: &str) -> Vec<(String, String)> {
    vec![("city".into(), "city".into()), (grid.into(), "grid".into())]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_months_figures_are_what_the_audit_trail_says(
        n in 1usize..7,
        grids in prop::collection::vec(0usize..2, 1..7),
        steps in prop::collection::vec((0usize..7, step(), 0i64..40), 1..120),
    ) {
        let month = Month::parse("2026-10").unwrap();
        let (from, to) = month.bounds();
        let calendar = Calendar::default();
        let mut world = World::new(n, &grids);
        // From 25 September, a few hours to more than a day and a half between steps: the
        // cases' events straddle the month's beginning and often its end.
        let mut now = month.first_day().start_ms() - 6 * 24 * HOUR;
        for (case, step, hours) in &steps {
            now += hours * HOUR;
            world.take(case % n, step, now, &calendar);
        }

        // The report, as the server makes it from what was stored.
        let within = |t: i64| (from..=to).contains(&t);
        let month_evaluations: Vec<Evaluation> =
            world.evaluations.iter().filter(|e| within(e.at)).cloned().collect();
        let notices: Vec<IssuedNotice> = world
            .notices
            .iter()
            .filter(|n| within(n.issued_at))
            .map(|n| IssuedNotice {
                notice: n.clone(),
                regions: n.owner_grid.as_deref().map(regions_of).unwrap_or_default(),
            })
            .collect();
        let settings = RateSettings { basic_weight: 0.8, min_sample: 1 };
        let rules = ScoreRules::default();
        let computed = rates::compute(&world.cases, &month_evaluations, from, to, &settings, regions_of);
        let made = report::monthly(MonthlyInput {
            month,
            complaints: &[],
            previous_complaints: &[],
            cases: &world.cases,
            evaluations: &month_evaluations,
            notices: &notices,
            rates: computed,
            hazards: gridsync_server::workflow::hazards::HazardReport::empty(from, to, 1),
            leader_review: Default::default(),
            rules,
            labels: &report::Labels::default(),
            trend_months: vec![month],
            trend_cases: &world.cases,
            trend_evaluations: &world.evaluations,
        });

        // The same figures from the trail.
        let mut departments: BTreeMap<String, Expected> = BTreeMap::new();
        let mut regions: BTreeMap<String, Expected> = BTreeMap::new();
        let mut charge = |department: Option<&String>, grid: &str, add: &dyn Fn(&mut Expected)| {
            if let Some(d) = department {
                add(departments.entry(d.clone()).or_default());
            }
            for (code, _) in regions_of(grid) {
                add(regions.entry(code).or_default());
            }
        };
        for trail in &world.trails {
            if let Some(due) = trail.response_due.filter(|d| within(*d)) {
                let on_time = u64::from(trail.replied_at.is_some_and(|at| at <= due));
                charge(trail.response_department.as_ref(), &trail.grid, &|e| {
                    e.reply_due += 1;
                    e.on_time += on_time;
                });
            }
        }
        let mut returned = Vec::new();
        let mut overdue = Vec::new();
        for fact in &world.facts {
            match fact {
                Fact::Evaluated { at, rating, outcome, department, grid, group, legacy, case }
                    if within(*at) =>
                {
                    let accepted = *rating != Rating::Dissatisfied;
                    let resolved = u64::from(accepted && *outcome == Outcome::Resolved);
                    if !accepted {
                        returned.push(world.cases[*case].record_id.clone());
                    }
                    let (rating, group, legacy) = (*rating, *group, *legacy);
                    charge(department.as_ref(), grid, &|e| {
                        e.evaluated += 1;
                        e.resolved += resolved;
                        e.group += resolved * u64::from(group);
                        e.legacy += resolved * u64::from(legacy);
                        match rating {
                            Rating::Satisfied => e.satisfied += 1,
                            Rating::BasicallySatisfied => e.basic += 1,
                            Rating::Dissatisfied => e.dissatisfied += 1,
                        }
                    });
                }
                Fact::Overdue { at, department, grid, case } if within(*at) => {
                    overdue.push(world.cases[*case].record_id.clone());
                    charge(department.as_ref(), grid, &|e| e.overdue += 1);
                }
                Fact::Shirked { at, department, grid } if within(*at) => {
                    charge(Some(department), grid, &|e| e.shirked += 1);
                }
                _ => {}
            }
        }
        returned.sort();
        returned.dedup();
        overdue.sort();
        overdue.dedup();
        prop_assert_eq!(&made.returned, &returned);
        prop_assert_eq!(&made.overdue, &overdue);

        // Everyone the trail charged is scored and rated exactly so, and nobody else.
        for (scores, groups, expected) in [
            (&made.department_scores, &made.rates.departments, &departments),
            (&made.region_scores, &made.rates.regions, &regions),
        ] {
            let mut scored: Vec<&str> = scores.iter().map(|s| s.code.as_str()).collect();
            scored.sort_unstable();
            let charged: Vec<&str> = expected.keys().map(String::as_str).collect();
            prop_assert_eq!(scored, charged);
            for (code, want) in expected {
                let score = scores.iter().find(|s| &s.code == code).unwrap();
                prop_assert_eq!(
                    (score.resolved, score.resolved_group, score.resolved_legacy,
                     score.overdue, score.shirked, score.dissatisfied),
                    (want.resolved, want.group, want.legacy,
                     want.overdue, want.shirked, want.dissatisfied),
                    "{}", code
                );
                prop_assert!((score.score - want.score(&rules)).abs() < 1e-9, "{} score", code);
                let rated = groups.iter().find(|g| &g.code == code);
                let (reply_due, on_time, evaluated, resolved, satisfaction) = rated.map_or(
                    (0, 0.0, 0, 0.0, 0.0),
                    |g| (g.response.denominator, g.response.numerator,
                         g.satisfaction.denominator, g.resolution.numerator,
                         g.satisfaction.numerator),
                );
                prop_assert_eq!(
                    (reply_due, on_time as u64, evaluated, resolved as u64),
                    (want.reply_due, want.on_time, want.evaluated, want.resolved),
                    "{} rates", code
                );
                let expected_satisfaction = want.satisfied as f64 + 0.8 * want.basic as f64;
                prop_assert!((satisfaction - expected_satisfaction).abs() < 1e-9, "{}", code);
            }
        }
    }
}

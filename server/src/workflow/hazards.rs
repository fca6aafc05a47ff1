//! The hazard loop's figures for a period (隐患排查整改), by risk level, hazard type, region and
//! department. Pure.
//!
//! Each figure counts what happened in the period `[from, to]`, charged to the grid that owned
//! the hazard and the department that held it at that moment (the `hazard_steps` ledger), so
//! nothing done to a hazard afterwards moves a period's figures:
//!
//! - **found**: risk inspections made in the period (by type and level as they are now);
//! - **verified**, **returned** (to the worker), **resolved in the grid**, **escalated**,
//!   **dispatched**: those steps taken in the period;
//! - **rectified on time** / **late**: rectifications reported in the period by, or after,
//!   their deadline;
//! - **overdue**: rectification deadlines that fell due in the period and were missed (the
//!   scheduler's `result` notice on a hazard);
//! - **re-inspected**, **failed re-inspections**: re-inspections in the period, and those that
//!   found the hazard not fixed;
//! - **rectification rate (整改率)** = re-inspections in the period that found fixed a
//!   rectification reported by its deadline / (re-inspections in the period of rectifications
//!   reported by their deadline + rectification deadlines missed in the period).
//!
//! Every rectification round — a dispatch, or the fresh deadline a failed re-inspection sets —
//! is judged exactly once: at its re-inspection when it was reported on time, at its deadline
//! when it was not (a late report's re-inspection adds nothing more). So a department cannot
//! lift its rate by reporting late, and leaving a rectification unreported counts against it
//! from the day its deadline passes. Within peers (regions of one level; departments) the rate
//! is ranked only when its denominator reaches the same minimum sample as the three rates.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::{HazardFound, HazardMiss, HazardStep};
use crate::workflow::rates::{Rate, RateSettings, rank};

/// The counts of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HazardTally {
    pub found: u64,
    pub verified: u64,
    pub returned: u64,
    pub resolved_in_grid: u64,
    pub escalated: u64,
    pub dispatched: u64,
    pub rectified_on_time: u64,
    pub rectified_late: u64,
    pub overdue: u64,
    pub reinspected: u64,
    pub failed_reinspections: u64,
    /// The rectification rate's numerator and the part of its denominator re-inspections make.
    pub fixed_on_time: u64,
    pub reinspected_on_time: u64,
}

impl HazardTally {
    fn add(&mut self, o: &HazardTally) {
        self.found += o.found;
        self.verified += o.verified;
        self.returned += o.returned;
        self.resolved_in_grid += o.resolved_in_grid;
        self.escalated += o.escalated;
        self.dispatched += o.dispatched;
        self.rectified_on_time += o.rectified_on_time;
        self.rectified_late += o.rectified_late;
        self.overdue += o.overdue;
        self.reinspected += o.reinspected;
        self.failed_reinspections += o.failed_reinspections;
        self.fixed_on_time += o.fixed_on_time;
        self.reinspected_on_time += o.reinspected_on_time;
    }

    /// What one step adds.
    fn of_step(step: &HazardStep) -> HazardTally {
        let mut t = HazardTally::default();
        let on_time = step.on_time == Some(true);
        match step.step.as_str() {
            "verified" => t.verified = 1,
            "returned_to_worker" => t.returned = 1,
            "resolved_in_grid" => t.resolved_in_grid = 1,
            "escalated" => t.escalated = 1,
            "dispatched" => t.dispatched = 1,
            "rectified" if on_time => t.rectified_on_time = 1,
            "rectified" => t.rectified_late = 1,
            "reinspected_fixed" | "reinspected_not_fixed" => {
                let fixed = step.step == "reinspected_fixed";
                t.reinspected = 1;
                t.failed_reinspections = u64::from(!fixed);
                t.reinspected_on_time = u64::from(on_time);
                t.fixed_on_time = u64::from(on_time && fixed);
            }
            _ => {}
        }
        t
    }

    /// The rectification rate of these counts.
    pub fn rectification(&self) -> Rate {
        Rate::new(
            self.fixed_on_time as f64,
            self.reinspected_on_time + self.overdue,
        )
    }
}

/// A risk level, hazard type, region or department with its figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HazardGroup {
    pub code: String,
    pub name: String,
    /// The region's level (`city` … `grid`); `None` for the other groupings.
    pub level: Option<String>,
    pub tally: HazardTally,
    pub rectification: Rate,
}

/// The hazard figures of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HazardReport {
    pub from: i64,
    pub to: i64,
    pub min_sample: u64,
    pub total: HazardTally,
    pub rectification: Rate,
    pub by_risk_level: Vec<HazardGroup>,
    pub by_type: Vec<HazardGroup>,
    /// Every region with a hazard figure in the period, by level then code.
    pub by_region: Vec<HazardGroup>,
    pub by_department: Vec<HazardGroup>,
}

impl HazardReport {
    /// The figures of a period in which nothing happened to any hazard.
    pub fn empty(from: i64, to: i64, min_sample: u64) -> HazardReport {
        HazardReport {
            from,
            to,
            min_sample,
            total: HazardTally::default(),
            rectification: HazardTally::default().rectification(),
            by_risk_level: Vec::new(),
            by_type: Vec::new(),
            by_region: Vec::new(),
            by_department: Vec::new(),
        }
    }
}

/// The grid leaders' review of their workers' complaints in a period, where regions ask for it:
/// the steps taken, by every region up from the grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReviewTally {
    pub verified: u64,
    pub returned: u64,
    pub resubmitted: u64,
    pub resolved_in_grid: u64,
}

/// A region's review figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewGroup {
    pub code: String,
    pub name: String,
    pub level: String,
    pub tally: ReviewTally,
}

/// The review figures of a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReviewReport {
    pub total: ReviewTally,
    /// Every region with a review step in the period, by level then code.
    pub by_region: Vec<ReviewGroup>,
}

/// Counts the review steps taken in `[from, to]`.
pub fn reviews(
    steps: &[crate::store::ReviewStep],
    (from, to): (i64, i64),
    regions_of: impl Fn(&str) -> Vec<(String, String)>,
    region_name: &dyn Fn(&str) -> String,
) -> ReviewReport {
    let mut total = ReviewTally::default();
    let mut regions: BTreeMap<(String, String), ReviewTally> = BTreeMap::new();
    for step in steps.iter().filter(|s| (from..=to).contains(&s.at)) {
        let mut t = ReviewTally::default();
        match step.step.as_str() {
            "verified" => t.verified = 1,
            "returned_to_worker" => t.returned = 1,
            "resubmitted" => t.resubmitted = 1,
            "resolved_in_grid" => t.resolved_in_grid = 1,
            _ => continue,
        }
        let add = |into: &mut ReviewTally| {
            into.verified += t.verified;
            into.returned += t.returned;
            into.resubmitted += t.resubmitted;
            into.resolved_in_grid += t.resolved_in_grid;
        };
        add(&mut total);
        if let Some(grid) = &step.owner_grid {
            for (code, level) in regions_of(grid) {
                add(regions.entry((level, code)).or_default());
            }
        }
    }
    let order = |level: &str| {
        crate::domain::Level::ALL
            .iter()
            .position(|l| l.as_str() == level)
            .unwrap_or(usize::MAX)
    };
    let mut by_region: Vec<ReviewGroup> = regions
        .into_iter()
        .map(|((level, code), tally)| ReviewGroup {
            name: region_name(&code),
            code,
            level,
            tally,
        })
        .collect();
    by_region.sort_by(|a, b| {
        order(&a.level)
            .cmp(&order(&b.level))
            .then(a.code.cmp(&b.code))
    });
    ReviewReport { total, by_region }
}

/// A risk level's Chinese name.
pub fn risk_level_name(code: &str) -> &str {
    match code {
        "critical" => "重大",
        "high" => "较大",
        "medium" => "一般",
        "low" => "低",
        other => other,
    }
}

/// A hazard type's Chinese name, for the types the field app offers (others show their code).
pub fn hazard_type_name(code: &str) -> &str {
    match code {
        "fire" => "消防安全",
        "gas" => "燃气安全",
        "building" => "房屋建筑",
        "environment" => "环境卫生",
        "public_facility" => "公共设施",
        "public_space" => "占道经营与堆放",
        "traffic" => "道路交通",
        "water" => "防汛与水务",
        "electric" => "用电安全",
        "food" => "食品安全",
        "dispute" => "矛盾纠纷",
        "" => "未填写",
        other => other,
    }
}

/// The names the groups carry.
pub struct Names<'a> {
    pub region: &'a dyn Fn(&str) -> String,
    pub department: &'a dyn Fn(&str) -> String,
}

/// A counted fact: its tally, hazard type, risk level, grid and department.
type Fact<'a> = (
    HazardTally,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
);

/// Computes the figures of `[from, to]`: `found` made in it, `steps` taken in it, `misses` due
/// in it. `regions_of` gives a grid's region path (the grid and every ancestor with its level).
pub fn compute(
    found: &[HazardFound],
    steps: &[HazardStep],
    misses: &[HazardMiss],
    (from, to): (i64, i64),
    settings: &RateSettings,
    regions_of: impl Fn(&str) -> Vec<(String, String)>,
    names: &Names<'_>,
) -> HazardReport {
    let within = |t: i64| (from..=to).contains(&t);
    // Every counted fact: its tally, type, level, grid and department.
    let mut facts: Vec<Fact<'_>> = Vec::new();
    for f in found.iter().filter(|f| within(f.created_at)) {
        let tally = HazardTally {
            found: 1,
            ..HazardTally::default()
        };
        facts.push((
            tally,
            &f.hazard_type,
            &f.risk_level,
            f.owner_grid.as_deref(),
            None,
        ));
    }
    for s in steps.iter().filter(|s| within(s.at)) {
        facts.push((
            HazardTally::of_step(s),
            &s.hazard_type,
            &s.risk_level,
            s.owner_grid.as_deref(),
            s.department.as_deref(),
        ));
    }
    for m in misses.iter().filter(|m| within(m.due_at)) {
        let tally = HazardTally {
            overdue: 1,
            ..HazardTally::default()
        };
        facts.push((
            tally,
            &m.hazard_type,
            &m.risk_level,
            m.owner_grid.as_deref(),
            m.department.as_deref(),
        ));
    }

    let mut total = HazardTally::default();
    let mut levels: BTreeMap<String, HazardTally> = BTreeMap::new();
    let mut types: BTreeMap<String, HazardTally> = BTreeMap::new();
    let mut regions: BTreeMap<(String, String), HazardTally> = BTreeMap::new();
    let mut departments: BTreeMap<String, HazardTally> = BTreeMap::new();
    for (tally, hazard_type, level, grid, department) in &facts {
        total.add(tally);
        levels.entry(level.to_string()).or_default().add(tally);
        types.entry(hazard_type.to_string()).or_default().add(tally);
        if let Some(grid) = grid {
            for (code, region_level) in regions_of(grid) {
                regions.entry((region_level, code)).or_default().add(tally);
            }
        }
        if let Some(department) = department {
            departments
                .entry(department.to_string())
                .or_default()
                .add(tally);
        }
    }
    let group =
        |code: String, name: String, level: Option<String>, tally: HazardTally| HazardGroup {
            rectification: tally.rectification(),
            code,
            name,
            level,
            tally,
        };
    let level_order = |code: &str| {
        ["critical", "high", "medium", "low"]
            .iter()
            .position(|l| *l == code)
            .unwrap_or(usize::MAX)
    };
    let mut by_risk_level: Vec<HazardGroup> = levels
        .into_iter()
        .map(|(code, t)| group(code.clone(), risk_level_name(&code).into(), None, t))
        .collect();
    by_risk_level.sort_by_key(|g| level_order(&g.code));
    let by_type = types
        .into_iter()
        .map(|(code, t)| group(code.clone(), hazard_type_name(&code).into(), None, t))
        .collect();
    let region_order = |level: &str| {
        crate::domain::Level::ALL
            .iter()
            .position(|l| l.as_str() == level)
            .unwrap_or(usize::MAX)
    };
    let mut by_region: Vec<HazardGroup> = regions
        .into_iter()
        .map(|((level, code), t)| group(code.clone(), (names.region)(&code), Some(level), t))
        .collect();
    by_region.sort_by(|a, b| {
        region_order(a.level.as_deref().unwrap_or(""))
            .cmp(&region_order(b.level.as_deref().unwrap_or("")))
            .then(a.code.cmp(&b.code))
    });
    let mut region_levels: Vec<Option<String>> =
        by_region.iter().map(|g| g.level.clone()).collect();
    region_levels.dedup();
    for level in region_levels {
        let mut peers: Vec<&mut HazardGroup> =
            by_region.iter_mut().filter(|g| g.level == level).collect();
        rank(&mut peers, settings.min_sample, |g| &mut g.rectification);
    }
    let mut by_department: Vec<HazardGroup> = departments
        .into_iter()
        .map(|(code, t)| group(code.clone(), (names.department)(&code), None, t))
        .collect();
    let mut peers: Vec<&mut HazardGroup> = by_department.iter_mut().collect();
    rank(&mut peers, settings.min_sample, |g| &mut g.rectification);
    HazardReport {
        from,
        to,
        min_sample: settings.min_sample,
        rectification: total.rectification(),
        total,
        by_risk_level,
        by_type,
        by_region,
        by_department,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, at: i64, step: &str, department: &str, on_time: Option<bool>) -> HazardStep {
        HazardStep {
            id: id.into(),
            record_id: id.into(),
            at,
            step: step.into(),
            hazard_type: "fire".into(),
            risk_level: "high".into(),
            owner_grid: Some("g1".into()),
            department: Some(department.into()),
            on_time,
        }
    }

    fn miss(id: &str, due_at: i64, department: &str) -> HazardMiss {
        HazardMiss {
            record_id: id.into(),
            due_at,
            department: Some(department.into()),
            owner_grid: Some("g1".into()),
            hazard_type: "fire".into(),
            risk_level: "high".into(),
        }
    }

    fn report(steps: &[HazardStep], misses: &[HazardMiss], min_sample: u64) -> HazardReport {
        let settings = RateSettings {
            min_sample,
            ..RateSettings::default()
        };
        let names = Names {
            region: &|c| format!("region {c}"),
            department: &|c| format!("dept {c}"),
        };
        compute(
            &[],
            steps,
            misses,
            (0, 1000),
            &settings,
            |g| {
                vec![
                    (g.to_string(), "grid".into()),
                    ("c".into(), "county".into()),
                ]
            },
            &names,
        )
    }

    #[test]
    fn each_rectification_round_is_judged_once() {
        let steps = [
            // a: on time and fixed.
            step("a", 10, "rectified", "housing", Some(true)),
            step("a", 20, "reinspected_fixed", "housing", Some(true)),
            // b: on time but not fixed (a failed re-inspection), then missed its fresh deadline.
            step("b", 10, "rectified", "housing", Some(true)),
            step("b", 20, "reinspected_not_fixed", "housing", Some(true)),
            // c: missed, then reported late and fixed: judged at the deadline only.
            step("c", 40, "rectified", "water", Some(false)),
            step("c", 50, "reinspected_fixed", "water", Some(false)),
        ];
        let misses = [miss("b", 30, "housing"), miss("c", 30, "water")];

        let r = report(&steps, &misses, 1);

        assert_eq!(
            (r.rectification.numerator, r.rectification.denominator),
            (1.0, 4)
        );
        let t = r.total;
        assert_eq!(
            (
                t.rectified_on_time,
                t.rectified_late,
                t.overdue,
                t.failed_reinspections,
                t.reinspected
            ),
            (2, 1, 2, 1, 3)
        );
        let housing = &r.by_department[0];
        assert_eq!(
            (
                housing.code.as_str(),
                housing.name.as_str(),
                housing.rectification.rate
            ),
            ("housing", "dept housing", Some(1.0 / 3.0))
        );
        let water = &r.by_department[1];
        assert_eq!(water.rectification.rate, Some(0.0));
        assert_eq!(
            (housing.rectification.rank, water.rectification.rank),
            (Some(1), Some(2))
        );
    }

    #[test]
    fn a_rate_below_the_minimum_sample_is_shown_but_not_ranked() {
        let steps = [step("a", 20, "reinspected_fixed", "housing", Some(true))];
        let r = report(&steps, &[], 2);
        assert_eq!(r.by_department[0].rectification.rate, Some(1.0));
        assert_eq!(r.by_department[0].rectification.rank, None);
    }

    #[test]
    fn steps_outside_the_period_do_not_count() {
        let steps = [step("a", 2000, "verified", "housing", None)];
        let r = report(&steps, &[miss("b", -5, "housing")], 1);
        assert_eq!(r.total, HazardTally::default());
        assert_eq!(r.rectification.rate, None);
    }

    #[test]
    fn regions_add_up_every_level_and_levels_come_in_order() {
        let steps = [
            step("a", 1, "verified", "housing", None),
            HazardStep {
                risk_level: "critical".into(),
                ..step("b", 2, "verified", "housing", None)
            },
        ];
        let r = report(&steps, &[], 1);
        let codes: Vec<(&str, &str)> = r
            .by_region
            .iter()
            .map(|g| (g.level.as_deref().unwrap(), g.code.as_str()))
            .collect();
        assert_eq!(codes, vec![("county", "c"), ("grid", "g1")]);
        assert!(r.by_region.iter().all(|g| g.tally.verified == 2));
        let levels: Vec<&str> = r.by_risk_level.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(levels, vec!["重大", "较大"]);
    }

    mod rounds {
        use proptest::prelude::*;
        use sync_core::{OwnerGrid, RecordBuilder, RiskLevel, Writer};

        use super::super::*;
        use crate::domain::Role;
        use crate::store::{CaseRow, CaseWrites};
        use crate::workflow::calendar::{Calendar, DeadlineClass, Span};
        use crate::workflow::lifecycle::{self, Action, Actor, DispatchPlan, Env};

        const HOUR: i64 = 3_600_000;

        /// One rectification round: reported `Some(minutes)` from its deadline (negative: before
        /// it) or never, and found fixed or not on re-inspection.
        type Round = (Option<i64>, bool);

        struct Hazard {
            record: sync_core::Record,
            case: CaseRow,
            issued: Vec<(String, i64)>,
            steps: Vec<HazardStep>,
            misses: Vec<HazardMiss>,
            calendar: Calendar,
            class: DeadlineClass,
        }

        impl Hazard {
            fn take(&mut self, action: Action, role: Role, now: i64) {
                let actor = Actor {
                    username: format!("{role}"),
                    role,
                    department: (role == Role::Department).then(|| "housing".to_string()),
                };
                let env = Env {
                    now,
                    calendar: &self.calendar,
                    dispatch: Some(DispatchPlan {
                        lead: "housing".into(),
                        co_handlers: vec![],
                        class: self.class.clone(),
                        names: Default::default(),
                    }),
                    class: Some(self.class.clone()),
                    leader_review: false,
                };
                let writes = lifecycle::take(
                    &mut self.record,
                    &mut self.case,
                    &action,
                    &actor,
                    &env,
                    &self.issued,
                )
                .unwrap_or_else(|e| panic!("{}: {e}", action.name()));
                self.keep(writes);
            }

            fn keep(&mut self, writes: CaseWrites) {
                for n in writes.notices {
                    self.issued.push((n.subject.clone(), n.due_at.unwrap_or(0)));
                    if n.subject == "result" {
                        self.misses.push(HazardMiss {
                            record_id: n.record_id,
                            due_at: n.due_at.unwrap_or(0),
                            department: n.department,
                            owner_grid: n.owner_grid,
                            hazard_type: "fire".into(),
                            risk_level: "high".into(),
                        });
                    }
                }
                self.steps.extend(writes.hazard_steps);
            }
        }

        /// Runs a hazard through its rounds; returns it and how many rounds were settled.
        fn run(rounds: &[Round]) -> (Hazard, usize) {
            let mut record = RecordBuilder::risk_inspection(
                "楼道堆物",
                "fire",
                RiskLevel::High,
                &Writer::new("w", "p"),
            )
            .build();
            record.owner_grid = Some(OwnerGrid {
                code: Some("g1".into()),
                boundary_version: 1,
                decided_at: 0,
            });
            let mut case = CaseRow::default();
            lifecycle::sync_case(&record, &mut case, 0);
            let mut h = Hazard {
                record,
                case,
                issued: vec![],
                steps: vec![],
                misses: vec![],
                calendar: Calendar::default(),
                class: DeadlineClass {
                    code: "rectify_high".into(),
                    name: String::new(),
                    response: Span::Hours(24),
                    handling: Span::Hours(24),
                },
            };
            let mut now = 1_790_000_000_000;
            h.take(
                Action::Verify {
                    note: String::new(),
                },
                Role::GridLeader,
                now,
            );
            h.take(
                Action::Escalate {
                    note: "上报".into(),
                },
                Role::GridLeader,
                now,
            );
            let dispatch = Action::Dispatch {
                note: String::new(),
                lead: None,
                co_handlers: vec![],
                deadline_class: None,
                shirking: false,
            };
            h.take(dispatch, Role::Dispatcher, now);
            let mut settled = 0;
            for (report, fixed) in rounds {
                let deadline = h.case.deadline.expect("a rectification deadline");
                settled += 1;
                let Some(minutes) = report else {
                    // Never reported: the sweep supervises the missed deadline.
                    now = deadline + 1;
                    let notices = crate::workflow::scheduler::missed_notices(
                        &mut h.record,
                        &mut h.case,
                        now,
                        &h.issued,
                    );
                    h.keep(CaseWrites {
                        notices,
                        ..CaseWrites::default()
                    });
                    break;
                };
                now = deadline + minutes * 60_000;
                let note = "已整改".to_string();
                h.take(
                    Action::ReportRectification {
                        note,
                        photos: vec![],
                    },
                    Role::Department,
                    now,
                );
                now += HOUR;
                let reinspect = Action::Reinspect {
                    fixed: *fixed,
                    note: String::new(),
                };
                h.take(reinspect, Role::GridWorker, now);
                if *fixed {
                    break;
                }
            }
            (h, settled)
        }

        fn round() -> impl Strategy<Value = Round> {
            (
                prop_oneof![
                    1 => Just(None),
                    6 => (-1200i64..1200).prop_filter("not at the deadline", |m| *m != 0).prop_map(Some),
                ],
                any::<bool>(),
            )
        }

        proptest! {
            /// Every rectification round is judged exactly once — at its re-inspection when
            /// reported by its deadline, at the deadline when not — and only on-time rounds
            /// found fixed count as rectified.
            #[test]
            fn every_round_is_judged_once(rounds in proptest::collection::vec(round(), 1..8)) {
                let (h, settled) = run(&rounds);
                let played = &rounds[..settled];
                let on_time_fixed = played
                    .iter()
                    .filter(|(r, fixed)| matches!(r, Some(m) if *m < 0) && *fixed)
                    .count() as u64;
                let names = Names { region: &|c| c.to_string(), department: &|c| c.to_string() };
                let report = compute(
                    &[],
                    &h.steps,
                    &h.misses,
                    (0, i64::MAX),
                    &RateSettings::default(),
                    |g| vec![(g.to_string(), "grid".to_string())],
                    &names,
                );
                let t = report.total;
                prop_assert_eq!(report.rectification.denominator, settled as u64);
                prop_assert_eq!(report.rectification.numerator, on_time_fixed as f64);
                prop_assert_eq!(
                    t.rectified_on_time + t.rectified_late,
                    played.iter().filter(|(r, _)| r.is_some()).count() as u64
                );
                prop_assert_eq!(
                    t.overdue,
                    played.iter().filter(|(r, _)| !matches!(r, Some(m) if *m < 0)).count() as u64
                );
                prop_assert_eq!(
                    t.failed_reinspections,
                    played.iter().filter(|(r, fixed)| r.is_some() && !fixed).count() as u64
                );
                prop_assert_eq!(report.by_department[0].rectification, report.rectification);
                prop_assert_eq!(report.by_region[0].tally, t);
            }
        }
    }
}

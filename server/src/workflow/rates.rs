//! The three rates (三率) per region subtree and per department, and their rankings. Pure.
//!
//! For a period `[from, to]` (Unix ms, both inclusive), each figure counts what fell due or
//! happened in the period, charged to whoever held the case at that moment, so nothing done
//! to a case afterwards moves a period's figures:
//!
//! - **response rate (响应率)** = cases whose initial reply fell due in the period and was given
//!   by then (`replied_at ≤ response_due`) / cases whose initial reply fell due in the period
//!   (a case never replied to counts in the denominator only); charged to the department and
//!   grid that held the case while the reply was due (`response_department`, `response_grid`);
//! - **resolution rate (解决率)** = evaluations in the period of a result reported `resolved`
//!   that the complainant accepted (satisfied or basically satisfied) / evaluations in the
//!   period. Every evaluation judges one result: a result sent back as dissatisfied counts as
//!   not resolved in the month it was sent back, and the next result is judged again;
//! - **satisfaction rate (满意率)** = (satisfied + w · basically satisfied) / evaluations in the
//!   period (every evaluation, the ones that returned the case included), w the configurable
//!   weight of "basically satisfied" (default 0.8).
//!
//! An evaluation counts for the lead department and the owner grid (and every region above it)
//! at the moment it was made. Within each group of peers (departments; regions of one level) a
//! figure is ranked only when its denominator reaches the minimum sample size; ranks are by
//! rate, highest first, and equal rates share a rank ("1, 1, 3").

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::{CaseRow, Evaluation};

/// Settings of a rates computation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSettings {
    /// The weight of "basically satisfied" in the satisfaction rate, 0 to 1.
    pub basic_weight: f64,
    /// The smallest denominator that is ranked.
    pub min_sample: u64,
}

impl Default for RateSettings {
    fn default() -> Self {
        RateSettings {
            basic_weight: 0.8,
            min_sample: 10,
        }
    }
}

/// The counts behind the three rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub reply_due: u64,
    pub replied_on_time: u64,
    /// Evaluations: each judges one result.
    pub evaluated: u64,
    /// Evaluations of a `resolved` result the complainant accepted.
    pub resolved: u64,
    /// Of `resolved`: group complaints and legacy problems (for bonus points).
    pub resolved_group: u64,
    pub resolved_legacy: u64,
    pub satisfied: u64,
    pub basically_satisfied: u64,
    /// Evaluations that returned the case.
    pub dissatisfied: u64,
}

impl Tally {
    /// What one case's initial reply adds in `[from, to]`.
    pub fn of_reply(case: &CaseRow, from: i64, to: i64) -> Tally {
        let mut tally = Tally::default();
        if let Some(due) = case.response_due
            && (from..=to).contains(&due)
        {
            tally.reply_due = 1;
            tally.replied_on_time = u64::from(case.replied_at.is_some_and(|at| at <= due));
        }
        tally
    }

    /// What one evaluation adds in `[from, to]`.
    pub fn of_evaluation(e: &Evaluation, from: i64, to: i64) -> Tally {
        let mut tally = Tally::default();
        if !(from..=to).contains(&e.at) {
            return tally;
        }
        tally.evaluated = 1;
        match e.rating.as_str() {
            "satisfied" => tally.satisfied = 1,
            "basically_satisfied" => tally.basically_satisfied = 1,
            _ => tally.dissatisfied = 1,
        }
        let accepted = tally.dissatisfied == 0;
        tally.resolved = u64::from(accepted && e.outcome == "resolved");
        tally.resolved_group = tally.resolved * u64::from(e.group_complaint);
        tally.resolved_legacy = tally.resolved * u64::from(e.legacy);
        tally
    }

    /// Adds another tally.
    pub fn add(&mut self, other: &Tally) {
        self.reply_due += other.reply_due;
        self.replied_on_time += other.replied_on_time;
        self.evaluated += other.evaluated;
        self.resolved += other.resolved;
        self.resolved_group += other.resolved_group;
        self.resolved_legacy += other.resolved_legacy;
        self.satisfied += other.satisfied;
        self.basically_satisfied += other.basically_satisfied;
        self.dissatisfied += other.dissatisfied;
    }

    fn is_empty(&self) -> bool {
        self.reply_due == 0 && self.evaluated == 0
    }

    /// The three rates of these counts: `(response, resolution, satisfaction)`.
    pub fn rates(&self, basic_weight: f64) -> (Rate, Rate, Rate) {
        (
            Rate::new(self.replied_on_time as f64, self.reply_due),
            Rate::new(self.resolved as f64, self.evaluated),
            Rate::new(
                self.satisfied as f64 + basic_weight * self.basically_satisfied as f64,
                self.evaluated,
            ),
        )
    }
}

/// One rate: `numerator / denominator`, `None` with no sample; its rank among peers, if ranked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub numerator: f64,
    pub denominator: u64,
    pub rate: Option<f64>,
    pub rank: Option<u32>,
}

impl Rate {
    pub(crate) fn new(numerator: f64, denominator: u64) -> Rate {
        Rate {
            numerator,
            denominator,
            rate: (denominator > 0).then(|| numerator / denominator as f64),
            rank: None,
        }
    }
}

/// A region or department with its rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub code: String,
    /// The region's or department's name (the code when it has none).
    pub name: String,
    /// The region's level (`city` … `grid`); `None` for departments.
    pub level: Option<String>,
    pub tally: Tally,
    pub response: Rate,
    pub resolution: Rate,
    pub satisfaction: Rate,
}

impl Group {
    fn new(code: String, level: Option<String>, tally: Tally, settings: &RateSettings) -> Group {
        let (response, resolution, satisfaction) = tally.rates(settings.basic_weight);
        Group {
            name: code.clone(),
            code,
            level,
            response,
            resolution,
            satisfaction,
            tally,
        }
    }
}

/// The rates of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatesReport {
    pub from: i64,
    pub to: i64,
    pub basic_weight: f64,
    pub min_sample: u64,
    /// Every region with a case in the period, by level then code.
    pub regions: Vec<Group>,
    /// Every lead department with a case in the period, by code.
    pub departments: Vec<Group>,
}

impl RatesReport {
    /// Names every region and department from `labels`.
    pub fn name_with(&mut self, labels: &crate::workflow::report::Labels) {
        for g in &mut self.regions {
            g.name = labels.region(&g.code);
        }
        for g in &mut self.departments {
            g.name = labels.department(&g.code);
        }
    }
}

/// Ranks `groups` on one rate: ranked when the denominator reaches `min_sample`, highest rate
/// first, equal rates sharing a rank.
pub(crate) fn rank<T>(groups: &mut [&mut T], min_sample: u64, rate: fn(&mut T) -> &mut Rate) {
    let mut ranked: Vec<(usize, f64)> = groups
        .iter_mut()
        .enumerate()
        .filter_map(|(i, g)| {
            let r = rate(g);
            (r.denominator >= min_sample && r.denominator > 0).then(|| (i, r.rate.unwrap_or(0.0)))
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut previous: Option<(f64, u32)> = None;
    for (position, (i, value)) in ranked.into_iter().enumerate() {
        let place = match previous {
            Some((v, place)) if v == value => place,
            _ => position as u32 + 1,
        };
        previous = Some((value, place));
        rate(groups[i]).rank = Some(place);
    }
}

fn rank_all(groups: &mut [&mut Group], min_sample: u64) {
    rank(groups, min_sample, |g| &mut g.response);
    rank(groups, min_sample, |g| &mut g.resolution);
    rank(groups, min_sample, |g| &mut g.satisfaction);
}

/// Computes the rates of `[from, to]` from the cases (their initial replies) and the
/// evaluations. `regions_of` gives a grid's region path (the grid and every ancestor, each with
/// its level).
pub fn compute(
    cases: &[CaseRow],
    evaluations: &[Evaluation],
    from: i64,
    to: i64,
    settings: &RateSettings,
    regions_of: impl Fn(&str) -> Vec<(String, String)>,
) -> RatesReport {
    let mut regions: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut departments: BTreeMap<String, Tally> = BTreeMap::new();
    let replies = cases.iter().map(|c| {
        (
            Tally::of_reply(c, from, to),
            c.response_department.as_ref(),
            c.response_grid.as_ref(),
        )
    });
    let evaluated = evaluations.iter().map(|e| {
        (
            Tally::of_evaluation(e, from, to),
            e.department.as_ref(),
            e.owner_grid.as_ref(),
        )
    });
    for (tally, department, grid) in replies.chain(evaluated) {
        if tally.is_empty() {
            continue;
        }
        if let Some(grid) = grid {
            for (code, level) in regions_of(grid) {
                regions.entry((level, code)).or_default().add(&tally);
            }
        }
        if let Some(department) = department {
            departments
                .entry(department.clone())
                .or_default()
                .add(&tally);
        }
    }
    let level_order = |level: &str| {
        crate::domain::Level::ALL
            .iter()
            .position(|l| l.as_str() == level)
            .unwrap_or(usize::MAX)
    };
    let mut regions: Vec<Group> = regions
        .into_iter()
        .map(|((level, code), tally)| Group::new(code, Some(level), tally, settings))
        .collect();
    regions.sort_by(|a, b| {
        let (la, lb) = (
            a.level.as_deref().unwrap_or(""),
            b.level.as_deref().unwrap_or(""),
        );
        level_order(la)
            .cmp(&level_order(lb))
            .then(a.code.cmp(&b.code))
    });
    let mut departments: Vec<Group> = departments
        .into_iter()
        .map(|(code, tally)| Group::new(code, None, tally, settings))
        .collect();
    let levels: Vec<Option<String>> = {
        let mut l: Vec<Option<String>> = regions.iter().map(|g| g.level.clone()).collect();
        l.dedup();
        l
    };
    for level in levels {
        let mut peers: Vec<&mut Group> = regions.iter_mut().filter(|g| g.level == level).collect();
        rank_all(&mut peers, settings.min_sample);
    }
    let mut peers: Vec<&mut Group> = departments.iter_mut().collect();
    rank_all(&mut peers, settings.min_sample);
    RatesReport {
        from,
        to,
        basic_weight: settings.basic_weight,
        min_sample: settings.min_sample,
        regions,
        departments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(dept: &str, replied: Option<i64>) -> CaseRow {
        CaseRow {
            status: "dispatched".into(),
            owner_grid: Some("g".into()),
            lead_department: Some(dept.into()),
            response_department: Some(dept.into()),
            response_grid: Some("g".into()),
            response_due: Some(100),
            replied_at: replied,
            ..CaseRow::default()
        }
    }

    fn evaluation(dept: &str, outcome: &str, rating: &str, at: i64) -> Evaluation {
        Evaluation {
            id: format!("{dept}-{outcome}-{rating}-{at}"),
            record_id: "r".into(),
            at,
            rating: rating.into(),
            outcome: outcome.into(),
            department: Some(dept.into()),
            owner_grid: Some("g".into()),
            group_complaint: false,
            legacy: false,
        }
    }

    fn report(cases: &[CaseRow], evaluations: &[Evaluation], min_sample: u64) -> RatesReport {
        let settings = RateSettings {
            basic_weight: 0.5,
            min_sample,
        };
        compute(cases, evaluations, 0, 1000, &settings, |g| {
            vec![(g.to_string(), "grid".into())]
        })
    }

    #[test]
    fn each_rate_counts_what_fell_due_or_happened_in_the_period() {
        let cases = [
            reply("a", Some(50)),
            reply("a", Some(150)),
            reply("a", None),
            CaseRow {
                response_due: Some(5000),
                ..reply("a", Some(50))
            },
        ];
        let evaluations = [
            evaluation("a", "resolved", "satisfied", 300),
            evaluation("a", "partly_resolved", "basically_satisfied", 300),
            evaluation("a", "resolved", "dissatisfied", 300),
            evaluation("a", "resolved", "satisfied", 5000),
        ];
        let a = &report(&cases, &evaluations, 1).departments[0];
        assert_eq!((a.response.numerator, a.response.denominator), (1.0, 3));
        // A resolved result sent back as dissatisfied is not a resolution.
        assert_eq!((a.resolution.numerator, a.resolution.denominator), (1.0, 3));
        assert_eq!(
            (a.satisfaction.numerator, a.satisfaction.denominator),
            (1.5, 3)
        );
        assert_eq!(a.satisfaction.rate, Some(0.5));
        assert_eq!(a.tally.dissatisfied, 1);
    }

    #[test]
    fn a_reply_and_an_evaluation_count_for_who_held_the_case_then_not_for_its_lead_now() {
        let case = CaseRow {
            lead_department: Some("later".into()),
            owner_grid: Some("moved".into()),
            response_department: Some("then".into()),
            response_grid: Some("g".into()),
            ..reply("x", None)
        };
        let computed = report(
            &[case],
            &[evaluation("then", "resolved", "satisfied", 10)],
            1,
        );
        let codes: Vec<&str> = computed
            .departments
            .iter()
            .map(|g| g.code.as_str())
            .collect();
        assert_eq!(codes, ["then"]);
        let grids: Vec<&str> = computed.regions.iter().map(|g| g.code.as_str()).collect();
        assert_eq!(grids, ["g"]);
    }

    #[test]
    fn equal_rates_share_a_rank_and_small_samples_are_shown_but_not_ranked() {
        let mut cases = Vec::new();
        for (dept, good, bad) in [("a", 2, 2), ("b", 1, 1), ("c", 3, 1), ("d", 1, 0)] {
            for _ in 0..good {
                cases.push(reply(dept, Some(1)));
            }
            for _ in 0..bad {
                cases.push(reply(dept, Some(500)));
            }
        }
        let computed = report(&cases, &[], 2);
        let ranks: Vec<(&str, Option<f64>, Option<u32>)> = computed
            .departments
            .iter()
            .map(|g| (g.code.as_str(), g.response.rate, g.response.rank))
            .collect();
        assert_eq!(
            ranks,
            [
                ("a", Some(0.5), Some(2)),
                ("b", Some(0.5), Some(2)),
                ("c", Some(0.75), Some(1)),
                ("d", Some(1.0), None)
            ]
        );
    }
}

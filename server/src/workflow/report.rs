//! The monthly report (月汇总、月分析): counts, hot topics, prominent complaints, the three
//! rates with rankings, bonus and deduction points, and the rates over the last 12 months; as
//! JSON, CSV, XLSX and an SVG chart. Everything but [`gather_monthly`] is pure; it reads the
//! rows the report is made from in eight queries, whatever the month holds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::{CaseRow, Evaluation, Notice};
use crate::workflow::calendar::Date;
use crate::workflow::rates::{Group, RatesReport, Tally};

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Month> {
        let (y, m) = text.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        Date::from_ymd(year, month, 1).map(|_| Month { year, month })
    }

    pub fn first_day(self) -> Date {
        Date::from_ymd(self.year, self.month, 1).unwrap_or(Date::from_days(0))
    }

    pub fn last_day(self) -> Date {
        Date::from_days(self.next().first_day().days() - 1)
    }

    /// `[00:00 of the first day, 23:59:59.999 of the last day]` CST, in Unix ms.
    pub fn bounds(self) -> (i64, i64) {
        (self.first_day().start_ms(), self.last_day().end_ms())
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Points added per occurrence in the month (negative: deductions), over a base.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRules {
    /// Everyone starts here.
    pub base: f64,
    /// Per case whose result `resolved` was reported in the month.
    pub resolved: f64,
    /// Per supervision notice for a missed reply or result deadline issued in the month.
    pub overdue: f64,
    /// Per dissatisfied evaluation in the month.
    pub dissatisfied: f64,
    /// Per resolved group complaint (群体诉求), on top of `resolved`.
    #[serde(default = "default_group_resolved")]
    pub group_resolved: f64,
    /// Per resolved legacy problem (历史遗留问题), on top of `resolved`.
    #[serde(default = "default_legacy_resolved")]
    pub legacy_resolved: f64,
    /// Per case the desk re-dispatched because the department shirked it (推诿).
    #[serde(default = "default_shirking")]
    pub shirking: f64,
}

fn default_group_resolved() -> f64 {
    2.0
}

fn default_legacy_resolved() -> f64 {
    3.0
}

fn default_shirking() -> f64 {
    -3.0
}

impl Default for ScoreRules {
    fn default() -> Self {
        ScoreRules {
            base: 100.0,
            resolved: 1.0,
            overdue: -2.0,
            dissatisfied: -1.0,
            group_resolved: default_group_resolved(),
            legacy_resolved: default_legacy_resolved(),
            shirking: default_shirking(),
        }
    }
}

impl ScoreRules {
    /// Whether every figure is finite and within ±1000.
    pub fn is_valid(&self) -> bool {
        [
            self.base,
            self.resolved,
            self.overdue,
            self.dissatisfied,
            self.group_resolved,
            self.legacy_resolved,
            self.shirking,
        ]
        .iter()
        .all(|v| v.is_finite() && v.abs() <= 1000.0)
    }
}

/// A complaint as the counts see it.
#[derive(Debug, Clone)]
pub struct Complaint {
    pub id: String,
    pub channel: String,
    pub category: String,
    pub status: String,
    /// The county (or region one level below the root) it lies in, if owned.
    pub region: Option<String>,
    pub grid: Option<String>,
}

/// The names people read beside the codes: categories, departments and regions by code.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    pub categories: BTreeMap<String, String>,
    pub departments: BTreeMap<String, String>,
    pub regions: BTreeMap<String, String>,
}

impl Labels {
    fn name(map: &BTreeMap<String, String>, code: &str) -> String {
        map.get(code).cloned().unwrap_or_else(|| code.to_string())
    }

    /// A category's name (its code when the catalogue has none).
    pub fn category(&self, code: &str) -> String {
        if code.is_empty() {
            return "未分类".into();
        }
        Labels::name(&self.categories, code)
    }

    pub fn department(&self, code: &str) -> String {
        Labels::name(&self.departments, code)
    }

    pub fn region(&self, code: &str) -> String {
        if code == UNASSIGNED {
            return "未划入网格".into();
        }
        Labels::name(&self.regions, code)
    }
}

/// The region of complaints no grid owns.
pub const UNASSIGNED: &str = "unassigned";

/// A channel's Chinese name.
pub fn channel_name(code: &str) -> &str {
    match code {
        "app" => "网格员 App",
        "hotline" => "12345 热线",
        "suggestion_box" => "意见箱",
        "mini_program" => "小程序",
        "web" => "网站",
        "open311" => "Open311 接口",
        "grid_survey" => "网格摸排",
        other => other,
    }
}

/// A case status's Chinese name.
pub fn status_name(code: &str) -> &str {
    match code {
        "received" => "已接收",
        "accepted" => "已受理",
        "flagged_unreasonable" => "不合理诉求",
        "dispatched" => "已派单",
        "signed_for" => "已签收",
        "replied" => "已答复",
        "handling" => "办理中",
        "result_reported" => "已办结",
        "feedback_given" => "已回访",
        "evaluated" => "已评价",
        "closed" => "已关闭",
        other => other,
    }
}

/// A region level's Chinese name.
pub fn level_name(code: &str) -> &str {
    match code {
        "city" => "市",
        "county" => "县区",
        "township" => "乡镇街道",
        "village" => "村社区",
        "grid" => "网格",
        other => other,
    }
}

/// A count by code, with the code's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub code: String,
    pub name: String,
    pub count: u64,
}

/// One count with the previous month's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topic {
    pub key: String,
    pub name: String,
    pub count: u64,
    pub previous: u64,
    pub change: i64,
}

/// A group's points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub code: String,
    pub name: String,
    pub level: Option<String>,
    pub resolved: u64,
    pub resolved_group: u64,
    pub resolved_legacy: u64,
    pub overdue: u64,
    pub shirked: u64,
    pub dissatisfied: u64,
    pub score: f64,
    pub rank: u32,
}

/// The overall rates of one month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    pub month: String,
    pub response: Option<f64>,
    pub resolution: Option<f64>,
    pub satisfaction: Option<f64>,
}

/// The monthly report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthlyReport {
    pub month: String,
    pub complaints: u64,
    /// Complaints created in the month by channel, category, status (now) and region, each
    /// count with its code and name, by code.
    pub by_channel: Vec<Count>,
    pub by_category: Vec<Count>,
    pub by_status: Vec<Count>,
    pub by_region: Vec<Count>,
    /// The five most frequent categories and grids, with the previous month's counts.
    pub hot_categories: Vec<Topic>,
    pub hot_grids: Vec<Topic>,
    /// Record ids: supervised for a missed deadline, returned after a dissatisfied evaluation,
    /// linked as duplicates, flagged unreasonable (repeat or excessive petitions).
    pub overdue: Vec<String>,
    pub returned: Vec<String>,
    pub duplicates: Vec<String>,
    pub unreasonable: Vec<String>,
    pub rates: RatesReport,
    /// The hazard loop's figures and the rectification rate (整改率).
    pub hazards: crate::workflow::hazards::HazardReport,
    /// The grid leaders' review of their workers' complaints.
    pub leader_review: crate::workflow::hazards::ReviewReport,
    pub score_rules: ScoreRules,
    pub department_scores: Vec<Score>,
    pub region_scores: Vec<Score>,
    /// The 12 months ending with this one.
    pub trend: Vec<TrendPoint>,
}

/// A notice with the region path `(code, level)` of the grid it was issued in.
#[derive(Debug, Clone)]
pub struct IssuedNotice {
    pub notice: Notice,
    pub regions: Vec<(String, String)>,
}

/// Everything the report is made from.
#[derive(Debug)]
pub struct MonthlyInput<'a> {
    pub month: Month,
    pub complaints: &'a [Complaint],
    pub previous_complaints: &'a [Complaint],
    /// Cases with any event in the month.
    pub cases: &'a [CaseRow],
    /// Evaluations made in the month.
    pub evaluations: &'a [Evaluation],
    /// Notices issued in the month.
    pub notices: &'a [IssuedNotice],
    pub rates: RatesReport,
    pub hazards: crate::workflow::hazards::HazardReport,
    pub leader_review: crate::workflow::hazards::ReviewReport,
    pub rules: ScoreRules,
    pub labels: &'a Labels,
    /// The months of the trend, oldest first.
    pub trend_months: Vec<Month>,
    /// Every case with an event in one of `trend_months`, and every evaluation made in them;
    /// each month counts its own events.
    pub trend_cases: &'a [CaseRow],
    pub trend_evaluations: &'a [Evaluation],
}

fn count<'a>(items: impl Iterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut map = BTreeMap::new();
    for item in items {
        *map.entry(item.to_string()).or_insert(0) += 1;
    }
    map
}

fn counts(map: BTreeMap<String, u64>, name: impl Fn(&str) -> String) -> Vec<Count> {
    map.into_iter()
        .map(|(code, count)| Count {
            name: name(&code),
            code,
            count,
        })
        .collect()
}

fn hot(
    now: &BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
    name: impl Fn(&str) -> String,
) -> Vec<Topic> {
    let mut topics: Vec<Topic> = now
        .iter()
        .map(|(key, &count)| {
            let previous = before.get(key).copied().unwrap_or(0);
            Topic {
                name: name(key),
                key: key.clone(),
                count,
                previous,
                change: count as i64 - previous as i64,
            }
        })
        .collect();
    topics.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    topics.truncate(5);
    topics
}

/// Notice counts per group: `(level, code)` → (overdue, shirked).
type Marks = BTreeMap<(Option<String>, String), (u64, u64)>;

fn scores(
    groups: &[Group],
    marks: &Marks,
    rules: &ScoreRules,
    name: impl Fn(&str) -> String,
) -> Vec<Score> {
    // Everyone with a rate in the month, and everyone supervised in it even without one.
    let mut scored: Vec<(String, Option<String>, Tally)> = groups
        .iter()
        .map(|g| (g.code.clone(), g.level.clone(), g.tally))
        .collect();
    for (level, code) in marks.keys() {
        if !scored.iter().any(|(c, l, _)| c == code && l == level) {
            scored.push((code.clone(), level.clone(), Tally::default()));
        }
    }
    let mut scores: Vec<Score> = scored
        .into_iter()
        .map(|(code, level, t)| {
            let dissatisfied = t.dissatisfied;
            let (late, shirked) = marks
                .get(&(level.clone(), code.clone()))
                .copied()
                .unwrap_or((0, 0));
            Score {
                name: name(&code),
                code,
                level,
                resolved: t.resolved,
                resolved_group: t.resolved_group,
                resolved_legacy: t.resolved_legacy,
                overdue: late,
                shirked,
                dissatisfied,
                score: rules.base
                    + rules.resolved * t.resolved as f64
                    + rules.group_resolved * t.resolved_group as f64
                    + rules.legacy_resolved * t.resolved_legacy as f64
                    + rules.overdue * late as f64
                    + rules.shirking * shirked as f64
                    + rules.dissatisfied * dissatisfied as f64,
                rank: 0,
            }
        })
        .collect();
    // Rank among peers (same level), highest score first, ties sharing a rank.
    let levels: Vec<Option<String>> = {
        let mut l: Vec<Option<String>> = scores.iter().map(|s| s.level.clone()).collect();
        l.sort();
        l.dedup();
        l
    };
    for level in levels {
        let mut peers: Vec<&mut Score> = scores.iter_mut().filter(|s| s.level == level).collect();
        peers.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut previous: Option<(f64, u32)> = None;
        for (i, s) in peers.into_iter().enumerate() {
            let rank = match previous {
                Some((v, r)) if v == s.score => r,
                _ => i as u32 + 1,
            };
            previous = Some((s.score, rank));
            s.rank = rank;
        }
    }
    scores
}

/// Builds the report.
pub fn monthly(input: MonthlyInput<'_>) -> MonthlyReport {
    let (from, to) = input.month.bounds();
    let by_category = count(input.complaints.iter().map(|c| c.category.as_str()));
    let previous_categories = count(
        input
            .previous_complaints
            .iter()
            .map(|c| c.category.as_str()),
    );
    let by_grid = count(input.complaints.iter().filter_map(|c| c.grid.as_deref()));
    let previous_grids = count(
        input
            .previous_complaints
            .iter()
            .filter_map(|c| c.grid.as_deref()),
    );
    let within = |t: Option<i64>| t.is_some_and(|t| (from..=to).contains(&t));
    let mut overdue_ids: Vec<String> = Vec::new();
    let mut department_marks = Marks::new();
    let mut region_marks = Marks::new();
    for IssuedNotice { notice, regions } in input.notices {
        let (late, shirked) = match notice.subject.as_str() {
            "reply" | "result" | "evaluation" => (1, 0),
            "shirking" => (0, 1),
            _ => continue,
        };
        if late == 1 && !overdue_ids.contains(&notice.record_id) {
            overdue_ids.push(notice.record_id.clone());
        }
        // Charged to the department the notice names: the lead that missed the deadline, or
        // the one that shirked; never to whoever holds the case later.
        if let Some(department) = &notice.department {
            let entry = department_marks
                .entry((None, department.clone()))
                .or_default();
            *entry = (entry.0 + late, entry.1 + shirked);
        }
        for (code, level) in regions {
            let entry = region_marks
                .entry((Some(level.clone()), code.clone()))
                .or_default();
            *entry = (entry.0 + late, entry.1 + shirked);
        }
    }
    overdue_ids.sort();
    let ids = |keep: &dyn Fn(&CaseRow) -> bool| {
        let mut ids: Vec<String> = input
            .cases
            .iter()
            .filter(|c| keep(c))
            .map(|c| c.record_id.clone())
            .collect();
        ids.sort();
        ids
    };
    let mut returned: Vec<String> = input
        .evaluations
        .iter()
        .filter(|e| e.rating == "dissatisfied" && (from..=to).contains(&e.at))
        .map(|e| e.record_id.clone())
        .collect();
    returned.sort();
    returned.dedup();
    let duplicates = ids(&|c| c.duplicate_of.is_some() && within(c.closed_at));
    let unreasonable =
        ids(&|c| c.status == "flagged_unreasonable" || c.plan_follow_up_due.is_some());
    let trend = input
        .trend_months
        .iter()
        .map(|month| {
            let (f, t) = month.bounds();
            let mut sum = Tally::default();
            for case in input.trend_cases {
                sum.add(&Tally::of_reply(case, f, t));
            }
            for e in input.trend_evaluations {
                sum.add(&Tally::of_evaluation(e, f, t));
            }
            let (response, resolution, satisfaction) = sum.rates(input.rates.basic_weight);
            TrendPoint {
                month: month.to_string(),
                response: response.rate,
                resolution: resolution.rate,
                satisfaction: satisfaction.rate,
            }
        })
        .collect();
    let labels = input.labels;
    let mut rates = input.rates;
    rates.name_with(labels);
    MonthlyReport {
        month: input.month.to_string(),
        complaints: input.complaints.len() as u64,
        by_channel: counts(
            count(input.complaints.iter().map(|c| c.channel.as_str())),
            |c| channel_name(c).to_string(),
        ),
        by_status: counts(
            count(input.complaints.iter().map(|c| c.status.as_str())),
            |c| status_name(c).to_string(),
        ),
        by_region: counts(
            count(
                input
                    .complaints
                    .iter()
                    .map(|c| c.region.as_deref().unwrap_or(UNASSIGNED)),
            ),
            |c| labels.region(c),
        ),
        hot_categories: hot(&by_category, &previous_categories, |c| labels.category(c)),
        hot_grids: hot(&by_grid, &previous_grids, |c| labels.region(c)),
        by_category: counts(by_category, |c| labels.category(c)),
        overdue: overdue_ids,
        returned,
        duplicates,
        unreasonable,
        department_scores: scores(&rates.departments, &department_marks, &input.rules, |c| {
            labels.department(c)
        }),
        region_scores: scores(&rates.regions, &region_marks, &input.rules, |c| {
            labels.region(c)
        }),
        score_rules: input.rules,
        rates,
        hazards: input.hazards,
        leader_review: input.leader_review,
        trend,
    }
}

/// Reads what the report of `month` is made from and makes it: the month's cases and
/// complaints, the previous month's complaints, the notices issued in the month (each with its
/// case's department and regions), the hazards found, their steps and missed rectification
/// deadlines, the leaders' review steps, and every case with an event in the 12 months of the
/// trend. Twelve queries, whatever the month holds.
pub async fn gather_monthly(
    store: &dyn crate::store::Store,
    map: &crate::state::MapSnapshot,
    month: Month,
    settings: &crate::workflow::rates::RateSettings,
    rules: ScoreRules,
) -> Result<MonthlyReport, crate::store::StoreError> {
    let (from, to) = month.bounds();
    let cases = store.cases_between(from, to).await?;
    let evaluations = store.evaluations_between(from, to).await?;
    let rates = crate::workflow::rates::compute(&cases, &evaluations, from, to, settings, |g| {
        map.region_path(g)
    });
    let complaints = complaints_created_in(store, map, month).await?;
    let previous = complaints_created_in(store, map, month.previous()).await?;
    let notices: Vec<IssuedNotice> = store
        .notices_issued_between(from, to)
        .await?
        .into_iter()
        .map(|notice| IssuedNotice {
            regions: notice
                .owner_grid
                .as_deref()
                .map(|g| map.region_path(g))
                .unwrap_or_default(),
            notice,
        })
        .collect();
    let mut trend_months = vec![month];
    for _ in 1..12 {
        let earlier = trend_months[trend_months.len() - 1].previous();
        trend_months.push(earlier);
    }
    trend_months.reverse();
    let labels = labels(store, map).await?;
    let hazards = crate::workflow::hazards::compute(
        &store.hazards_created_between(from, to).await?,
        &store.hazard_steps_between(from, to).await?,
        &store.hazard_misses_between(from, to).await?,
        (from, to),
        settings,
        |g| map.region_path(g),
        &crate::workflow::hazards::Names {
            region: &|c| labels.region(c),
            department: &|c| labels.department(c),
        },
    );
    let leader_review = crate::workflow::hazards::reviews(
        &store.reviews_between(from, to).await?,
        (from, to),
        |g| map.region_path(g),
        &|c| labels.region(c),
    );
    let trend_from = trend_months[0].bounds().0;
    let trend_cases = store.cases_between(trend_from, to).await?;
    let trend_evaluations = store.evaluations_between(trend_from, to).await?;
    Ok(monthly(MonthlyInput {
        month,
        complaints: &complaints,
        previous_complaints: &previous,
        cases: &cases,
        evaluations: &evaluations,
        notices: &notices,
        rates,
        hazards,
        leader_review,
        rules,
        labels: &labels,
        trend_months,
        trend_cases: &trend_cases,
        trend_evaluations: &trend_evaluations,
    }))
}

/// The names of every category, department and region.
pub async fn labels(
    store: &dyn crate::store::Store,
    map: &crate::state::MapSnapshot,
) -> Result<Labels, crate::store::StoreError> {
    Ok(Labels {
        categories: crate::workflow::catalogue::names(&store.categories().await?),
        departments: store
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect(),
        regions: map.names(),
    })
}

/// The complaints created in `month`, each with its region one level below the top of its
/// grid's tree (a county in a city).
async fn complaints_created_in(
    store: &dyn crate::store::Store,
    map: &crate::state::MapSnapshot,
    month: Month,
) -> Result<Vec<Complaint>, crate::store::StoreError> {
    let (from, to) = month.bounds();
    let rows = store.complaints_created_between(from, to).await?;
    Ok(rows
        .into_iter()
        .map(|(id, channel, category, status, grid)| {
            let region = grid.as_deref().map(|g| {
                let path = map.region_path(g);
                path.get(path.len().saturating_sub(2))
                    .map(|(code, _)| code.clone())
                    .unwrap_or_else(|| g.to_string())
            });
            Complaint {
                id,
                channel,
                category,
                status,
                region,
                grid,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_step_across_years() {
        let m = Month::parse("2026-12").unwrap();
        assert_eq!(
            (m.next().to_string(), m.previous().to_string()),
            ("2027-01".into(), "2026-11".into())
        );
        assert_eq!(m.last_day().to_string(), "2026-12-31");
        assert_eq!(
            Month::parse("2024-02").unwrap().last_day().to_string(),
            "2024-02-29"
        );
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", ""] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }
}

#[cfg(test)]
mod csv_tests {
    use proptest::prelude::*;

    use super::*;
    use crate::workflow::export::{BOM, table_csv, tables, to_xlsx};
    use crate::workflow::rates::{RateSettings, compute};

    fn report_of(categories: &[String]) -> MonthlyReport {
        let month = Month::parse("2026-10").unwrap();
        let complaints: Vec<Complaint> = categories
            .iter()
            .enumerate()
            .map(|(i, category)| Complaint {
                id: format!("c{i}"),
                channel: "hotline".into(),
                category: category.clone(),
                status: "received".into(),
                region: None,
                grid: None,
            })
            .collect();
        let (from, to) = month.bounds();
        let rates = compute(&[], &[], from, to, &RateSettings::default(), |_| Vec::new());
        monthly(MonthlyInput {
            month,
            complaints: &complaints,
            previous_complaints: &[],
            cases: &[],
            evaluations: &[],
            notices: &[],
            rates,
            hazards: crate::workflow::hazards::HazardReport::empty(from, to, 10),
            leader_review: Default::default(),
            rules: ScoreRules::default(),
            labels: &Labels::default(),
            trend_months: vec![month],
            trend_cases: &[],
            trend_evaluations: &[],
        })
    }

    fn categories_table(report: &MonthlyReport) -> crate::workflow::export::Table {
        tables(report)
            .into_iter()
            .find(|t| t.key == "categories")
            .unwrap()
    }

    proptest! {
        /// Whatever a category holds (commas, quotes, line breaks), a CSV reader reads back
        /// exactly the categories and counts the report has, after the byte-order mark.
        #[test]
        fn every_category_reads_back_from_the_csv_as_it_was(
            categories in proptest::collection::vec("[a-z,\"\n 噪音]{1,12}", 1..8)
        ) {
            let report = report_of(&categories);
            let text = table_csv(&categories_table(&report)).unwrap();
            prop_assert!(text.starts_with(BOM));
            let mut reader = csv::Reader::from_reader(&text.as_bytes()[BOM.len()..]);
            let mut read = std::collections::BTreeMap::new();
            for row in reader.records() {
                let row = row.unwrap();
                read.insert(row[0].to_string(), row[2].parse::<u64>().unwrap());
            }
            let want: std::collections::BTreeMap<String, u64> =
                report.by_category.iter().map(|c| (c.code.clone(), c.count)).collect();
            prop_assert_eq!(read, want);
        }
    }

    /// The codes of the categories sheet, as a spreadsheet reader reads the workbook.
    fn sheet_codes(xlsx: Vec<u8>) -> Vec<String> {
        use calamine::{Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(xlsx)).unwrap();
        let sheet = book.worksheet_range("分类").unwrap();
        sheet.rows().skip(1).map(|r| r[0].to_string()).collect()
    }

    #[test]
    fn a_formula_in_a_category_is_text_in_the_csv_and_the_workbook() {
        let formula = "=HYPERLINK(\"http://evil.example\",\"点我\")".to_string();
        let report = report_of(std::slice::from_ref(&formula));
        let csv = table_csv(&categories_table(&report)).unwrap();
        assert!(
            csv.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"点我\"\")\""),
            "{csv}"
        );
        assert!(!csv.contains("\n=HYPERLINK"), "{csv}");
        let read = sheet_codes(to_xlsx(&report).unwrap());
        assert_eq!(read, [format!("'{formula}")]);
    }

    #[test]
    fn a_category_longer_than_a_cell_is_cut_not_a_failed_workbook() {
        let report = report_of(&["长".repeat(40_000), "市政".into()]);
        let read = sheet_codes(to_xlsx(&report).expect("the workbook is written"));
        assert_eq!(read.len(), 2);
        let cut = read.iter().find(|c| c.starts_with('长')).unwrap();
        assert_eq!(cut.chars().count(), crate::workflow::cells::MAX_CELL_CHARS);
        assert!(cut.ends_with(crate::workflow::cells::TRUNCATED));
        let csv = table_csv(&categories_table(&report)).unwrap();
        assert!(csv.contains(crate::workflow::cells::TRUNCATED));
    }
}

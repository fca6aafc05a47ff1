//! The monthly report (月汇总、月分析): counts, hot topics, prominent complaints, the three
//! rates with rankings, bonus and deduction points, and the rates over the last 12 months; as
//! JSON, CSV, XLSX and an SVG chart. Everything but [`gather_monthly`] is pure; it reads the
//! rows the report is made from in eight queries, whatever the month holds.

use crate::workflow::cells::text_cell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

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

/// One count with the previous month's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topic {
    pub key: String,
    pub count: u64,
    pub previous: u64,
    pub change: i64,
}

/// A group's points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub code: String,
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
    pub by_channel: BTreeMap<String, u64>,
    pub by_category: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub by_region: BTreeMap<String, u64>,
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

/// One line of the chart: its legend, colour and value.
type Series = (&'static str, &'static str, fn(&TrendPoint) -> Option<f64>);

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
    pub rules: ScoreRules,
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

fn hot(now: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> Vec<Topic> {
    let mut topics: Vec<Topic> = now
        .iter()
        .map(|(key, &count)| {
            let previous = before.get(key).copied().unwrap_or(0);
            Topic {
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

fn scores(groups: &[Group], marks: &Marks, rules: &ScoreRules) -> Vec<Score> {
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
            "reply" | "result" => (1, 0),
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
    MonthlyReport {
        month: input.month.to_string(),
        complaints: input.complaints.len() as u64,
        by_channel: count(input.complaints.iter().map(|c| c.channel.as_str())),
        by_status: count(input.complaints.iter().map(|c| c.status.as_str())),
        by_region: count(
            input
                .complaints
                .iter()
                .map(|c| c.region.as_deref().unwrap_or("unassigned")),
        ),
        hot_categories: hot(&by_category, &previous_categories),
        hot_grids: hot(&by_grid, &previous_grids),
        by_category,
        overdue: overdue_ids,
        returned,
        duplicates,
        unreasonable,
        department_scores: scores(&input.rates.departments, &department_marks, &input.rules),
        region_scores: scores(&input.rates.regions, &region_marks, &input.rules),
        score_rules: input.rules,
        rates: input.rates,
        trend,
    }
}

/// The report as CSV: `section,key,value[,…]` rows, sections in the JSON's order.
pub fn to_csv(report: &MonthlyReport) -> Result<String, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    out.write_record(["section", "key", "value", "previous", "change"])?;
    out.write_record(["complaints", "total", &report.complaints.to_string()])?;
    for (section, map) in [
        ("channel", &report.by_channel),
        ("category", &report.by_category),
        ("status", &report.by_status),
        ("region", &report.by_region),
    ] {
        for (key, n) in map {
            out.write_record([section, &text_cell(key), &n.to_string()])?;
        }
    }
    for (section, topics) in [
        ("hot_category", &report.hot_categories),
        ("hot_grid", &report.hot_grids),
    ] {
        for t in topics {
            out.write_record([
                section,
                &text_cell(&t.key),
                &t.count.to_string(),
                &t.previous.to_string(),
                &t.change.to_string(),
            ])?;
        }
    }
    for (section, ids) in [
        ("overdue", &report.overdue),
        ("returned", &report.returned),
        ("duplicate", &report.duplicates),
        ("unreasonable", &report.unreasonable),
    ] {
        for id in ids {
            out.write_record([section, &text_cell(id), ""])?;
        }
    }
    for (section, scores) in [
        ("department_score", &report.department_scores),
        ("region_score", &report.region_scores),
    ] {
        for s in scores {
            let (score, rank) = (s.score.to_string(), s.rank.to_string());
            out.write_record([section, &text_cell(&s.code), &score, &rank, ""])?;
        }
    }
    for p in &report.trend {
        let f = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
        out.write_record([
            "trend",
            &p.month,
            &f(p.response),
            &f(p.resolution),
            &f(p.satisfaction),
        ])?;
    }
    // A blank line, then the rates table with its own header.
    let mut text = crate::workflow::rates::csv_text(out)?;
    text.push('\n');
    let mut out = csv::Writer::from_writer(text.into_bytes());
    crate::workflow::rates::write_csv(&mut out, &report.rates)?;
    crate::workflow::rates::csv_text(out)
}

/// The three rates over the trend's months as an SVG line chart (months without a sample
/// leave a gap). Written as SVG text by hand: a chart of three lines and twelve months is a few
/// dozen elements, and a plotting crate would bring fonts and a rasterizer the server never
/// uses.
pub fn trend_svg(report: &MonthlyReport) -> String {
    let (width, height) = (760.0, 360.0);
    let (left, right, top, bottom) = (56.0, 150.0, 40.0, 48.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let n = report.trend.len().max(1);
    let x = |i: usize| {
        left + if n > 1 {
            plot_w * i as f64 / (n - 1) as f64
        } else {
            plot_w / 2.0
        }
    };
    let y = |v: f64| top + plot_h * (1.0 - v.clamp(0.0, 1.0));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r#"<title>三率 {} – {}</title>"#,
        report.trend.first().map_or("", |p| p.month.as_str()),
        report.month
    );
    let _ = write!(
        svg,
        r##"<rect width="{width}" height="{height}" fill="#ffffff"/>"##
    );
    for pct in [0, 25, 50, 75, 100] {
        let yy = y(pct as f64 / 100.0);
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#dddddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{pct}%</text>"##,
            left + plot_w,
            left - 6.0,
            yy + 4.0
        );
    }
    for (i, p) in report.trend.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(i),
            top + plot_h + 20.0,
            &p.month[2..]
        );
    }
    let series: [Series; 3] = [
        ("响应率 response", "#1f77b4", |p| p.response),
        ("解决率 resolution", "#2ca02c", |p| p.resolution),
        ("满意率 satisfaction", "#d62728", |p| p.satisfaction),
    ];
    for (k, (name, colour, value)) in series.iter().enumerate() {
        let mut segment: Vec<String> = Vec::new();
        let flush = |segment: &mut Vec<String>, svg: &mut String| {
            if !segment.is_empty() {
                let _ = write!(
                    svg,
                    r#"<polyline class="rate" data-series="{k}" fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                    segment.join(" ")
                );
                segment.clear();
            }
        };
        for (i, p) in report.trend.iter().enumerate() {
            match value(p) {
                Some(v) => {
                    segment.push(format!("{:.1},{:.1}", x(i), y(v)));
                    let _ = write!(
                        svg,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                        x(i),
                        y(v)
                    );
                }
                None => flush(&mut segment, &mut svg),
            }
        }
        flush(&mut segment, &mut svg);
        let ly = top + 16.0 * k as f64;
        let _ = write!(
            svg,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{name}</text>"#,
            width - right + 12.0,
            width - right + 32.0,
            width - right + 38.0,
            ly + 4.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The report as an XLSX workbook: sheets Summary, Rates, Scores and Trend.
pub fn to_xlsx(report: &MonthlyReport) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.00%");

    let sheet = book.add_worksheet().set_name("Summary")?;
    sheet.write_string_with_format(0, 0, format!("月汇总 {}", report.month), &bold)?;
    sheet.write_string(1, 0, "complaints")?;
    sheet.write_number(1, 1, report.complaints as f64)?;
    let mut row = 3;
    for (title, map) in [
        ("channel", &report.by_channel),
        ("category", &report.by_category),
        ("status", &report.by_status),
        ("region", &report.by_region),
    ] {
        sheet.write_string_with_format(row, 0, title, &bold)?;
        row += 1;
        for (key, n) in map {
            sheet.write_string(row, 0, text_cell(key))?;
            sheet.write_number(row, 1, *n as f64)?;
            row += 1;
        }
        row += 1;
    }

    let sheet = book.add_worksheet().set_name("Rates")?;
    let header = [
        "kind",
        "code",
        "level",
        "response",
        "rank",
        "resolution",
        "rank",
        "satisfaction",
        "rank",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    let mut row = 1;
    for (kind, groups) in [
        ("region", &report.rates.regions),
        ("department", &report.rates.departments),
    ] {
        for g in groups {
            sheet.write_string(row, 0, kind)?;
            sheet.write_string(row, 1, text_cell(&g.code))?;
            sheet.write_string(row, 2, text_cell(g.level.as_deref().unwrap_or("")))?;
            for (i, rate) in [&g.response, &g.resolution, &g.satisfaction]
                .iter()
                .enumerate()
            {
                let col = 3 + 2 * i as u16;
                if let Some(v) = rate.rate {
                    sheet.write_number_with_format(row, col, v, &percent)?;
                }
                if let Some(rank) = rate.rank {
                    sheet.write_number(row, col + 1, rank as f64)?;
                }
            }
            row += 1;
        }
    }

    let sheet = book.add_worksheet().set_name("Scores")?;
    for (c, h) in [
        "kind",
        "code",
        "level",
        "resolved",
        "overdue",
        "dissatisfied",
        "score",
        "rank",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    let mut row = 1;
    for (kind, scores) in [
        ("department", &report.department_scores),
        ("region", &report.region_scores),
    ] {
        for s in scores {
            sheet.write_string(row, 0, kind)?;
            sheet.write_string(row, 1, text_cell(&s.code))?;
            sheet.write_string(row, 2, text_cell(s.level.as_deref().unwrap_or("")))?;
            let figures = [
                s.resolved as f64,
                s.resolved_group as f64,
                s.resolved_legacy as f64,
                s.overdue as f64,
                s.shirked as f64,
                s.dissatisfied as f64,
                s.score,
                s.rank as f64,
            ];
            for (i, v) in figures.into_iter().enumerate() {
                sheet.write_number(row, 3 + i as u16, v)?;
            }
            row += 1;
        }
    }

    let sheet = book.add_worksheet().set_name("Trend")?;
    for (c, h) in ["month", "response", "resolution", "satisfaction"]
        .iter()
        .enumerate()
    {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, p) in report.trend.iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, &p.month)?;
        for (c, v) in [p.response, p.resolution, p.satisfaction]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = v {
                sheet.write_number_with_format(row, c as u16 + 1, v, &percent)?;
            }
        }
    }
    book.save_to_buffer()
}

/// Reads what the report of `month` is made from and makes it: the month's cases and
/// complaints, the previous month's complaints, the notices issued in the month (each with its
/// case's department and regions), and every case with an event in the 12 months of the trend.
/// Eight queries, whatever the month holds.
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
        rules,
        trend_months,
        trend_cases: &trend_cases,
        trend_evaluations: &trend_evaluations,
    }))
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
            rules: ScoreRules::default(),
            trend_months: vec![month],
            trend_cases: &[],
            trend_evaluations: &[],
        })
    }

    proptest! {
        /// Whatever a category holds (commas, quotes, line breaks), a CSV reader reads back
        /// exactly the categories and counts the report has.
        #[test]
        fn every_category_reads_back_from_the_csv_as_it_was(
            categories in proptest::collection::vec("[a-z,\"\n 噪音]{1,12}", 1..8)
        ) {
            let report = report_of(&categories);
            let text = to_csv(&report).unwrap();
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(text.as_bytes());
            let mut read = std::collections::BTreeMap::new();
            for row in reader.records() {
                let row = row.unwrap();
                if row.get(0) == Some("category") {
                    read.insert(row[1].to_string(), row[2].parse::<u64>().unwrap());
                }
            }
            prop_assert_eq!(read, report.by_category.clone());
        }
    }

    /// The categories of the Summary sheet, as a spreadsheet reader reads the workbook.
    fn summary_categories(xlsx: Vec<u8>) -> Vec<String> {
        use calamine::{Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(xlsx)).unwrap();
        let sheet = book.worksheet_range("Summary").unwrap();
        let rows: Vec<Vec<String>> = sheet
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        let start = rows.iter().position(|r| r[0] == "category").unwrap() + 1;
        rows[start..]
            .iter()
            .take_while(|r| !r[0].is_empty())
            .map(|r| r[0].clone())
            .collect()
    }

    #[test]
    fn a_formula_in_a_category_is_text_in_the_csv_and_the_workbook() {
        let formula = "=HYPERLINK(\"http://evil.example\",\"点我\")".to_string();
        let report = report_of(std::slice::from_ref(&formula));
        let csv = to_csv(&report).unwrap();
        assert!(
            csv.contains("category,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"点我\"\")\",1"),
            "{csv}"
        );
        assert!(!csv.contains(",=HYPERLINK"), "{csv}");
        let read = summary_categories(to_xlsx(&report).unwrap());
        assert_eq!(read, [format!("'{formula}")]);
    }

    #[test]
    fn a_category_longer_than_a_cell_is_cut_not_a_failed_workbook() {
        let report = report_of(&["长".repeat(40_000), "市政".into()]);
        let read = summary_categories(to_xlsx(&report).expect("the workbook is written"));
        assert_eq!(read.len(), 2);
        let cut = read.iter().find(|c| c.starts_with('长')).unwrap();
        assert_eq!(cut.chars().count(), crate::workflow::cells::MAX_CELL_CHARS);
        assert!(cut.ends_with(crate::workflow::cells::TRUNCATED));
        let csv = to_csv(&report).unwrap();
        assert!(csv.contains(crate::workflow::cells::TRUNCATED));
    }
}

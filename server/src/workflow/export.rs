//! The monthly report as files office staff open: an XLSX workbook with one sheet per table,
//! CSV (one table per file, UTF-8 with a byte-order mark, one header row; several tables as a
//! zip), and the 12-month trend as an SVG chart. Every table is built once ([`tables`]) and
//! written by both the workbook and the CSV, so headers and values cannot drift apart. Pure.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::workflow::cells::text_cell;
use crate::workflow::hazards::{HazardReport, HazardTally, ReviewReport, ReviewTally};
use crate::workflow::rates::{Group, Rate, RatesReport};
use crate::workflow::report::{Count, MonthlyReport, Score, Topic, TrendPoint, level_name};

/// The byte-order mark Excel needs to read a CSV file as UTF-8.
pub const BOM: &str = "\u{feff}";

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Words people read.
    Text(String),
    /// A code: text, never a number (a 14-digit grid code must not become 2.2E+13).
    Code(String),
    Int(i64),
    Number(f64),
    /// A rate from 0 to 1, shown as a percentage; empty when there is no sample.
    Percent(Option<f64>),
    Empty,
}

/// A table: its file and sheet names, its header and its rows (each as long as the header).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The CSV file's name without `.csv`, and the `table=` parameter.
    pub key: &'static str,
    /// The sheet's name.
    pub title: &'static str,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

fn code(s: &str) -> Cell {
    Cell::Code(s.to_string())
}

fn int(n: u64) -> Cell {
    Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn counts(key: &'static str, title: &'static str, what: &'static str, list: &[Count]) -> Table {
    Table {
        key,
        title,
        header: vec!["编码", what, "诉求数"],
        rows: list
            .iter()
            .map(|c| vec![code(&c.code), text(&c.name), int(c.count)])
            .collect(),
    }
}

fn hot(key: &'static str, title: &'static str, what: &'static str, list: &[Topic]) -> Table {
    Table {
        key,
        title,
        header: vec!["排名", "编码", what, "本月", "上月", "增减"],
        rows: list
            .iter()
            .enumerate()
            .map(|(i, t)| {
                vec![
                    int(i as u64 + 1),
                    code(&t.key),
                    text(&t.name),
                    int(t.count),
                    int(t.previous),
                    Cell::Int(t.change),
                ]
            })
            .collect(),
    }
}

fn kind_name(level: Option<&str>) -> &'static str {
    if level.is_some() { "区域" } else { "部门" }
}

fn rank_cell(rate: &Rate) -> Cell {
    rate.rank.map_or(Cell::Empty, |r| int(u64::from(r)))
}

/// The rates of a period as a table: regions, then departments. The resolution and the
/// satisfaction rate share their denominator (every evaluation judges one result), shown once.
pub fn rates_table(rates: &RatesReport) -> Table {
    let row = |g: &Group| {
        vec![
            text(kind_name(g.level.as_deref())),
            code(&g.code),
            text(&g.name),
            text(g.level.as_deref().map_or("", level_name)),
            Cell::Number(g.response.numerator),
            int(g.response.denominator),
            Cell::Percent(g.response.rate),
            rank_cell(&g.response),
            int(g.resolution.denominator),
            Cell::Number(g.resolution.numerator),
            Cell::Percent(g.resolution.rate),
            rank_cell(&g.resolution),
            Cell::Number(g.satisfaction.numerator),
            Cell::Percent(g.satisfaction.rate),
            rank_cell(&g.satisfaction),
        ]
    };
    Table {
        key: "rates",
        title: "三率",
        header: vec![
            "类型",
            "编码",
            "名称",
            "层级",
            "按时响应",
            "应响应",
            "响应率",
            "响应率排名",
            "评价数",
            "解决",
            "解决率",
            "解决率排名",
            "满意得分",
            "满意率",
            "满意率排名",
        ],
        rows: rates
            .regions
            .iter()
            .chain(&rates.departments)
            .map(row)
            .collect(),
    }
}

/// The hazard figures (隐患整改): the month's total, then by risk level, hazard type, region
/// and department, each with its rectification rate (整改率) and rank.
fn hazards_table(hazards: &HazardReport) -> Table {
    let row =
        |kind: &str, code_: &str, name: &str, level: Option<&str>, t: &HazardTally, r: &Rate| {
            vec![
                text(kind),
                code(code_),
                text(name),
                text(level.map_or("", level_name)),
                int(t.found),
                int(t.verified),
                int(t.returned),
                int(t.resolved_in_grid),
                int(t.escalated),
                int(t.dispatched),
                int(t.rectified_on_time),
                int(t.rectified_late),
                int(t.overdue),
                int(t.reinspected),
                int(t.failed_reinspections),
                int(t.fixed_on_time),
                int(r.denominator),
                Cell::Percent(r.rate),
                rank_cell(r),
            ]
        };
    let mut rows = vec![row(
        "合计",
        "",
        "全部隐患",
        None,
        &hazards.total,
        &hazards.rectification,
    )];
    for (kind, groups) in [
        ("风险等级", &hazards.by_risk_level),
        ("隐患类型", &hazards.by_type),
        ("区域", &hazards.by_region),
        ("部门", &hazards.by_department),
    ] {
        rows.extend(groups.iter().map(|g| {
            row(
                kind,
                &g.code,
                &g.name,
                g.level.as_deref(),
                &g.tally,
                &g.rectification,
            )
        }));
    }
    Table {
        key: "hazards",
        title: "隐患整改",
        header: vec![
            "分组",
            "编码",
            "名称",
            "层级",
            "发现",
            "核实",
            "退回补充",
            "网格内化解",
            "上报",
            "派单",
            "按时整改",
            "逾期整改",
            "超期未整改",
            "复查",
            "复查未通过",
            "按时整改且复查通过",
            "应整改",
            "整改率",
            "整改率排名",
        ],
        rows,
    }
}

/// The grid leaders' review of workers' complaints (网格长审核): the month's total, then each
/// region.
fn review_table(review: &ReviewReport) -> Table {
    let row = |kind: &str, code_: &str, name: &str, level: &str, t: &ReviewTally| {
        vec![
            text(kind),
            code(code_),
            text(name),
            text(level_name(level)),
            int(t.verified),
            int(t.returned),
            int(t.resubmitted),
            int(t.resolved_in_grid),
        ]
    };
    let mut rows = vec![row("合计", "", "全部", "", &review.total)];
    rows.extend(
        review
            .by_region
            .iter()
            .map(|g| row("区域", &g.code, &g.name, &g.level, &g.tally)),
    );
    Table {
        key: "leader_review",
        title: "网格长审核",
        header: vec![
            "分组",
            "编码",
            "名称",
            "层级",
            "核实转办",
            "退回补充",
            "补充后重报",
            "网格内化解",
        ],
        rows,
    }
}

fn scores_table(report: &MonthlyReport) -> Table {
    let row = |s: &Score| {
        vec![
            text(kind_name(s.level.as_deref())),
            code(&s.code),
            text(&s.name),
            text(s.level.as_deref().map_or("", level_name)),
            int(s.resolved),
            int(s.resolved_group),
            int(s.resolved_legacy),
            int(s.overdue),
            int(s.shirked),
            int(s.dissatisfied),
            Cell::Number(s.score),
            int(u64::from(s.rank)),
        ]
    };
    Table {
        key: "scores",
        title: "积分",
        header: vec![
            "类型",
            "编码",
            "名称",
            "层级",
            "解决",
            "其中群体诉求",
            "其中历史遗留",
            "超期督办",
            "推诿",
            "不满意",
            "得分",
            "排名",
        ],
        rows: report
            .department_scores
            .iter()
            .chain(&report.region_scores)
            .map(row)
            .collect(),
    }
}

fn trend_table(trend: &[TrendPoint]) -> Table {
    Table {
        key: "trend",
        title: "趋势",
        header: vec!["月份", "响应率", "解决率", "满意率"],
        rows: trend
            .iter()
            .map(|p| {
                vec![
                    code(&p.month),
                    Cell::Percent(p.response),
                    Cell::Percent(p.resolution),
                    Cell::Percent(p.satisfaction),
                ]
            })
            .collect(),
    }
}

/// Every table of the monthly report, in the order of its sections.
pub fn tables(report: &MonthlyReport) -> Vec<Table> {
    let overview = Table {
        key: "overview",
        title: "概况",
        header: vec!["项目", "数值"],
        rows: [
            ("诉求总数", report.complaints),
            ("超期督办件", report.overdue.len() as u64),
            ("不满意退回件", report.returned.len() as u64),
            ("重复件", report.duplicates.len() as u64),
            ("不合理诉求", report.unreasonable.len() as u64),
            ("隐患发现", report.hazards.total.found),
            ("隐患超期未整改", report.hazards.total.overdue),
        ]
        .into_iter()
        .map(|(item, n)| vec![text(item), int(n)])
        .collect(),
    };
    let prominent = Table {
        key: "prominent",
        title: "重点诉求",
        header: vec!["类别", "诉求编号"],
        rows: [
            ("超期督办", &report.overdue),
            ("不满意退回", &report.returned),
            ("重复件", &report.duplicates),
            ("不合理诉求", &report.unreasonable),
        ]
        .into_iter()
        .flat_map(|(kind, ids)| ids.iter().map(move |id| vec![text(kind), code(id)]))
        .collect(),
    };
    vec![
        overview,
        counts("channels", "渠道", "渠道", &report.by_channel),
        counts("categories", "分类", "分类", &report.by_category),
        counts("statuses", "状态", "状态", &report.by_status),
        counts("regions", "区域", "区域", &report.by_region),
        hot("hot_categories", "热点分类", "分类", &report.hot_categories),
        hot("hot_grids", "热点网格", "网格", &report.hot_grids),
        prominent,
        rates_table(&report.rates),
        hazards_table(&report.hazards),
        review_table(&report.leader_review),
        scores_table(report),
        trend_table(&report.trend),
    ]
}

/// A code as a CSV cell Excel keeps as text: a long run of digits (a 12- to 14-digit area
/// code) is written as the constant formula `="…"`, which Excel shows as the text itself
/// instead of rounding it into scientific notation; any other code goes through [`text_cell`].
fn csv_code(code: &str) -> String {
    if code.len() >= 12 && code.bytes().all(|b| b.is_ascii_digit()) {
        format!("=\"{code}\"")
    } else {
        text_cell(code).into_owned()
    }
}

fn csv_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => text_cell(s).into_owned(),
        Cell::Code(s) => csv_code(s),
        Cell::Int(n) => n.to_string(),
        Cell::Number(v) => format!("{}", (v * 1e6).round() / 1e6),
        Cell::Percent(v) => v.map(|v| format!("{v:.4}")).unwrap_or_default(),
        Cell::Empty => String::new(),
    }
}

/// One table as CSV: a byte-order mark, the header, the rows.
pub fn table_csv(table: &Table) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(BOM.as_bytes().to_vec());
    out.write_record(&table.header)?;
    for row in &table.rows {
        out.write_record(row.iter().map(csv_cell))?;
    }
    csv_text(out)
}

/// The text a CSV writer over memory wrote.
pub fn csv_text(out: csv::Writer<Vec<u8>>) -> Result<String, csv::Error> {
    let bytes = out
        .into_inner()
        .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))?;
    String::from_utf8(bytes).map_err(|e| csv::Error::from(std::io::Error::other(e)))
}

/// Every table as its own CSV file in a zip.
pub fn csv_zip(tables: &[Table]) -> Result<Vec<u8>, std::io::Error> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for table in tables {
        let text = table_csv(table).map_err(std::io::Error::other)?;
        zip.start_file(format!("{}.csv", table.key), options)
            .map_err(std::io::Error::other)?;
        zip.write_all(text.as_bytes())?;
    }
    let cursor = zip.finish().map_err(std::io::Error::other)?;
    Ok(cursor.into_inner())
}

/// How wide a column shows `text`: CJK characters take two widths.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| if (c as u32) < 0x1100 { 1 } else { 2 })
        .sum()
}

/// The report as an XLSX workbook: one sheet per table, the header bold and frozen, codes as
/// text, rates as percentages, columns as wide as what they hold.
pub fn to_xlsx(report: &MonthlyReport) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{DocProperties, Format, FormatBorder, Workbook};
    let mut book = Workbook::new();
    book.set_properties(
        &DocProperties::new()
            .set_title(format!("{} 月汇总", report.month))
            .set_subject("诉求办理三率、积分与趋势"),
    );
    let header = Format::new()
        .set_bold()
        .set_background_color("#DDEBF7")
        .set_border_bottom(FormatBorder::Thin);
    let percent = Format::new().set_num_format("0.0%");
    let decimal = Format::new().set_num_format("0.##");
    for table in tables(report) {
        let sheet = book.add_worksheet().set_name(table.title)?;
        let mut widths: Vec<usize> = table.header.iter().map(|h| display_width(h)).collect();
        for (c, h) in table.header.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, *h, &header)?;
        }
        for (r, row) in table.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let col = c as u16;
                let shown = match cell {
                    Cell::Text(s) | Cell::Code(s) => {
                        let s = text_cell(s);
                        sheet.write_string(r, col, s.as_ref())?;
                        display_width(&s)
                    }
                    Cell::Int(n) => {
                        sheet.write_number(r, col, *n as f64)?;
                        n.to_string().len()
                    }
                    Cell::Number(v) => {
                        sheet.write_number_with_format(r, col, *v, &decimal)?;
                        format!("{v:.2}").len()
                    }
                    Cell::Percent(Some(v)) => {
                        sheet.write_number_with_format(r, col, *v, &percent)?;
                        6
                    }
                    Cell::Percent(None) | Cell::Empty => 0,
                };
                widths[c] = widths[c].max(shown);
            }
        }
        for (c, w) in widths.iter().enumerate() {
            sheet.set_column_width(c as u16, (*w as f64 + 2.0).clamp(6.0, 60.0))?;
        }
        sheet.set_freeze_panes(1, 0)?;
    }
    book.save_to_buffer()
}

/// The fonts the chart asks for: the CJK fonts of Windows, macOS, Android and Linux desktops
/// first, so Chinese never falls back to boxes.
pub const FONT_STACK: &str = "'Microsoft YaHei', 'PingFang SC', 'Hiragino Sans GB', \
    'Noto Sans CJK SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', 'Droid Sans Fallback', \
    sans-serif";

/// The chart's size and the marker each series draws (hollow rings, widest first, so rings
/// that fall on one point nest and each stays visible).
pub const CHART: (f64, f64) = (800.0, 380.0);
pub const MARKER_RADII: [f64; 3] = [7.0, 4.5, 2.0];

/// One line of the chart: its legend, colour and value.
type Series = (&'static str, &'static str, fn(&TrendPoint) -> Option<f64>);

/// The three rates over the trend's months as an SVG line chart (a month without a sample
/// leaves a gap). Written as SVG text by hand: a chart of three lines and twelve months is a
/// few dozen elements, and a plotting crate would bring fonts and a rasterizer the server
/// never uses.
pub fn trend_svg(report: &MonthlyReport) -> String {
    let (width, height) = CHART;
    let (left, right, top, bottom) = (56.0, 180.0, 48.0, 48.0);
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
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT_STACK}" font-size="13">"#
    );
    let first = report.trend.first().map_or("", |p| p.month.as_str());
    let _ = write!(
        svg,
        r##"<title>三率趋势 {first} – {}</title><rect width="{width}" height="{height}" fill="#ffffff"/><text x="{left}" y="28" font-size="16" font-weight="bold">三率趋势（{first} 至 {}）</text>"##,
        report.month, report.month
    );
    for pct in [0, 25, 50, 75, 100] {
        let yy = y(pct as f64 / 100.0);
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#dddddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{pct}%</text>"##,
            left + plot_w,
            left - 8.0,
            yy + 4.0
        );
    }
    for (i, p) in report.trend.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(i),
            top + plot_h + 22.0,
            p.month.get(2..).unwrap_or(&p.month)
        );
    }
    let series: [Series; 3] = [
        ("响应率", "#1f77b4", |p| p.response),
        ("解决率", "#2ca02c", |p| p.resolution),
        ("满意率", "#d62728", |p| p.satisfaction),
    ];
    // Lines first, then every marker over them, widest rings first.
    for (k, (_, colour, value)) in series.iter().enumerate() {
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
                Some(v) => segment.push(format!("{:.1},{:.1}", x(i), y(v))),
                None => flush(&mut segment, &mut svg),
            }
        }
        flush(&mut segment, &mut svg);
    }
    for (k, (_, colour, value)) in series.iter().enumerate() {
        for (i, p) in report.trend.iter().enumerate() {
            if let Some(v) = value(p) {
                let _ = write!(
                    svg,
                    r##"<circle class="marker" data-series="{k}" cx="{:.1}" cy="{:.1}" r="{}" fill="#ffffff" stroke="{colour}" stroke-width="2"><title>{} {}: {:.1}%</title></circle>"##,
                    x(i),
                    y(v),
                    MARKER_RADII[k],
                    p.month,
                    series[k].0,
                    v * 100.0
                );
            }
        }
    }
    // The legend, inside the canvas with a margin.
    let (lx, ly) = (width - right + 24.0, top + 8.0);
    let _ = write!(
        svg,
        r##"<g class="legend"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#ffffff" stroke="#cccccc"/>"##,
        lx - 10.0,
        ly - 14.0,
        right - 44.0,
        22.0 * series.len() as f64 + 12.0
    );
    for (k, (name, colour, _)) in series.iter().enumerate() {
        let yy = ly + 22.0 * k as f64;
        let _ = write!(
            svg,
            r##"<line x1="{lx:.1}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{colour}" stroke-width="2"/><circle cx="{:.1}" cy="{yy:.1}" r="{}" fill="#ffffff" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{name}</text>"##,
            lx + 28.0,
            lx + 14.0,
            MARKER_RADII[k],
            lx + 36.0,
            yy + 4.5
        );
    }
    svg.push_str("</g></svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::rates::RatesReport;
    use crate::workflow::report::ScoreRules;

    fn report(trend: Vec<TrendPoint>) -> MonthlyReport {
        MonthlyReport {
            month: "2026-10".into(),
            complaints: 0,
            by_channel: vec![],
            by_category: vec![],
            by_status: vec![],
            by_region: vec![Count {
                code: "22030200100101".into(),
                name: "第1网格".into(),
                count: 3,
            }],
            hot_categories: vec![],
            hot_grids: vec![],
            overdue: vec![],
            returned: vec![],
            duplicates: vec![],
            unreasonable: vec![],
            rates: RatesReport {
                from: 0,
                to: 0,
                basic_weight: 0.8,
                min_sample: 10,
                regions: vec![],
                departments: vec![],
            },
            hazards: crate::workflow::hazards::HazardReport::empty(0, 0, 10),
            leader_review: Default::default(),
            score_rules: ScoreRules::default(),
            department_scores: vec![],
            region_scores: vec![],
            trend,
        }
    }

    fn point(month: &str, v: Option<f64>) -> TrendPoint {
        TrendPoint {
            month: month.into(),
            response: v,
            resolution: v,
            satisfaction: v,
        }
    }

    /// `(series, cx, cy, r)` of every marker.
    fn markers(svg: &str) -> Vec<(usize, f64, f64, f64)> {
        let attr = |tag: &str, name: &str| -> f64 {
            let start = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            tag[start..].split('"').next().unwrap().parse().unwrap()
        };
        svg.split("<circle class=\"marker\"")
            .skip(1)
            .map(|tag| {
                let tag = tag.split('>').next().unwrap();
                (
                    attr(tag, "data-series") as usize,
                    attr(tag, "cx"),
                    attr(tag, "cy"),
                    attr(tag, "r"),
                )
            })
            .collect()
    }

    #[test]
    fn rates_that_coincide_draw_nested_rings_so_no_marker_hides_another() {
        let svg = trend_svg(&report(vec![
            point("2026-09", Some(1.0)),
            point("2026-10", Some(0.5)),
        ]));
        let found = markers(&svg);
        assert_eq!(found.len(), 6);
        for (i, a) in found.iter().enumerate() {
            for b in &found[i + 1..] {
                if (a.1, a.2) == (b.1, b.2) {
                    // Drawn later means drawn on top: it must be a smaller ring, inside the
                    // earlier one's hole (stroke 2: each ring covers r ± 1).
                    assert!(b.3 + 1.0 < a.3 - 1.0, "{a:?} hides {b:?}");
                }
            }
        }
    }

    #[test]
    fn the_legend_stays_inside_the_canvas_and_chinese_has_a_cjk_font() {
        let svg = trend_svg(&report(vec![point("2026-10", Some(0.9))]));
        let legend = svg.split("<g class=\"legend\">").nth(1).unwrap();
        let rect = legend.split("/>").next().unwrap();
        let num = |name: &str| -> f64 {
            let start = rect.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            rect[start..].split('"').next().unwrap().parse().unwrap()
        };
        let (x, y, w, h) = (num("x"), num("y"), num("width"), num("height"));
        let (width, height) = CHART;
        assert!(x >= 8.0 && y >= 8.0 && x + w <= width - 8.0 && y + h <= height - 8.0);
        assert!(svg.contains("Microsoft YaHei") && svg.contains("Noto Sans CJK SC"));
        assert!(svg.contains(">响应率</text>"));
    }

    #[test]
    fn every_table_has_a_header_over_every_row_and_long_codes_stay_text_in_the_csv() {
        let report = report(vec![point("2026-10", None)]);
        for table in tables(&report) {
            assert!(
                table.rows.iter().all(|r| r.len() == table.header.len()),
                "{}",
                table.key
            );
        }
        let regions = tables(&report)
            .into_iter()
            .find(|t| t.key == "regions")
            .unwrap();
        assert_eq!(
            table_csv(&regions).unwrap(),
            "\u{feff}编码,区域,诉求数\n\"=\"\"22030200100101\"\"\",第1网格,3\n"
        );
    }
}

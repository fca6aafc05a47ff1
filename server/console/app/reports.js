// 考核报表: the month's three rates (响应率, 解决率, 满意率), the rectification rate (整改率) and
// the points of every region and department, as charts and tables, with the XLSX workbook and
// the CSV files the server writes.

import { h, replace, api, thisMonth } from './dom.js';
import { chart, percent } from './charts.js';
import { LEVEL, label } from './labels.js';

function pct(rate) {
  return rate === null || rate === undefined ? '样本不足' : `${(rate * 100).toFixed(1)}%`;
}

function table(id, heads, rows) {
  return h('table', { class: 'list', id },
    h('thead', {}, h('tr', {}, heads.map((t) => h('th', {}, t)))),
    h('tbody', {}, rows.length
      ? rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c === null || c === undefined ? '—' : String(c)))))
      : h('tr', {}, h('td', { colspan: heads.length, class: 'empty' }, '本月暂无数据'))));
}

export async function reportsPage(main, month = thisMonth()) {
  const report = await api('GET', `/api/v1/reports/monthly/${month}`);
  const picker = h('input', { type: 'month', value: month, id: 'report-month', max: thisMonth() });
  picker.addEventListener('change', () => picker.value && reportsPage(main, picker.value));
  const counties = report.rates.regions.filter((r) => r.level === 'county');
  const hazardCounties = report.hazards.by_region.filter((r) => r.level === 'county');
  const trend = h('div', { class: 'chart', id: 'chart-trend' });
  const rates = h('div', { class: 'chart', id: 'chart-rates' });
  const hazards = h('div', { class: 'chart', id: 'chart-hazards' });
  const topics = h('div', { class: 'chart', id: 'chart-topics' });
  const base = `/api/v1/reports/monthly/${month}`;
  replace(main,
    h('h1', {}, '考核报表', picker,
      h('a', { class: 'button', id: 'download-xlsx', href: `${base}?format=xlsx`, download: '' }, '下载 Excel'),
      h('a', { class: 'button quiet', id: 'download-csv', href: `${base}?format=csv`, download: '' }, '下载 CSV')),
    h('div', { class: 'kpis' },
      h('div', {}, h('b', {}, String(report.complaints)), '本月诉求'),
      h('div', {}, h('b', {}, String(report.hazards.total.found)), '发现隐患'),
      h('div', {}, h('b', {}, pct(report.hazards.rectification.rate)), '整改率'),
      h('div', {}, h('b', {}, String(report.overdue.length)), '超期')),
    h('div', { class: 'chart-grid' },
      h('section', { class: 'card' }, h('h2', {}, '三率走势（近 12 个月）'), trend),
      h('section', { class: 'card' }, h('h2', {}, '各县区三率'), rates),
      h('section', { class: 'card' }, h('h2', {}, '各县区隐患整改'), hazards),
      h('section', { class: 'card' }, h('h2', {}, '热点诉求'), topics)),
    h('section', { class: 'card' }, h('h2', {}, '区域三率与排名'),
      table('table-rates', ['区域', '层级', '响应率', '解决率', '满意率', '满意率排名'],
        report.rates.regions.map((r) => [r.name, label(LEVEL, r.level), pct(r.response.rate), pct(r.resolution.rate), pct(r.satisfaction.rate), r.satisfaction.rank]))),
    h('section', { class: 'card' }, h('h2', {}, '部门三率'),
      table('table-departments', ['部门', '响应率', '解决率', '满意率'],
        report.rates.departments.map((r) => [r.name, pct(r.response.rate), pct(r.resolution.rate), pct(r.satisfaction.rate)]))),
    h('section', { class: 'card' }, h('h2', {}, '考核积分'),
      table('table-scores', ['单位', '解决', '超期', '推诿', '不满意', '积分', '排名'],
        [...report.region_scores, ...report.department_scores].map((s) => [s.name, s.resolved, s.overdue, s.shirked, s.dissatisfied, s.score, s.rank]))),
    h('section', { class: 'card' }, h('h2', {}, '隐患整改（按区域）'),
      table('table-hazards', ['区域', '发现', '核实', '网格内化解', '上报', '按期整改', '逾期', '复查', '整改率'],
        report.hazards.by_region.map((r) => [r.name, r.tally.found, r.tally.verified, r.tally.resolved_in_grid, r.tally.escalated, r.tally.rectified_on_time, r.tally.overdue, r.tally.reinspected, pct(r.rectification.rate)]))));
  const rateSeries = (key) => ({ type: 'line', name: { response: '响应率', resolution: '解决率', satisfaction: '满意率' }[key], data: report.trend.map((p) => percent(p[key])), connectNulls: true });
  await Promise.all([
    chart(trend, {
      legend: { top: 0 }, grid: { left: 44, right: 16, top: 40, bottom: 28 },
      xAxis: { type: 'category', data: report.trend.map((p) => p.month.slice(2)) },
      yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
      series: ['response', 'resolution', 'satisfaction'].map(rateSeries),
    }),
    chart(rates, {
      legend: { top: 0 }, grid: { left: 44, right: 16, top: 40, bottom: 28 },
      xAxis: { type: 'category', data: counties.map((r) => r.name) },
      yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
      series: [['响应率', 'response'], ['解决率', 'resolution'], ['满意率', 'satisfaction']].map(([name, key]) => ({
        type: 'bar', name, data: counties.map((r) => percent(r[key].rate)),
      })),
    }),
    chart(hazards, {
      legend: { top: 0 }, grid: { left: 44, right: 44, top: 48, bottom: 28 },
      xAxis: { type: 'category', data: hazardCounties.map((r) => r.name) },
      yAxis: [{ type: 'value', name: '件' }, { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }],
      series: [
        { type: 'bar', name: '发现', data: hazardCounties.map((r) => r.tally.found) },
        { type: 'bar', name: '按期整改', data: hazardCounties.map((r) => r.tally.rectified_on_time) },
        { type: 'line', name: '整改率', yAxisIndex: 1, data: hazardCounties.map((r) => percent(r.rectification.rate)) },
      ],
    }),
    chart(topics, {
      grid: { left: 120, right: 24, top: 8, bottom: 24 },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', data: report.hot_categories.slice(0, 10).map((t) => t.name).reverse() },
      series: [{ type: 'bar', name: '件数', data: report.hot_categories.slice(0, 10).map((t) => t.count).reverse(), itemStyle: { color: '#ef6c00' } }],
    }),
  ]);
}

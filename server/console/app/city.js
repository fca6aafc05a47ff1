// 一屏观全城: the whole city on one wall display (1920×1080), dark, refreshing by itself with
// no one at it. The grids coloured by what is open in them, live counters, the three rates by
// county, hot topics and the latest changes.

import { h, replace, api, when, thisMonth } from './dom.js';
import { gridMap } from './map.js';
import { chart, percent } from './charts.js';
import { KIND, STATUS, label } from './labels.js';

/** How often the live figures and the month's report are read again. */
const FIGURES_EVERY_MS = 30_000;
const REPORT_EVERY_MS = 300_000;

function counter(id, title) {
  const value = h('b', { id }, '—');
  return [h('div', { class: 'counter' }, h('span', {}, title), value), value];
}

/** The screen's drawing options from its address (`#/city?outlines=line`); BENCHMARKS.md compares. */
function drawing() {
  const asked = new URLSearchParams(window.location.hash.split('?')[1] || '');
  return { maxzoom: 12, outlines: asked.get('outlines') === 'line' ? 'line' : 'fill' };
}

export async function cityPage(main) {
  document.body.classList.add('city-screen');
  const clock = h('time', { class: 'clock' });
  const [intakeBox, intake] = counter('count-intake', '今日受理');
  const [hazardsTodayBox, hazardsToday] = counter('count-hazards-today', '今日隐患');
  const [openBox, open] = counter('count-open', '未办结诉求');
  const [openHazardsBox, openHazards] = counter('count-open-hazards', '未销号隐患');
  const [overdueBox, overdue] = counter('count-overdue', '超期');
  const mapBox = h('div', { class: 'city-map', id: 'city-map' });
  const rates = h('div', { class: 'chart', id: 'city-rates' });
  const rectification = h('div', { class: 'chart', id: 'city-rectification' });
  const topics = h('div', { class: 'chart', id: 'city-topics' });
  const latest = h('ol', { class: 'latest', id: 'city-latest' });
  const updated = h('span', { class: 'updated' });
  replace(main,
    h('header', { class: 'city-head' },
      h('h1', {}, '一屏观全城 · 网格化治理'), updated, clock),
    h('div', { class: 'counters' }, intakeBox, hazardsTodayBox, openBox, openHazardsBox, overdueBox),
    h('div', { class: 'city-body' },
      h('div', { class: 'side' },
        h('section', {}, h('h2', {}, '各县区三率（本月）'), rates),
        h('section', {}, h('h2', {}, '各县区隐患整改率（本月）'), rectification)),
      mapBox,
      h('div', { class: 'side' },
        h('section', {}, h('h2', {}, '热点诉求（本月）'), topics),
        h('section', {}, h('h2', {}, '最新动态'), latest))));
  const tick = () => replace(clock, when(Date.now()).slice(0, 16));
  tick();
  setInterval(tick, 10_000);

  const outlines = await api('GET', '/api/v1/grids/outlines');
  let map = null;
  const figures = async () => {
    const d = await api('GET', '/api/v1/dashboard');
    replace(intake, String(d.today.complaints));
    replace(hazardsToday, String(d.today.hazards));
    replace(open, String(d.open.complaints));
    replace(openHazards, String(d.open.hazards));
    replace(overdue, String(d.overdue));
    replace(latest, d.latest.map((r) => h('li', {},
      h('time', {}, when(r.updated_at).slice(5)),
      h('span', { class: `kind k-${r.kind}` }, label(KIND, r.kind)),
      h('span', { class: 'title' }, r.title),
      h('span', { class: 'st' }, label(STATUS, r.status)))));
    replace(updated, `更新于 ${when(d.generated_at).slice(11)}`);
    if (map) {
      map.removeFeatureState({ source: 'grids' });
      for (const [code, n] of Object.entries(d.grids)) {
        map.setFeatureState({ source: 'grids', id: code }, { complaints: n.complaints, hazards: n.hazards });
      }
    }
    return d;
  };
  const first = await figures();
  const report = async () => {
    const r = await api('GET', `/api/v1/reports/monthly/${thisMonth()}`);
    const counties = r.rates.regions.filter((g) => g.level === 'county');
    const hazardCounties = r.hazards.by_region.filter((g) => g.level === 'county');
    await Promise.all([
      chart(rates, {
        title: counties.some((g) => g.response.rate !== null || g.satisfaction.rate !== null)
          ? undefined
          : { text: '本月评价样本不足', left: 'center', top: 'middle', textStyle: { color: '#6f8db0', fontSize: 14, fontWeight: 'normal' } },
        legend: { top: 0, textStyle: { color: '#cfe3f7' } },
        grid: { left: 44, right: 8, top: 32, bottom: 24 },
        xAxis: { type: 'category', data: counties.map((g) => g.name) },
        yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
        series: [['响应率', 'response'], ['解决率', 'resolution'], ['满意率', 'satisfaction']]
          .map(([name, key]) => ({ type: 'bar', name, data: counties.map((g) => percent(g[key].rate)) })),
      }, { dark: true }),
      chart(rectification, {
        title: hazardCounties.some((g) => g.rectification.rate !== null)
          ? undefined
          : { text: '本月复查样本不足', left: 'center', top: 'middle', textStyle: { color: '#6f8db0', fontSize: 14, fontWeight: 'normal' } },
        grid: { left: 44, right: 8, top: 16, bottom: 24 },
        xAxis: { type: 'category', data: hazardCounties.map((g) => g.name) },
        yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
        series: [{ type: 'bar', name: '整改率', data: hazardCounties.map((g) => percent(g.rectification.rate)), itemStyle: { color: '#26c6da' } }],
      }, { dark: true }),
      chart(topics, {
        grid: { left: 110, right: 16, top: 8, bottom: 24 },
        xAxis: { type: 'value', minInterval: 1 },
        yAxis: { type: 'category', data: r.hot_categories.slice(0, 8).map((t) => t.name).reverse() },
        series: [{ type: 'bar', name: '件数', data: r.hot_categories.slice(0, 8).map((t) => t.count).reverse(), itemStyle: { color: '#ffa726' } }],
      }, { dark: true }),
    ]);
  };
  // The report is only for the desk, supervisors and admins; a leader's screen goes without.
  const reportReady = report().catch(() => null);
  map = await gridMap(mapBox, {
    grids: outlines,
    dark: true,
    ...drawing(),
    fill: ['interpolate', ['linear'],
      ['+', ['coalesce', ['feature-state', 'complaints'], 0], ['*', 2, ['coalesce', ['feature-state', 'hazards'], 0]]],
      0, '#0d2a4d', 1, '#1565c0', 3, '#f9a825', 6, '#ef6c00', 10, '#c62828'],
    onReady: (m) => {
      for (const [code, n] of Object.entries(first.grids)) {
        m.setFeatureState({ source: 'grids', id: code }, { complaints: n.complaints, hazards: n.hazards });
      }
    },
  });
  await reportReady;
  setInterval(() => figures().catch(() => null), FIGURES_EVERY_MS);
  setInterval(() => report().catch(() => null), REPORT_EVERY_MS);
}

// 网格: the caller's grids on a map, filled by what lies open in them, with the records as
// markers coloured by state; a grid's register (people, households, what is open, this month's
// rates) beside it.

import { h, replace, api, when } from './dom.js';
import { gridMap, SETTLED } from './map.js';
import { STATUS, RISK, label } from './labels.js';

/** Every located record in scope, as GeoJSON points (pages of 500, at most `pages`). */
export async function recordPoints(query = '', pages = 4) {
  const features = [];
  let cursor = null;
  for (let i = 0; i < pages; i += 1) {
    const page = await api('GET', `/api/v1/records?format=geojson&limit=500${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    features.push(...page.features.filter((f) => f.geometry));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return { type: 'FeatureCollection', features };
}

function rate(value) {
  return value === null || value === undefined ? '—' : `${(value * 100).toFixed(1)}%`;
}

function counts(object, table) {
  const entries = Object.entries(object || {});
  return entries.length ? entries.map(([k, n]) => `${label(table, k)} ${n}`).join('，') : '无';
}

async function register(panel, code) {
  replace(panel, h('p', { class: 'loading' }, '正在读取网格台账…'));
  const r = await api('GET', `/api/v1/grids/${encodeURIComponent(code)}/register`);
  const rates = r.rates || {};
  const rectification = rates.rectification || {};
  replace(panel,
    h('h2', { id: 'register-name' }, r.name),
    h('p', { class: 'code' }, r.code),
    h('dl', { class: 'fields compact' },
      h('dt', {}, '户数'), h('dd', {}, r.households ?? '—'),
      h('dt', {}, '人口'), h('dd', {}, r.population ?? '—'),
      h('dt', {}, '未办结诉求'), h('dd', {}, counts(r.open_complaints && r.open_complaints.by_status, STATUS)),
      h('dt', {}, '未销号隐患'), h('dd', {}, counts(r.open_hazards && r.open_hazards.by_level, RISK)),
      h('dt', {}, '超期'), h('dd', { class: r.overdue ? 'overdue' : '' }, String(r.overdue ?? 0)),
      h('dt', {}, `${rates.month || ''} 响应率`), h('dd', {}, rate(rates.response && rates.response.rate)),
      h('dt', {}, '解决率'), h('dd', {}, rate(rates.resolution && rates.resolution.rate)),
      h('dt', {}, '满意率'), h('dd', {}, rate(rates.satisfaction && rates.satisfaction.rate)),
      h('dt', {}, '整改率'), h('dd', {}, rate(rectification.rate))),
    h('h3', {}, '网格力量'),
    h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, ['姓名', '职务', '电话'].map((t) => h('th', {}, t)))),
      h('tbody', {}, (r.people || []).map((p) => h('tr', {},
        h('td', {}, p.name), h('td', {}, p.title || ''), h('td', {}, p.phone || ''))))),
    (r.activity || []).length ? [
      h('h3', {}, '近 30 天上报'),
      h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, ['姓名', '上报数', '最近活动'].map((t) => h('th', {}, t)))),
        h('tbody', {}, r.activity.map((a) => h('tr', {},
          h('td', {}, a.name || a.username),
          h('td', {}, String(a.records_per_day.reduce((x, y) => x + y, 0))),
          h('td', {}, a.last_seen ? when(a.last_seen) : '—'))))),
    ] : null);
}

export async function gridsPage(main) {
  const [grids, records] = await Promise.all([
    api('GET', '/api/v1/grids?level=grid'),
    recordPoints(),
  ]);
  const open = {};
  for (const f of records.features) {
    const p = f.properties;
    if (p.owner_grid && !SETTLED.has(p.status)) open[p.owner_grid] = (open[p.owner_grid] || 0) + 1;
  }
  for (const g of grids.features) g.properties.open = open[g.properties.code] || 0;
  const panel = h('aside', { class: 'register card', id: 'register' },
    h('p', { class: 'empty' }, '点击地图上的网格查看台账。'));
  const mapBox = h('div', { class: 'map', id: 'grid-map' });
  const list = h('ul', { class: 'grid-list' }, grids.features.map((g) =>
    h('li', {}, h('button', {
      type: 'button', class: 'quiet', dataset: { code: g.properties.code },
      onclick: () => register(panel, g.properties.code),
    }, g.properties.name, h('span', { class: g.properties.open ? 'badge hot' : 'badge' }, String(g.properties.open))))));
  replace(main,
    h('h1', {}, '网格', h('span', { class: 'count' }, String(grids.features.length))),
    h('div', { class: 'map-layout' },
      h('div', {},
        mapBox,
        h('p', { class: 'legend' },
          h('span', { class: 'dot open' }), '待办 ',
          h('span', { class: 'dot returned' }), '退回 ',
          h('span', { class: 'dot rectified' }), '待复查 ',
          h('span', { class: 'dot settled' }), '已办结 ',
          h('span', { class: 'dot hazard' }), '黑边为隐患；网格颜色越深，未办结越多'),
        list),
      panel));
  await gridMap(mapBox, {
    grids,
    records,
    fill: ['interpolate', ['linear'], ['get', 'open'], 0, '#dbe9f6', 1, '#9ecae1', 3, '#4292c6', 6, '#08519c'],
    onGrid: (code) => register(panel, code),
  });
  // The grid with the most open work first.
  const busiest = [...grids.features].sort((a, b) => b.properties.open - a.properties.open)[0];
  if (busiest) await register(panel, busiest.properties.code);
}

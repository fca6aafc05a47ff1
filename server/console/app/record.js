// A record's page: its fields, photos, case, the steps the reader may take now, the timeline,
// and the history of who changed what, when, from which device.

import { h, replace, api, upload, when, countdown, cached, names } from './dom.js';
import { KIND, STATUS, ACTION, EVENT, CHANNEL, RISK, OUTCOME, RATING, FIELD, label } from './labels.js';
import { gridMap } from './map.js';

const note = (required) => ({ name: 'note', label: '说明', type: 'textarea', required });

/** What each action asks for (the fields of its transition request). */
const FORMS = {
  accept: [note(false), { name: 'category', label: '更正分类（可选）', type: 'text' }],
  flag_unreasonable: [note(true)],
  dispatch: [
    { name: 'lead', label: '主办部门', type: 'select', options: 'departments', placeholder: '按派单规则' },
    { name: 'deadline_class', label: '办理时限', type: 'select', options: 'deadline-classes', placeholder: '按派单规则' },
    note(false),
  ],
  sign_for: [note(false)],
  reply: [note(true)],
  start_handling: [note(false)],
  report_result: [
    { name: 'outcome', label: '办理结果', type: 'select', options: OUTCOME, required: true },
    { name: 'explanation', label: '情况说明', type: 'textarea', required: true },
    { name: 'photos', label: '现场照片（可多选，最多 9 张）', type: 'photos' },
  ],
  feedback: [note(true)],
  evaluate: [
    { name: 'rating', label: '评价', type: 'select', options: RATING, required: true },
    { name: 'comment', label: '群众意见', type: 'textarea' },
  ],
  close: [note(false)],
  link_duplicate: [{ name: 'duplicate_of', label: '重复于（编号）', type: 'text', required: true }, note(false)],
  supervise: [note(true)],
  verify: [note(false)],
  return_to_worker: [note(true)],
  resubmit: [note(false)],
  resolve_in_grid: [note(true), { name: 'evidence', label: '佐证照片', type: 'select', options: 'photos' }],
  escalate: [note(true)],
  report_rectification: [note(true), { name: 'photos', label: '整改后照片（可多选，最多 9 张）', type: 'photos' }],
  reinspect: [{ name: 'fixed', label: '复查结果', type: 'select', options: { true: '已整改到位', false: '未整改到位' }, required: true }, note(false)],
};

async function optionsFor(source, record) {
  if (typeof source === 'object') return Object.entries(source);
  if (source === 'photos') return Object.keys(record.attachments).map((sha) => [sha, `照片 ${sha.slice(0, 8)}`]);
  if (source === 'departments') {
    const { departments } = await cached('/api/v1/departments');
    return departments.map((d) => [d.code, d.name]);
  }
  if (source === 'deadline-classes') {
    const classes = await cached('/api/v1/deadline-classes');
    return classes.deadline_classes.map((c) => [c.code, c.name || c.code]);
  }
  return [];
}

async function actionForm(record, action, done, preset = {}, suggested = null) {
  const fields = FORMS[action] || [];
  const inputs = {};
  const rows = [];
  for (const field of fields) {
    let input;
    if (field.type === 'textarea') {
      input = h('textarea', { name: field.name, rows: 3, maxlength: 2000, required: field.required });
    } else if (field.type === 'select') {
      const options = await optionsFor(field.options, record);
      // A dispatch's blanks say where the rules would send it.
      const rule = suggested && suggested[field.name];
      const ruleName = rule && (options.find(([value]) => value === rule) || [rule, rule])[1];
      const noRule = suggested && field.name === 'lead' && !rule;
      const blank = ruleName ? `按派单规则：${ruleName}`
        : noRule ? '无匹配的派单规则，请选择'
          : field.placeholder || (field.required ? '请选择' : '（不填）');
      input = h('select', { name: field.name, required: field.required },
        h('option', { value: '' }, blank),
        options.map(([value, text]) => h('option', { value }, text)));
    } else if (field.type === 'photos') {
      input = h('input', { type: 'file', name: field.name, accept: 'image/*', multiple: true });
    } else {
      input = h('input', { name: field.name, required: field.required, maxlength: 200 });
    }
    if (preset[field.name] !== undefined) input.value = preset[field.name];
    inputs[field.name] = input;
    rows.push(h('label', {}, h('span', {}, field.label + (field.required ? ' *' : '')), input));
  }
  const message = h('p', { class: 'form-message', role: 'status' });
  const form = h('form', { class: 'action-form', dataset: { action } },
    h('h3', {}, label(ACTION, action)), rows, message,
    h('div', { class: 'buttons' },
      h('button', { type: 'submit' }, '确认' + label(ACTION, action)),
      h('button', { type: 'button', class: 'quiet', onclick: () => form.remove() }, '取消')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { action };
    for (const [name, input] of Object.entries(inputs)) {
      if (input.type === 'file') continue;
      const value = input.value.trim();
      if (value === '') continue;
      body[name] = name === 'fixed' ? value === 'true' : value;
    }
    if (fields.some((f) => f.name === 'note') && body.note === undefined) body.note = '';
    form.querySelector('button[type=submit]').disabled = true;
    try {
      // Photos go up first, each named by its hash; the step then attaches them.
      for (const input of Object.values(inputs).filter((i) => i.type === 'file' && i.files.length)) {
        if (input.files.length > 9) throw Object.assign(new Error('最多 9 张照片'), { code: 'too_many_photos' });
        replace(message, `正在上传 ${input.files.length} 张照片…`);
        body[input.name] = [];
        for (const file of input.files) body[input.name].push(await upload(file));
      }
      await api('POST', `/api/v1/records/${record.id}/transitions`, body);
      done(`已${label(ACTION, action)}`);
    } catch (error) {
      replace(message, `未能办理：${error.message}（${error.code}）`);
      message.classList.add('alert');
      form.querySelector('button[type=submit]').disabled = false;
    }
  });
  return form;
}

/** Metres between two WGS-84 points (equirectangular; fine at a few hundred metres). */
function metres(a, b) {
  const k = Math.PI / 180;
  const x = (b[0] - a[0]) * Math.cos(((a[1] + b[1]) / 2) * k);
  const y = b[1] - a[1];
  return Math.round(Math.sqrt(x * x + y * y) * k * 6371000);
}

/**
 * 重复提示: complaints within about 300 m of this one in the last 30 days, nearest first, on a
 * small map and in a list whose buttons open "link as duplicate" with the other case filled in.
 */
async function duplicateHints(record, open) {
  const { lon, lat } = record.location;
  const bbox = [lon - 0.004, lat - 0.003, lon + 0.004, lat + 0.003].map((v) => v.toFixed(6)).join(',');
  const from = record.created_at - 30 * 86400 * 1000;
  const near = await api('GET', `/api/v1/records?format=geojson&kind=complaint&limit=100&bbox=${bbox}&from=${from}`);
  const others = near.features
    .filter((f) => f.id !== record.id && f.geometry && f.properties.status !== 'closed')
    .map((f) => ({ f, d: metres([lon, lat], f.geometry.coordinates) }))
    .filter(({ d }) => d <= 300)
    .sort((a, b) => a.d - b.d);
  if (others.length === 0) return h('p', { class: 'empty', id: 'duplicate-hints' }, '附近 300 米内 30 天来没有其他未关闭的诉求。');
  const mapBox = h('div', { class: 'map small' });
  const self = { type: 'Feature', id: record.id, geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { id: record.id, title: record.title, kind: 'complaint', status: 'returned' } };
  gridMap(mapBox, {
    grids: { type: 'FeatureCollection', features: [] },
    records: { type: 'FeatureCollection', features: [self, ...others.map(({ f }) => f)] },
  }).catch(() => null);
  return h('div', { class: 'hints', id: 'duplicate-hints' },
    mapBox,
    h('ul', { class: 'hint-list' }, others.slice(0, 10).map(({ f, d }) => h('li', { dataset: { id: f.id } },
      h('a', { href: `#/record/${f.id}` }, f.properties.title),
      h('span', { class: 'muted' }, ` ${d} 米 · ${label(STATUS, f.properties.status)} · ${when(f.properties.created_at)}`),
      h('button', { type: 'button', class: 'quiet', onclick: () => open(f.id) }, '合并为此件的重复')))));
}

function field(name, value) {
  return [h('dt', {}, name), h('dd', {}, value === undefined || value === null || value === '' ? '—' : value)];
}

export async function recordPage(main, id, flash) {
  const [record, { actions, dispatch }, history, kase, known] = await Promise.all([
    api('GET', `/api/v1/records/${id}`),
    api('GET', `/api/v1/records/${id}/actions`),
    api('GET', `/api/v1/records/${id}/history`).then((r) => r.changes).catch(() => []),
    api('GET', `/api/v1/records/${id}/case`).catch(() => null),
    names(),
  ]);
  const status = record.workflow.status;
  const rerender = (message) => recordPage(main, id, message);
  const slot = h('div', { class: 'action-slot' });
  const due = kase ? countdown(kase.deadline) : null;
  const photos = Object.values(record.attachments);
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/queue' }, '← 待办')),
    h('h1', { id: 'record-title' }, record.title,
      h('span', { class: `status s-${status}`, id: 'record-status' }, label(STATUS, status))),
    flash ? h('p', { class: 'notice', role: 'status' }, flash) : null,
    h('section', { class: 'card' },
      h('dl', { class: 'fields' },
        field('类型', label(KIND, record.kind)),
        field('分类', known.category[record.category] || record.category),
        field('来源', label(CHANNEL, record.channel)),
        field('所属网格', record.owner_grid ? record.owner_grid.code : '未归属'),
        field('登记人', `${record.created_by.user}（设备 ${record.created_by.device}）`),
        field('登记时间', when(record.created_at)),
        field('位置', `${record.location.lon.toFixed(6)}, ${record.location.lat.toFixed(6)}`),
        record.inspection ? [
          field('隐患类型', record.inspection.hazard_type),
          field('风险等级', label(RISK, record.inspection.risk_level)),
        ] : null,
        kase ? [
          field('主办部门', known.department[kase.lead_department] || kase.lead_department),
          field('办理期限', kase.deadline ? `${when(kase.deadline)}（${due.text}）` : ''),
        ] : null),
      h('p', { class: 'description' }, record.description),
      photos.length ? h('div', { class: 'photos', id: 'photos' }, photos.map((p) =>
        h('figure', { dataset: { sha256: p.sha256 } },
          h('a', { href: `/api/v1/blobs/${p.sha256}`, target: '_blank', rel: 'noopener' },
            h('img', { src: `/api/v1/blobs/${p.sha256}`, alt: p.caption || '照片', loading: 'lazy' })),
          p.caption ? h('figcaption', {}, p.caption) : null))) : null),
    h('section', { class: 'card' },
      h('h2', {}, '办理'),
      actions.length === 0
        ? h('p', { class: 'empty' }, '当前没有需要您办理的步骤。')
        : h('div', { class: 'actions' }, actions.map((action) =>
          h('button', {
            type: 'button', dataset: { action },
            onclick: async () => replace(slot, await actionForm(record, action, rerender, {}, action === 'dispatch' ? dispatch : null)),
          }, label(ACTION, action)))),
      slot),
    actions.includes('link_duplicate') && record.location ? h('section', { class: 'card' },
      h('h2', {}, '可能重复的诉求（附近 300 米、30 天内）'),
      await duplicateHints(record, async (other) => replace(slot,
        await actionForm(record, 'link_duplicate', rerender, { duplicate_of: other })))) : null,
    h('section', { class: 'card' },
      h('h2', {}, '办理过程'),
      h('ol', { class: 'timeline' }, record.timeline.map((event) =>
        h('li', event.kind === 'conflict' ? { class: 'conflict' } : {},
          h('time', {}, when(event.at)),
          h('b', {}, label(EVENT, event.kind)),
          h('span', { class: 'actor' }, event.actor),
          event.note ? h('span', { class: 'note' }, event.note) : null)))),
    h('section', { class: 'card' },
      h('h2', {}, '修改历史'),
      h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, ['时间', '用户', '设备', '修改的字段'].map((t) => h('th', {}, t)))),
        h('tbody', {}, history.map((change) => h('tr', {},
          h('td', {}, when(change.at)),
          h('td', {}, change.user || '—'),
          h('td', {}, change.device || '—'),
          h('td', {}, [...new Set(change.fields.map((f) => f.split('.')[0]))]
            .filter((f) => f !== 'id' && f !== 'schema_version')
            .map((f) => label(FIELD, f)).join('、'))))))));
  document.title = `${record.title} · 网格化治理平台`;
}

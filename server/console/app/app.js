// The console: a header with the account and the pages its role uses, and the page the
// address's hash names (#/queue, …). Pages call the same API as every other client.

import { h, replace, api, me, when, countdown } from './dom.js';
import { ROLE, KIND, STATUS, ACTION, label } from './labels.js';

// Each page's module is fetched when it is first opened: on a slow link the first page (the
// queue) needs only this module, dom.js and labels.js, which the page preloads.
const lazy = (module, name) => async (...args) => (await import(module))[name](...args);
const recordPage = lazy('./record.js', 'recordPage');
const gridsPage = lazy('./grids.js', 'gridsPage');
const reportsPage = lazy('./reports.js', 'reportsPage');
const cityPage = lazy('./city.js', 'cityPage');
const supervisionPage = lazy('./supervision.js', 'supervisionPage');
const adminPage = lazy('./admin.js', 'adminPage');

const PAGES = {
  queue: { title: '待办', roles: null, render: queuePage },
  grids: { title: '网格地图', roles: null, render: gridsPage },
  supervision: { title: '督办', roles: ['supervisor', 'dispatcher', 'admin'], render: supervisionPage },
  reports: { title: '考核报表', roles: ['supervisor', 'dispatcher', 'admin'], render: reportsPage },
  city: { title: '一屏观全城', roles: ['supervisor', 'dispatcher', 'admin', 'grid_leader'], render: cityPage },
  admin: { title: '系统管理', roles: ['admin'], render: adminPage },
};

function navigation(current) {
  return h('nav', { class: 'nav' },
    Object.entries(PAGES)
      .filter(([, page]) => !page.roles || page.roles.includes(me.role))
      .map(([name, page]) => h('a', {
        href: `#/${name}`,
        class: name === current ? 'current' : '',
      }, page.title)));
}

async function logout() {
  try {
    await api('POST', '/api/v1/auth/logout');
  } finally {
    window.location.assign('/console/login');
  }
}

function header(current) {
  return h('header', { class: 'top' },
    h('span', { class: 'brand' }, '网格化治理平台'),
    navigation(current),
    h('span', { class: 'account' },
      h('span', { class: 'who' }, me.username),
      h('span', { class: 'role' }, label(ROLE, me.role)),
      h('button', { type: 'button', class: 'quiet', id: 'logout', onclick: logout }, '退出')));
}

async function show() {
  const [name, ...rest] = window.location.hash.replace(/^#\/?/, '').split('?')[0].split('/');
  const page = PAGES[name] ? name : name === 'record' ? 'record' : 'queue';
  const main = h('main', { class: 'page' }, h('p', { class: 'loading' }, '正在加载…'));
  // The city screen is the whole display: no frame around it.
  document.body.classList.remove('city-screen');
  replace(document.getElementById('app'), page === 'city' ? null : header(page), main);
  try {
    if (page === 'record') {
      await recordPage(main, decodeURIComponent(rest.join('/')));
      return;
    }
    document.title = `${PAGES[page].title} · 网格化治理平台`;
    await PAGES[page].render(main);
  } catch (error) {
    replace(main, h('p', { class: 'alert', role: 'alert' }, `出错了：${error.message}`));
  }
}

async function queuePage(main) {
  const { items } = await api('GET', '/api/v1/queue?limit=500');
  if (items.length === 0) {
    replace(main, h('h1', {}, '待办'), h('p', { class: 'empty' }, '没有待办事项。'));
    return;
  }
  replace(main,
    h('h1', {}, '待办', h('span', { class: 'count' }, String(items.length))),
    h('table', { class: 'list', id: 'queue' },
      h('thead', {}, h('tr', {},
        ['标题', '类型', '状态', '网格', '等待自', '期限', '可办'].map((t) => h('th', {}, t)))),
      h('tbody', {}, items.map((item) => {
        const due = countdown(item.deadline);
        return h('tr', { dataset: { id: item.id } },
          h('td', { class: 'title' }, h('a', { href: `#/record/${item.id}` }, item.title)),
          h('td', {}, label(KIND, item.kind)),
          h('td', {}, h('span', { class: `status s-${item.status}` }, label(STATUS, item.status))),
          h('td', { class: 'code' }, item.owner_grid || '—'),
          h('td', {}, when(item.waiting_since)),
          h('td', { class: due.overdue ? 'overdue' : '' }, due.text),
          h('td', {}, item.actions.map((a) => label(ACTION, a)).join('、')));
      }))));
}

window.addEventListener('hashchange', show);
show();

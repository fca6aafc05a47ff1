// 系统管理: accounts with their roles and areas, departments, and the category catalogue.

import { h, replace, api, cached, names } from './dom.js';
import { ROLE, label } from './labels.js';

function message(box, text, bad) {
  replace(box, text);
  box.className = bad ? 'form-message alert' : 'form-message notice';
}

function areasOf(text) {
  return text.split(/[,，\s]+/).map((a) => a.trim()).filter(Boolean);
}

async function users(section, rerender) {
  const { users: list } = await api('GET', '/api/v1/admin/users');
  const status = h('p', { class: 'form-message', role: 'status' });
  const form = h('form', { class: 'inline-form', id: 'new-user' },
    h('input', { name: 'username', placeholder: '用户名', required: true, maxlength: 64, pattern: '[A-Za-z0-9_.\\-]+' }),
    h('input', { name: 'password', type: 'password', placeholder: '初始密码（至少 8 位）', required: true, minlength: 8 }),
    h('select', { name: 'role', required: true }, Object.entries(ROLE).map(([code, name]) => h('option', { value: code }, name))),
    h('input', { name: 'areas', placeholder: '负责区域编码，逗号分隔' }),
    h('button', { type: 'submit' }, '新建账号'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await api('POST', '/api/v1/admin/users', {
        username: data.get('username').trim(),
        password: data.get('password'),
        role: data.get('role'),
        areas: areasOf(data.get('areas')),
      });
      rerender(`已新建账号 ${data.get('username').trim()}`);
    } catch (error) {
      message(status, `未能新建：${error.message}（${error.code}）`, true);
    }
  });
  const toggle = async (user) => {
    try {
      await api('PATCH', `/api/v1/admin/users/${encodeURIComponent(user.username)}`, { active: !user.active });
      rerender(`${user.username} 已${user.active ? '停用' : '启用'}`);
    } catch (error) {
      message(status, `未能修改：${error.message}（${error.code}）`, true);
    }
  };
  const setAreas = async (user, input) => {
    try {
      await api('PUT', `/api/v1/admin/users/${encodeURIComponent(user.username)}/areas`, { areas: areasOf(input.value) });
      rerender(`${user.username} 的负责区域已更新`);
    } catch (error) {
      message(status, `未能修改：${error.message}（${error.code}）`, true);
    }
  };
  replace(section,
    h('h2', {}, '账号', h('span', { class: 'count' }, String(list.length))),
    form, status,
    h('table', { class: 'list', id: 'users' },
      h('thead', {}, h('tr', {}, ['用户名', '角色', '负责区域', '状态', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((user) => {
        const areas = h('input', { value: user.areas.join(', '), 'aria-label': `${user.username} 的负责区域` });
        return h('tr', { dataset: { username: user.username } },
          h('td', {}, user.username),
          h('td', {}, label(ROLE, user.role)),
          h('td', {}, h('span', { class: 'inline-edit' }, areas,
            h('button', { type: 'button', class: 'quiet', onclick: () => setAreas(user, areas) }, '保存'))),
          h('td', {}, user.active ? '启用' : h('span', { class: 'overdue' }, '停用')),
          h('td', {}, h('button', { type: 'button', class: 'quiet', onclick: () => toggle(user) }, user.active ? '停用' : '启用')));
      }))));
}

async function departments(section) {
  const { departments: list } = await cached('/api/v1/departments');
  replace(section,
    h('h2', {}, '事权部门', h('span', { class: 'count' }, String(list.length))),
    h('table', { class: 'list', id: 'departments' },
      h('thead', {}, h('tr', {}, ['编码', '名称', '服务区域', '联系方式'].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((d) => h('tr', {},
        h('td', { class: 'code' }, d.code),
        h('td', {}, d.name),
        h('td', { class: 'code' }, d.areas.join(', ')),
        h('td', {}, (d.contacts || []).map((c) => `${c.name} ${c.phone}（${c.duty || ''}）`).join('；')))))));
}

async function categories(section) {
  const [{ categories: list }, known, classes] = await Promise.all([
    cached('/api/v1/categories'), names(), cached('/api/v1/deadline-classes'),
  ]);
  const className = Object.fromEntries(classes.deadline_classes.map((c) => [c.code, c.name]));
  replace(section,
    h('h2', {}, '诉求分类', h('span', { class: 'count' }, String(list.length))),
    h('table', { class: 'list', id: 'categories' },
      h('thead', {}, h('tr', {}, ['编码', '名称', '层级', '默认部门', '时限', '状态'].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((c) => h('tr', {},
        h('td', { class: 'code' }, c.code),
        h('td', { class: `level-${c.level}` }, c.name),
        h('td', {}, String(c.level)),
        h('td', {}, c.department ? known.department[c.department] || c.department : '—'),
        h('td', {}, c.deadline_class ? className[c.deadline_class] || c.deadline_class : '—'),
        h('td', {}, c.active === false ? '已停用' : '启用'))))));
}

export async function adminPage(main, flash) {
  const rerender = (text) => adminPage(main, text);
  const [u, d, c] = [h('section', { class: 'card' }), h('section', { class: 'card' }), h('section', { class: 'card' })];
  replace(main, h('h1', {}, '系统管理'), flash ? h('p', { class: 'notice', role: 'status' }, flash) : null, u, d, c);
  await Promise.all([users(u, rerender), departments(d), categories(c)]);
}

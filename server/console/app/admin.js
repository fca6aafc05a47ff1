// 系统管理: accounts with their roles and areas, departments, and the category catalogue.

import { h, replace, api, cached } from './dom.js';
import { ROLE, label } from './labels.js';

function message(box, text, bad) {
  replace(box, text);
  box.className = bad ? 'form-message alert' : 'form-message notice';
}

function areasOf(text) {
  return text.split(/[,，\s]+/).map((a) => a.trim()).filter(Boolean);
}

/** Calls the API and re-renders with `done`, or shows the refusal in `status`. */
async function attempt(status, call, done) {
  try {
    await call();
    done();
  } catch (error) {
    message(status, `未能保存：${error.message}（${error.code}）`, true);
  }
}

async function users(section, rerender) {
  const { users: list } = await api('GET', '/api/v1/admin/users');
  const status = h('p', { class: 'form-message', role: 'status' });
  const roleOptions = (selected) => Object.entries(ROLE).map(([code, name]) =>
    h('option', { value: code, selected: code === selected }, name));
  const form = h('form', { class: 'inline-form', id: 'new-user' },
    h('input', { name: 'username', placeholder: '用户名', required: true, maxlength: 64, pattern: '[A-Za-z0-9_.\\-]+' }),
    h('input', { name: 'password', type: 'password', placeholder: '初始密码（至少 8 位）', required: true, minlength: 8, autocomplete: 'new-password' }),
    h('select', { name: 'role', required: true }, roleOptions()),
    h('input', { name: 'areas', placeholder: '负责区域编码，逗号分隔' }),
    h('button', { type: 'submit' }, '新建账号'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const username = data.get('username').trim();
    await attempt(status, () => api('POST', '/api/v1/admin/users', {
      username,
      password: data.get('password'),
      role: data.get('role'),
      areas: areasOf(data.get('areas')),
    }), () => rerender(`已新建账号 ${username}`));
  });
  const path = (user) => `/api/v1/admin/users/${encodeURIComponent(user.username)}`;
  replace(section,
    h('h2', {}, '账号', h('span', { class: 'count' }, String(list.length))),
    form, status,
    h('table', { class: 'list', id: 'users' },
      h('thead', {}, h('tr', {}, ['用户名', '角色', '负责区域', '重置密码', '状态', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((user) => {
        const areas = h('input', { value: user.areas.join(', '), 'aria-label': `${user.username} 的负责区域` });
        const role = h('select', {
          name: 'role',
          'aria-label': `${user.username} 的角色`,
          onchange: () => attempt(status, () => api('PATCH', path(user), { role: role.value }),
            () => rerender(`${user.username} 的角色已改为${label(ROLE, role.value)}`)),
        }, roleOptions(user.role));
        const password = h('input', {
          name: 'new-password', type: 'password', minlength: 8, autocomplete: 'new-password',
          placeholder: '新密码', 'aria-label': `${user.username} 的新密码`,
        });
        return h('tr', { dataset: { username: user.username } },
          h('td', {}, user.username),
          h('td', {}, role),
          h('td', {}, h('span', { class: 'inline-edit' }, areas,
            h('button', {
              type: 'button', class: 'quiet',
              onclick: () => attempt(status, () => api('PUT', `${path(user)}/areas`, { areas: areasOf(areas.value) }),
                () => rerender(`${user.username} 的负责区域已更新`)),
            }, '保存'))),
          h('td', {}, h('span', { class: 'inline-edit narrow' }, password,
            h('button', {
              type: 'button', class: 'quiet', dataset: { reset: user.username },
              onclick: () => attempt(status, () => api('PATCH', path(user), { password: password.value }),
                () => rerender(`${user.username} 的密码已重置，原有登录已失效`)),
            }, '重置'))),
          h('td', {}, user.active ? '启用' : h('span', { class: 'overdue' }, '停用')),
          h('td', {}, h('button', {
            type: 'button', class: 'quiet',
            onclick: () => attempt(status, () => api('PATCH', path(user), { active: !user.active }),
              () => rerender(`${user.username} 已${user.active ? '停用' : '启用'}`)),
          }, user.active ? '停用' : '启用')));
      }))));
}

/** Contacts as lines of "name phone duty", and back. */
function contactsText(contacts) {
  return (contacts || []).map((c) => [c.name, c.phone || '', c.duty || ''].join(' ').trim()).join('\n');
}

function contactsOf(text) {
  return text.split('\n').map((line) => line.trim().split(/\s+/)).filter((parts) => parts[0])
    .map(([name, phone, ...duty]) => ({ name, phone: phone || null, duty: duty.join(' ') || null }));
}

async function departments(section, rerender) {
  const { departments: list } = await api('GET', '/api/v1/departments');
  const status = h('p', { class: 'form-message', role: 'status' });
  const form = h('form', { class: 'edit-form', id: 'department-form' },
    h('label', {}, h('span', {}, '编码 *'), h('input', { name: 'code', required: true, maxlength: 64, pattern: '[A-Za-z0-9_.\\-]+' })),
    h('label', {}, h('span', {}, '名称 *'), h('input', { name: 'name', required: true, maxlength: 64 })),
    h('label', {}, h('span', {}, '服务区域（编码，逗号分隔）'), h('input', { name: 'areas' })),
    h('label', { class: 'wide' }, h('span', {}, '联系方式（每行：姓名 电话 职责）'), h('textarea', { name: 'contacts', rows: 2 })),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, '保存部门'),
      h('button', { type: 'reset', class: 'quiet' }, '清空')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const code = data.get('code').trim();
    await attempt(status, () => api('PUT', `/api/v1/departments/${encodeURIComponent(code)}`, {
      name: data.get('name').trim(),
      areas: areasOf(data.get('areas')),
      contacts: contactsOf(data.get('contacts')),
    }), () => rerender(`部门 ${data.get('name').trim()} 已保存`));
  });
  const edit = (d) => {
    form.elements.code.value = d.code;
    form.elements.name.value = d.name;
    form.elements.areas.value = d.areas.join(', ');
    form.elements.contacts.value = contactsText(d.contacts);
    form.elements.name.focus();
  };
  replace(section,
    h('h2', {}, '事权部门', h('span', { class: 'count' }, String(list.length))),
    form, status,
    h('table', { class: 'list', id: 'departments' },
      h('thead', {}, h('tr', {}, ['编码', '名称', '服务区域', '联系方式', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((d) => h('tr', { dataset: { code: d.code } },
        h('td', { class: 'code' }, d.code),
        h('td', {}, d.name),
        h('td', { class: 'code' }, d.areas.join(', ')),
        h('td', {}, (d.contacts || []).map((c) => `${c.name} ${c.phone || ''}${c.duty ? `（${c.duty}）` : ''}`).join('；')),
        h('td', {}, h('button', { type: 'button', class: 'quiet', onclick: () => edit(d) }, '编辑')))))));
}

/** What PUT /categories/{code} takes, from a category as listed, with `changes` over it. */
function categoryInput(c, changes) {
  const input = {
    name: c.name, name_en: c.name_en ?? null, description: c.description || '',
    department: c.department ?? null, deadline_class: c.deadline_class ?? null,
    keywords: c.keywords || [], attributes: c.attributes || [], active: c.active !== false,
  };
  return Object.assign(input, changes);
}

async function categories(section, rerender) {
  const [{ categories: list }, { departments: depts }, classes] = await Promise.all([
    api('GET', '/api/v1/categories'), api('GET', '/api/v1/departments'), cached('/api/v1/deadline-classes'),
  ]);
  const departmentName = Object.fromEntries(depts.map((d) => [d.code, d.name]));
  const className = Object.fromEntries(classes.deadline_classes.map((c) => [c.code, c.name]));
  const byCode = Object.fromEntries(list.map((c) => [c.code, c]));
  const status = h('p', { class: 'form-message', role: 'status' });
  const choose = (name, entries, blank) => h('select', { name },
    h('option', { value: '' }, blank), entries.map(([value, text]) => h('option', { value }, text)));
  const form = h('form', { class: 'edit-form', id: 'category-form' },
    h('label', {}, h('span', {}, '编码 *（下级用“上级编码.名称”）'), h('input', { name: 'code', required: true, maxlength: 64, pattern: '[a-z0-9_]+(\\.[a-z0-9_]+){0,2}' })),
    h('label', {}, h('span', {}, '名称 *'), h('input', { name: 'name', required: true, maxlength: 64 })),
    h('label', {}, h('span', {}, '默认部门'), choose('department', Object.entries(departmentName), '（不指定）')),
    h('label', {}, h('span', {}, '办理时限'), choose('deadline_class', Object.entries(className), '（不指定）')),
    h('label', { class: 'wide' }, h('span', {}, '关键词（逗号分隔）'), h('input', { name: 'keywords' })),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, '保存分类'),
      h('button', { type: 'reset', class: 'quiet' }, '清空')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const code = data.get('code').trim();
    const existing = byCode[code] || { name: '' };
    const body = categoryInput(existing, {
      name: data.get('name').trim(),
      department: data.get('department') || null,
      deadline_class: data.get('deadline_class') || null,
      keywords: areasOf(data.get('keywords')),
    });
    await attempt(status, () => api('PUT', `/api/v1/categories/${encodeURIComponent(code)}`, body),
      () => rerender(`分类 ${body.name} 已保存`));
  });
  const edit = (c) => {
    form.elements.code.value = c.code;
    form.elements.name.value = c.name;
    form.elements.department.value = c.department || '';
    form.elements.deadline_class.value = c.deadline_class || '';
    form.elements.keywords.value = (c.keywords || []).join(', ');
    form.elements.name.focus();
  };
  const toggle = (c) => attempt(status,
    () => api('PUT', `/api/v1/categories/${encodeURIComponent(c.code)}`, categoryInput(c, { active: c.active === false })),
    () => rerender(`分类 ${c.name} 已${c.active === false ? '启用' : '停用'}`));
  replace(section,
    h('h2', {}, '诉求分类', h('span', { class: 'count' }, String(list.length))),
    form, status,
    h('table', { class: 'list', id: 'categories' },
      h('thead', {}, h('tr', {}, ['编码', '名称', '层级', '默认部门', '时限', '状态', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((c) => h('tr', { dataset: { code: c.code } },
        h('td', { class: 'code' }, c.code),
        h('td', { class: `level-${c.level}` }, c.name),
        h('td', {}, String(c.level)),
        h('td', {}, c.department ? departmentName[c.department] || c.department : '—'),
        h('td', {}, c.deadline_class ? className[c.deadline_class] || c.deadline_class : '—'),
        h('td', {}, c.active === false ? h('span', { class: 'overdue' }, '已停用') : '启用'),
        h('td', {},
          h('button', { type: 'button', class: 'quiet', onclick: () => edit(c) }, '编辑'),
          h('button', { type: 'button', class: 'quiet', onclick: () => toggle(c) }, c.active === false ? '启用' : '停用')))))));
}

export async function adminPage(main, flash) {
  const rerender = (text) => adminPage(main, text);
  const [u, d, c] = [h('section', { class: 'card' }), h('section', { class: 'card' }), h('section', { class: 'card' })];
  replace(main, h('h1', {}, '系统管理'), flash ? h('p', { class: 'notice', role: 'status' }, flash) : null, u, d, c);
  await Promise.all([users(u, rerender), departments(d, rerender), categories(c, rerender)]);
}

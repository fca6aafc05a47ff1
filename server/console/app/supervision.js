// 督办: the cases past a deadline this month and every supervision notice (issued by the
// scheduler when a deadline passes, or by hand), each linking to the case's page where a
// supervisor supervises.

import { h, replace, api, when, names, thisMonth } from './dom.js';
import { STATUS, label } from './labels.js';

const SUBJECT = {
  reply: '未按时首次回复',
  result: '未按期办结',
  evaluation: '未按时回访评价',
  plan_follow_up: '一事一策未按期跟进',
  manual: '人工督办',
  shirking: '推诿',
};

export async function supervisionPage(main) {
  const [{ notices }, report, known] = await Promise.all([
    api('GET', '/api/v1/supervision-notices'),
    api('GET', `/api/v1/reports/monthly/${thisMonth()}`).catch(() => ({ overdue: [] })),
    names(),
  ]);
  const overdueIds = report.overdue.slice(0, 50);
  const overdue = await Promise.all(overdueIds.map((id) =>
    api('GET', `/api/v1/records/${id}`).catch(() => null)));
  const latest = [...notices].sort((a, b) => b.issued_at - a.issued_at);
  replace(main,
    h('h1', {}, '督办'),
    h('section', { class: 'card' },
      h('h2', {}, '本月超期案件', h('span', { class: 'count' }, String(report.overdue.length))),
      h('table', { class: 'list', id: 'overdue' },
        h('thead', {}, h('tr', {}, ['标题', '状态', '网格'].map((t) => h('th', {}, t)))),
        h('tbody', {}, overdue.filter(Boolean).length
          ? overdue.filter(Boolean).map((r) => h('tr', { dataset: { id: r.id } },
            h('td', { class: 'title' }, h('a', { href: `#/record/${r.id}` }, r.title)),
            h('td', {}, h('span', { class: `status s-${r.workflow.status}` }, label(STATUS, r.workflow.status))),
            h('td', { class: 'code' }, r.owner_grid ? r.owner_grid.code : '—')))
          : h('tr', {}, h('td', { colspan: 3, class: 'empty' }, '本月没有超期案件。'))))),
    h('section', { class: 'card' },
      h('h2', {}, '督办记录', h('span', { class: 'count' }, String(notices.length))),
      h('table', { class: 'list', id: 'notices' },
        h('thead', {}, h('tr', {}, ['督办时间', '事由', '责任部门', '期限', '督办人', '说明', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, latest.length
          ? latest.map((n) => h('tr', {},
            h('td', {}, when(n.issued_at)),
            h('td', {}, SUBJECT[n.subject] || n.subject),
            h('td', {}, n.department ? known.department[n.department] || n.department : '—'),
            h('td', {}, n.due_at ? when(n.due_at) : '—'),
            h('td', {}, n.issued_by),
            h('td', { class: 'title' }, n.note),
            h('td', {}, h('a', { href: `#/record/${n.record_id}` }, '查看案件'))))
          : h('tr', {}, h('td', { colspan: 7, class: 'empty' }, '暂无督办记录。'))))));
}

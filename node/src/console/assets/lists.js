// Lists: 部门办件 (the department's queue), 电子监察 (the supervisor's), 我的设置 (AB角).

import { FINISHED, ROLES, SATISFACTION } from './vocab.js';
import { h, render, say, fail, badge, stateText, dash } from './dom.js';
import { api, allPages, freshKey, departments, session } from './app.js';

export async function viewQueue() {
  const dept = session.operator.department;
  const { items, complete } = await allPages('/api/v1/cases' + (dept && !session.standing_in_for.length ? '?department=' + encodeURIComponent(dept) : ''), 'cases', 10);
  const mine = departments();
  if (dept) items.splice(0, items.length, ...items.filter((c) => mine.includes(c.department)));
  // Joint reviews of other departments in which one of mine holds a seat here, still silent:
  // the department owes them its opinion (限时反馈).
  if (dept) {
    const joint = await allPages('/api/v1/cases?state=joint_review', 'cases', 2);
    const seated = (c) => c.participants.some((p) => p.node === session.node.code && mine.includes(p.department) && !p.opinion);
    const held = new Set(items.map((c) => c.case_no));
    items.push(...joint.items.filter((c) => seated(c) && !held.has(c.case_no)));
  }
  const open = items.filter((c) => !FINISHED.includes(c.state));
  const order = { red: 0, yellow: 1, green: 2 };
  open.sort((a, b) => (order[a.warning] - order[b.warning]) || String(a.deadline || '9999').localeCompare(String(b.deadline || '9999')));
  render(
    h('h1', { text: '部门办件' + (dept ? '：' + mine.join('、') : '') }),
    h('p', { class: 'hint', text: '本节点未办结的办件（含本部门参加、尚未反馈意见的联审），超期和预警的在前，其余按承诺期限排列。' + (complete ? '' : '（办件较多，只列出前 5000 件。）') }),
    caseTable(open, 'queue'));
}

function caseTable(cases, id) {
  if (!cases.length) return h('p', { id, class: 'hint', text: '没有办件。' });
  return h('table', { id },
    h('thead', {}, h('tr', {}, ['办件编号', '事项', '申请人', '状态', '承诺期限', '剩余工作日', '预警'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, cases.map((c) => h('tr', { 'data-case': c.case_no },
      h('td', {}, h('a', { href: '#/case/' + c.case_no, text: c.case_no })), h('td', { text: c.item_name }),
      h('td', { text: c.applicant.name }), h('td', { text: stateText(c.state) + (c.pending_sign_off ? '（待签批）' : '') }), h('td', { text: dash(c.deadline) }),
      h('td', { text: dash(c.remaining_days) }), h('td', {}, badge(c.warning))))));
}

export async function viewSupervise() {
  // The node filters as it scans (open cases; then the ended ones, for rectifications): each
  // request examines a bounded slice, so a city's whole region is read in a few dozen requests.
  const [running, ended] = await Promise.all([
    allPages('/api/v1/summaries?open=true', 'summaries', 30),
    allPages('/api/v1/summaries?open=false', 'summaries', 30),
  ]);
  const complete = running.complete && ended.complete;
  const items = [...running.items, ...ended.items];
  const open = running.items;
  const flagged = open.filter((s) => s.warning !== 'green' || s.legal_warning !== 'green');
  const order = { red: 0, yellow: 1, green: 2 };
  flagged.sort((a, b) => (order[a.warning] - order[b.warning]) || String(a.deadline).localeCompare(String(b.deadline)));
  const joint = open.filter((s) => s.joint && (s.joint.waiting || s.joint.late));
  const rows = flagged.map((s) => {
    const answered = s.notices.filter((n) => n.answer).length;
    const tr = h('tr', { 'data-case': s.case_no },
      h('td', { text: s.case_no }), h('td', { text: s.item }), h('td', { text: s.department }),
      h('td', { text: s.owner }), h('td', { text: stateText(s.state) }), h('td', { text: dash(s.deadline) }),
      h('td', {}, badge(s.warning)),
      h('td', { text: s.notices.length ? answered + ' / ' + s.notices.length + ' 已答复' : '—' }),
      h('td', {}, h('button', { type: 'button', class: 'plain supervise', 'aria-label': '督办 ' + s.case_no, text: '督办', onclick: () => superviseForm(s, tr) })));
    return tr;
  });
  render(
    h('h1', { text: '电子监察' }),
    h('p', { class: 'hint', id: 'supervise-summary', text: '本级及下级共 ' + open.length + ' 件在办，其中 ' + flagged.length + ' 件预警或超期。' + (complete ? '' : '（本区办件过多，只读取了一部分。）') }),
    flagged.length ? h('table', { id: 'flagged' },
      h('thead', {}, h('tr', {}, ['办件编号', '事项编码', '部门', '办理节点', '状态', '承诺期限', '预警', '督办', ''].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows)) : h('p', { id: 'flagged', class: 'hint', text: '没有预警或超期的办件。' }),
    h('h2', { text: '联审等待或逾期' }),
    joint.length ? h('table', { id: 'joint' },
      h('thead', {}, h('tr', {}, ['办件编号', '事项编码', '反馈期限', '未反馈', '逾期'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, joint.map((s) => h('tr', {}, h('td', { text: s.case_no }), h('td', { text: s.item }),
        h('td', { text: s.joint.due }), h('td', { text: s.joint.waiting }), h('td', { text: s.joint.late })))))
      : h('p', { class: 'hint', text: '没有等待中的联审。' }),
    h('h2', { text: '差评整改' }),
    ratedTable(items));
}

function ratedTable(items) {
  const rated = items.filter((s) => s.rectification);
  if (!rated.length) return h('p', { class: 'hint', text: '没有待整改的差评。' });
  return h('table', { id: 'rectifications' },
    h('thead', {}, h('tr', {}, ['办件编号', '满意度', '整改期限', '预警', '整改完成'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rated.map((s) => h('tr', {}, h('td', { text: s.case_no }),
      h('td', { text: (SATISFACTION.find(([v]) => v === String(s.satisfaction)) || ['', '—'])[1] }),
      h('td', { text: s.rectification[0] }), h('td', {}, badge(s.rectification[1])), h('td', { text: dash(s.rectified_on) })))));
}

function superviseForm(s, tr) {
  const note = h('textarea', { id: 'supervise-note', required: true });
  const key = freshKey();
  const form = h('form', { class: 'card', id: 'supervise-form' },
    h('label', { for: 'supervise-note', text: '对 ' + s.case_no + ' 的督办意见' }), note,
    h('button', { id: 'supervise-send', type: 'submit', text: '发出督办' }),
    h('button', { type: 'button', class: 'plain', text: '取消', onclick: () => row.remove() }));
  const row = h('tr', { class: 'form-row' }, h('td', { colspan: 9 }, form));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fail('');
    try {
      await api('POST', '/api/v1/cases/' + encodeURIComponent(s.case_no) + '/actions', { action: 'supervise', note: note.value.trim() }, { key });
      say('已向 ' + s.owner + ' 发出督办：' + s.case_no);
      await viewSupervise();
    } catch (e) { fail(e.message); }
  });
  const old = document.querySelector('tr.form-row');
  if (old) old.remove();
  tr.after(row);
  note.focus();
}

export function viewMe() {
  const op = session.operator;
  const input = h('input', { id: 'stand-in', type: 'text', value: session.stand_in || '', 'aria-describedby': 'stand-in-hint' });
  const form = h('form', { class: 'card', id: 'stand-in-form', 'aria-labelledby': 'me-title' },
    h('h1', { id: 'me-title', text: '我的设置' }),
    h('p', { text: op.name + ' · ' + (ROLES[op.role] || op.role) + (op.department ? ' · ' + op.department : '') }),
    h('label', { for: 'stand-in', text: 'AB角：外出时由谁代岗（同事姓名）' }), input,
    h('p', { class: 'hint', id: 'stand-in-hint', text: '代岗人在您外出期间以您的权限受理和办理本部门办件，办件记录写明“代岗人（代您）”。回岗后请清除。' }),
    h('button', { id: 'stand-in-save', type: 'submit', text: '保存' }),
    h('button', { id: 'stand-in-clear', type: 'button', class: 'plain', text: '我已回岗，清除代岗', onclick: () => save(null) }),
    session.standing_in_for.length ? h('p', { id: 'standing-in-for', text: '您正在代岗：' + session.standing_in_for.map((a) => a.name + '（' + a.department + '）').join('、') }) : null);
  async function save(name) {
    fail('');
    try {
      const v = await api('POST', '/api/v1/operators/' + encodeURIComponent(op.name) + '/stand-in', { stand_in: name });
      session.stand_in = v.stand_in;
      input.value = v.stand_in || '';
      say(v.stand_in ? '已设置代岗人：' + v.stand_in : '已清除代岗人。');
    } catch (e) { fail(e.message); }
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); save(input.value.trim() || null); });
  render(form);
  input.focus();
}

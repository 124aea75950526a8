// 办件: a case, its records and the form of the actions the operator may take; 查找办件.

import { ACTIONS, BY_STATE, CLOSED, KINDS } from './vocab.js';
import { h, render, say, fail, badge, stateText, dash, yuan } from './dom.js';
import { api, freshKey, loadCatalog, session, signsOff } from './app.js';

export async function viewCase(caseNo) {
  const c = await api('GET', '/api/v1/cases/' + encodeURIComponent(caseNo));
  const facts = [
    ['事项', c.item_name + '（' + c.item + '）'], ['部门', c.department], ['状态', stateText(c.state)],
    ['申请人', (KINDS[c.applicant.kind] || '') + ' ' + c.applicant.name + ' ' + c.applicant.id + (c.applicant_masked ? '（已脱敏）' : '')],
    ['受理节点', c.accepting_node], ['当前办理节点', c.owner], ['申请日期', c.submitted_on],
    ['受理日期', dash(c.accepted_on)], ['承诺办结期限', dash(c.deadline)], ['法定办结期限', dash(c.legal_deadline)],
    ['剩余工作日', dash(c.remaining_days)], ['办结日期', dash(c.concluded_on)],
    ['收费', c.fee_fen ? yuan(c.fee_fen) + (c.payment ? '（已缴，票据 ' + c.payment.receipt + '）' : '（未缴）') : '不收费'],
    ['证照编号', dash(c.certificate_no)],
    ['决定', c.decision ? (c.decision.approve ? '准予' : '不予') + '：' + c.decision.reason : '—'],
  ];
  const list = (label, xs, id) => h('p', { id }, label + '：', xs && xs.length ? xs.join('；') : '无');
  const history = h('table', { id: 'history' },
    h('caption', { class: 'hint', text: '办理过程（含被拒绝的操作，留档备查）' }),
    h('thead', {}, h('tr', {}, ['时间', '节点', '操作', '操作人', '说明'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, c.events.map((e) => h('tr', {},
      h('td', { text: e.at.replace('T', ' ').slice(0, 19) }), h('td', { text: e.origin }),
      h('td', { text: (ACTIONS[e.action] && ACTIONS[e.action].label) || (e.action === 'submit' ? '申请 / 受理' : e.action) }),
      h('td', { text: e.actor }), h('td', { class: e.rejected ? 'bad' : '', text: e.rejected ? '未生效：' + e.rejected : '' })))));
  const notices = c.notices && c.notices.length ? h('section', { class: 'card', id: 'notices' }, h('h2', { text: '督办' }),
    h('ul', {}, c.notices.map((n) => h('li', {}, n.on + ' ' + n.from + '：' + n.note + ' — ' + (n.answer ? '已答复（' + n.answered_on + '）：' + n.answer : '未答复'))))) : null;
  const prints = h('p', { class: 'noprint' }, '打印：',
    c.accepted_on ? h('a', { href: '#/print/notice/' + c.case_no, text: '受理通知单' }) : null, ' ',
    (c.missing.length || c.owed.length || c.requested.length) ? h('a', { href: '#/print/inform/' + c.case_no, text: '一次性告知书' }) : null, ' ',
    c.state === 'not_accepted' ? h('a', { href: '#/print/refusal/' + c.case_no, text: '不予受理决定书' }) : null, ' ',
    c.decision ? h('a', { href: '#/print/result/' + c.case_no, text: '办结 / 送达回执' }) : null);
  render(
    h('h1', { id: 'case-title' }, '办件 ', h('span', { id: 'case-no', text: c.case_no }), ' ', badge(c.warning)),
    h('section', { class: 'card' }, h('dl', { class: 'facts', id: 'case-facts' }, facts.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])),
      list('已收材料', c.materials, 'case-materials'), list('待补正材料', c.missing, 'case-missing'),
      list('容缺待补材料', c.owed, 'case-owed'), list('补件材料', c.requested, 'case-requested'), prints),
    notices,
    c.pending_sign_off ? h('section', { class: 'card', id: 'proposal' }, h('h2', { text: '待网上签批' }),
      c.proposal ? h('p', {}, '拟办意见：', h('strong', { text: c.proposal.approve ? '拟准予' : '拟不予' }), '。',
        c.proposal.reason, '（' + c.proposal.by + '，' + c.proposal.at.replace('T', ' ').slice(0, 16) + '）') : '已提交拟办意见。') : null,
    await actionForm(c),
    h('section', { class: 'card' }, history));
}

/** The form for the actions this operator may take on the case now. */
async function actionForm(c) {
  let names;
  if (session.operator.role === 'supervisor') names = CLOSED.includes(c.state) ? [] : ['supervise'];
  else {
    names = [...BY_STATE[c.state] || []];
    // 网上签批: a reviewer proposes, the department's 首席代表 (or an admin) decides.
    const item = (await loadCatalog()).find((i) => i.code === c.item);
    if (item && item.sign_off && names.includes('decide') && !signsOff(c.department)) {
      names = names.map((n) => (n === 'decide' ? 'propose' : n));
    }
    if ((c.owed.length || c.requested.length) && !names.includes('supplement')) names.push('supplement');
    if (c.notices.some((n) => !n.answer)) names.push('answer_notice');
    if (session.operator.role === 'admin' && !CLOSED.includes(c.state)) names.push('supervise');
  }
  if (!names.length) return h('p', { class: 'hint', id: 'no-actions', text: '此办件当前没有可办理的操作。' });
  const label = (n) => (n === 'decide' && c.pending_sign_off ? '网上签批（按拟办意见或改定后作出决定）' : ACTIONS[n].label);
  const select = h('select', { id: 'action' }, names.map((n) => h('option', { value: n, text: label(n) })));
  const fields = h('div', { id: 'action-fields' });
  let key = freshKey();
  const fill = () => {
    fields.replaceChildren(...ACTIONS[select.value].fields.map((f) => field(f, c)));
    if (select.value === 'decide' && c.proposal) {
      fields.querySelector('#f-approve').value = String(c.proposal.approve);
      fields.querySelector('#f-reason').value = c.proposal.reason;
    }
    key = freshKey();
  };
  select.addEventListener('change', fill);
  const button = h('button', { id: 'act', type: 'submit', text: '提交' });
  const form = h('form', { class: 'card', id: 'act-form', 'aria-labelledby': 'act-title' },
    h('h2', { id: 'act-title', text: '办理' }),
    h('label', { for: 'action', text: '操作' }), select, fields, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fail('');
    let body;
    try { body = collect(select.value, fields); } catch (e) { fail(e.message); return; }
    button.disabled = true;
    try {
      await api('POST', '/api/v1/cases/' + encodeURIComponent(c.case_no) + '/actions', body, { key });
      say('已办理：' + ACTIONS[select.value].label);
      await viewCase(c.case_no);
    } catch (e) {
      fail(e.message);
      button.disabled = false;
    }
  });
  fill();
  return form;
}

function field(f, c) {
  const id = 'f-' + f.name;
  const label = h('label', { for: id, text: f.label + (f.optional ? '（选填）' : '') });
  switch (f.type) {
    case 'textarea': return h('div', {}, label, h('textarea', { id, name: f.name, required: !f.optional }));
    case 'text': return h('div', {}, label, h('input', { id, name: f.name, type: 'text', required: !f.optional }));
    case 'int': return h('div', {}, label, h('input', { id, name: f.name, type: 'number', min: 1, step: 1, required: true }));
    case 'yuan': return h('div', {}, label, h('input', { id, name: f.name, type: 'number', min: 0, step: '0.01', required: true,
      value: c.fee_fen ? (c.fee_fen / 100).toFixed(2) : '' }));
    case 'bool': case 'select': case 'int-select':
      return h('div', {}, label, h('select', { id, name: f.name }, f.options.map(([v, t]) => h('option', { value: v, text: t }))));
    case 'lines': case 'participants': return h('div', {}, label, h('textarea', { id, name: f.name, required: true }));
    case 'owed': {
      const owed = [...c.missing, ...c.owed, ...c.requested];
      return h('fieldset', { id, 'data-name': f.name }, h('legend', { text: f.label }),
        owed.map((m, n) => h('label', { for: id + '-' + n }, h('input', { type: 'checkbox', id: id + '-' + n, value: m }), m)));
    }
    case 'notice':
      return h('div', {}, label, h('select', { id, name: f.name },
        c.notices.filter((n) => !n.answer).map((n) => h('option', { value: JSON.stringify(n.id), text: n.on + ' ' + n.from + '：' + n.note }))));
    default: throw new Error('unknown field type ' + f.type);
  }
}

/** The API body of an action from its form's fields. */
function collect(action, fields) {
  const body = { action };
  for (const f of ACTIONS[action].fields) {
    const el = fields.querySelector('#f-' + f.name);
    const raw = el.value === undefined ? '' : String(el.value).trim();
    if (f.optional && !raw && f.type !== 'owed') continue;
    switch (f.type) {
      case 'bool': body[f.name] = raw === 'true'; break;
      case 'int': case 'int-select': body[f.name] = parseInt(raw, 10); break;
      case 'yuan': body[f.name] = Math.round(parseFloat(raw) * 100); break;
      case 'lines': body[f.name] = raw.split('\n').map((s) => s.trim()).filter(Boolean); break;
      case 'participants':
        body[f.name] = raw.split('\n').map((s) => s.trim()).filter(Boolean).map((line) => {
          const m = line.match(/^(\d+)\s+(.+)$/);
          if (!m) throw new Error('参加单位“' + line + '”应为：区划代码 部门名称');
          return { node: m[1], department: m[2].trim() };
        });
        break;
      case 'owed': {
        const ticked = Array.from(el.querySelectorAll('input:checked'), (x) => x.value);
        if (!ticked.length) throw new Error('请勾选本次补交的材料。');
        body[f.name] = ticked;
        break;
      }
      case 'notice': body[f.name] = JSON.parse(raw); break;
      default: body[f.name] = raw;
    }
  }
  return body;
}

export function viewFind() {
  const input = h('input', { id: 'find-no', type: 'search', required: true, placeholder: '例如 350322100-20251009-000001' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'find-title' }, h('h1', { id: 'find-title', text: '查找办件' }),
    h('label', { for: 'find-no', text: '办件编号' }), input, h('button', { id: 'find', type: 'submit', text: '查找' }));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); location.hash = '#/case/' + input.value.trim(); });
  render(form);
  input.focus();
}

// 窗口受理: the window's intake form.

import { h, refill, render, show, fail, yuan, dash, stateText } from './dom.js';
import { api, freshKey, loadCatalog, departments, session, route } from './app.js';


export async function viewWindow() {
  const mine = departments();
  const items = (await loadCatalog()).filter((i) => session.operator.role === 'admin' || mine.includes(i.department));
  let chosen = null;
  let key = freshKey();
  const search = h('input', { id: 'item-search', type: 'search', autocomplete: 'off', 'aria-controls': 'item-choices', 'aria-describedby': 'item-chosen' });
  const choices = h('ul', { id: 'item-choices', class: 'choices', 'aria-label': '匹配的事项' });
  const chosenText = h('p', { id: 'item-chosen', class: 'hint', 'aria-live': 'polite', text: '共 ' + items.length + ' 个事项可受理，输入名称或编码查找。' });
  const kind = h('select', { id: 'applicant-kind' },
    h('option', { value: 'person', text: '自然人（居民身份证）' }),
    h('option', { value: 'org', text: '法人或其他组织（统一社会信用代码）' }));
  const name = h('input', { id: 'applicant-name', type: 'text', autocomplete: 'off', required: true });
  const id = h('input', { id: 'applicant-id', type: 'text', autocomplete: 'off', required: true, maxlength: 18, 'aria-describedby': 'applicant-id-check', spellcheck: 'false' });
  const idCheck = h('p', { id: 'applicant-id-check', class: 'hint', 'aria-live': 'polite' });
  const materials = h('fieldset', { id: 'materials' }, h('legend', { text: '收到的材料（请逐项核对后勾选）' }), h('p', { class: 'hint', text: '请先选择事项。' }));
  const submit = h('button', { id: 'submit', type: 'submit', text: '受理' });
  const result = h('section', { id: 'result', class: 'card', hidden: true, 'aria-live': 'polite' });

  function listChoices() {
    const q = search.value.trim().toLowerCase();
    const hits = items.filter((i) => !q || i.name.toLowerCase().includes(q) || i.code.toLowerCase().includes(q)).slice(0, 50);
    choices.replaceChildren(...hits.map((i) => h('li', {},
      h('button', { type: 'button', class: 'plain', 'data-code': i.code, onclick: () => choose(i) },
        i.name + '（' + i.code + '）· ' + i.department))));
  }
  function choose(item) {
    chosen = item;
    chosenText.textContent = '已选：' + item.name + '（' + item.code + '）· ' + item.department +
      ' · 承诺 ' + item.promised_days + ' 个工作日 / 法定 ' + item.legal_days + ' 个工作日' +
      (item.promised_days === 0 ? ' · 即办件' : '') + (item.fee_fen ? ' · 收费 ' + yuan(item.fee_fen) : '');
    materials.replaceChildren(h('legend', { text: '收到的材料（请逐项核对后勾选）' }),
      ...item.materials.map((m, n) => h('label', { for: 'mat-' + n },
        h('input', { type: 'checkbox', id: 'mat-' + n, value: m.name }),
        m.name + (m.core ? '（必交）' : item.tolerant ? '（可容缺）' : ''))));
    kind.focus();
  }
  let checkTimer = null;
  function checkLater() {
    clearTimeout(checkTimer);
    idCheck.textContent = '';
    checkTimer = setTimeout(checkApplicant, 250);
  }
  async function checkApplicant() {
    const value = id.value.trim();
    if (!value) { idCheck.textContent = ''; return; }
    if (value.length < 18) { idCheck.className = 'hint'; idCheck.textContent = '已输入 ' + value.length + ' 位，共 18 位。'; return; }
    try {
      await api('POST', '/api/v1/applicants:check', { kind: kind.value, name: name.value.trim() || '—', id: value });
      idCheck.className = 'hint ok';
      idCheck.textContent = '✓ 证件号码校验通过';
      id.setAttribute('aria-invalid', 'false');
    } catch (e) {
      idCheck.className = 'hint bad';
      idCheck.textContent = '✗ ' + e.message;
      id.setAttribute('aria-invalid', 'true');
    }
  }
  search.addEventListener('input', listChoices);
  // Enter in the search box takes the first match (it must not submit the form).
  search.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter') return;
    ev.preventDefault();
    const first = choices.querySelector('button');
    if (first) first.click();
  });
  id.addEventListener('input', checkLater);
  kind.addEventListener('change', checkLater);

  const form = h('form', { class: 'card', id: 'intake', 'aria-labelledby': 'window-title' },
    h('h1', { id: 'window-title', text: '窗口受理' }),
    h('label', { for: 'item-search', text: '事项（名称或编码）' }), search, choices, chosenText,
    h('fieldset', {}, h('legend', { text: '申请人' }),
      h('label', { for: 'applicant-kind', text: '申请人类型' }), kind,
      h('label', { for: 'applicant-name', text: '姓名 / 名称' }), name,
      h('label', { for: 'applicant-id', text: '证件号码（居民身份证号码或统一社会信用代码）' }), id, idCheck),
    materials, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fail('');
    if (!chosen) { fail('请先选择事项。'); search.focus(); return; }
    const received = Array.from(materials.querySelectorAll('input[type=checkbox]:checked'), (c) => c.value);
    submit.disabled = true;
    try {
      const c = await api('POST', '/api/v1/cases', {
        item: chosen.code,
        applicant: { kind: kind.value, name: name.value.trim(), id: id.value.trim().toUpperCase() },
        materials: received,
      }, { key });
      key = freshKey();
      showResult(c);
    } catch (e) {
      fail(e.message);
    } finally {
      submit.disabled = false;
    }
  });

  function showResult(c) {
    const outcome = c.state === 'awaiting_supplement'
      ? '材料不全，未受理：请打印一次性告知书交申请人，补齐后办理补正。'
      : c.state === 'approved' ? '即办件：已受理并当场办结。'
        : c.owed && c.owed.length ? '容缺受理：已受理，容缺材料须在决定前补齐。' : '已受理。';
    refill(result,
      h('h2', { text: '受理结果' }),
      h('p', {}, '办件编号 ', h('strong', { id: 'result-case-no', text: c.case_no }), ' · ', h('span', { id: 'result-state', text: stateText(c.state) })),
      h('p', { id: 'result-outcome', text: outcome }),
      c.missing && c.missing.length ? h('p', {}, '缺少的材料：', h('span', { id: 'result-missing', text: c.missing.join('；') })) : null,
      c.owed && c.owed.length ? h('p', {}, '容缺材料：', c.owed.join('；')) : null,
      c.deadline ? h('p', {}, '承诺办结期限 ', c.deadline, '，法定办结期限 ', dash(c.legal_deadline)) : null,
      h('p', {},
        c.accepted_on ? h('a', { id: 'print-notice', href: '#/print/notice/' + c.case_no, text: '打印受理通知单' }) : null, ' ',
        (c.missing && c.missing.length) || (c.owed && c.owed.length) ? h('a', { id: 'print-inform', href: '#/print/inform/' + c.case_no, text: '打印一次性告知书' }) : null, ' ',
        h('a', { id: 'open-case', href: '#/case/' + c.case_no, text: '查看办件' })),
      h('button', { id: 'next', type: 'button', class: 'plain', onclick: () => route(), text: '受理下一件' }));
    show(result, true);
    result.querySelector('a, button').focus();
  }

  render(form, result);
  listChoices();
  search.focus();
}

// The staff console (工作台): one page, views chosen by the URL's fragment (#/window, #/case/NO…),
// every figure read from the node's JSON API with the operator's token. Text from the API is
// always written as text (textContent), never parsed as HTML.
'use strict';
(() => {
  // ---------------------------------------------------------------- vocabulary (中文 labels)
  const ROLES = { admin: '管理员', supervisor: '监察员', clerk: '窗口/部门人员', chief: '首席代表' };
  const LEVELS = { city: '市级', county: '县级', township: '乡镇（街道）' };
  const STATES = {
    awaiting_supplement: '待补正', accepted: '已受理', in_review: '审查中', joint_review: '联审中',
    suspended: '特别程序中', in_transit: '流转中', approved: '准予许可', denied: '不予许可',
    certified: '已制证', delivered: '已送达', not_accepted: '不予受理', withdrawn: '已撤回',
  };
  const CLOSED = ['approved', 'denied', 'certified', 'delivered', 'not_accepted', 'withdrawn'];
  const FINISHED = ['delivered', 'not_accepted', 'withdrawn'];
  const WARNINGS = { green: '正常', yellow: '黄牌预警', red: '红牌超期' };
  const KINDS = { person: '自然人', org: '法人或其他组织' };
  const PROCEDURES = [
    ['hearing', '听证'], ['bidding', '招标'], ['auction', '拍卖'], ['inspection', '检验'],
    ['testing', '检测'], ['quarantine', '检疫'], ['appraisal', '鉴定'],
    ['expert_review', '专家评审'], ['site_survey', '现场勘查'],
  ];
  const SATISFACTION = [['1', '非常满意'], ['2', '满意'], ['3', '基本满意'], ['4', '不满意'], ['5', '非常不满意']];

  // Each action of the case lifecycle as a form: its label and fields. `type` says how a field
  // is entered and turned into the API's JSON (API.md, "Actions").
  const ACTIONS = {
    supplement: { label: '补交材料（补正 / 补件）', fields: [{ name: 'materials', type: 'owed', label: '本次补交的材料' }] },
    refuse: { label: '不予受理', fields: [{ name: 'reason', type: 'textarea', label: '不予受理的理由' }] },
    review: { label: '开始审查', fields: [] },
    forward: { label: '转报 / 转交', fields: [{ name: 'to', type: 'text', optional: true, label: '转至节点（区划代码；留空则按事项的审批层级）' }] },
    take_over: { label: '接收办件', fields: [] },
    return: { label: '退回', fields: [{ name: 'reason', type: 'textarea', label: '退回理由' }] },
    open_joint_review: {
      label: '发起联审', fields: [
        { name: 'participants', type: 'participants', label: '参加单位（每行一个：区划代码 部门名称）' },
        { name: 'feedback_days', type: 'int', label: '限时反馈（工作日）' }],
    },
    opinion: {
      label: '提出联审意见', fields: [
        { name: 'agree', type: 'bool', label: '意见', options: [['true', '同意'], ['false', '不同意']] },
        { name: 'comment', type: 'textarea', optional: true, label: '说明' }],
    },
    suspend: {
      label: '特别程序（暂停计时）', fields: [
        { name: 'procedure', type: 'select', label: '程序', options: PROCEDURES },
        { name: 'reason', type: 'textarea', label: '理由' }],
    },
    resume: { label: '特别程序结束，恢复计时', fields: [] },
    extend: { label: '延期', fields: [{ name: 'days', type: 'int', label: '延长（工作日）' }, { name: 'reason', type: 'textarea', label: '理由' }] },
    decide: {
      label: '作出决定', fields: [
        { name: 'approve', type: 'bool', label: '决定', options: [['true', '准予'], ['false', '不予']] },
        { name: 'reason', type: 'textarea', label: '理由' },
        { name: 'override_reason', type: 'textarea', optional: true, label: '不采纳联审反对意见的理由（仅在有反对意见时填写）' }],
    },
    pay: { label: '缴费', fields: [{ name: 'amount_fen', type: 'yuan', label: '金额（元）' }, { name: 'receipt', type: 'text', label: '票据号' }] },
    certify: { label: '制证', fields: [{ name: 'certificate_no', type: 'text', label: '证照编号' }] },
    deliver: { label: '送达（发证 / 送达决定）', fields: [] },
    withdraw: { label: '申请人撤回申请', fields: [] },
    rate: {
      label: '登记申请人评价', fields: [
        { name: 'satisfaction', type: 'int-select', label: '满意度', options: SATISFACTION },
        { name: 'comment', type: 'textarea', optional: true, label: '意见' }],
    },
    supervise: { label: '督办', fields: [{ name: 'note', type: 'textarea', label: '督办意见' }] },
    request_supplement: {
      label: '补件通知', fields: [
        { name: 'materials', type: 'lines', label: '需补交的材料（每行一项）' },
        { name: 'reason', type: 'textarea', label: '理由' }],
    },
    answer_notice: { label: '答复督办', fields: [{ name: 'notice', type: 'notice', label: '督办事项' }, { name: 'answer', type: 'textarea', label: '答复' }] },
    rectify: { label: '整改完成', fields: [{ name: 'note', type: 'textarea', label: '整改情况' }] },
    propose: {
      label: '提交拟办意见（待首席代表网上签批）', fields: [
        { name: 'approve', type: 'bool', label: '拟办意见', options: [['true', '拟准予'], ['false', '拟不予']] },
        { name: 'reason', type: 'textarea', label: '理由' }],
    },
  };

  // Which actions the screen offers in each state; the API still decides (authority, owner).
  const BY_STATE = {
    awaiting_supplement: ['supplement', 'refuse', 'withdraw'],
    accepted: ['review', 'decide', 'forward', 'open_joint_review', 'suspend', 'extend', 'request_supplement', 'return', 'withdraw'],
    in_review: ['decide', 'forward', 'open_joint_review', 'suspend', 'extend', 'request_supplement', 'return', 'withdraw'],
    joint_review: ['opinion', 'decide', 'suspend', 'extend'],
    suspended: ['resume'],
    in_transit: ['take_over'],
    approved: ['pay', 'certify', 'deliver', 'forward'],
    denied: ['deliver', 'forward'],
    certified: ['pay', 'deliver', 'forward'],
    delivered: ['rate', 'rectify'],
    not_accepted: [],
    withdrawn: [],
  };

  // ---------------------------------------------------------------- DOM helpers
  const $ = (sel, root = document) => root.querySelector(sel);
  /** An element: attributes (`on*` become listeners), then children (strings become text). */
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else if (k in el && typeof v !== 'string') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, kids);
    return el;
  }
  function append(el, kids) {
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.appendChild(typeof kid === 'string' || typeof kid === 'number' ? document.createTextNode(String(kid)) : kid);
    }
  }
  /** Replaces an element's children (DOM's replaceChildren would write a null as "null"). */
  function refill(el, ...kids) {
    el.replaceChildren();
    append(el, kids);
  }
  const render = (...kids) => refill($('#main'), ...kids);
  const show = (el, on) => { el.hidden = !on; };
  function say(message) { const n = $('#notice'); n.textContent = message; show(n, !!message); }
  function fail(message) { const e = $('#error'); e.textContent = message; show(e, !!message); }
  const badge = (w) => h('span', { class: 'badge ' + (w || 'green'), text: WARNINGS[w] || w || '—' });
  const stateText = (s) => STATES[s] || s || '—';
  const dash = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));
  const yuan = (fen) => (fen === null || fen === undefined ? '—' : (fen / 100).toFixed(2) + ' 元');

  // ---------------------------------------------------------------- the API
  const TOKEN = 'liandong.console.token';
  const token = () => sessionStorage.getItem(TOKEN);
  let session = null; // GET /api/v1/session: {operator, node, today}

  // What an error code means to the person at the screen; the API's own sentence follows.
  const ERRORS = {
    unauthorized: '未登录或令牌无效', forbidden: '无权办理', sign_off_required: '需首席代表网上签批',
    invalid_action: '此操作不成立', not_found: '未找到', invalid_applicant: '申请人信息有误',
    bad_materials: '材料清单有误', unknown_item: '事项不存在', wrong_department: '部门不符',
    too_many_failures: '失败次数过多，请稍后再试', busy: '系统繁忙，请稍后重试', bad_request: '请求有误',
    too_large: '内容过大', invalid_stand_in: '代岗人不符合条件', idempotency_key_reused: '重复提交的内容不一致',
    control_character: '含有不可见字符', unreachable: '无法连接本节点',
  };

  class ApiError extends Error {
    constructor(status, code, message) {
      super(ERRORS[code] ? ERRORS[code] + '：' + message : message);
      this.status = status;
      this.code = code;
    }
  }

  /** A key for one user action: the same key on a retry, so a double submit writes once. */
  function freshKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return 'console-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function api(method, path, body, opts = {}) {
    const headers = {};
    const t = opts.token || token();
    if (t && !opts.anonymous) headers.Authorization = 'Bearer ' + t;
    if (opts.key) headers['Idempotency-Key'] = opts.key;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'unreachable', e.message + '，请检查网络后重试。');
    }
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const code = (data && data.error) || 'http_' + response.status;
      const message = (data && data.message) || '请求失败（HTTP ' + response.status + '）';
      if (response.status === 401 && !opts.token && !opts.anonymous) {
        signOut('登录已失效：' + message);
      }
      throw new ApiError(response.status, code, message);
    }
    return data;
  }

  /** Every page of a paged list (`next`), at most `maxPages` of them. */
  async function allPages(path, key, maxPages) {
    const items = [];
    let after = null;
    for (let page = 0; page < maxPages; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const data = await api('GET', path + sep + 'limit=500' + (after ? '&after=' + encodeURIComponent(after) : ''));
      items.push(...data[key]);
      after = data.next;
      if (!after) return { items, complete: true };
    }
    return { items, complete: false };
  }

  const may = (...roles) => session && roles.includes(session.operator.role);
  /** The departments the operator works for: their own and, as a stand-in (AB角), their absent colleagues'. */
  const departments = () => [session.operator.department, ...session.standing_in_for.map((a) => a.department)].filter(Boolean);
  /** May the operator (or the colleague they stand in for) sign off decisions of `department`? */
  const signsOff = (department) => session.operator.role === 'admin' ||
    (session.operator.role === 'chief' && session.operator.department === department) ||
    session.standing_in_for.some((a) => a.role === 'chief' && a.department === department);

  // ---------------------------------------------------------------- sign-in
  function signOut(message) {
    sessionStorage.removeItem(TOKEN);
    session = null;
    show($('#nav'), false);
    show($('#signout'), false);
    $('#whoami').textContent = '';
    if (location.hash !== '#/signin') location.hash = '#/signin';
    else route();
    if (message) fail(message);
  }

  function viewSignin() {
    const input = h('input', { id: 'token', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'token-hint' });
    const form = h('form', { class: 'card', id: 'signin-form', 'aria-labelledby': 'signin-title' },
      h('h1', { id: 'signin-title', text: '登录工作台' }),
      h('label', { for: 'token', text: '操作员令牌' }),
      input,
      h('p', { class: 'hint', id: 'token-hint', text: '令牌由本节点管理员发放（liandong operator add）。令牌只保存在本标签页，关闭即清除。' }),
      h('button', { id: 'signin', type: 'submit', text: '登录' }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      fail('');
      const t = input.value.trim();
      try {
        session = await api('GET', '/api/v1/session', undefined, { token: t });
        sessionStorage.setItem(TOKEN, t);
        showSession();
        location.hash = home();
      } catch (e) {
        fail(e.message);
        input.focus();
      }
    });
    render(form);
    input.focus();
  }

  const home = () => (may('clerk', 'chief', 'admin') ? '#/window' : '#/supervise');

  function showSession() {
    const op = session.operator;
    const node = session.node;
    document.title = node.name + ' · 政务服务工作台';
    $('#node-name').textContent = node.name + '（' + node.code + '）';
    const standing = session.standing_in_for.map((a) => a.name);
    $('#whoami').textContent = op.name + ' · ' + (ROLES[op.role] || op.role) + (op.department ? ' · ' + op.department : '') +
      (standing.length ? ' · 代岗：' + standing.join('、') : '');
    for (const a of document.querySelectorAll('#nav a')) show(a, a.dataset.roles.split(' ').includes(op.role));
    show($('#nav'), true);
    show($('#signout'), true);
  }

  // ---------------------------------------------------------------- 窗口受理
  let catalog = null;
  async function loadCatalog() {
    if (!catalog) catalog = (await api('GET', '/api/v1/catalog')).items;
    return catalog;
  }

  async function viewWindow() {
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

  // ---------------------------------------------------------------- 办件详情 and its actions
  async function viewCase(caseNo) {
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

  // ---------------------------------------------------------------- 部门办件 (queue by deadline)
  async function viewQueue() {
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

  // ---------------------------------------------------------------- 我的设置 (AB角)
  function viewMe() {
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

  // ---------------------------------------------------------------- 查找办件
  function viewFind() {
    const input = h('input', { id: 'find-no', type: 'search', required: true, placeholder: '例如 350322100-20251009-000001' });
    const form = h('form', { class: 'card', 'aria-labelledby': 'find-title' }, h('h1', { id: 'find-title', text: '查找办件' }),
      h('label', { for: 'find-no', text: '办件编号' }), input, h('button', { id: 'find', type: 'submit', text: '查找' }));
    form.addEventListener('submit', (ev) => { ev.preventDefault(); location.hash = '#/case/' + input.value.trim(); });
    render(form);
    input.focus();
  }

  // ---------------------------------------------------------------- 电子监察
  async function viewSupervise() {
    const { items, complete } = await allPages('/api/v1/summaries', 'summaries', 20);
    const open = items.filter((s) => !CLOSED.includes(s.state));
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
      h('p', { class: 'hint', id: 'supervise-summary', text: '本级及下级共 ' + open.length + ' 件在办，其中 ' + flagged.length + ' 件预警或超期。' + (complete ? '' : '（只读取了前 10000 条。）') }),
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

  // ---------------------------------------------------------------- 区域总览 (city board)
  let timer = null;
  async function viewBoard() {
    const [status, stats] = await Promise.all([api('GET', '/api/v1/status'), api('GET', '/api/v1/stats')]);
    const t = status.totals;
    const pct = (r) => (r === null || r === undefined ? '—' : (r * 100).toFixed(1) + '%');
    const table = h('table', { id: 'board-nodes' },
      h('thead', {}, h('tr', {}, ['节点', '连接', '数据时间', '办件', '超期', '按期办结率'].map((x) => h('th', { scope: 'col', text: x })))),
      h('tbody', {}, status.nodes.map((n) => h('tr', { 'data-node': n.code },
        h('td', { text: n.code }), h('td', { class: n.reachable ? 'ok' : 'bad', text: n.reachable ? '在线' : '失联' }),
        h('td', { text: n.age_seconds === null || n.age_seconds === undefined ? '—' : n.age_seconds + ' 秒前' }),
        h('td', { text: n.cases }), h('td', { class: n.overdue ? 'bad' : '', text: n.overdue }), h('td', { text: pct(n.on_time_rate) })))));
    render(
      h('h1', { text: '区域总览' }),
      h('p', { class: 'hint', id: 'board-as-of', text: '截至 ' + status.as_of.replace('T', ' ').slice(0, 19) + '，每 10 秒刷新。' }),
      h('section', { class: 'card' }, h('dl', { class: 'facts', id: 'board-totals' },
        [['办件总数', t.cases], ['超期', t.overdue], ['按期办结率', pct(t.on_time_rate)], ['暂定日历计时', t.provisional]].map(([k, v]) => [h('dt', { text: k }), h('dd', { text: dash(v) })]))),
      h('div', { class: 'row' },
        h('section', { class: 'card' }, h('h2', { text: '节点' }), table),
        h('section', { class: 'card' }, h('h2', { text: '层级' }), tree(status.nodes))),
      h('section', { class: 'card' }, h('h2', { text: '各节点按期办结率' }), rateChart(status.nodes)),
      h('section', { class: 'card' }, h('h2', { text: '每月受理件数（近 12 个月）' }), monthChart(stats.by_month)));
    timer = setTimeout(() => { if (location.hash === '#/board') route(true); }, 10000);
  }

  /** The nodes as a tree by division code: a township's 9 digits under its county's 6. */
  function tree(nodes) {
    const parentOf = (code) => (code.length > 6 ? code.slice(0, 6) : code.slice(4) === '00' ? null : code.slice(0, 4) + '00');
    const byCode = new Map(nodes.map((n) => [n.code, n]));
    const kids = new Map();
    const roots = [];
    for (const n of nodes) {
      const p = parentOf(n.code);
      if (p && byCode.has(p)) { if (!kids.has(p)) kids.set(p, []); kids.get(p).push(n); } else roots.push(n);
    }
    const item = (n) => h('li', {}, h('span', { class: n.reachable ? 'ok' : 'bad', text: (n.reachable ? '● ' : '○ ') + n.code }),
      ' ', n.cases + ' 件' + (n.overdue ? '，超期 ' + n.overdue : ''),
      kids.has(n.code) ? h('ul', {}, kids.get(n.code).map(item)) : null);
    return h('div', { class: 'tree', id: 'board-tree' }, h('ul', {}, roots.map(item)));
  }

  const SVG_NS = 'http://www.w3.org/2000/svg'; // a name, not an address: nothing is fetched
  function svg(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    append(el, kids);
    return el;
  }

  /** Cases accepted per month, the last 12 months held: a column each, on-time rate below. */
  function monthChart(byMonth) {
    const months = Object.keys(byMonth || {}).sort().slice(-12);
    if (!months.length) return h('p', { class: 'hint', text: '尚无受理的办件。' });
    const top = Math.max(...months.map((m) => byMonth[m].accepted), 1);
    const col = 52;
    const height = 160;
    const w = months.length * col + 10;
    return svg('svg', { id: 'month-chart', role: 'img', 'aria-label': '每月受理件数柱状图', viewBox: '0 0 ' + w + ' ' + (height + 50), width: w, height: height + 50 },
      months.map((m, i) => {
        const f = byMonth[m];
        const bar = Math.max(1, (f.accepted / top) * height);
        const rate = f.concluded ? (f.on_time / f.concluded * 100).toFixed(0) + '%' : '—';
        return svg('g', {},
          svg('rect', { x: i * col + 8, y: height - bar + 14, width: col - 16, height: bar, fill: '#1d5fbf' }),
          svg('text', { x: i * col + 8, y: height - bar + 10 }, String(f.accepted)),
          svg('text', { x: i * col + 4, y: height + 30 }, m.slice(2)),
          svg('text', { x: i * col + 8, y: height + 46 }, rate));
      }));
  }

  /** A bar per node, inline SVG (no chart library, nothing fetched). */
  function rateChart(nodes) {
    const rows = nodes.filter((n) => n.on_time_rate !== null && n.on_time_rate !== undefined);
    if (!rows.length) return h('p', { class: 'hint', text: '尚无办结的办件。' });
    const bar = 22;
    const width = 640;
    return svg('svg', { id: 'rate-chart', role: 'img', 'aria-label': '各节点按期办结率柱状图', viewBox: '0 0 ' + width + ' ' + (rows.length * bar + 10), width, height: rows.length * bar + 10 },
      rows.map((n, i) => svg('g', {},
        svg('text', { x: 0, y: i * bar + 15 }, n.code),
        svg('rect', { x: 110, y: i * bar + 3, height: bar - 6, width: Math.max(1, n.on_time_rate * 440), fill: n.on_time_rate >= 0.95 ? '#1e7b34' : n.on_time_rate >= 0.8 ? '#9a6700' : '#c0262d' }),
        svg('text', { x: 560, y: i * bar + 15 }, (n.on_time_rate * 100).toFixed(1) + '%'))));
  }

  // ---------------------------------------------------------------- print views (A4)
  async function viewPrint(kind, caseNo) {
    const c = await api('GET', '/api/v1/cases/' + encodeURIComponent(caseNo));
    const center = session.node.name;
    const today = session.today;
    const applicant = c.applicant.name + '（' + c.applicant.id + '）';
    const table = (rows) => h('table', {}, h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row', text: k }), h('td', { text: dash(v) })))));
    const sign = h('p', { class: 'sign' }, center, h('br'), '（受理专用章）', h('br'), today);
    const docs = {
      notice: () => ['受理通知单', [
        h('p', {}, applicant + '：'),
        h('p', { text: '您于 ' + c.submitted_on + ' 提交的“' + c.item_name + '”申请，经审查，申请材料齐全、符合法定形式，本中心决定予以受理。' }),
        table([['办件编号', c.case_no], ['事项', c.item_name + '（' + c.item + '）'], ['承办部门', c.department],
          ['受理日期', c.accepted_on], ['承诺办结期限', c.deadline], ['法定办结期限', c.legal_deadline],
          ['已收材料', c.materials.join('；')], ['容缺后补材料', c.owed.length ? c.owed.join('；') + '（须在作出决定前补齐）' : '无']]),
        h('p', { text: '进度查询：凭办件编号及申请人证件号码后 6 位，可在本中心窗口、政务服务网或电话查询办理进度。期限按工作日计算，不含法定节假日；依法需要听证、检验、检测、鉴定、专家评审等的时间不计入期限。' })]],
      inform: () => ['一次性告知书', [
        h('p', {}, applicant + '：'),
        h('p', { text: '您申请办理的“' + c.item_name + '”（办件编号 ' + c.case_no + '），经审查，还需补充以下材料。本中心一次性告知如下，请补齐后到窗口办理：' }),
        h('ol', { id: 'inform-list' }, [...c.missing, ...c.owed, ...c.requested].map((m) => h('li', { text: m + (c.missing.includes(m) ? '' : c.owed.includes(m) ? '（容缺受理，决定前补齐）' : '（补件）') }))),
        h('p', { text: c.missing.length ? '补齐上述材料之日起，本中心予以受理并开始计算办理期限。' : '上述材料补齐前，不影响已受理的办件；作出决定前须补齐。' })]],
      refusal: () => ['不予受理决定书', [
        h('p', {}, applicant + '：'),
        h('p', { text: '您于 ' + c.submitted_on + ' 申请办理的“' + c.item_name + '”（办件编号 ' + c.case_no + '），经审查，本中心决定不予受理。' }),
        h('p', { text: '理由：' + (c.refusal || '见窗口书面说明') }),
        h('p', { text: '如不服本决定，可以自收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法提起行政诉讼。' })]],
      result: () => ['办结及送达回执', [
        table([['办件编号', c.case_no], ['事项', c.item_name], ['申请人', applicant],
          ['决定', c.decision ? (c.decision.approve ? '准予' : '不予') + '：' + c.decision.reason : '—'],
          ['办结日期', c.concluded_on], ['证照编号', c.certificate_no], ['缴费', c.payment ? yuan(c.payment.amount_fen) + '，票据 ' + c.payment.receipt : '—'],
          ['送达方式', '窗口领取 / 邮寄'], ['签收人', ''], ['签收日期', '']])]],
    };
    const [title, body] = docs[kind]();
    render(
      h('p', { class: 'noprint' }, h('button', { id: 'print', type: 'button', text: '打印', onclick: () => window.print() }), ' ',
        h('a', { href: '#/case/' + c.case_no, text: '返回办件' })),
      h('article', { class: 'doc', id: 'doc-' + kind, 'aria-label': title },
        h('h1', { text: title }), h('p', { class: 'docno', text: center + ' · ' + c.case_no }), body, sign));
  }

  // ---------------------------------------------------------------- 大屏 (the hall's screen, no token)
  async function viewHall() {
    document.body.classList.add('hall');
    let data;
    try {
      data = await api('GET', '/api/v1/hall', undefined, { anonymous: true });
      fail('');
    } catch (e) {
      fail('暂时无法更新：' + e.message);
      timer = setTimeout(viewHall, 10000);
      return;
    }
    document.title = data.node.name + ' · 办件公示';
    $('#node-name').textContent = data.node.name;
    const lines = (list, id, empty) => (list.length
      ? h('table', { id },
        h('thead', {}, h('tr', {}, ['编号', '事项', '状态'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, list.map((l) => h('tr', {}, h('td', { text: l.ticket }), h('td', { text: l.item_name }), h('td', { text: stateText(l.state) })))))
      : h('p', { id, text: empty }));
    render(
      h('h1', { text: data.node.name + ' · ' + data.today + ' 办件公示' }),
      h('div', { class: 'row' },
        h('section', {}, h('h2', { text: '今日在办' }), lines(data.queue, 'hall-queue', '今日暂无在办件')),
        h('section', {}, h('h2', { text: '今日办结' }), lines(data.concluded, 'hall-concluded', '今日暂无办结件'))),
      h('p', { class: 'hint', text: '编号为办件编号的后段；凭完整办件编号及证件号码后 6 位查询办理进度。每 10 秒更新。' }));
    timer = setTimeout(viewHall, 10000);
  }

  // ---------------------------------------------------------------- routing
  const ROUTES = [
    [/^#\/signin$/, () => viewSignin(), null],
    [/^#\/window$/, () => viewWindow(), ['clerk', 'chief', 'admin']],
    [/^#\/queue$/, () => viewQueue(), null],
    [/^#\/find$/, () => viewFind(), null],
    [/^#\/me$/, () => viewMe(), ['clerk', 'chief']],
    [/^#\/case\/([\w-]+)$/, (m) => viewCase(m[1]), null],
    [/^#\/supervise$/, () => viewSupervise(), ['supervisor', 'admin']],
    [/^#\/board$/, () => viewBoard(), ['supervisor', 'admin']],
    [/^#\/print\/(notice|inform|refusal|result)\/([\w-]+)$/, (m) => viewPrint(m[1], m[2]), null],
  ];

  async function route(refresh) {
    clearTimeout(timer);
    const hash = location.hash || '#/';
    if (!hash.startsWith('#/')) return; // the skip link and other in-page anchors
    if (!refresh) { fail(''); if (hash !== '#/signin') say(''); }
    if (!token()) { if (hash !== '#/signin') { location.hash = '#/signin'; return; } viewSignin(); return; }
    try {
      if (!session) { session = await api('GET', '/api/v1/session'); showSession(); }
      const hit = ROUTES.map(([re, view, roles]) => [hash.match(re), view, roles]).find(([m]) => m);
      if (!hit || hash === '#/signin') { location.hash = home(); return; }
      const [m, view, roles] = hit;
      if (roles && !may(...roles)) { location.hash = home(); return; }
      for (const a of document.querySelectorAll('#nav a')) a.removeAttribute('aria-current');
      const current = document.querySelector('#nav a[href="' + hash + '"]');
      if (current) current.setAttribute('aria-current', 'page');
      await view(m);
      if (!refresh && !document.activeElement.matches('input, select, textarea, button, a')) $('#main').focus();
    } catch (e) {
      if (e.status !== 401) fail(e.message);
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    if (location.pathname.replace(/\/$/, '').endsWith('/console/hall')) { viewHall(); return; }
    $('#signout').addEventListener('click', () => signOut('已退出登录。'));
    window.addEventListener('hashchange', () => route());
    route();
  });
})();

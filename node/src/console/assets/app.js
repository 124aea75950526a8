// The staff console (工作台): one page, views chosen by the URL's fragment (#/window, #/case/NO…),
// every figure read from the node's JSON API with the operator's token. Text from the API is
// always written as text (textContent), never parsed as HTML.
//
// Modules: app.js (this file) — the API, the session, sign-in and routing; vocab.js — labels;
// dom.js — building elements; window.js — 窗口受理; case.js — 办件 and its actions, 查找;
// lists.js — 部门办件, 电子监察, 我的设置; board.js — 区域总览 and the hall's screen;
// print.js — the A4 documents.

import { ROLES } from './vocab.js';
import { $, h, render, show, say, fail, cancelLater } from './dom.js';
import { viewWindow } from './window.js';
import { viewCase, viewFind } from './case.js';
import { viewQueue, viewSupervise, viewMe } from './lists.js';
import { viewBoard, viewHall } from './board.js';
import { viewPrint } from './print.js';

// ---------------------------------------------------------------- the API
const TOKEN = 'liandong.console.token';
const token = () => sessionStorage.getItem(TOKEN);
export let session = null; // GET /api/v1/session: {operator, node, today}

// What an error code means to the person at the screen; the API's own sentence follows.
const ERRORS = {
  unauthorized: '未登录或令牌无效', forbidden: '无权办理', sign_off_required: '需首席代表网上签批',
  invalid_action: '此操作不成立', not_found: '未找到', invalid_applicant: '申请人信息有误',
  bad_materials: '材料清单有误', unknown_item: '事项不存在', wrong_department: '部门不符',
  too_many_failures: '失败次数过多，请稍后再试', busy: '系统繁忙，请稍后重试', bad_request: '请求有误',
  too_large: '内容过大', invalid_stand_in: '代岗人不符合条件', idempotency_key_reused: '重复提交的内容不一致',
  control_character: '含有不可见字符', unreachable: '无法连接本节点',
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(ERRORS[code] ? ERRORS[code] + '：' + message : message);
    this.status = status;
    this.code = code;
  }
}

/** A key for one user action: the same key on a retry, so a double submit writes once. */
export function freshKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return 'console-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function api(method, path, body, opts = {}) {
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
export async function allPages(path, key, maxPages) {
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

export const may = (...roles) => session && roles.includes(session.operator.role);
/** The departments the operator works for: their own and, as a stand-in (AB角), their absent colleagues'. */
export const departments = () => [session.operator.department, ...session.standing_in_for.map((a) => a.department)].filter(Boolean);
/** May the operator (or the colleague they stand in for) sign off decisions of `department`? */
export const signsOff = (department) => session.operator.role === 'admin' ||
  (session.operator.role === 'chief' && session.operator.department === department) ||
  session.standing_in_for.some((a) => a.role === 'chief' && a.department === department);

let catalog = null;
export async function loadCatalog() {
  if (!catalog) catalog = (await api('GET', '/api/v1/catalog')).items;
  return catalog;
}

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

export async function route(refresh) {
  cancelLater();
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

// 区域总览 (the city board) and 大屏 (the hall's screen): figures, a tree and charts in inline SVG.

import { $, h, render, fail, dash, svg, later, stateText } from './dom.js';
import { api, route } from './app.js';

export async function viewBoard() {
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
  later(() => { if (location.hash === '#/board') route(true); }, 10000);
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

export async function viewHall() {
  document.body.classList.add('hall');
  let data;
  try {
    data = await api('GET', '/api/v1/hall', undefined, { anonymous: true });
    fail('');
  } catch (e) {
    fail('暂时无法更新：' + e.message);
    later(viewHall, 10000);
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
  later(viewHall, 10000);
}

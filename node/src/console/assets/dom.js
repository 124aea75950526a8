// DOM helpers: elements built from data as text (never parsed as HTML), the page's message
// areas, and the one timer a screen may keep for refreshing itself.

import { STATES, WARNINGS } from './vocab.js';

export const $ = (sel, root = document) => root.querySelector(sel);
/** An element: attributes (`on*` become listeners), then children (strings become text). */
export function h(tag, attrs, ...kids) {
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
export function append(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.appendChild(typeof kid === 'string' || typeof kid === 'number' ? document.createTextNode(String(kid)) : kid);
  }
}
/** Replaces an element's children (DOM's replaceChildren would write a null as "null"). */
export function refill(el, ...kids) {
  el.replaceChildren();
  append(el, kids);
}
export const render = (...kids) => refill($('#main'), ...kids);
export const show = (el, on) => { el.hidden = !on; };
export function say(message) { const n = $('#notice'); n.textContent = message; show(n, !!message); }
export function fail(message) { const e = $('#error'); e.textContent = message; show(e, !!message); }
export const badge = (w) => h('span', { class: 'badge ' + (w || 'green'), text: WARNINGS[w] || w || '—' });
export const stateText = (s) => STATES[s] || s || '—';
export const dash = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));
export const yuan = (fen) => (fen === null || fen === undefined ? '—' : (fen / 100).toFixed(2) + ' 元');

const SVG_NS = 'http://www.w3.org/2000/svg'; // a name, not an address: nothing is fetched
export function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  append(el, kids);
  return el;
}

let timer = null;
/** Runs `fn` after `ms`, replacing the screen's previous timer (a screen refreshing itself). */
export function later(fn, ms) {
  clearTimeout(timer);
  timer = setTimeout(fn, ms);
}
/** Stops the screen's timer: another screen is shown. */
export function cancelLater() {
  clearTimeout(timer);
  timer = null;
}

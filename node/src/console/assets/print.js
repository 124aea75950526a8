// The A4 documents: 受理通知单, 一次性告知书, 不予受理决定书, 办结及送达回执.

import { h, render, dash, yuan } from './dom.js';
import { api, session } from './app.js';

export async function viewPrint(kind, caseNo) {
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

// 中文 labels of the states, roles, warnings and actions, and the actions each state offers.

export const ROLES = { admin: '管理员', supervisor: '监察员', clerk: '窗口/部门人员', chief: '首席代表' };
export const LEVELS = { city: '市级', county: '县级', township: '乡镇（街道）' };
export const STATES = {
  awaiting_supplement: '待补正', accepted: '已受理', in_review: '审查中', joint_review: '联审中',
  suspended: '特别程序中', in_transit: '流转中', approved: '准予许可', denied: '不予许可',
  certified: '已制证', delivered: '已送达', not_accepted: '不予受理', withdrawn: '已撤回',
};
export const CLOSED = ['approved', 'denied', 'certified', 'delivered', 'not_accepted', 'withdrawn'];
export const FINISHED = ['delivered', 'not_accepted', 'withdrawn'];
export const WARNINGS = { green: '正常', yellow: '黄牌预警', red: '红牌超期' };
export const KINDS = { person: '自然人', org: '法人或其他组织' };
export const PROCEDURES = [
  ['hearing', '听证'], ['bidding', '招标'], ['auction', '拍卖'], ['inspection', '检验'],
  ['testing', '检测'], ['quarantine', '检疫'], ['appraisal', '鉴定'],
  ['expert_review', '专家评审'], ['site_survey', '现场勘查'],
];
export const SATISFACTION = [['1', '非常满意'], ['2', '满意'], ['3', '基本满意'], ['4', '不满意'], ['5', '非常不满意']];

// Each action of the case lifecycle as a form: its label and fields. `type` says how a field
// is entered and turned into the API's JSON (API.md, "Actions").
export const ACTIONS = {
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
export const BY_STATE = {
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

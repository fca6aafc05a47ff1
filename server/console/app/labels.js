// The console's words: the codes the API speaks, in Chinese.

export const ROLE = {
  grid_worker: '网格员',
  grid_leader: '网格长',
  gis: 'GIS 专员',
  dispatcher: '受理中心',
  department: '事权部门',
  supervisor: '督办',
  admin: '管理员',
};

export const KIND = { complaint: '诉求', risk_inspection: '隐患' };

export const STATUS = {
  received: '待受理',
  accepted: '已受理',
  flagged_unreasonable: '不合理诉求',
  dispatched: '已派单',
  signed_for: '已签收',
  replied: '已回复',
  handling: '办理中',
  result_reported: '已办结',
  feedback_given: '已回访',
  evaluated: '已评价',
  closed: '已关闭',
  returned: '已退回',
  verified: '已核实',
  resolved_in_grid: '网格内化解',
  escalated: '已上报',
  rectified: '已整改',
};

export const ACTION = {
  accept: '受理',
  flag_unreasonable: '标记不合理',
  dispatch: '派单',
  sign_for: '签收',
  reply: '回复',
  start_handling: '开始办理',
  report_result: '报告结果',
  feedback: '回访',
  evaluate: '评价',
  close: '关闭',
  link_duplicate: '合并重复',
  consult: '一事一策',
  plan_follow_up: '跟进',
  supervise: '督办',
  verify: '核实',
  return_to_worker: '退回网格员',
  resubmit: '重新提交',
  resolve_in_grid: '网格内化解',
  escalate: '上报',
  report_rectification: '报告整改',
  reinspect: '复查',
};

/** The label of a code, or the code itself when the console has no word for it. */
export function label(table, code) {
  return (code && table[code]) || code || '';
}

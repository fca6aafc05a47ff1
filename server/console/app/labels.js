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

export const EVENT = {
  ...ACTION,
  created: '登记',
  owner_assigned: '确定所属网格',
  owner_changed: '所属网格变更',
  note: '备注',
  photo: '添加照片',
  conflict: '同时修改',
  photo_dropped: '撤下未上传的照片',
  supervision: '督办',
  accepted: '受理',
  flagged_unreasonable: '标记不合理诉求',
  dispatched: '派单',
  signed_for: '签收',
  replied: '回复',
  progress_reply: '进展回复',
  handling_started: '开始办理',
  result_reported: '报告结果',
  feedback_given: '回访',
  evaluated: '评价',
  closed: '关闭',
  duplicate_linked: '合并为重复',
  plan_follow_up: '一事一策跟进',
  verified: '核实',
  returned_to_worker: '退回网格员',
  resubmitted: '重新提交',
  resolved_in_grid: '网格内化解',
  escalated: '上报',
  rectified: '整改',
  reinspected_fixed: '复查：已整改',
  reinspected_not_fixed: '复查：未整改',
  field_resubmit: '网格员重新提交',
  field_reinspected_fixed: '复查：已整改',
  field_reinspected_not_fixed: '复查：未整改',
};

export const CHANNEL = {
  app: '网格员上报',
  hotline: '热线',
  suggestion_box: '意见箱',
  mini_program: '小程序',
  web: '网站',
  open311: 'Open311',
  grid_survey: '网格摸排',
};

export const LEVEL = { province: '省', city: '市', county: '县区', township: '乡镇街道', village: '村社区', grid: '网格' };

export const RISK = { low: '低', medium: '中', high: '高', critical: '重大' };

export const OUTCOME = { resolved: '已解决', partly_resolved: '部分解决', cannot_resolve: '无法解决' };

export const RATING = { satisfied: '满意', basically_satisfied: '基本满意', dissatisfied: '不满意' };

export const FIELD = {
  attachments: '照片', category: '分类', channel: '来源', claimed_grid: '上报网格',
  complainant: '诉求人', created_at: '登记时间', created_by: '登记人', description: '描述',
  id: '编号', inspection: '摸排信息', kind: '类型', location: '位置', owner_grid: '所属网格',
  schema_version: '格式版本', timeline: '办理过程', title: '标题', workflow: '办理状态',
};

/** The label of a code, or the code itself when the console has no word for it. */
export function label(table, code) {
  return (code && table[code]) || code || '';
}

-- The category catalogue (诉求分类): up to three levels, a code being its path
-- (`environment.noise.construction`) and its parent the code without the last segment. Each
-- has a Chinese name (and an English one), a description, the department that answers for it
-- when no dispatch rule says otherwise, a deadline class, keywords, and the extra questions
-- intake asks (Open311 service-definition attributes). `keywords` and `attributes` are JSON
-- arrays. Categories are retired (`active` = 0), never deleted: records keep the category
-- they were filed under. Every change made through the API is kept in `category_changes` (the
-- whole category as it became, JSON).
CREATE TABLE categories (
    code TEXT PRIMARY KEY,
    parent TEXT REFERENCES categories (code),
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
    name TEXT NOT NULL,
    name_en TEXT,
    description TEXT NOT NULL,
    department TEXT,
    deadline_class TEXT REFERENCES deadline_classes (code),
    keywords TEXT NOT NULL,
    attributes TEXT NOT NULL,
    active INTEGER NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX categories_parent ON categories (parent);

CREATE TABLE category_changes (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL REFERENCES categories (code),
    at BIGINT NOT NULL,
    changed_by TEXT NOT NULL,
    category TEXT NOT NULL
);
CREATE INDEX category_changes_code ON category_changes (code, at);

-- A catalogue every installation starts with, after the usual classification of a city's
-- hotline (市容环境, 生态环境, 道路交通, 市政设施, 供水供暖, 物业管理 …); admins edit it.
INSERT INTO categories VALUES ('city_appearance', NULL, 1, '市容环境', 'City appearance', '街面卫生、占道经营、违章搭建、户外广告等市容问题', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('city_appearance.sanitation', 'city_appearance', 2, '环境卫生', 'Sanitation', '垃圾清运不及时、卫生死角、公厕管理', NULL, 'general', '["垃圾", "脏乱差", "公厕"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('city_appearance.street_vending', 'city_appearance', 2, '占道经营', 'Street vending', '流动摊贩、店外经营占用道路', NULL, 'general', '["摊贩", "占道"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('city_appearance.illegal_building', 'city_appearance', 2, '违法建设', 'Illegal construction', '私搭乱建、违章建筑', NULL, 'complex', '["违建", "私搭乱建"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('city_appearance.advertising', 'city_appearance', 2, '户外广告', 'Outdoor advertising', '广告牌破损、违规设置', NULL, 'general', '["广告牌"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('environment', NULL, 1, '生态环境', 'Environment', '噪声、大气、水、固体废物污染', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('environment.noise', 'environment', 2, '噪声污染', 'Noise', '施工、商业、社会生活噪声', NULL, 'urgent', '["噪音", "扰民"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('environment.noise.construction', 'environment.noise', 3, '施工噪声', 'Construction noise', '建筑工地夜间或超时施工噪声', NULL, 'urgent', '["工地", "夜间施工"]', '[{"code": "period", "datatype": "singlevaluelist", "required": true, "description": "噪声发生时段", "datatype_description": "", "order": 1, "values": [{"key": "day", "name": "白天（6:00–22:00）"}, {"key": "night", "name": "夜间（22:00–6:00）"}]}, {"code": "site", "datatype": "string", "required": false, "description": "工地或施工单位名称", "datatype_description": "", "order": 2, "values": []}]', 1, 0, 'seed');
INSERT INTO categories VALUES ('environment.noise.commercial', 'environment.noise', 3, '商业噪声', 'Commercial noise', '商铺促销、娱乐场所噪声', NULL, 'urgent', '["广场舞", "音响"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('environment.noise.neighbourhood', 'environment.noise', 3, '社会生活噪声', 'Neighbourhood noise', '邻里装修、宠物等生活噪声', NULL, 'general', '["装修"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('environment.air', 'environment', 2, '大气污染', 'Air pollution', '烟尘、异味、露天焚烧', NULL, 'urgent', '["油烟", "异味", "焚烧"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('environment.water', 'environment', 2, '水污染', 'Water pollution', '河道污染、污水直排', NULL, 'urgent', '["排污", "黑臭水体"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('roads', NULL, 1, '道路交通', 'Roads and traffic', '道路设施、交通秩序、公共交通', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('roads.damage', 'roads', 2, '道路破损', 'Road damage', '路面坑洼、破损、塌陷', NULL, 'general', '["坑洼", "塌陷"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('roads.parking', 'roads', 2, '违法停车', 'Illegal parking', '占用消防通道、人行道停车', NULL, 'urgent', '["乱停车", "消防通道"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('roads.signals', 'roads', 2, '交通信号与标志', 'Signals and signs', '信号灯故障、标志标线缺失', NULL, 'urgent', '["红绿灯"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('roads.public_transport', 'roads', 2, '公共交通', 'Public transport', '公交线路、站点、运营服务', NULL, 'general', '["公交"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('municipal', NULL, 1, '市政设施', 'Municipal facilities', '路灯、排水、井盖、园林绿化等市政设施', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('municipal.lighting', 'municipal', 2, '路灯照明', 'Street lighting', '路灯不亮、损坏、白天常亮', NULL, 'general', '["路灯"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('municipal.drainage', 'municipal', 2, '排水管网', 'Drainage', '下水道堵塞、积水、污水外溢', NULL, 'urgent', '["下水道", "积水"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('municipal.manhole', 'municipal', 2, '井盖', 'Manholes', '井盖缺失、破损、异响', NULL, 'emergency', '["井盖"]', '[{"code": "hazard", "datatype": "singlevaluelist", "required": true, "description": "是否已造成危险", "datatype_description": "", "order": 1, "values": [{"key": "open", "name": "井口敞开"}, {"key": "broken", "name": "破损未敞开"}, {"key": "noise", "name": "仅有异响"}]}]', 1, 0, 'seed');
INSERT INTO categories VALUES ('municipal.greenery', 'municipal', 2, '园林绿化', 'Greenery', '树木倒伏、绿地损毁、病虫害', NULL, 'general', '["树木", "绿化"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('utilities', NULL, 1, '供水供暖', 'Utilities', '供水、供暖、燃气、供电', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('utilities.water', 'utilities', 2, '供水', 'Water supply', '停水、水压低、水质', NULL, 'urgent', '["停水", "水压"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('utilities.heating', 'utilities', 2, '供暖', 'Heating', '室温不达标、停暖、跑冒滴漏', NULL, 'urgent', '["暖气", "不热"]', '[{"code": "room_temperature", "datatype": "number", "required": false, "description": "室内温度（℃）", "datatype_description": "实测温度，如 16", "order": 1, "values": []}]', 1, 0, 'seed');
INSERT INTO categories VALUES ('utilities.gas', 'utilities', 2, '燃气', 'Gas', '燃气泄漏、停气、安检', NULL, 'emergency', '["燃气", "漏气"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('utilities.power', 'utilities', 2, '供电', 'Power supply', '停电、线路隐患', NULL, 'urgent', '["停电"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('property', NULL, 1, '物业管理', 'Property management', '物业服务、收费、电梯、维修资金', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('property.service', 'property', 2, '物业服务', 'Property services', '保洁、安保、公共设施维修不到位', NULL, 'general', '["物业"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('property.fees', 'property', 2, '物业收费', 'Property fees', '乱收费、收费不透明', NULL, 'general', '["物业费"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('property.elevator', 'property', 2, '电梯', 'Elevators', '电梯故障、困人、年检', NULL, 'emergency', '["电梯"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('property.maintenance_fund', 'property', 2, '专项维修资金', 'Maintenance fund', '维修资金使用与申请', NULL, 'complex', '["维修基金"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('housing', NULL, 1, '住房保障', 'Housing', '房屋安全、保障性住房、征收', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('housing.safety', 'housing', 2, '房屋安全', 'Building safety', '房屋裂缝、危房', NULL, 'urgent', '["危房", "裂缝"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('housing.affordable', 'housing', 2, '保障性住房', 'Affordable housing', '公租房、廉租房申请与管理', NULL, 'complex', '["公租房"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('labour', NULL, 1, '劳动就业', 'Labour and employment', '欠薪、社保、就业服务', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('labour.wage_arrears', 'labour', 2, '拖欠工资', 'Wage arrears', '拖欠农民工工资等', NULL, 'urgent', '["欠薪", "讨薪"]', '[{"code": "workers", "datatype": "number", "required": false, "description": "涉及人数", "datatype_description": "", "order": 1, "values": []}, {"code": "employer", "datatype": "string", "required": true, "description": "用人单位或项目名称", "datatype_description": "", "order": 2, "values": []}]', 1, 0, 'seed');
INSERT INTO categories VALUES ('labour.social_insurance', 'labour', 2, '社会保险', 'Social insurance', '社保缴纳、待遇', NULL, 'complex', '["社保"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('market', NULL, 1, '市场监管', 'Market regulation', '食品安全、消费维权、价格', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('market.food_safety', 'market', 2, '食品安全', 'Food safety', '过期变质食品、无证经营', NULL, 'urgent', '["食品", "过期"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('market.consumer', 'market', 2, '消费维权', 'Consumer rights', '商品质量、服务纠纷、预付卡', NULL, 'general', '["退款", "预付卡"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('public_safety', NULL, 1, '公共安全', 'Public safety', '消防、治安、安全生产', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('public_safety.fire', 'public_safety', 2, '消防安全', 'Fire safety', '消防通道堵塞、消防设施损坏', NULL, 'emergency', '["消防"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('public_safety.order', 'public_safety', 2, '社会治安', 'Public order', '治安隐患、邻里纠纷', NULL, 'urgent', '["治安", "纠纷"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('rural', NULL, 1, '农业农村', 'Agriculture and rural affairs', '土地、农村基础设施、村务', NULL, NULL, '[]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('rural.land', 'rural', 2, '土地承包', 'Land contracts', '承包地、宅基地纠纷', NULL, 'complex', '["宅基地", "承包地"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('rural.infrastructure', 'rural', 2, '农村基础设施', 'Rural infrastructure', '村路、饮水、村内环境', NULL, 'general', '["村路"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('rural.village_affairs', 'rural', 2, '村务公开', 'Village affairs', '村务财务公开、村干部作风', NULL, 'complex', '["村务"]', '[]', 1, 0, 'seed');
INSERT INTO categories VALUES ('other', NULL, 1, '其他', 'Other', '以上分类之外的诉求', NULL, 'general', '[]', '[]', 1, 0, 'seed');

-- The hazard loop's rectification deadlines by risk level (整改时限), as deadline classes the
-- desk may edit like the others: critical within a day, high within three working days, medium
-- within ten, low within twenty. A dispatch of a hazard uses `rectify_<risk level>` unless it
-- names a class. (The response span is not used for hazards: they have no initial reply.)
INSERT INTO deadline_classes VALUES ('rectify_critical', '重大隐患整改', 'hours', 4, 'hours', 24);
INSERT INTO deadline_classes VALUES ('rectify_high', '较大隐患整改', 'working_days', 1, 'working_days', 3);
INSERT INTO deadline_classes VALUES ('rectify_medium', '一般隐患整改', 'working_days', 1, 'working_days', 10);
INSERT INTO deadline_classes VALUES ('rectify_low', '低风险隐患整改', 'working_days', 1, 'working_days', 20);

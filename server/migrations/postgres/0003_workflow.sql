-- The complaint workflow: the working-day calendar, deadline classes, departments and
-- dispatch rules, department accounts, a queryable row per case, supervision notices, and the
-- scheduler's lease. The case itself lives in the record's automerge document; `workflow_cases`
-- is derived from it in the same transaction as every workflow write, for the scheduler and the
-- reports. Times are Unix milliseconds.

-- Exceptions to "Monday to Friday": public holidays and make-up working days (调休), by CST date.
CREATE TABLE calendar_days (
    day TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name TEXT NOT NULL DEFAULT ''
);

-- Spans are (unit, amount) with unit `hours` or `working_days`.
CREATE TABLE deadline_classes (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    response_unit TEXT NOT NULL CHECK (response_unit IN ('hours', 'working_days')),
    response_amount BIGINT NOT NULL CHECK (response_amount > 0),
    handling_unit TEXT NOT NULL CHECK (handling_unit IN ('hours', 'working_days')),
    handling_amount BIGINT NOT NULL CHECK (handling_amount > 0)
);
INSERT INTO deadline_classes VALUES ('emergency', '紧急', 'hours', 1, 'hours', 4);
INSERT INTO deadline_classes VALUES ('urgent', '急办', 'hours', 2, 'hours', 24);
INSERT INTO deadline_classes VALUES ('general', '一般', 'working_days', 1, 'working_days', 7);
INSERT INTO deadline_classes VALUES ('complex', '复杂', 'working_days', 1, 'working_days', 15);

-- 事权部门. `areas` and `contacts` are JSON arrays.
CREATE TABLE departments (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    areas TEXT NOT NULL,
    contacts TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- category × area → lead department and deadline class; the deepest matching area wins, an
-- exact category beats the wildcard `*`.
CREATE TABLE dispatch_rules (
    category TEXT NOT NULL,
    area_code TEXT NOT NULL,
    department TEXT NOT NULL REFERENCES departments (code),
    deadline_class TEXT NOT NULL REFERENCES deadline_classes (code),
    PRIMARY KEY (category, area_code)
);

-- The department a department-role account acts for.
CREATE TABLE user_departments (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    department TEXT NOT NULL REFERENCES departments (code)
);

CREATE TABLE workflow_cases (
    record_id TEXT PRIMARY KEY REFERENCES records (id),
    status TEXT NOT NULL,
    category TEXT NOT NULL,
    owner_grid TEXT,
    channel TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    lead_department TEXT,
    deadline_class TEXT,
    dispatched_at BIGINT,
    response_due BIGINT,
    deadline BIGINT,
    replied_at BIGINT,
    result_outcome TEXT,
    result_at BIGINT,
    rating TEXT,
    evaluated_at BIGINT,
    returns BIGINT NOT NULL DEFAULT 0,
    duplicate_of TEXT,
    plan_follow_up_due BIGINT,
    closed_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX workflow_cases_deadline ON workflow_cases (status, deadline);
CREATE INDEX workflow_cases_department ON workflow_cases (lead_department);

-- 督办. One notice per (case, what is overdue, when it was due): the unique key is what makes
-- "each notice is issued exactly once" hold even if two schedulers ever ran at once. Notices
-- issued by hand have no due time, and NULLs never collide.
CREATE TABLE supervision_notices (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL REFERENCES records (id),
    subject TEXT NOT NULL,
    department TEXT,
    due_at BIGINT,
    issued_at BIGINT NOT NULL,
    issued_by TEXT NOT NULL,
    note TEXT NOT NULL,
    UNIQUE (record_id, subject, due_at)
);
CREATE INDEX supervision_notices_issued ON supervision_notices (issued_at);

-- One row per periodic job: the instance holding an unexpired lease runs it.
CREATE TABLE scheduler_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
INSERT INTO scheduler_leases VALUES ('supervision', '', 0);

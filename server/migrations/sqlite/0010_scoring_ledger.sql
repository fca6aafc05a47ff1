-- What the rates and points count, fixed when it happens so that nothing done to a case later
-- moves a month's figures: every evaluation (回访评价) with the result it judged, the department
-- that held the case and the grid that owned it then; the grid a notice was issued in; and who
-- answered for a case's initial reply (the lead and grid while the reply was still due).
CREATE TABLE case_evaluations (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL REFERENCES records (id),
    at INTEGER NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('satisfied', 'basically_satisfied', 'dissatisfied')),
    outcome TEXT NOT NULL CHECK (outcome IN ('resolved', 'partly_resolved', 'cannot_resolve')),
    department TEXT,
    owner_grid TEXT,
    group_complaint INTEGER NOT NULL,
    legacy INTEGER NOT NULL
);
CREATE INDEX case_evaluations_at ON case_evaluations (at);

ALTER TABLE supervision_notices ADD COLUMN owner_grid TEXT;
UPDATE supervision_notices SET owner_grid =
    (SELECT r.owner_grid FROM records r WHERE r.id = supervision_notices.record_id);

ALTER TABLE workflow_cases ADD COLUMN response_department TEXT;
ALTER TABLE workflow_cases ADD COLUMN response_grid TEXT;
UPDATE workflow_cases SET response_department = lead_department, response_grid = owner_grid;
CREATE INDEX workflow_cases_response_due ON workflow_cases (response_due);

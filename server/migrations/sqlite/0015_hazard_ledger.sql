-- What the hazard figures count. A risk inspection's hazard type and risk level beside its row
-- (the month's hazards found, by type and level); and every step of the hazard loop, fixed
-- when it is taken so that nothing done to the hazard later moves a month's figures: the
-- step, the hazard's type and level, the grid that owned it and the lead department then, and
-- for a rectification and its re-inspection whether the rectification came by its deadline.
ALTER TABLE records ADD COLUMN hazard_type TEXT;
ALTER TABLE records ADD COLUMN risk_level TEXT;
CREATE INDEX records_hazards_by_created ON records (created_at) WHERE kind = 'risk_inspection';

CREATE TABLE hazard_steps (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL REFERENCES records (id),
    at INTEGER NOT NULL,
    step TEXT NOT NULL CHECK (step IN ('verified', 'returned_to_worker', 'resolved_in_grid',
        'escalated', 'dispatched', 'rectified', 'reinspected_fixed', 'reinspected_not_fixed')),
    hazard_type TEXT NOT NULL,
    risk_level TEXT NOT NULL,
    owner_grid TEXT,
    department TEXT,
    on_time INTEGER
);
CREATE INDEX hazard_steps_at ON hazard_steps (at);

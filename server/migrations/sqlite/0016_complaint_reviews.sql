-- The grid leaders' review of their workers' complaints, where a region asks for it: each
-- step kept when it is taken, with the grid that owned the complaint then, for the month's
-- figures.
CREATE TABLE complaint_reviews (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL REFERENCES records (id),
    at INTEGER NOT NULL,
    step TEXT NOT NULL CHECK (step IN ('verified', 'returned_to_worker', 'resubmitted',
        'resolved_in_grid')),
    owner_grid TEXT
);
CREATE INDEX complaint_reviews_at ON complaint_reviews (at);

-- Workflow settings (issue 6, after 0003 was released): JSON documents by key —
-- `score_rules` (the monthly report's bonus and deduction points) and `open311_api_keys` (the
-- trusted Open311 clients' API key hashes).
CREATE TABLE workflow_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Workflow settings (after 0003 was released): JSON documents by key —
-- `score_rules` (the monthly report's bonus and deduction points) and `open311_api_keys` (the
-- trusted Open311 clients' API key hashes).
CREATE TABLE workflow_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Marks the desk sets at acceptance, for the monthly report's bonus points: a group complaint
-- (群体诉求, many complainants) and a legacy problem (历史遗留问题). 0 or 1.
ALTER TABLE workflow_cases ADD COLUMN group_complaint BIGINT NOT NULL DEFAULT 0;
ALTER TABLE workflow_cases ADD COLUMN legacy BIGINT NOT NULL DEFAULT 0;

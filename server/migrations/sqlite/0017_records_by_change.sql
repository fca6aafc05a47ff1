-- The records changed last (the city screen's latest changes), newest first, without a scan.
CREATE INDEX records_updated ON records (updated_at);

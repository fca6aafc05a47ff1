-- Which records reference which blobs (their attachments), kept with the record's row by every
-- write: a blob is read by whoever may read one of the records that reference it.
CREATE TABLE record_attachments (
    sha256 TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (sha256, record_id)
);
CREATE INDEX record_attachments_by_record ON record_attachments (record_id);

-- Who sent a blob's first bytes: until a record references it, only they may read or resume it,
-- and it counts against their upload quota.
ALTER TABLE blobs ADD COLUMN uploaded_by TEXT;

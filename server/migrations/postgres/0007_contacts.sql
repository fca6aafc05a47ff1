-- Complainants' contact details (name, phone), kept out of the replicated documents: sealed
-- for the server's contact key as the phone or the intake sealed them (libsodium sealed box),
-- so they are encrypted at rest with a key from the configuration, not the database.
CREATE TABLE complainant_contacts (
    record_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    written_by TEXT NOT NULL,
    written_at BIGINT NOT NULL
);

-- Every time someone read or wrote a complainant's contact details: who, in which role, when,
-- which case. Written in the same transaction as the read or write it records.
CREATE TABLE contact_access (
    id BIGSERIAL PRIMARY KEY,
    record_id TEXT NOT NULL,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX contact_access_by_record ON contact_access (record_id, at);

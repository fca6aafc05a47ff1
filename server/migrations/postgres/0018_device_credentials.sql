-- Long-lived credentials bound to one device of an account, so a phone back from days offline
-- gets a fresh token without its user typing a password. Each is good for one refresh: the
-- refresh rotates it (rotated_at) and its successor names it (parent_hash). Stored as SHA-256
-- hashes, like tokens.
CREATE TABLE device_credentials (
    credential_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device TEXT NOT NULL,
    parent_hash TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX device_credentials_device ON device_credentials (user_id, device);
CREATE INDEX device_credentials_parent ON device_credentials (parent_hash);

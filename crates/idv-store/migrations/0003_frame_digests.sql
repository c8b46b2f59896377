-- SHA-256 of every liveness camera frame a transaction submitted, so a frame replayed in another transaction (a
-- previous session's frames re-MACed under a new device credential) is recognised and refused. A digest is a
-- one-way hash of the frame bytes, not biometric data: no image or face feature can be recovered from it, so it is
-- stored plain, unlike everything sealed under a transaction's data key. Rows outlive shredding of their
-- transaction (they still protect other sessions) and are purged once expired.
CREATE TABLE frame_digests (
    digest BLOB PRIMARY KEY CHECK (length(digest) = 32),
    transaction_id TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX frame_digests_expiry ON frame_digests(expires_at);

-- The merchant console (docs/console.md): users of a merchant, their server-side sessions and failed logins
-- (all in the database, so any number of server instances share them), a searchable index of the transactions,
-- the review decisions and each merchant's review-queue rule.
--
-- A password is stored as its Argon2id PHC string; a session as the SHA-256 of its cookie token, so a copy of
-- this file opens no session.
CREATE TABLE console_users (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'reviewer')),
    created_at INTEGER NOT NULL
);
CREATE TABLE console_sessions (
    token_hash BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id TEXT NOT NULL REFERENCES console_users(id),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);
-- One row per failed login, per throttling key (the user name, the client address); purged once old.
CREATE TABLE console_login_failures (
    key TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX console_login_failures_key ON console_login_failures(key, at);
CREATE INDEX console_login_failures_at ON console_login_failures(at);
-- What the console filters on that is sealed in the transaction row: the verdict's outcome, SubCode and face
-- score, and a keyed hash of the MerchantUserId (never the id itself). Written by the server's indexer for
-- every transaction, rewritten once it is final; kept when the evidence is deleted (as the decision is).
CREATE TABLE console_index (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions(id),
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    final INTEGER NOT NULL,
    passed INTEGER,
    sub_code TEXT,
    user_tag BLOB,
    face_score REAL,
    face_threshold REAL,
    soft_failure INTEGER NOT NULL
);
CREATE INDEX console_index_user ON console_index(merchant_id, user_tag);
CREATE INDEX console_index_open ON console_index(final) WHERE final = 0;
-- How far the indexer got: the highest transactions rowid it has indexed.
CREATE TABLE console_index_mark (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_rowid INTEGER NOT NULL
);
INSERT INTO console_index_mark (id, last_rowid) VALUES (1, 0);
-- A reviewer's decision, once per transaction; the reason is sealed under the transaction's data key.
CREATE TABLE console_reviews (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions(id),
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    user_id TEXT NOT NULL REFERENCES console_users(id),
    decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason_sealed BLOB NOT NULL,
    at INTEGER NOT NULL
);
-- Which transactions a merchant's review queue holds (no row: the default rule).
CREATE TABLE console_review_rules (
    merchant_id TEXT PRIMARY KEY REFERENCES merchants(id),
    face_band REAL NOT NULL,
    soft_failures INTEGER NOT NULL,
    all_failures INTEGER NOT NULL
);

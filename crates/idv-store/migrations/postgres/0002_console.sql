-- The merchant console (docs/console.md), as SQLite's 0010_console.sql: users, sessions and failed logins, the
-- transactions' search index, reviews and review rules. Flags are integers (0/1) as in SQLite, so both backends
-- read the same rows; scores are double precision.
CREATE TABLE console_users (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'reviewer')),
    created_at BIGINT NOT NULL
);
CREATE TABLE console_sessions (
    token_hash BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id TEXT NOT NULL REFERENCES console_users(id),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);
CREATE TABLE console_login_failures (
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX console_login_failures_key ON console_login_failures(key, at);
CREATE INDEX console_login_failures_at ON console_login_failures(at);
CREATE TABLE console_index (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions(id),
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    final BIGINT NOT NULL,
    passed BIGINT,
    sub_code TEXT,
    user_tag BYTEA,
    face_score DOUBLE PRECISION,
    face_threshold DOUBLE PRECISION,
    soft_failure BIGINT NOT NULL
);
CREATE INDEX console_index_user ON console_index(merchant_id, user_tag);
CREATE INDEX console_index_open ON console_index(final) WHERE final = 0;
-- Which transactions the indexer has not seen (SQLite follows its rowids instead; here concurrent instances
-- commit out of id order). The partial index holds only the unseen ones.
ALTER TABLE transactions ADD COLUMN console_indexed BIGINT NOT NULL DEFAULT 0;
CREATE INDEX transactions_unindexed ON transactions(created_at, id) WHERE console_indexed = 0;
CREATE TABLE console_reviews (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions(id),
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    user_id TEXT NOT NULL REFERENCES console_users(id),
    decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason_sealed BYTEA NOT NULL,
    at BIGINT NOT NULL
);
CREATE TABLE console_review_rules (
    merchant_id TEXT PRIMARY KEY REFERENCES merchants(id),
    face_band DOUBLE PRECISION NOT NULL,
    soft_failures BIGINT NOT NULL,
    all_failures BIGINT NOT NULL
);

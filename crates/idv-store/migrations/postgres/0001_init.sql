-- The PostgreSQL schema: the SQLite migrations 0001-0009 in one, in PostgreSQL's types (BYTEA for sealed values,
-- BIGINT for times and counters), plus the tables several instances need in common (shared rate-limit buckets and
-- leases for work only one instance may do at a time). As in SQLite, secrets, transaction options, verdicts and
-- images are sealed before they reach this schema; only identifiers, states and timestamps are stored in the
-- clear, because queries need them.
CREATE TABLE meta (
    k TEXT PRIMARY KEY,
    v BYTEA NOT NULL
);

CREATE TABLE merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    created_at BIGINT NOT NULL,
    retention_s BIGINT,
    callback_secret_sealed BYTEA
);

CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    secret_sealed BYTEA NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);
CREATE INDEX access_keys_merchant ON access_keys(merchant_id);

CREATE TABLE nonces (
    access_key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
);
CREATE INDEX nonces_expiry ON nonces(expires_at);

CREATE TABLE transactions (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    merchant_biz_id TEXT NOT NULL,
    product TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('initialized', 'in_progress', 'completed', 'failed', 'expired', 'cancelled')),
    dek_wrapped BYTEA,
    key_epoch TEXT,
    options_sealed BYTEA NOT NULL,
    device_secret_sealed BYTEA NOT NULL,
    verdict_sealed BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    finished_at BIGINT,
    decision_passed BIGINT,
    decision_sub_code TEXT,
    deleted TEXT CHECK (deleted IN ('images', 'text', 'all')),
    deleted_at BIGINT,
    delete_after_query TEXT CHECK (delete_after_query IN ('images', 'text', 'all'))
);
CREATE INDEX transactions_merchant ON transactions(merchant_id, created_at);
CREATE INDEX transactions_open ON transactions(state, expires_at);
CREATE INDEX transactions_retention ON transactions(finished_at) WHERE deleted IS DISTINCT FROM 'all';
CREATE INDEX transactions_epoch ON transactions(key_epoch) WHERE dek_wrapped IS NOT NULL;

-- `seq` orders blobs of one kind written in the same second (SQLite's rowid).
CREATE TABLE blobs (
    id TEXT PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    transaction_id TEXT NOT NULL REFERENCES transactions(id),
    kind TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX blobs_transaction ON blobs(transaction_id);

CREATE TABLE device_sessions (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions(id),
    session_id TEXT NOT NULL,
    state_sealed BYTEA NOT NULL,
    version BIGINT NOT NULL,
    last_request_hash TEXT,
    last_response_sealed BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    claim_round BIGINT,
    claim_until BIGINT
);

CREATE TABLE rounds (
    transaction_id TEXT NOT NULL REFERENCES transactions(id),
    round BIGINT NOT NULL,
    step TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, round)
);

CREATE TABLE frame_digests (
    digest BYTEA PRIMARY KEY CHECK (length(digest) = 32),
    transaction_id TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX frame_digests_expiry ON frame_digests(expires_at);

CREATE TABLE capture_fingerprints (
    transaction_id TEXT NOT NULL,
    digest BYTEA NOT NULL CHECK (length(digest) = 32),
    fingerprint BYTEA NOT NULL,
    seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, digest)
);
CREATE INDEX capture_fingerprints_expiry ON capture_fingerprints(expires_at);

CREATE TABLE capture_hash_bands (
    band_key BIGINT NOT NULL,
    transaction_id TEXT NOT NULL,
    hash BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (band_key, transaction_id, hash)
);
CREATE INDEX capture_hash_bands_expiry ON capture_hash_bands(expires_at);

CREATE TABLE callback_outbox (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions(id),
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    request_sealed BYTEA NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX callback_outbox_due ON callback_outbox(state, next_attempt_at);
CREATE TABLE callback_attempts (
    transaction_id TEXT NOT NULL REFERENCES callback_outbox(transaction_id),
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    PRIMARY KEY (transaction_id, attempt)
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    transaction_id TEXT,
    merchant_id TEXT,
    detail TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE face_groups (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    -- Raised with every face added or deleted (`Store::face_group_state`).
    version BIGINT NOT NULL DEFAULT 0,
    UNIQUE (merchant_id, code)
);
CREATE TABLE face_records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    group_id BIGINT NOT NULL REFERENCES face_groups(id),
    face_id TEXT NOT NULL UNIQUE,
    merchant_user_id TEXT NOT NULL,
    registration_type TEXT NOT NULL CHECK (registration_type IN ('MANUAL', 'AUTO')),
    dek_wrapped BYTEA NOT NULL,
    key_epoch TEXT,
    embedding_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retain_until BIGINT NOT NULL,
    UNIQUE (group_id, merchant_user_id)
);
CREATE INDEX face_records_group ON face_records(group_id, id);
CREATE INDEX face_records_retention ON face_records(retain_until);

-- Token buckets every instance draws from (per AccessKey, per device transaction): `tokens` as of `updated_ms`.
CREATE TABLE rate_buckets (
    key TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX rate_buckets_updated ON rate_buckets(updated_ms);

-- Work one instance does at a time (the housekeeping sweep): the holder and until when.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_at BIGINT NOT NULL
);

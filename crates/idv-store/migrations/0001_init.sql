-- Secrets, transaction options, verdicts and images are sealed (AES-256-GCM) before they reach this schema;
-- only identifiers, states and timestamps are stored in the clear, because queries need them.
CREATE TABLE meta (
    k TEXT PRIMARY KEY,
    v BLOB NOT NULL
);

CREATE TABLE merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    created_at INTEGER NOT NULL
);

CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    secret_sealed BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    created_at INTEGER NOT NULL,
    disabled_at INTEGER
);
CREATE INDEX access_keys_merchant ON access_keys(merchant_id);

-- One row per accepted signature nonce, kept until the request's timestamp could no longer pass the clock check.
CREATE TABLE nonces (
    access_key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
) WITHOUT ROWID;
CREATE INDEX nonces_expiry ON nonces(expires_at);

CREATE TABLE transactions (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    merchant_biz_id TEXT NOT NULL,
    product TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('initialized', 'in_progress', 'completed', 'failed', 'expired', 'cancelled')),
    -- The transaction's data key, wrapped by the master key. NULL once shredded: everything below becomes unreadable.
    dek_wrapped BLOB,
    options_sealed BLOB NOT NULL,
    device_secret_sealed BLOB NOT NULL,
    verdict_sealed BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX transactions_merchant ON transactions(merchant_id, created_at);
CREATE INDEX transactions_open ON transactions(state, expires_at);

CREATE TABLE blobs (
    id TEXT PRIMARY KEY,
    transaction_id TEXT NOT NULL REFERENCES transactions(id),
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX blobs_transaction ON blobs(transaction_id);

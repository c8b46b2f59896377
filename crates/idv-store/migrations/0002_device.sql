-- One device session per transaction: the first device to start binds the transaction to itself. The flow state
-- (current step, round, nonce, attempts, evidence references) is sealed under the transaction's data key.
CREATE TABLE device_sessions (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions(id),
    session_id TEXT NOT NULL,
    state_sealed BLOB NOT NULL,
    -- Optimistic concurrency: every update names the version it read.
    version INTEGER NOT NULL,
    -- The last accepted round request's hash and the answer given, so an exact resend (a retry after a lost
    -- response) gets the same answer instead of being refused or processed twice.
    last_request_hash TEXT,
    last_response_sealed BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Every acknowledged round, for audit and for resuming after a restart.
CREATE TABLE rounds (
    transaction_id TEXT NOT NULL REFERENCES transactions(id),
    round INTEGER NOT NULL,
    step TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail_sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (transaction_id, round)
);

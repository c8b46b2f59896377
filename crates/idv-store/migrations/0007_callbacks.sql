-- The CallbackUrl outbox: one row per transaction that asked for a callback, written at Initialize, so a callback
-- is owed from the moment the transaction exists and survives any restart. The delivery worker sends it once the
-- transaction is final. The request (URL with its query, which holds the callbackToken) is sealed; states and
-- times are clear for the queries. Every attempt is logged; a callback that cannot be delivered in time ends
-- 'dead', for the operator (`idv admin callbacks`).
CREATE TABLE callback_outbox (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions(id),
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    request_sealed BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX callback_outbox_due ON callback_outbox(state, next_attempt_at);
CREATE TABLE callback_attempts (
    transaction_id TEXT NOT NULL REFERENCES callback_outbox(transaction_id),
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    -- The HTTP status the merchant answered, or NULL when no answer came (the error says why).
    status INTEGER,
    error TEXT,
    PRIMARY KEY (transaction_id, attempt)
);
-- The key each merchant's callbacks are signed with (sealed like AccessKey secrets), created on first use.
ALTER TABLE merchants ADD COLUMN callback_secret_sealed BLOB;

-- The audit log: every transaction state change and every read of sensitive data, who (an AccessKey id or
-- admin/device/system/web), what and when. Entries hold ids only, never personal data. Each entry's hash covers
-- the previous entry's hash (genesis: 32 zero bytes) and its own fields (`idv_store::audit_hash`), so any edit,
-- insertion or removal breaks the chain. Entries are never updated or deleted, retention included: the triggers
-- refuse it.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    transaction_id TEXT,
    merchant_id TEXT,
    detail TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

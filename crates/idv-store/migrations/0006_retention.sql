-- Retention and deletion. A merchant's retention (NULL: the server's default). Per transaction: the key epoch
-- whose key wraps its data key (NULL: the master-derived key of transactions created before epochs), the minimal
-- decision record kept in the clear once the evidence is deleted (not personal data: pass/fail and a SubCode),
-- what was deleted and when, and a deletion the merchant asked for after its next CheckResult.
ALTER TABLE merchants ADD COLUMN retention_s INTEGER;
ALTER TABLE transactions ADD COLUMN key_epoch TEXT;
ALTER TABLE transactions ADD COLUMN decision_passed INTEGER;
ALTER TABLE transactions ADD COLUMN decision_sub_code TEXT;
ALTER TABLE transactions ADD COLUMN deleted TEXT CHECK (deleted IN ('images', 'text', 'all'));
ALTER TABLE transactions ADD COLUMN deleted_at INTEGER;
ALTER TABLE transactions ADD COLUMN delete_after_query TEXT CHECK (delete_after_query IN ('images', 'text', 'all'));
CREATE INDEX transactions_retention ON transactions(finished_at) WHERE deleted IS NOT 'all';
CREATE INDEX transactions_epoch ON transactions(key_epoch) WHERE dek_wrapped IS NOT NULL;

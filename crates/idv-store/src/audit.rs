//! The audit log's hash chain: pure functions, so the CLI verifies exactly what the store computes.
//!
//! Entry `n`'s hash is SHA-256 over, in order: the previous entry's hash (32 zero bytes for the first), `seq`,
//! `at`, `actor`, `action`, `transaction_id` (or ""), `merchant_id` (or ""), `detail`. Integers are 8 bytes
//! big-endian; every string is preceded by its byte length (8 bytes big-endian), so no two different entries
//! feed the hash the same bytes. The chain never has holes: entries are never deleted, retention included.

use sha2::{Digest, Sha256};

use crate::{AuditEntry, NewAuditEntry};

/// The `prev_hash` of the first entry.
pub const AUDIT_GENESIS: [u8; 32] = [0; 32];

/// The hash of entry `seq`, chained to `prev`.
pub fn audit_hash(prev: &[u8; 32], seq: i64, e: &NewAuditEntry) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"idv-audit-v1");
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(e.at.to_be_bytes());
    for field in [e.actor, e.action, e.transaction_id.unwrap_or(""), e.merchant_id.unwrap_or(""), e.detail] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

/// Where and why a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {seq}: {why}")]
pub struct ChainBreak {
    /// The first entry that does not verify.
    pub seq: i64,
    pub why: String,
}

/// Checks a whole chain from its first entry (seq 1, genesis prev_hash); returns how many entries it has.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<usize, ChainBreak> {
    let mut verifier = ChainVerifier::default();
    for e in entries {
        verifier.push(e)?;
    }
    Ok(verifier.count())
}

/// [`verify_chain`] a page at a time: feed every entry in order.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    last_seq: i64,
    last_hash: [u8; 32],
    count: usize,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier { last_seq: 0, last_hash: AUDIT_GENESIS, count: 0 }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), ChainBreak> {
        let brk = |why: String| Err(ChainBreak { seq: e.seq, why });
        if e.seq != self.last_seq + 1 {
            return brk(format!("seq gap: expected seq {}, found {}", self.last_seq + 1, e.seq));
        }
        if e.prev_hash != self.last_hash {
            return brk("previous-hash mismatch: prev_hash is not the hash of the entry before".into());
        }
        if audit_hash(&e.prev_hash, e.seq, &e.as_new()) != e.hash {
            return brk("hash mismatch: the entry's fields do not give its stored hash".into());
        }
        self.last_seq = e.seq;
        self.last_hash = e.hash;
        self.count += 1;
        Ok(())
    }

    /// Entries verified so far.
    pub fn count(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = AUDIT_GENESIS;
        (1..=n)
            .map(|seq| {
                let detail = format!("{{\"n\":{seq}}}");
                let new = NewAuditEntry {
                    at: 100 + seq,
                    actor: "system",
                    action: "transaction.expired",
                    transaction_id: Some("t"),
                    merchant_id: None,
                    detail: &detail,
                };
                let hash = audit_hash(&prev, seq, &new);
                let e = AuditEntry {
                    seq,
                    at: new.at,
                    actor: new.actor.into(),
                    action: new.action.into(),
                    transaction_id: new.transaction_id.map(Into::into),
                    merchant_id: None,
                    detail,
                    prev_hash: prev,
                    hash,
                };
                prev = hash;
                e
            })
            .collect()
    }

    #[test]
    fn fields_are_length_prefixed() {
        let a =
            NewAuditEntry { at: 1, actor: "ab", action: "c", transaction_id: None, merchant_id: None, detail: "{}" };
        let b = NewAuditEntry { actor: "a", action: "bc", ..a };
        let c = NewAuditEntry { transaction_id: Some(""), ..a };
        assert_ne!(audit_hash(&AUDIT_GENESIS, 1, &a), audit_hash(&AUDIT_GENESIS, 1, &b));
        // An absent id and an empty one are the same to the hash, as the rule says ("" when absent).
        assert_eq!(audit_hash(&AUDIT_GENESIS, 1, &a), audit_hash(&AUDIT_GENESIS, 1, &c));
        assert_ne!(audit_hash(&AUDIT_GENESIS, 1, &a), audit_hash(&AUDIT_GENESIS, 2, &a));
    }

    #[test]
    fn an_intact_chain_verifies_and_each_break_is_named() {
        assert_eq!(verify_chain(&chain(5)), Ok(5));
        assert_eq!(verify_chain(&[]), Ok(0));

        let mut edited = chain(5);
        edited[2].detail = "{\"n\":0}".into();
        let b = verify_chain(&edited).unwrap_err();
        assert_eq!(b.seq, 3);
        assert!(b.why.starts_with("hash mismatch"), "{b}");

        let mut gap = chain(5);
        gap.remove(1);
        let b = verify_chain(&gap).unwrap_err();
        assert_eq!(b.seq, 3);
        assert!(b.why.starts_with("seq gap"), "{b}");

        let mut rehashed = chain(5);
        rehashed[3].prev_hash = [1; 32];
        let b = verify_chain(&rehashed).unwrap_err();
        assert_eq!(b.seq, 4);
        assert!(b.why.starts_with("previous-hash mismatch"), "{b}");
    }
}

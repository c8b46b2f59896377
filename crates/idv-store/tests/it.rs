//! Storage tests against a real SQLite file in a fresh directory.

use idv_crypto::Key;
use idv_store::*;
use zeroize::Zeroizing;

async fn fresh() -> (tempfile::TempDir, SqliteStore, Key) {
    let dir = tempfile::tempdir().unwrap();
    let (key, src) = load_master_key(dir.path(), None).unwrap();
    assert_eq!(src, MasterKeySource::Generated);
    let store = SqliteStore::open(dir.path(), &key).await.unwrap();
    (dir, store, key)
}

fn new_tx(id: &str, merchant: &str) -> NewTransaction {
    NewTransaction {
        id: id.into(),
        merchant_id: merchant.into(),
        merchant_biz_id: "biz1".into(),
        product: "eKYC".into(),
        options: b"{\"opt\":1}".to_vec(),
        device_secret: Zeroizing::new(vec![7; 32]),
        created_at: 1000,
        expires_at: 2800,
    }
}

#[tokio::test]
async fn merchants_and_keys() {
    let (dir, store, key) = fresh().await;
    let m = store.create_merchant("Acme").await.unwrap();
    let (k, secret) = store.create_access_key(&m.id).await.unwrap();
    assert_eq!(k.id.len(), 24);
    assert_eq!(secret.len(), 30);
    let auth = store.access_key_for_auth(&k.id).await.unwrap().unwrap();
    assert_eq!(*auth.secret, *secret);
    assert_eq!(auth.merchant.id, m.id);
    assert!(store.set_access_key_enabled(&k.id, false).await.unwrap());
    assert!(!store.access_key_for_auth(&k.id).await.unwrap().unwrap().key.enabled);
    assert!(!store.set_access_key_enabled("nope", false).await.unwrap());
    assert!(store.access_key_for_auth("nope").await.unwrap().is_none());
    assert!(matches!(store.create_access_key("mch_missing").await, Err(StoreError::NotFound(_))));

    // The secret is not in the database file in the clear.
    drop(store);
    let db = std::fs::read(dir.path().join("idv.sqlite3")).unwrap();
    let wal = std::fs::read(dir.path().join("idv.sqlite3-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "secret stored in the clear");
    }
    // Reopening with the same key works; with another key it is refused at start.
    let (again, src) = load_master_key(dir.path(), None).unwrap();
    assert_eq!(src, MasterKeySource::File);
    assert_eq!(again.as_bytes(), key.as_bytes());
    SqliteStore::open(dir.path(), &key).await.unwrap();
    let wrong = SqliteStore::open(dir.path(), &Key::random()).await;
    assert!(matches!(wrong, Err(StoreError::Config(_))), "a wrong master key must be refused");
}

#[tokio::test]
async fn nonces_are_single_use_until_expiry() {
    let (_dir, store, _) = fresh().await;
    let far = i64::MAX / 2;
    assert!(store.consume_nonce("k1", "n1", far).await.unwrap());
    assert!(!store.consume_nonce("k1", "n1", far).await.unwrap());
    assert!(store.consume_nonce("k2", "n1", far).await.unwrap(), "nonces are per key");
    assert!(store.consume_nonce("k1", "old", 1).await.unwrap());
    assert!(store.consume_nonce("k1", "old", far).await.unwrap(), "an expired nonce row does not block");
    assert_eq!(store.purge_expired_nonces(far + 1).await.unwrap(), 3);
}

#[tokio::test]
async fn transactions_are_scoped_sealed_and_transition_once() {
    let (_dir, store, _) = fresh().await;
    let a = store.create_merchant("A").await.unwrap();
    let b = store.create_merchant("B").await.unwrap();
    let tid = "0123456789abcdef0123456789abcdef";
    store.create_transaction(new_tx(tid, &a.id)).await.unwrap();
    assert!(store.get_transaction(&b.id, tid).await.unwrap().is_none(), "other merchant sees nothing");
    let t = store.get_transaction(&a.id, tid).await.unwrap().unwrap();
    assert_eq!(t.state, TxState::Initialized);
    assert_eq!(&t.options.unwrap()[..], b"{\"opt\":1}");
    assert_eq!(&t.device_secret.unwrap()[..], &[7; 32]);

    assert!(store.transition(tid, TxState::OPEN, TxState::InProgress, None, 1100).await.unwrap());
    assert!(store.transition(tid, TxState::OPEN, TxState::Completed, Some(b"verdict"), 1200).await.unwrap());
    assert!(
        !store.transition(tid, TxState::OPEN, TxState::Expired, Some(b"late"), 1300).await.unwrap(),
        "final states are final"
    );
    let t = store.get_transaction(&a.id, tid).await.unwrap().unwrap();
    assert_eq!(t.state, TxState::Completed);
    assert_eq!(&t.verdict.unwrap()[..], b"verdict");
    assert_eq!(t.finished_at, Some(1200));
}

#[tokio::test]
async fn blobs_roundtrip_and_shredding_destroys_everything() {
    let (dir, store, _) = fresh().await;
    let a = store.create_merchant("A").await.unwrap();
    let tid = "fedcba9876543210fedcba9876543210";
    store.create_transaction(new_tx(tid, &a.id)).await.unwrap();
    let image = b"\xff\xd8 pretend jpeg with a recognisable marker MARKER-1234".to_vec();
    let blob = store.put_blob(tid, "face", &image).await.unwrap();
    assert_eq!(store.get_blob(tid, &blob).await.unwrap(), image);
    assert!(store.get_blob("00000000000000000000000000000000", &blob).await.is_err(), "blob bound to its transaction");
    let on_disk = std::fs::read(dir.path().join("blobs").join(&tid[..2]).join(&blob)).unwrap();
    assert!(!on_disk.windows(11).any(|w| w == b"MARKER-1234"), "blob stored in the clear");

    store.shred_transaction(tid).await.unwrap();
    let t = store.get_transaction(&a.id, tid).await.unwrap().unwrap();
    assert!(t.options.is_none() && t.device_secret.is_none() && t.verdict.is_none());
    assert!(store.get_blob(tid, &blob).await.is_err());
    assert!(!dir.path().join("blobs").join(&tid[..2]).join(&blob).exists());
}

#[tokio::test]
async fn env_master_key_is_used_and_validated() {
    let dir = tempfile::tempdir().unwrap();
    let k = Key::random();
    let (got, src) = load_master_key(dir.path(), Some(&k.to_hex())).unwrap();
    assert_eq!(src, MasterKeySource::Environment);
    assert_eq!(got.as_bytes(), k.as_bytes());
    assert!(!dir.path().join("master.key").exists());
    assert!(load_master_key(dir.path(), Some("short")).is_err());
}

#[tokio::test]
async fn device_sessions_bind_once_and_rounds_are_atomic_with_the_verdict() {
    let (_dir, store, _) = fresh().await;
    let a = store.create_merchant("A").await.unwrap();
    let tid = "00112233445566778899aabbccddeeff";
    let mut t = new_tx(tid, &a.id);
    t.expires_at = i64::MAX / 2;
    store.create_transaction(t).await.unwrap();
    assert!(store.get_device_session(tid).await.unwrap().is_none());
    assert!(store.start_device_session(tid, "s1", b"state0", 10).await.unwrap());
    assert!(!store.start_device_session(tid, "s2", b"other", 11).await.unwrap(), "one device session per transaction");
    let tx = store.get_transaction_for_device(tid).await.unwrap().unwrap();
    assert_eq!(tx.state, TxState::InProgress);
    let s = store.get_device_session(tid).await.unwrap().unwrap();
    assert_eq!((s.session_id.as_str(), &s.state[..], s.version), ("s1", &b"state0"[..], 1));

    let round = |n: u32, finish| RoundUpdate {
        state: b"state1",
        round: n,
        step: "DOC_FRONT",
        outcome: "next",
        detail: b"{}",
        request_hash: "h1",
        response: b"resp1",
        finish,
        now: 20,
    };
    assert!(store.save_round(tid, 1, round(1, None)).await.unwrap());
    assert!(!store.save_round(tid, 1, round(2, None)).await.unwrap(), "a stale version loses");
    let s = store.get_device_session(tid).await.unwrap().unwrap();
    assert_eq!(
        (s.version, s.last_request_hash.as_deref(), s.last_response.as_deref().map(|r| &r[..])),
        (2, Some("h1"), Some(&b"resp1"[..]))
    );
    assert!(store.save_round(tid, 2, round(2, Some((TxState::Completed, b"verdict")))).await.unwrap());
    let tx = store.get_transaction(&a.id, tid).await.unwrap().unwrap();
    assert_eq!(tx.state, TxState::Completed);
    assert_eq!(&tx.verdict.unwrap()[..], b"verdict");
    assert!(!store.save_round(tid, 3, round(3, None)).await.unwrap(), "a closed transaction takes no more rounds");

    // An expired transaction cannot be started.
    let late = "ffeeddccbbaa99887766554433221100";
    store.create_transaction(new_tx(late, &a.id)).await.unwrap();
    assert!(!store.start_device_session(late, "s", b"x", 5000).await.unwrap());
}

/// A distinct stand-in for a frame's SHA-256.
fn digest(n: u32) -> [u8; 32] {
    let mut d = [0xa5; 32];
    d[..4].copy_from_slice(&n.to_be_bytes());
    d
}

#[tokio::test]
async fn frame_digests_belong_to_one_transaction() {
    let (_dir, store, _) = fresh().await;
    let far = i64::MAX / 2;
    let (d1, d2, d3, d4, d5, d6) = (digest(1), digest(2), digest(3), digest(4), digest(5), digest(6));
    assert_eq!(store.register_frame_digests("tx_a", &[d1, d2, d3], 10, far).await.unwrap(), None);
    assert_eq!(store.register_frame_digests("tx_a", &[d1, d2, d3], 11, far).await.unwrap(), None, "resend is fine");
    assert_eq!(store.register_frame_digests("tx_a", &[d3, d4, d4], 12, far).await.unwrap(), None, "partial resend");

    // One replayed frame is enough to name the transaction it came from.
    assert_eq!(store.register_frame_digests("tx_b", &[d5, d6, d1], 13, far).await.unwrap().as_deref(), Some("tx_a"));
    assert_eq!(store.register_frame_digests("tx_b", &[d4], 13, far).await.unwrap().as_deref(), Some("tx_a"));
    // ... and nothing of the refused call was registered: a third transaction can still claim d5 and d6.
    assert_eq!(store.register_frame_digests("tx_c", &[d5, d6], 14, far).await.unwrap(), None);
    assert_eq!(store.register_frame_digests("tx_b", &[d6], 15, far).await.unwrap().as_deref(), Some("tx_c"));
    assert_eq!(store.register_frame_digests("tx_b", &[], 15, far).await.unwrap(), None);

    // Shredding a transaction keeps its digests: they still protect other sessions.
    let m = store.create_merchant("A").await.unwrap();
    let tid = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";
    store.create_transaction(new_tx(tid, &m.id)).await.unwrap();
    assert_eq!(store.register_frame_digests(tid, &[digest(7)], 16, far).await.unwrap(), None);
    store.shred_transaction(tid).await.unwrap();
    assert_eq!(store.register_frame_digests("tx_d", &[digest(7)], 17, far).await.unwrap().as_deref(), Some(tid));
}

#[tokio::test]
async fn frame_digests_expire_and_are_purged() {
    let (_dir, store, _) = fresh().await;
    let (d1, d2, d3) = (digest(1), digest(2), digest(3));
    assert_eq!(store.register_frame_digests("tx_a", &[d1, d2], 100, 200).await.unwrap(), None);
    assert_eq!(store.register_frame_digests("tx_a", &[d3], 100, 300).await.unwrap(), None);
    assert_eq!(store.register_frame_digests("tx_b", &[d1], 199, 400).await.unwrap().as_deref(), Some("tx_a"));

    // Expired but not yet purged: blocks nothing, and the new transaction takes it over.
    assert_eq!(store.register_frame_digests("tx_b", &[d1], 200, 400).await.unwrap(), None);
    assert_eq!(store.register_frame_digests("tx_c", &[d1], 201, 400).await.unwrap().as_deref(), Some("tx_b"));

    assert_eq!(store.purge_expired_frame_digests(199).await.unwrap(), 0);
    assert_eq!(store.purge_expired_frame_digests(300).await.unwrap(), 2, "d2 (expired at 200) and d3 (at 300)");
    assert_eq!(store.purge_expired_frame_digests(300).await.unwrap(), 0);
    assert_eq!(store.register_frame_digests("tx_c", &[d1], 399, 500).await.unwrap().as_deref(), Some("tx_b"));
    assert_eq!(store.purge_expired_frame_digests(400).await.unwrap(), 1);
    assert_eq!(
        store.register_frame_digests("tx_c", &[d1, d2, d3], 100, 500).await.unwrap(),
        None,
        "purged rows are gone"
    );
}

#[tokio::test]
async fn frame_digests_per_call_are_bounded() {
    let (_dir, store, _) = fresh().await;
    let far = i64::MAX / 2;
    let too_many: Vec<[u8; 32]> = (0..=MAX_FRAME_DIGESTS_PER_CALL as u32).map(digest).collect();
    assert_eq!(too_many.len(), 257);
    let refused = store.register_frame_digests("tx_a", &too_many, 10, far).await;
    assert!(matches!(refused, Err(StoreError::InvalidInput(_))), "{refused:?}");
    // Nothing of the refused call was registered, and exactly the maximum is accepted.
    assert_eq!(store.register_frame_digests("tx_b", &too_many[..256], 11, far).await.unwrap(), None);
    assert_eq!(store.register_frame_digests("tx_a", &too_many[256..], 12, far).await.unwrap(), None);
    assert_eq!(store.register_frame_digests("tx_a", &too_many[255..], 13, far).await.unwrap().as_deref(), Some("tx_b"));
}

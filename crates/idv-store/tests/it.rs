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

//! The data directory: where the master key comes from, and that a directory only opens with its own key.

use idv_crypto::Key;
use idv_store::{MasterKeySource, SqliteStore, Store, StoreError, load_master_key};

use crate::NOW;

#[test]
fn a_generated_master_key_is_written_once_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (key, src) = load_master_key(dir.path(), None).unwrap();
    assert_eq!(src, MasterKeySource::Generated);
    let text = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    assert_eq!(text, format!("{}\n", &*key.to_hex()));
    let (again, src) = load_master_key(dir.path(), None).unwrap();
    assert_eq!(src, MasterKeySource::File);
    assert_eq!(again.as_bytes(), key.as_bytes());
}

#[cfg(unix)]
#[test]
fn the_master_key_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    load_master_key(dir.path(), None).unwrap();
    let mode = std::fs::metadata(dir.path().join("master.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
}

#[test]
fn processes_starting_at_once_on_an_empty_directory_agree_on_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..8).map(|_| s.spawn(|| load_master_key(dir.path(), None).unwrap().0.as_bytes().to_vec())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "every starter ends up with the same key");
}

#[test]
fn an_environment_master_key_is_used_and_validated() {
    let dir = tempfile::tempdir().unwrap();
    let k = Key::random();
    let (got, src) = load_master_key(dir.path(), Some(&k.to_hex())).unwrap();
    assert_eq!(src, MasterKeySource::Environment);
    assert_eq!(got.as_bytes(), k.as_bytes());
    assert!(!dir.path().join("master.key").exists(), "an environment key is never written down");
    assert!(matches!(load_master_key(dir.path(), Some("short")), Err(StoreError::Config(_))));
}

#[test]
fn a_damaged_master_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("master.key"), "not hex\n").unwrap();
    assert!(matches!(load_master_key(dir.path(), None), Err(StoreError::Config(_))));
}

#[tokio::test]
async fn a_directory_opens_only_with_its_own_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested").join("data");
    let (key, _) = load_master_key(&data, None).unwrap();
    let store = SqliteStore::open(&data, &key, NOW).await.unwrap();
    let m = store.create_merchant("Acme", NOW).await.unwrap();
    drop(store);
    assert!(data.join("idv.sqlite3").is_file() && data.join("blobs").is_dir());

    let again = SqliteStore::open(&data, &key, NOW + 1).await.unwrap();
    assert_eq!(again.get_merchant(&m.id).await.unwrap(), Some(m), "the data survives a restart");
    let wrong = SqliteStore::open(&data, &Key::random(), NOW + 2).await;
    assert!(matches!(wrong, Err(StoreError::Config(_))), "a wrong master key is refused at start");
}

#[tokio::test]
async fn blobs_are_sharded_by_transaction_id() {
    let (dir, store, _) = crate::fresh().await;
    let m = store.create_merchant("Acme", NOW).await.unwrap();
    let tid = "fedcba9876543210fedcba9876543210";
    store.create_transaction(crate::sealed::transaction(tid, &m.id)).await.unwrap();
    let blob = store.put_blob(tid, "face", b"face", NOW).await.unwrap();
    assert!(dir.path().join("blobs").join("fe").join(&blob).is_file());
}

//! Sealed at rest: no secret, option, verdict, flow state or image reaches the database file or the blob
//! directory in the clear, and shredding removes the blob files.

use std::path::Path;

use idv_store::{Evidence, NewTransaction, RoundUpdate, SqliteStore, Store, TxState};
use zeroize::Zeroizing;

use crate::NOW;

pub fn transaction(id: &str, merchant: &str) -> NewTransaction {
    NewTransaction {
        id: id.into(),
        merchant_id: merchant.into(),
        merchant_biz_id: "BIZ-IN-THE-CLEAR".into(),
        product: "eKYC".into(),
        options: b"{\"name\":\"OPTIONS-MARKER\"}".to_vec(),
        device_secret: Zeroizing::new(b"DEVICE-SECRET-MARKER-0123456789a".to_vec()),
        created_at: NOW,
        expires_at: NOW + 1_800,
        retain_until: NOW + 1_800,
    }
}

/// Every byte SQLite holds for the database, whether or not the log has been checkpointed into the file.
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(dir.join("idv.sqlite3")).unwrap();
    bytes.extend(std::fs::read(dir.join("idv.sqlite3-wal")).unwrap_or_default());
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_database_holds_no_secret_in_the_clear() {
    let (dir, store, _) = crate::fresh().await;
    let m = store.create_merchant("Acme", NOW).await.unwrap();
    let (_, secret) = store.create_access_key(&m.id, NOW).await.unwrap();
    let tid = "0123456789abcdef0123456789abcdef";
    store.create_transaction(transaction(tid, &m.id)).await.unwrap();
    assert!(store.start_device_session(tid, "s1", b"FLOW-STATE-MARKER", NOW).await.unwrap());
    let update = RoundUpdate {
        state: b"FLOW-STATE-MARKER-2",
        round: 1,
        step: "FACE",
        outcome: "done",
        detail: b"ROUND-DETAIL-MARKER",
        request_hash: "h1",
        response: b"RESPONSE-MARKER",
        finish: Some((TxState::Completed, b"VERDICT-MARKER")),
        now: NOW,
    };
    assert!(store.save_round(tid, 1, update).await.unwrap());
    drop(store);

    let bytes = database_bytes(dir.path());
    assert!(contains(&bytes, b"BIZ-IN-THE-CLEAR"), "the scan sees what is stored plain");
    let secrets: [&[u8]; 7] = [
        secret.as_bytes(),
        b"OPTIONS-MARKER",
        b"DEVICE-SECRET-MARKER",
        b"FLOW-STATE-MARKER",
        b"ROUND-DETAIL-MARKER",
        b"RESPONSE-MARKER",
        b"VERDICT-MARKER",
    ];
    for s in secrets {
        assert!(!contains(&bytes, s), "{} stored in the clear", String::from_utf8_lossy(s));
    }
}

#[tokio::test]
async fn blob_files_are_sealed_and_shredding_deletes_them() {
    let (dir, store, _) = crate::fresh().await;
    let m = store.create_merchant("Acme", NOW).await.unwrap();
    let tid = "fedcba9876543210fedcba9876543210";
    store.create_transaction(transaction(tid, &m.id)).await.unwrap();
    let image = b"\xff\xd8 pretend jpeg with a recognisable marker MARKER-1234".to_vec();
    let blob = store.put_blob(tid, "face", &image, NOW).await.unwrap();
    let path = dir.path().join("blobs").join(&tid[..2]).join(&blob);
    assert!(!contains(&std::fs::read(&path).unwrap(), b"MARKER-1234"), "blob stored in the clear");

    store.delete_evidence(tid, Evidence::All, None, NOW + 1).await.unwrap();
    assert!(!path.exists(), "the sealed file is gone too, not just its key");
}

fn copy_database(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["idv.sqlite3", "idv.sqlite3-wal", "master.key"] {
        if from.join(f).exists() {
            std::fs::copy(from.join(f), to.join(f)).unwrap();
        }
    }
}

fn copy_keys(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to.join("keys"));
    std::fs::create_dir_all(to.join("keys")).unwrap();
    for e in std::fs::read_dir(from.join("keys")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join("keys").join(e.file_name())).unwrap();
    }
}

/// The backup case: a copy of the database taken before a deletion opens the deleted transaction as long as its
/// key epoch lives, and nothing of it once the sweep destroyed the epoch, even with the master key; another
/// epoch's transactions still open.
#[tokio::test]
async fn a_copy_of_the_database_opens_nothing_once_its_key_epoch_is_spent() {
    let (dir, _, key) = crate::fresh().await;
    let store = SqliteStore::open_with_key_epochs(dir.path(), &key, NOW, 10).await.unwrap();
    let m = store.create_merchant("Acme", NOW).await.unwrap();
    let (gone, kept) = ("0123456789abcdef0123456789abcd01", "0123456789abcdef0123456789abcd02");
    store
        .create_transaction(NewTransaction { expires_at: NOW + 5, retain_until: NOW + 5, ..transaction(gone, &m.id) })
        .await
        .unwrap();
    store
        .create_transaction(NewTransaction {
            expires_at: NOW + 500,
            retain_until: NOW + 500,
            ..transaction(kept, &m.id)
        })
        .await
        .unwrap();
    store.put_blob(gone, "face", b"face", NOW).await.unwrap();
    let backup = tempfile::tempdir().unwrap();
    let copy = backup.path().join("data");
    copy_database(dir.path(), &copy);

    assert!(store.delete_evidence(gone, Evidence::All, None, NOW + 6).await.unwrap());
    assert!(store.destroy_spent_key_epochs(NOW + 6).await.unwrap().is_empty(), "the epoch has not ended yet");
    // Restored now, the copy still opens the deleted transaction: the deletion does not hold in backups yet.
    copy_keys(dir.path(), &copy);
    let restored = SqliteStore::open(&copy, &key, NOW + 7).await.unwrap();
    assert!(restored.get_transaction_for_device(gone).await.unwrap().unwrap().options.is_some());
    drop(restored);

    let destroyed = store.destroy_spent_key_epochs(NOW + 10).await.unwrap();
    assert_eq!(destroyed, vec!["1000-10".to_owned()]);
    copy_keys(dir.path(), &copy);
    let restored = SqliteStore::open(&copy, &key, NOW + 11).await.unwrap();
    let tx = restored.get_transaction_for_device(gone).await.unwrap().expect("the row is in the copy");
    assert!(tx.options.is_none() && tx.device_secret.is_none(), "nothing opens once the epoch key is destroyed");
    let other = restored.get_transaction_for_device(kept).await.unwrap().unwrap();
    assert_eq!(other.options.as_deref().map(|o| &o[..]), Some(&b"{\"name\":\"OPTIONS-MARKER\"}"[..]));
    assert!(store.destroy_spent_key_epochs(NOW + 10_000).await.unwrap().is_empty(), "a live data key keeps its epoch");
}

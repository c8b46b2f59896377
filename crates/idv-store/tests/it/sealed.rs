//! Sealed at rest: no secret, option, verdict, flow state or image reaches the database file or the blob
//! directory in the clear, and shredding removes the blob files.

use std::path::Path;

use idv_store::{NewTransaction, RoundUpdate, Store, TxState};
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

    store.shred_transaction(tid, NOW + 1).await.unwrap();
    assert!(!path.exists(), "the sealed file is gone too, not just its key");
}

//! A transaction's sealed values are bound to its merchant: a row moved to another merchant by editing the
//! database file opens nothing there (nor for its first merchant, which no longer owns the row).

use std::path::Path;

use idv_crypto::CryptoError;
use idv_store::{RoundUpdate, Store, StoreError, TxState};

use crate::NOW;
use crate::sealed::transaction;

/// Rewrites a transaction's `merchant_id` column with raw SQL on the database file, the way someone with write
/// access to the file (not to the master key) could.
async fn move_to_merchant(dir: &Path, tid: &str, merchant: &str) {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("idv.sqlite3"))
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    let r = sqlx::query("UPDATE transactions SET merchant_id = ? WHERE id = ?")
        .bind(merchant)
        .bind(tid)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), 1);
    pool.close().await;
}

fn unauthentic<T>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Crypto(CryptoError::Unauthentic)) => {}
        Err(e) => panic!("expected an authentication failure, got {e}"),
        Ok(_) => panic!("a row moved to another merchant opened"),
    }
}

#[tokio::test]
async fn a_transaction_moved_to_another_merchant_opens_nothing() {
    let (dir, store, _) = crate::fresh().await;
    let a = store.create_merchant("A", NOW).await.unwrap();
    let b = store.create_merchant("B", NOW).await.unwrap();
    let tid = "00112233445566778899aabbccddeeff";
    store.create_transaction(transaction(tid, &a.id)).await.unwrap();
    assert!(store.start_device_session(tid, "s1", b"FLOW-STATE", NOW).await.unwrap());
    let blob = store.put_blob(tid, "face", b"IMAGE-OF-A", NOW).await.unwrap();
    let update = RoundUpdate {
        state: b"FLOW-STATE-2",
        round: 1,
        step: "FACE",
        outcome: "done",
        detail: b"DETAIL",
        request_hash: "h1",
        response: b"RESPONSE",
        finish: Some((TxState::Completed, b"VERDICT-OF-A")),
        now: NOW,
    };
    assert!(store.save_round(tid, 1, update).await.unwrap());
    let before = store.get_transaction(&a.id, tid).await.unwrap().unwrap();
    assert_eq!(before.verdict.as_deref().map(|v| &v[..]), Some(&b"VERDICT-OF-A"[..]));

    move_to_merchant(dir.path(), tid, &b.id).await;
    // The new owner gets an authentication failure for the row and every value sealed under its data key.
    unauthentic(store.get_transaction(&b.id, tid).await);
    unauthentic(store.get_transaction_for_device(tid).await);
    unauthentic(store.get_device_session(tid).await);
    unauthentic(store.get_blob(tid, &blob).await);
    // The first merchant no longer owns the row at all.
    assert!(store.get_transaction(&a.id, tid).await.unwrap().is_none());

    // Moved back, it opens again: the failure is the merchant binding, not damage done by the edit.
    move_to_merchant(dir.path(), tid, &a.id).await;
    let back = store.get_transaction(&a.id, tid).await.unwrap().unwrap();
    assert_eq!(back.verdict, before.verdict);
    assert_eq!(store.get_blob(tid, &blob).await.unwrap(), b"IMAGE-OF-A");
}

//! The audit log in the SQLite file: the triggers refuse edits, and an attacker who drops them and edits an entry
//! is caught by the chain at exactly that entry.

use std::path::Path;

use idv_store::{NewAuditEntry, SqliteStore, Store, verify_chain};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

async fn append_five(store: &SqliteStore) {
    for i in 0..5 {
        let detail = format!(r#"{{"state":"completed","n":{i}}}"#);
        let e = NewAuditEntry {
            at: crate::NOW + i,
            actor: "system",
            action: "transaction.finished",
            transaction_id: Some("0123456789abcdef0123456789abcdef"),
            merchant_id: Some("mch_a"),
            detail: &detail,
        };
        assert_eq!(store.append_audit(e).await.unwrap(), i + 1);
    }
}

async fn raw(dir: &Path) -> SqlitePool {
    let opts = SqliteConnectOptions::new().filename(dir.join("idv.sqlite3"));
    SqlitePool::connect_with(opts).await.unwrap()
}

#[tokio::test]
async fn the_triggers_refuse_update_and_delete() {
    let (dir, store, _) = crate::fresh().await;
    append_five(&store).await;
    let pool = raw(dir.path()).await;
    for sql in ["UPDATE audit_log SET detail = '{}' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 5"] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("audit log is append-only"), "{sql}: {err}");
    }
    pool.close().await;
    assert_eq!(verify_chain(&store.audit_entries(0, 100).await.unwrap()), Ok(5));
}

#[tokio::test]
async fn an_entry_edited_in_the_file_is_named_by_its_seq() {
    let (dir, store, _) = crate::fresh().await;
    append_five(&store).await;
    assert_eq!(verify_chain(&store.audit_entries(0, 100).await.unwrap()), Ok(5));

    // The attacker has the file: drops the triggers and edits entry 3's detail.
    let pool = raw(dir.path()).await;
    sqlx::raw_sql("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").execute(&pool).await.unwrap();
    sqlx::query("UPDATE audit_log SET detail = '{\"state\":\"failed\",\"n\":2}' WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let brk = verify_chain(&store.audit_entries(0, 100).await.unwrap()).unwrap_err();
    assert_eq!(brk.seq, 3, "{brk}");
    assert!(brk.why.contains("hash mismatch"), "{brk}");
}

#[tokio::test]
async fn a_deleted_entry_is_named_as_a_seq_gap() {
    let (dir, store, _) = crate::fresh().await;
    append_five(&store).await;
    let pool = raw(dir.path()).await;
    sqlx::raw_sql("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 4;")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let brk = verify_chain(&store.audit_entries(0, 100).await.unwrap()).unwrap_err();
    assert_eq!(brk.seq, 5, "{brk}");
    assert!(brk.why.contains("seq gap"), "{brk}");
}

//! The SQLite writer's group commit: concurrent writes share one commit, each answers only after the commit that
//! made it durable, and one write that fails is undone alone. The batches are made deterministic by holding the
//! database's write lock from a second connection while the writes queue up behind it.

use std::str::FromStr;
use std::time::Duration;

use idv_store::{NewAuditEntry, SqliteStore, Store, verify_chain};
use sqlx::{Connection, Executor};

use crate::sealed::transaction;
use crate::{NOW, fresh};

/// A second connection to the store's file holding its write lock (`BEGIN IMMEDIATE`) until dropped or committed.
async fn hold_write_lock(dir: &std::path::Path) -> sqlx::SqliteConnection {
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", dir.join("idv.sqlite3").display()))
        .unwrap();
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    conn.execute("BEGIN IMMEDIATE").await.unwrap();
    conn
}

/// Waits until `n` writes are queued or running (none of them answered yet).
async fn until_queued(store: &SqliteStore, n: u64) {
    for _ in 0..2_000 {
        if store.group_commit_stats().queued >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("only {:?} writes queued, expected {n}", store.group_commit_stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits_and_answer_only_after_theirs() {
    let (dir, store, _) = fresh().await;
    let store = std::sync::Arc::new(store);
    let before = store.group_commit_stats();
    let mut lock = hold_write_lock(dir.path()).await;
    const N: u64 = 60;
    let writers: Vec<_> = (0..N)
        .map(|i| {
            let store = std::sync::Arc::clone(&store);
            // Every nonce twice: exactly one use of each may succeed, wherever the two land.
            tokio::spawn(async move { store.consume_nonce("AK", &format!("n{}", i / 2), NOW, NOW + 900).await })
        })
        .collect();
    until_queued(&store, N).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        writers.iter().all(|w| !w.is_finished()),
        "a write answered while the database's write lock was held elsewhere, before it could have committed"
    );
    lock.execute("COMMIT").await.unwrap();
    let mut fresh_uses = 0;
    for w in writers {
        fresh_uses += usize::from(w.await.unwrap().unwrap());
    }
    assert_eq!(fresh_uses, N as usize / 2, "each of the {} nonces is fresh exactly once", N / 2);
    let after = store.group_commit_stats();
    assert_eq!(after.writes - before.writes, N);
    // The first write may have been taken into a batch of its own before the rest were queued; all the others
    // waited behind the lock and commit together.
    assert!(after.batches - before.batches <= 2, "{N} queued writes took {} commits", after.batches - before.batches);
    for i in 0..N / 2 {
        assert!(!store.consume_nonce("AK", &format!("n{i}"), NOW, NOW + 900).await.unwrap(), "nonce n{i} durable");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_is_undone_alone_and_its_batch_commits() {
    let (dir, store, _) = fresh().await;
    let m = store.create_merchant("m", NOW).await.unwrap();
    store.create_transaction(transaction("t-existing", &m.id)).await.unwrap();
    let store = std::sync::Arc::new(store);
    let lock = hold_write_lock(dir.path()).await;
    let spawn_tx = |id: &'static str| {
        let (store, m) = (std::sync::Arc::clone(&store), m.id.clone());
        tokio::spawn(async move { store.create_transaction(transaction(id, &m)).await })
    };
    let spawn_audit = |action: &'static str| {
        let store = std::sync::Arc::clone(&store);
        tokio::spawn(async move {
            store
                .append_audit(NewAuditEntry {
                    at: NOW,
                    actor: "test",
                    action,
                    transaction_id: None,
                    merchant_id: None,
                    detail: "{}",
                })
                .await
        })
    };
    let a = spawn_audit("first");
    let t1 = spawn_tx("t-new-1");
    let dup = spawn_tx("t-existing");
    let b = spawn_audit("second");
    let t2 = spawn_tx("t-new-2");
    until_queued(&store, 5).await;
    drop(lock);
    assert!(dup.await.unwrap().is_err(), "a second transaction with an existing id is refused");
    t1.await.unwrap().unwrap();
    t2.await.unwrap().unwrap();
    let (sa, sb) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    assert_ne!(sa, sb, "two audit entries of one batch take distinct places in the chain");
    for id in ["t-existing", "t-new-1", "t-new-2"] {
        assert!(store.get_transaction(&m.id, id).await.unwrap().is_some(), "{id} is stored");
    }
    let entries = store.audit_entries(0, 100).await.unwrap();
    assert_eq!(entries.len(), 2);
    verify_chain(&entries).expect("the chain written within one batch verifies");
}

//! Schema migrations: applied once, recorded at the caller's clock, safe when two processes open a directory at once.

use std::path::Path;

use idv_store::{SqliteStore, load_master_key};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// The versions the migrations table records, with when each was applied.
async fn applied(dir: &Path) -> Vec<(i64, i64)> {
    let opts = SqliteConnectOptions::new().filename(dir.join("idv.sqlite3")).read_only(true);
    let pool = SqlitePool::connect_with(opts).await.unwrap();
    let rows = sqlx::query_as("SELECT version, applied_at FROM schema_migrations ORDER BY version")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

#[tokio::test]
async fn a_fresh_directory_gets_every_migration_once_at_the_callers_time() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = load_master_key(dir.path(), None).unwrap();
    drop(SqliteStore::open(dir.path(), &key, 5_000).await.unwrap());
    assert_eq!(
        applied(dir.path()).await,
        vec![
            (1, 5_000),
            (2, 5_000),
            (3, 5_000),
            (4, 5_000),
            (5, 5_000),
            (6, 5_000),
            (7, 5_000),
            (8, 5_000),
            (9, 5_000),
            (10, 5_000),
            (11, 5_000),
        ]
    );

    drop(SqliteStore::open(dir.path(), &key, 6_000).await.unwrap());
    assert_eq!(
        applied(dir.path()).await,
        vec![
            (1, 5_000),
            (2, 5_000),
            (3, 5_000),
            (4, 5_000),
            (5, 5_000),
            (6, 5_000),
            (7, 5_000),
            (8, 5_000),
            (9, 5_000),
            (10, 5_000),
            (11, 5_000),
        ],
        "nothing is applied twice"
    );
}

#[tokio::test]
async fn stores_opening_a_fresh_directory_at_once_apply_each_migration_once() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = load_master_key(dir.path(), None).unwrap();
    let (a, b) = tokio::join!(SqliteStore::open(dir.path(), &key, 7_000), SqliteStore::open(dir.path(), &key, 7_000));
    let (_a, _b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        applied(dir.path()).await,
        vec![
            (1, 7_000),
            (2, 7_000),
            (3, 7_000),
            (4, 7_000),
            (5, 7_000),
            (6, 7_000),
            (7, 7_000),
            (8, 7_000),
            (9, 7_000),
            (10, 7_000),
            (11, 7_000),
        ]
    );
}

#[tokio::test]
async fn the_database_is_in_wal_mode() {
    let (dir, _store, _) = crate::fresh().await;
    let opts = SqliteConnectOptions::new().filename(dir.path().join("idv.sqlite3")).read_only(true);
    let pool = SqlitePool::connect_with(opts).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&pool).await.unwrap();
    assert_eq!(mode, "wal", "readers do not block the writer, and a committed write is in the log before the file");
}

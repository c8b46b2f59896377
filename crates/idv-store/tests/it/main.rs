//! Storage tests against real SQLite files in fresh directories: the contract every backend must pass, then what
//! only the SQLite backend and the data directory promise.

mod audit;
mod contract;
mod datadir;
mod faces;
mod group_commit;
mod merchant_binding;
mod migrations;
mod postgres;
mod sealed;

use idv_crypto::Key;
use idv_store::{MasterKeySource, SqliteStore, load_master_key};

/// An arbitrary clock reading for the tests that do not care when they run.
pub const NOW: i64 = 1_000;

/// A store in a new directory, with a generated master key.
pub async fn fresh() -> (tempfile::TempDir, SqliteStore, Key) {
    let dir = tempfile::tempdir().unwrap();
    let (key, src) = load_master_key(dir.path(), None).unwrap();
    assert_eq!(src, MasterKeySource::Generated);
    let store = SqliteStore::open(dir.path(), &key, NOW).await.unwrap();
    (dir, store, key)
}

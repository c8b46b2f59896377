//! The backend contract against PostgreSQL 15 (a throwaway cluster: `scripts/pg.sh`, started here when
//! `IDV_TEST_DATABASE_URL` does not name one), each check on a database of its own, the whole suite twice on one
//! database, and what only the PostgreSQL backend promises: migrations applied once by instances starting
//! together, the master-key check, blobs and key epochs in an S3-compatible bucket.

use idv_crypto::Key;
use idv_store::{BlobLocation, PgStore, Store, contract};

use contract::fresh_postgres_database as fresh_database;

async fn open(url: &str, blobs: &std::path::Path, key: &Key) -> PgStore {
    PgStore::open(url, BlobLocation::Dir(blobs.to_path_buf()), key, crate::NOW, 86_400, 8).await.unwrap()
}

pub async fn fresh_pg() -> (tempfile::TempDir, PgStore, Key) {
    let dir = tempfile::tempdir().unwrap();
    let key = Key::random();
    let store = open(&fresh_database().await, dir.path(), &key).await;
    (dir, store, key)
}

macro_rules! checks {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            let (_dir, store, _) = fresh_pg().await;
            contract::$check(&store).await;
        }
    )*};
}

checks!(
    merchants_are_created_found_and_listed,
    an_access_key_secret_is_returned_at_creation_and_for_auth_only,
    access_keys_are_disabled_and_enabled,
    a_replayed_nonce_is_refused,
    an_expired_nonce_may_be_reused,
    expired_nonces_are_purged,
    frame_digests_are_registered_all_or_nothing,
    frame_digests_resent_by_the_same_transaction_are_accepted,
    another_transactions_frame_digest_blocks,
    an_expired_frame_digest_is_taken_over,
    frame_digests_per_call_are_limited,
    expired_frame_digests_are_purged,
    near_capture_hashes_of_other_transactions_are_found,
    capture_fingerprint_calls_are_limited,
    expired_capture_fingerprints_are_purged,
    a_transaction_is_seen_only_by_its_merchant,
    overdue_transactions_are_listed_oldest_first,
    idle_transactions_are_listed_quietest_first,
    expire_closes_an_open_transaction_once,
    cancel_closes_an_open_transaction_once,
    concurrent_finishers_cannot_both_win,
    a_device_session_starts_once_and_only_from_initialized,
    save_round_requires_the_current_version,
    a_round_is_claimed_by_one_worker_at_a_time,
    a_round_claim_ends_with_its_save_release_or_lease,
    a_finishing_round_stores_the_verdict,
    a_finished_transaction_refuses_rounds,
    a_blob_is_read_only_through_its_transaction,
    blob_of_kind_returns_the_newest,
    shredding_makes_sealed_data_unreadable_and_keeps_the_row,
    deleting_images_or_text_keeps_the_rest_and_the_decision,
    retention_picks_finished_transactions_by_their_merchants_retention,
    callbacks_wait_for_the_end_are_leased_and_logged,
    shredding_keeps_frame_digests,
    a_shredded_open_transaction_can_still_be_closed,
    ping_answers,
    rate_tokens_are_taken_refused_refilled_and_refunded,
    concurrent_takers_never_share_a_token,
    idle_rate_buckets_are_purged_by_prefix,
    a_lease_is_held_by_one_holder_until_it_ends,
    a_face_groups_version_counts_every_change,
    audit_appends_take_increasing_seqs_in_a_verified_chain,
    audit_entries_are_not_modified_by_later_appends,
    console_users_are_unique_and_sessions_expire,
    console_login_failures_are_counted_per_key,
    the_console_index_filters_one_merchants_transactions,
    a_reviewed_callback_is_due_again,
    the_console_summary_counts_days_failures_and_rounds,
);

#[tokio::test]
async fn the_suite_passes_twice_on_one_database() {
    let (_dir, store, _) = fresh_pg().await;
    contract::store_contract(&store).await;
    contract::store_contract(&store).await;
}

#[tokio::test]
async fn instances_starting_together_migrate_once_and_share_one_key() {
    let url = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let key = Key::random();
    let (a, b, c) =
        tokio::join!(open(&url, dir.path(), &key), open(&url, dir.path(), &key), open(&url, dir.path(), &key));
    let m = a.create_merchant("Shared", 1).await.unwrap();
    assert_eq!(b.get_merchant(&m.id).await.unwrap().unwrap().name, "Shared", "one database behind every instance");
    assert!(c.get_merchant(&m.id).await.unwrap().is_some());
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version").fetch_all(&pool).await.unwrap();
    assert_eq!(versions, [1, 2], "each migration applied exactly once");
    assert!(a.migrate(5).await.unwrap().is_empty(), "nothing left to apply");
    let wrong = PgStore::open(&url, BlobLocation::Dir(dir.path().into()), &Key::random(), 1, 86_400, 2).await;
    assert!(
        matches!(wrong, Err(idv_store::StoreError::Config(ref m)) if m.contains("master key")),
        "another master key is refused at start"
    );
}

#[tokio::test]
async fn an_instance_with_another_blob_directory_is_refused() {
    let url = fresh_database().await;
    let (shared, own) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key = Key::random();
    let first = open(&url, shared.path(), &key).await;
    let again = PgStore::open(&url, BlobLocation::Dir(shared.path().into()), &key, 1, 86_400, 2).await;
    assert!(again.is_ok(), "the same directory is the same blob store");
    let other = PgStore::open(&url, BlobLocation::Dir(own.path().into()), &key, 1, 86_400, 2).await;
    assert!(
        matches!(other, Err(idv_store::StoreError::Config(ref m)) if m.contains("not the one the other instances")),
        "a directory of its own would seal under key epochs the others cannot see"
    );
    drop(first);
}

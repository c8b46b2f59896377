//! The backend contract (`idv_store::contract`) against SQLite: each check on a store of its own, then the whole
//! suite twice over one store, as a shared database would run it.

use idv_store::contract;

macro_rules! checks {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            let (_dir, store, _) = crate::fresh().await;
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

/// The checks tolerate each other's rows and their own from an earlier run, so a backend can run the suite
/// against one long-lived test database.
#[tokio::test]
async fn the_suite_passes_twice_on_one_store() {
    let (_dir, store, _) = crate::fresh().await;
    contract::store_contract(&store).await;
    contract::store_contract(&store).await;
}

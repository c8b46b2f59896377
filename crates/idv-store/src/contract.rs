//! The rules every [`Store`] backend must follow, as executable checks. The server is written against the trait
//! alone, so a backend that differs from SQLite in any of these (an off-by-one expiry, a transition two finishers
//! can both win, a blob readable through another transaction) breaks it in ways no server test would pin down.
//!
//! [`store_contract`] runs every check; each is also public, named for the rule it proves, so a backend's tests
//! can report them one by one. A check panics on the first broken rule.
//!
//! The checks tolerate a store that already holds data, including their own from an earlier run: they create
//! their merchants, keys and transactions under fresh random ids, assert on what they created rather than on
//! whole listings, and the purge checks use time windows (nonces 10..=40, frame digests and capture fingerprints
//! 100..=500) no other check writes to, clearing them first. Only two runs of the suite must not share a database
//! at the same time.

use zeroize::Zeroizing;

use crate::{
    CallbackAttempt, CallbackDue, CallbackOutcome, CallbackRecord, Decision, Evidence, MAX_CAPTURE_HASH_DISTANCE,
    MAX_CAPTURE_HASHES_PER_CALL, MAX_FRAME_DIGESTS_PER_CALL, MAX_SIMILAR_CAPTURES, Merchant, NewTransaction,
    RoundSummary, RoundUpdate, Store, StoreError, Transaction, TxState,
};
use crate::{
    ConsoleFilter, ConsoleIndexRow, ConsoleRole, DayCount, MAX_CONSOLE_PAGE, MAX_INDEX_BATCH, NewConsoleUser,
    NewReview, ReviewDecision, ReviewRule, VerdictFilter,
};

/// An expiry no check reaches: the value stays live for the whole run.
const FAR: i64 = i64::MAX / 2;
/// Large enough that a check's own rows are listed even on a store full of other overdue or idle transactions.
const LISTING: i64 = 10_000;

/// Runs every check, in order, against `store`.
pub async fn store_contract(store: &dyn Store) {
    merchants_are_created_found_and_listed(store).await;
    an_access_key_secret_is_returned_at_creation_and_for_auth_only(store).await;
    access_keys_are_disabled_and_enabled(store).await;
    a_replayed_nonce_is_refused(store).await;
    an_expired_nonce_may_be_reused(store).await;
    expired_nonces_are_purged(store).await;
    frame_digests_are_registered_all_or_nothing(store).await;
    frame_digests_resent_by_the_same_transaction_are_accepted(store).await;
    another_transactions_frame_digest_blocks(store).await;
    an_expired_frame_digest_is_taken_over(store).await;
    frame_digests_per_call_are_limited(store).await;
    expired_frame_digests_are_purged(store).await;
    near_capture_hashes_of_other_transactions_are_found(store).await;
    capture_fingerprint_calls_are_limited(store).await;
    expired_capture_fingerprints_are_purged(store).await;
    a_transaction_is_seen_only_by_its_merchant(store).await;
    overdue_transactions_are_listed_oldest_first(store).await;
    idle_transactions_are_listed_quietest_first(store).await;
    expire_closes_an_open_transaction_once(store).await;
    cancel_closes_an_open_transaction_once(store).await;
    concurrent_finishers_cannot_both_win(store).await;
    a_device_session_starts_once_and_only_from_initialized(store).await;
    save_round_requires_the_current_version(store).await;
    a_round_is_claimed_by_one_worker_at_a_time(store).await;
    a_round_claim_ends_with_its_save_release_or_lease(store).await;
    a_finishing_round_stores_the_verdict(store).await;
    a_finished_transaction_refuses_rounds(store).await;
    a_blob_is_read_only_through_its_transaction(store).await;
    blob_of_kind_returns_the_newest(store).await;
    shredding_makes_sealed_data_unreadable_and_keeps_the_row(store).await;
    deleting_images_or_text_keeps_the_rest_and_the_decision(store).await;
    retention_picks_finished_transactions_by_their_merchants_retention(store).await;
    callbacks_wait_for_the_end_are_leased_and_logged(store).await;
    shredding_keeps_frame_digests(store).await;
    a_shredded_open_transaction_can_still_be_closed(store).await;
    ping_answers(store).await;
    rate_tokens_are_taken_refused_refilled_and_refunded(store).await;
    concurrent_takers_never_share_a_token(store).await;
    idle_rate_buckets_are_purged_by_prefix(store).await;
    a_lease_is_held_by_one_holder_until_it_ends(store).await;
    a_face_groups_version_counts_every_change(store).await;
    audit_appends_take_increasing_seqs_in_a_verified_chain(store).await;
    audit_entries_are_not_modified_by_later_appends(store).await;
    console_users_are_unique_and_sessions_expire(store).await;
    console_login_failures_are_counted_per_key(store).await;
    the_console_index_filters_one_merchants_transactions(store).await;
    a_reviewed_callback_is_due_again(store).await;
    the_console_summary_counts_days_failures_and_rounds(store).await;
}

fn random_id() -> String {
    idv_crypto::random_hex(16)
}

fn digest() -> [u8; 32] {
    idv_crypto::random_bytes()
}

async fn merchant(store: &dyn Store, now: i64) -> Merchant {
    store.create_merchant("Contract", now).await.expect("create_merchant")
}

fn new_transaction(merchant_id: &str, created_at: i64, expires_at: i64) -> NewTransaction {
    NewTransaction {
        id: random_id(),
        merchant_id: merchant_id.into(),
        merchant_biz_id: "biz0001".into(),
        product: "eKYC".into(),
        options: b"{\"opt\":1}".to_vec(),
        device_secret: Zeroizing::new(vec![7; 32]),
        created_at,
        expires_at,
        retain_until: expires_at,
    }
}

/// An `initialized` transaction of a new merchant: (merchant id, transaction id).
async fn transaction(store: &dyn Store, created_at: i64, expires_at: i64) -> (String, String) {
    let m = merchant(store, created_at).await;
    let tx = new_transaction(&m.id, created_at, expires_at);
    let id = tx.id.clone();
    store.create_transaction(tx).await.expect("create_transaction");
    (m.id, id)
}

/// An `in_progress` transaction whose device session (state `flow0`, version 1) started at `now`.
async fn in_progress(store: &dyn Store, now: i64, expires_at: i64) -> (String, String) {
    let (m, t) = transaction(store, now, expires_at).await;
    assert!(store.start_device_session(&t, "session", b"flow0", now).await.unwrap(), "start_device_session");
    (m, t)
}

/// A round whose new flow state is `state`; its response echoes the state, so a test can tell rounds apart.
fn round(n: u32, state: &[u8], now: i64) -> RoundUpdate<'_> {
    RoundUpdate {
        state,
        round: n,
        step: "FACE",
        outcome: "next",
        detail: b"{}",
        request_hash: "hash",
        response: state,
        finish: None,
        now,
    }
}

/// A round that ends the flow as `to` with `verdict`.
fn finishing<'a>(n: u32, state: &'a [u8], to: TxState, verdict: &'a [u8], now: i64) -> RoundUpdate<'a> {
    RoundUpdate { outcome: "done", finish: Some((to, verdict)), ..round(n, state, now) }
}

async fn stored(store: &dyn Store, id: &str) -> Transaction {
    store.get_transaction_for_device(id).await.unwrap().expect("the transaction exists")
}

fn verdict(tx: &Transaction) -> Option<&[u8]> {
    tx.verdict.as_deref().map(|v| &v[..])
}

fn position(list: &[String], id: &str) -> usize {
    list.iter().position(|x| x == id).unwrap_or_else(|| panic!("{id} is not listed in {list:?}"))
}

pub async fn merchants_are_created_found_and_listed(store: &dyn Store) {
    let a = store.create_merchant("Acme", 100).await.unwrap();
    let b = store.create_merchant("Beta", 101).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!((a.name.as_str(), a.enabled, a.created_at), ("Acme", true, 100), "enabled, created at `now`");
    assert_eq!(store.get_merchant(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get_merchant("mch_missing").await.unwrap(), None);
    let all = store.list_merchants().await.unwrap();
    let pos = |m: &Merchant| all.iter().position(|x| x == m).unwrap_or_else(|| panic!("{} is not listed", m.id));
    assert!(pos(&a) < pos(&b), "merchants are listed in creation order");
}

pub async fn an_access_key_secret_is_returned_at_creation_and_for_auth_only(store: &dyn Store) {
    let m = merchant(store, 200).await;
    let other = merchant(store, 200).await;
    let (k1, s1) = store.create_access_key(&m.id, 201).await.unwrap();
    let (k2, s2) = store.create_access_key(&m.id, 202).await.unwrap();
    let (k3, _) = store.create_access_key(&other.id, 203).await.unwrap();
    assert_eq!((k1.id.len(), s1.len()), (24, 30), "the AccessKey shapes merchants' tooling expects");
    assert!(k1.id.chars().chain(s1.chars()).all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(k1.id, k2.id);
    assert_ne!(*s1, *s2, "every key has its own secret");
    assert_eq!((k1.merchant_id.as_str(), k1.enabled, k1.created_at), (m.id.as_str(), true, 201));

    let auth = store.access_key_for_auth(&k1.id).await.unwrap().expect("the key is found for authentication");
    assert_eq!(auth.key, k1);
    assert_eq!(*auth.secret, *s1);
    assert_eq!(auth.merchant, m);
    assert!(store.access_key_for_auth("IDVnosuchkey000000000000").await.unwrap().is_none());

    // Listing returns `AccessKey`, which has no secret field: a secret is shown once, at creation.
    assert_eq!(store.list_access_keys(Some(&m.id)).await.unwrap(), vec![k1.clone(), k2.clone()]);
    let all = store.list_access_keys(None).await.unwrap();
    assert!(all.contains(&k1) && all.contains(&k2) && all.contains(&k3));

    let missing = store.create_access_key("mch_missing", 204).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
}

pub async fn access_keys_are_disabled_and_enabled(store: &dyn Store) {
    let m = merchant(store, 300).await;
    let (k, secret) = store.create_access_key(&m.id, 300).await.unwrap();
    assert!(store.set_access_key_enabled(&k.id, false, 301).await.unwrap());
    assert!(store.set_access_key_enabled(&k.id, false, 302).await.unwrap(), "true means the key exists");
    // Still found, secret and all: authentication verifies the signature before it says the key is disabled.
    let auth = store.access_key_for_auth(&k.id).await.unwrap().unwrap();
    assert!(!auth.key.enabled);
    assert_eq!(*auth.secret, *secret);
    assert!(!store.list_access_keys(Some(&m.id)).await.unwrap()[0].enabled);

    assert!(store.set_access_key_enabled(&k.id, true, 303).await.unwrap());
    assert!(store.access_key_for_auth(&k.id).await.unwrap().unwrap().key.enabled);
    assert!(!store.set_access_key_enabled("IDVnosuchkey000000000000", false, 304).await.unwrap());
}

pub async fn a_replayed_nonce_is_refused(store: &dyn Store) {
    let (k1, k2, n) = (random_id(), random_id(), random_id());
    assert!(store.consume_nonce(&k1, &n, 1_000, FAR).await.unwrap());
    assert!(!store.consume_nonce(&k1, &n, 1_001, FAR).await.unwrap(), "a replay");
    assert!(store.consume_nonce(&k2, &n, 1_001, FAR).await.unwrap(), "nonces are per key");
}

pub async fn an_expired_nonce_may_be_reused(store: &dyn Store) {
    let (k, n) = (random_id(), random_id());
    assert!(store.consume_nonce(&k, &n, 2_000, 2_010).await.unwrap());
    assert!(!store.consume_nonce(&k, &n, 2_009, 2_100).await.unwrap(), "live until its expiry");
    assert!(store.consume_nonce(&k, &n, 2_010, 2_100).await.unwrap(), "expired at its expires_at, purged or not");
    assert!(!store.consume_nonce(&k, &n, 2_011, 2_200).await.unwrap(), "the new use is live in turn");
}

pub async fn expired_nonces_are_purged(store: &dyn Store) {
    store.purge_expired_nonces(40).await.unwrap();
    let k = random_id();
    assert!(store.consume_nonce(&k, "a", 5, 10).await.unwrap());
    assert!(store.consume_nonce(&k, "b", 5, 20).await.unwrap());
    assert!(store.consume_nonce(&k, "c", 5, 40).await.unwrap());
    assert_eq!(store.purge_expired_nonces(9).await.unwrap(), 0);
    assert_eq!(store.purge_expired_nonces(20).await.unwrap(), 2, "expired at 10 and at 20");
    assert_eq!(store.purge_expired_nonces(20).await.unwrap(), 0);
    assert!(!store.consume_nonce(&k, "c", 39, 40).await.unwrap(), "an unexpired nonce survives a purge");
    assert_eq!(store.purge_expired_nonces(40).await.unwrap(), 1);
}

pub async fn frame_digests_are_registered_all_or_nothing(store: &dyn Store) {
    let (a, b, c) = (random_id(), random_id(), random_id());
    let (d1, d2, d3) = (digest(), digest(), digest());
    assert_eq!(store.register_frame_digests(&a, &[d1], 3_000, FAR).await.unwrap(), None);
    // One of a's frames in b's call: none of the call is registered...
    assert_eq!(store.register_frame_digests(&b, &[d2, d3, d1], 3_001, FAR).await.unwrap(), Some(a));
    // ... so c can still claim the others.
    assert_eq!(store.register_frame_digests(&c, &[d2, d3], 3_002, FAR).await.unwrap(), None);
    assert_eq!(store.register_frame_digests(&b, &[d3], 3_003, FAR).await.unwrap(), Some(c));
    assert_eq!(store.register_frame_digests(&b, &[], 3_004, FAR).await.unwrap(), None, "nothing to register");
}

pub async fn frame_digests_resent_by_the_same_transaction_are_accepted(store: &dyn Store) {
    let (a, b) = (random_id(), random_id());
    let (d1, d2, d3, d4) = (digest(), digest(), digest(), digest());
    assert_eq!(store.register_frame_digests(&a, &[d1, d2, d3], 3_100, FAR).await.unwrap(), None);
    assert_eq!(store.register_frame_digests(&a, &[d1, d2, d3], 3_101, FAR).await.unwrap(), None, "a resend");
    assert_eq!(store.register_frame_digests(&a, &[d3, d4, d4], 3_102, FAR).await.unwrap(), None, "a partial one");
    assert_eq!(store.register_frame_digests(&b, &[d4], 3_103, FAR).await.unwrap(), Some(a), "d4 was registered");
}

pub async fn another_transactions_frame_digest_blocks(store: &dyn Store) {
    let (a, b) = (random_id(), random_id());
    let d = digest();
    assert_eq!(store.register_frame_digests(&a, &[d], 3_200, 3_300).await.unwrap(), None);
    assert_eq!(store.register_frame_digests(&b, &[d], 3_201, FAR).await.unwrap(), Some(a.clone()));
    assert_eq!(store.register_frame_digests(&b, &[d], 3_299, FAR).await.unwrap(), Some(a), "until its expiry");
}

pub async fn an_expired_frame_digest_is_taken_over(store: &dyn Store) {
    let (a, b, c) = (random_id(), random_id(), random_id());
    let d = digest();
    assert_eq!(store.register_frame_digests(&a, &[d], 3_400, 3_500).await.unwrap(), None);
    assert_eq!(store.register_frame_digests(&b, &[d], 3_500, FAR).await.unwrap(), None, "expired, not yet purged");
    assert_eq!(store.register_frame_digests(&c, &[d], 3_501, FAR).await.unwrap(), Some(b.clone()), "now b's");
    assert_eq!(store.register_frame_digests(&a, &[d], 3_502, FAR).await.unwrap(), Some(b), "its former owner's too");
}

pub async fn frame_digests_per_call_are_limited(store: &dyn Store) {
    let (a, b) = (random_id(), random_id());
    let too_many: Vec<[u8; 32]> = (0..=MAX_FRAME_DIGESTS_PER_CALL).map(|_| digest()).collect();
    let refused = store.register_frame_digests(&a, &too_many, 3_600, FAR).await;
    assert!(matches!(refused, Err(StoreError::InvalidInput(_))), "{refused:?}");
    // Nothing of the refused call was registered, and exactly the maximum is accepted.
    let max = MAX_FRAME_DIGESTS_PER_CALL;
    assert_eq!(store.register_frame_digests(&b, &too_many[..max], 3_601, FAR).await.unwrap(), None);
    assert_eq!(store.register_frame_digests(&a, &too_many[max..], 3_602, FAR).await.unwrap(), None);
    assert_eq!(store.register_frame_digests(&a, &too_many[max - 1..], 3_603, FAR).await.unwrap(), Some(b));
}

pub async fn expired_frame_digests_are_purged(store: &dyn Store) {
    store.purge_expired_frame_digests(500).await.unwrap();
    let (a, b) = (random_id(), random_id());
    let (d1, d2, d3, d4) = (digest(), digest(), digest(), digest());
    assert_eq!(store.register_frame_digests(&a, &[d1, d2], 100, 200).await.unwrap(), None);
    assert_eq!(store.register_frame_digests(&a, &[d3], 100, 300).await.unwrap(), None);
    assert_eq!(store.register_frame_digests(&a, &[d4], 100, 500).await.unwrap(), None);
    assert_eq!(store.purge_expired_frame_digests(199).await.unwrap(), 0);
    assert_eq!(store.purge_expired_frame_digests(300).await.unwrap(), 3, "expired at 200 and at 300");
    assert_eq!(store.purge_expired_frame_digests(300).await.unwrap(), 0);
    assert_eq!(
        store.register_frame_digests(&b, &[d4], 499, FAR).await.unwrap(),
        Some(a),
        "an unexpired digest survives a purge"
    );
    assert_eq!(store.purge_expired_frame_digests(500).await.unwrap(), 1);
}

fn hash() -> u64 {
    u64::from_le_bytes(idv_crypto::random_bytes())
}

pub async fn near_capture_hashes_of_other_transactions_are_found(store: &dyn Store) {
    let (a, b, c) = (random_id(), random_id(), random_id());
    let (h1, h2) = (hash(), hash());
    store.register_capture_fingerprint(&a, &[h1, h2], b"print a", 4_000, 4_100).await.unwrap();
    store.register_capture_fingerprint(&a, &[h1, h2], b"print a", 4_001, 4_100).await.unwrap();
    // Three bits flipped, one in each of three bands: still found; the same hash from its own transaction is not.
    let near = h1 ^ 1 ^ (1 << 20) ^ (1 << 40);
    assert_eq!(
        store.similar_capture_fingerprints(&b, &[near], MAX_CAPTURE_HASH_DISTANCE, 4_002).await.unwrap(),
        vec![b"print a".to_vec()]
    );
    assert!(store.similar_capture_fingerprints(&a, &[near], 3, 4_002).await.unwrap().is_empty(), "its own");
    assert!(store.similar_capture_fingerprints(&b, &[near], 2, 4_002).await.unwrap().is_empty(), "over the distance");
    assert!(store.similar_capture_fingerprints(&b, &[!h1, !h2], 3, 4_002).await.unwrap().is_empty());
    assert!(store.similar_capture_fingerprints(&b, &[h1], 3, 4_100).await.unwrap().is_empty(), "expired");
    // The capture matching more of the hashes comes first.
    store.register_capture_fingerprint(&c, &[h1], b"print c", 4_003, FAR).await.unwrap();
    store.register_capture_fingerprint(&c, &[h1, h2], b"print c2", 4_004, FAR).await.unwrap();
    let found = store.similar_capture_fingerprints(&b, &[h1, h2], 0, 4_005).await.unwrap();
    assert_eq!(found.len(), 3, "both of c's captures and a's: {found:?}");
    assert!(found[..2].contains(&b"print c2".to_vec()) && found.contains(&b"print a".to_vec()), "{found:?}");
    assert!(store.similar_capture_fingerprints(&b, &[], 3, 4_005).await.unwrap().is_empty());
}

pub async fn capture_fingerprint_calls_are_limited(store: &dyn Store) {
    let (a, b) = (random_id(), random_id());
    let too_many: Vec<u64> = (0..=MAX_CAPTURE_HASHES_PER_CALL).map(|_| hash()).collect();
    let refused = store.register_capture_fingerprint(&a, &too_many, b"p", 4_200, FAR).await;
    assert!(matches!(refused, Err(StoreError::InvalidInput(_))), "{refused:?}");
    let refused = store.similar_capture_fingerprints(&b, &too_many, 3, 4_201).await;
    assert!(matches!(refused, Err(StoreError::InvalidInput(_))), "{refused:?}");
    let refused = store.similar_capture_fingerprints(&b, &too_many[..1], MAX_CAPTURE_HASH_DISTANCE + 1, 4_201).await;
    assert!(matches!(refused, Err(StoreError::InvalidInput(_))), "{refused:?}");
    assert!(store.similar_capture_fingerprints(&b, &too_many[..1], 3, 4_201).await.unwrap().is_empty(), "none kept");
    // However many captures share a hash, one call returns a bounded number of them.
    let shared = hash();
    for k in 0..=MAX_SIMILAR_CAPTURES {
        store.register_capture_fingerprint(&random_id(), &[shared], &[k as u8], 4_202, FAR).await.unwrap();
    }
    let found = store.similar_capture_fingerprints(&b, &[shared], 0, 4_203).await.unwrap();
    assert_eq!(found.len(), MAX_SIMILAR_CAPTURES);
}

pub async fn expired_capture_fingerprints_are_purged(store: &dyn Store) {
    store.purge_expired_capture_fingerprints(500).await.unwrap();
    let (a, b) = (random_id(), random_id());
    let (h1, h2) = (hash(), hash());
    store.register_capture_fingerprint(&a, &[h1], b"one", 100, 200).await.unwrap();
    store.register_capture_fingerprint(&a, &[h2], b"two", 100, 500).await.unwrap();
    assert_eq!(store.purge_expired_capture_fingerprints(199).await.unwrap(), 0);
    assert_eq!(store.purge_expired_capture_fingerprints(200).await.unwrap(), 1);
    assert_eq!(store.similar_capture_fingerprints(&b, &[h2], 0, 300).await.unwrap(), vec![b"two".to_vec()]);
    assert!(store.similar_capture_fingerprints(&b, &[h1], 0, 100).await.unwrap().is_empty(), "purged, hashes too");
    assert_eq!(store.purge_expired_capture_fingerprints(500).await.unwrap(), 1);
}

pub async fn a_transaction_is_seen_only_by_its_merchant(store: &dyn Store) {
    let a = merchant(store, 7_000).await;
    let b = merchant(store, 7_000).await;
    let new = new_transaction(&a.id, 7_000, 8_000);
    let id = new.id.clone();
    store.create_transaction(new).await.unwrap();
    let mut dup = new_transaction(&a.id, 7_001, 8_000);
    dup.id = id.clone();
    assert!(store.create_transaction(dup).await.is_err(), "transaction ids are unique");

    assert!(store.get_transaction(&b.id, &id).await.unwrap().is_none(), "another merchant's is None, as if missing");
    assert!(store.get_transaction(&a.id, &random_id()).await.unwrap().is_none());
    let tx = store.get_transaction(&a.id, &id).await.unwrap().expect("its merchant sees it");
    assert_eq!(
        (tx.id.as_str(), tx.merchant_id.as_str(), tx.merchant_biz_id.as_str(), tx.product.as_str(), tx.state),
        (id.as_str(), a.id.as_str(), "biz0001", "eKYC", TxState::Initialized)
    );
    assert_eq!(tx.options.as_deref().map(|o| &o[..]), Some(&b"{\"opt\":1}"[..]));
    assert_eq!(tx.device_secret.as_deref().map(|s| &s[..]), Some(&[7; 32][..]));
    assert_eq!(verdict(&tx), None);
    assert_eq!((tx.created_at, tx.updated_at, tx.expires_at, tx.finished_at), (7_000, 7_000, 8_000, None));

    // The device API reads by id alone: the device proves itself otherwise.
    assert_eq!(stored(store, &id).await.merchant_id, a.id);
    assert!(store.get_transaction_for_device(&random_id()).await.unwrap().is_none());
}

pub async fn overdue_transactions_are_listed_oldest_first(store: &dyn Store) {
    let (_, old) = transaction(store, 1, 10).await;
    let (_, newer) = transaction(store, 1, 11).await;
    let (_, started) = in_progress(store, 1, 12).await;
    let (_, later) = transaction(store, 1, 13).await;
    let (_, closed) = transaction(store, 1, 10).await;
    assert!(store.cancel(&closed, b"cancelled", 5).await.unwrap());

    let list = store.overdue_transactions(12, LISTING).await.unwrap();
    assert!(position(&list, &old) < position(&list, &newer), "oldest expiry first");
    assert!(position(&list, &newer) < position(&list, &started), "in progress or not");
    assert!(!list.contains(&later), "not expired yet");
    assert!(!list.contains(&closed), "final states are not overdue");
    let at_expiry = store.overdue_transactions(10, LISTING).await.unwrap();
    assert!(at_expiry.contains(&old) && !at_expiry.contains(&newer), "overdue at its expires_at");
    assert_eq!(store.overdue_transactions(12, 1).await.unwrap().len(), 1, "at most `limit`");

    // Closed, so that a later run over the same database does not find them.
    for id in [&old, &newer, &started, &later] {
        assert!(store.expire(id, b"expired", 13).await.unwrap());
    }
}

pub async fn idle_transactions_are_listed_quietest_first(store: &dyn Store) {
    let (_, quiet) = in_progress(store, 20, FAR).await;
    let (_, recent) = in_progress(store, 21, FAR).await;
    let (_, unstarted) = transaction(store, 20, FAR).await;
    let (_, finished) = in_progress(store, 20, FAR).await;
    assert!(store.expire(&finished, b"expired", 20).await.unwrap());

    let list = store.idle_transactions(21, LISTING).await.unwrap();
    assert!(position(&list, &quiet) < position(&list, &recent), "quietest first");
    assert!(!list.contains(&unstarted), "no device session, nothing to be idle");
    assert!(!list.contains(&finished), "final states are not idle");
    let at_cutoff = store.idle_transactions(20, LISTING).await.unwrap();
    assert!(at_cutoff.contains(&quiet) && !at_cutoff.contains(&recent), "quiet since the cutoff, inclusive");
    assert_eq!(store.idle_transactions(21, 1).await.unwrap().len(), 1, "at most `limit`");

    assert!(store.save_round(&quiet, 1, round(1, b"flow1", 30)).await.unwrap());
    assert!(!store.idle_transactions(21, LISTING).await.unwrap().contains(&quiet), "a round is device activity");

    for id in [&quiet, &recent, &unstarted] {
        assert!(store.expire(id, b"expired", 31).await.unwrap());
    }
}

pub async fn expire_closes_an_open_transaction_once(store: &dyn Store) {
    let (_, t) = transaction(store, 10_000, 10_100).await;
    assert!(store.expire(&t, b"timed out", 10_100).await.unwrap());
    let tx = stored(store, &t).await;
    assert_eq!(tx.state, TxState::Expired);
    assert_eq!(verdict(&tx), Some(&b"timed out"[..]));
    assert_eq!((tx.updated_at, tx.finished_at), (10_100, Some(10_100)));

    assert!(!store.expire(&t, b"again", 10_101).await.unwrap(), "a final state is final");
    assert!(!store.cancel(&t, b"cancelled", 10_101).await.unwrap());
    let tx = stored(store, &t).await;
    assert_eq!((tx.state, verdict(&tx), tx.finished_at), (TxState::Expired, Some(&b"timed out"[..]), Some(10_100)));

    // From in progress too: the idle sweep expires started flows.
    let (_, t) = in_progress(store, 10_000, FAR).await;
    assert!(store.expire(&t, b"idle", 10_050).await.unwrap());
    assert_eq!(stored(store, &t).await.state, TxState::Expired);

    assert!(!store.expire(&random_id(), b"x", 10_000).await.unwrap(), "an unknown id: nothing to close");
}

pub async fn cancel_closes_an_open_transaction_once(store: &dyn Store) {
    let (_, t) = in_progress(store, 10_200, FAR).await;
    assert!(store.cancel(&t, b"cancelled", 10_201).await.unwrap());
    let tx = stored(store, &t).await;
    assert_eq!(tx.state, TxState::Cancelled);
    assert_eq!(verdict(&tx), Some(&b"cancelled"[..]));
    assert_eq!((tx.updated_at, tx.finished_at), (10_201, Some(10_201)));

    assert!(!store.cancel(&t, b"again", 10_202).await.unwrap(), "a final state is final");
    assert!(!store.expire(&t, b"expired", 10_202).await.unwrap());
    let tx = stored(store, &t).await;
    assert_eq!((tx.state, verdict(&tx), tx.finished_at), (TxState::Cancelled, Some(&b"cancelled"[..]), Some(10_201)));

    // From initialized too: a user may cancel before the first round.
    let (_, t) = transaction(store, 10_200, FAR).await;
    assert!(store.cancel(&t, b"cancelled", 10_203).await.unwrap());
    assert_eq!(stored(store, &t).await.state, TxState::Cancelled);

    assert!(!store.cancel(&random_id(), b"x", 10_200).await.unwrap(), "an unknown id: nothing to close");
}

pub async fn concurrent_finishers_cannot_both_win(store: &dyn Store) {
    fn one_winner(wins: &[bool]) {
        assert_eq!(wins.iter().filter(|w| **w).count(), 1, "exactly one finisher wins: {wins:?}");
    }

    let (_, t) = in_progress(store, 11_000, FAR).await;
    let (e1, c1, e2, c2) = tokio::join!(
        store.expire(&t, b"expired", 11_001),
        store.cancel(&t, b"cancelled", 11_001),
        store.expire(&t, b"expired", 11_001),
        store.cancel(&t, b"cancelled", 11_001),
    );
    one_winner(&[e1.unwrap(), c1.unwrap(), e2.unwrap(), c2.unwrap()]);
    let tx = stored(store, &t).await;
    match tx.state {
        TxState::Expired => assert_eq!(verdict(&tx), Some(&b"expired"[..])),
        TxState::Cancelled => assert_eq!(verdict(&tx), Some(&b"cancelled"[..])),
        other => panic!("{other:?} after expire and cancel"),
    }

    // A finishing round against the expiry sweep.
    let (_, t) = in_progress(store, 11_000, FAR).await;
    let (saved, expired) = tokio::join!(
        store.save_round(&t, 1, finishing(1, b"flow1", TxState::Completed, b"completed", 11_002)),
        store.expire(&t, b"expired", 11_002),
    );
    let (saved, expired) = (saved.unwrap(), expired.unwrap());
    one_winner(&[saved, expired]);
    let tx = stored(store, &t).await;
    let expected = if saved { (TxState::Completed, &b"completed"[..]) } else { (TxState::Expired, &b"expired"[..]) };
    assert_eq!((tx.state, verdict(&tx)), (expected.0, Some(expected.1)));

    // Two rounds read the same session version: one is recorded.
    let (_, t) = in_progress(store, 11_000, FAR).await;
    let (a, b) = tokio::join!(
        store.save_round(&t, 1, round(1, b"flowA", 11_003)),
        store.save_round(&t, 1, round(1, b"flowB", 11_003)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    one_winner(&[a, b]);
    let s = store.get_device_session(&t).await.unwrap().unwrap();
    assert_eq!((s.version, &s.state[..]), (2, if a { &b"flowA"[..] } else { &b"flowB"[..] }));
}

pub async fn a_device_session_starts_once_and_only_from_initialized(store: &dyn Store) {
    let (_, t) = transaction(store, 12_000, 12_100).await;
    assert!(store.get_device_session(&t).await.unwrap().is_none());
    assert!(store.start_device_session(&t, "s1", b"flow0", 12_001).await.unwrap());
    let tx = stored(store, &t).await;
    assert_eq!((tx.state, tx.updated_at), (TxState::InProgress, 12_001));
    let s = store.get_device_session(&t).await.unwrap().unwrap();
    assert_eq!((s.session_id.as_str(), &s.state[..], s.version, s.updated_at), ("s1", &b"flow0"[..], 1, 12_001));
    assert_eq!((s.last_request_hash.as_deref(), s.last_response.is_none()), (None, true));

    assert!(!store.start_device_session(&t, "s2", b"other", 12_002).await.unwrap(), "the first device owns it");
    let s = store.get_device_session(&t).await.unwrap().unwrap();
    assert_eq!((s.session_id.as_str(), &s.state[..], s.version), ("s1", &b"flow0"[..], 1));

    // Not from a final state...
    let (_, t) = transaction(store, 12_000, 12_100).await;
    assert!(store.cancel(&t, b"cancelled", 12_001).await.unwrap());
    assert!(!store.start_device_session(&t, "s1", b"flow0", 12_002).await.unwrap());
    assert!(store.get_device_session(&t).await.unwrap().is_none());

    // ... nor once the transaction has expired, whether the sweep has closed it yet or not.
    let (_, t) = transaction(store, 12_000, 12_100).await;
    assert!(!store.start_device_session(&t, "s1", b"flow0", 12_100).await.unwrap(), "expired at its expires_at");
    assert_eq!(stored(store, &t).await.state, TxState::Initialized);
    assert!(store.get_device_session(&t).await.unwrap().is_none());
    assert!(store.start_device_session(&t, "s1", b"flow0", 12_099).await.unwrap(), "a second earlier it starts");
}

pub async fn save_round_requires_the_current_version(store: &dyn Store) {
    let (_, t) = in_progress(store, 13_000, FAR).await;
    assert!(!store.save_round(&t, 2, round(1, b"flow1", 13_001)).await.unwrap(), "a version not reached");
    assert!(!store.save_round(&t, 0, round(1, b"flow1", 13_001)).await.unwrap(), "an older version");
    let s = store.get_device_session(&t).await.unwrap().unwrap();
    assert_eq!((s.version, &s.state[..], s.last_request_hash.as_deref()), (1, &b"flow0"[..], None), "nothing written");

    assert!(store.save_round(&t, 1, round(1, b"flow1", 13_002)).await.unwrap());
    let s = store.get_device_session(&t).await.unwrap().unwrap();
    assert_eq!((s.version, &s.state[..], s.updated_at), (2, &b"flow1"[..], 13_002));
    assert_eq!(s.last_request_hash.as_deref(), Some("hash"), "kept to recognise a resend");
    assert_eq!(s.last_response.as_deref().map(|r| &r[..]), Some(&b"flow1"[..]), "to answer a resend alike");
    let tx = stored(store, &t).await;
    assert_eq!((tx.state, tx.updated_at, verdict(&tx)), (TxState::InProgress, 13_002, None));

    assert!(!store.save_round(&t, 1, round(2, b"stale", 13_003)).await.unwrap(), "a stale version loses");
    assert_eq!(&store.get_device_session(&t).await.unwrap().unwrap().state[..], b"flow1");
    assert!(store.save_round(&t, 2, round(2, b"flow2", 13_004)).await.unwrap());
    assert_eq!(store.get_device_session(&t).await.unwrap().unwrap().version, 3);
}

pub async fn a_round_is_claimed_by_one_worker_at_a_time(store: &dyn Store) {
    let (_, t) = in_progress(store, 13_500, FAR).await;
    assert!(!store.claim_round(&random_id(), 1, 1, 13_500, 13_600).await.unwrap(), "no session, no claim");
    assert!(!store.claim_round(&t, 2, 1, 13_500, 13_600).await.unwrap(), "a version not reached");
    let claims = four_claims_at_once(store, &t, 13_501, 13_601).await;
    assert_eq!(claims.iter().filter(|c| **c).count(), 1, "exactly one of concurrent claims wins: {claims:?}");
    assert!(!store.claim_round(&t, 1, 1, 13_600, 13_700).await.unwrap(), "held until its lease ends");
    assert!(
        matches!(store.claim_round(&t, 1, 1, 13_600, 13_600).await, Err(StoreError::InvalidInput(_))),
        "a lease must end after now"
    );
    let s = store.get_device_session(&t).await.unwrap().unwrap();
    assert_eq!((s.version, &s.state[..]), (1, &b"flow0"[..]), "a claim changes no flow state");
    assert!(store.save_round(&t, 1, round(1, b"flow1", 13_602)).await.unwrap(), "the claimant saves its round");
}

/// Four claims of the same round at once, as concurrent copies of one request make them.
async fn four_claims_at_once(store: &dyn Store, t: &str, now: i64, lease_until: i64) -> Vec<bool> {
    let (a, b, c, d) = tokio::join!(
        store.claim_round(t, 1, 1, now, lease_until),
        store.claim_round(t, 1, 1, now, lease_until),
        store.claim_round(t, 1, 1, now, lease_until),
        store.claim_round(t, 1, 1, now, lease_until),
    );
    vec![a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()]
}

pub async fn a_round_claim_ends_with_its_save_release_or_lease(store: &dyn Store) {
    let (_, t) = in_progress(store, 13_700, FAR).await;
    // A save supersedes the claim: the next round is free to claim at once.
    assert!(store.claim_round(&t, 1, 1, 13_700, 13_800).await.unwrap());
    assert!(store.save_round(&t, 1, round(1, b"flow1", 13_701)).await.unwrap());
    assert!(!store.claim_round(&t, 1, 2, 13_702, 13_802).await.unwrap(), "the old version is gone");
    assert!(store.claim_round(&t, 2, 2, 13_702, 13_802).await.unwrap(), "the saved round's claim ended with it");

    // A release with another lease end (someone else's claim) changes nothing; the claimant's own release frees it.
    store.release_round(&t, 2, 13_801).await.unwrap();
    assert!(!store.claim_round(&t, 2, 2, 13_703, 13_803).await.unwrap(), "still held");
    store.release_round(&t, 2, 13_802).await.unwrap();
    assert!(store.claim_round(&t, 2, 2, 13_703, 13_803).await.unwrap(), "released, claimed again");

    // A crashed claimant: the lease ends at its `lease_until`, and its late release cannot drop the new claim.
    assert!(!store.claim_round(&t, 2, 2, 13_802, 13_902).await.unwrap(), "a second before the lease ends");
    assert!(store.claim_round(&t, 2, 2, 13_803, 13_903).await.unwrap(), "taken over at the lease end");
    store.release_round(&t, 2, 13_803).await.unwrap();
    assert!(!store.claim_round(&t, 2, 2, 13_804, 13_904).await.unwrap(), "the stale release left the new claim");
}

pub async fn a_finishing_round_stores_the_verdict(store: &dyn Store) {
    for (to, v) in [(TxState::Completed, &b"passed"[..]), (TxState::Failed, &b"too many retakes"[..])] {
        let (m, t) = in_progress(store, 14_000, FAR).await;
        assert!(store.save_round(&t, 1, finishing(1, b"flow1", to, v, 14_001)).await.unwrap());
        let tx = store.get_transaction(&m, &t).await.unwrap().unwrap();
        assert_eq!((tx.state, verdict(&tx)), (to, Some(v)));
        assert_eq!((tx.updated_at, tx.finished_at), (14_001, Some(14_001)));
        assert_eq!(store.get_device_session(&t).await.unwrap().unwrap().version, 2, "the round is recorded too");
    }

    // An open transaction never holds a verdict.
    let (_, t) = in_progress(store, 14_000, FAR).await;
    for open in [TxState::Initialized, TxState::InProgress] {
        let refused = store.save_round(&t, 1, finishing(1, b"flow1", open, b"verdict", 14_002)).await;
        assert!(matches!(refused, Err(StoreError::InvalidInput(_))), "finishing as {open:?}: {refused:?}");
    }
    assert_eq!(store.get_device_session(&t).await.unwrap().unwrap().version, 1, "nothing written");
    let tx = stored(store, &t).await;
    assert_eq!((tx.state, verdict(&tx)), (TxState::InProgress, None));
}

pub async fn a_finished_transaction_refuses_rounds(store: &dyn Store) {
    let (_, t) = in_progress(store, 15_000, FAR).await;
    assert!(store.save_round(&t, 1, finishing(1, b"flow1", TxState::Completed, b"passed", 15_001)).await.unwrap());
    assert!(!store.save_round(&t, 2, round(2, b"flow2", 15_002)).await.unwrap());
    assert_eq!(store.get_device_session(&t).await.unwrap().unwrap().version, 2);

    // Closed by the sweep or by the user: a round still in flight loses.
    let (_, expired) = in_progress(store, 15_000, FAR).await;
    assert!(store.expire(&expired, b"expired", 15_001).await.unwrap());
    let (_, cancelled) = in_progress(store, 15_000, FAR).await;
    assert!(store.cancel(&cancelled, b"cancelled", 15_001).await.unwrap());
    for t in [&expired, &cancelled] {
        assert!(!store.save_round(t, 1, finishing(1, b"flow1", TxState::Completed, b"late", 15_002)).await.unwrap());
        let tx = stored(store, t).await;
        assert!(tx.state.is_final() && verdict(&tx) != Some(&b"late"[..]), "the first verdict stays");
        assert_eq!(store.get_device_session(t).await.unwrap().unwrap().version, 1);
    }

    // Never started: no session, no round.
    let (_, t) = transaction(store, 15_000, FAR).await;
    assert!(!store.save_round(&t, 1, round(1, b"flow1", 15_002)).await.unwrap());
    assert_eq!(stored(store, &t).await.state, TxState::Initialized);
}

pub async fn a_blob_is_read_only_through_its_transaction(store: &dyn Store) {
    let (_, t) = transaction(store, 16_000, FAR).await;
    let (_, other) = transaction(store, 16_000, FAR).await;
    let image = b"\xff\xd8 a pretend JPEG".to_vec();
    let blob = store.put_blob(&t, "face", &image, 16_001).await.unwrap();
    assert_eq!(store.get_blob(&t, &blob).await.unwrap(), image);
    assert_eq!(store.get_blob(&t, &store.put_blob(&t, "face", b"", 16_002).await.unwrap()).await.unwrap(), b"");

    for (tid, bid) in [(&other, &blob), (&random_id(), &blob), (&t, &random_id())] {
        let got = store.get_blob(tid, bid).await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "blob {bid} through {tid}: {got:?}");
    }
    let orphan = store.put_blob(&random_id(), "face", b"x", 16_003).await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "a blob belongs to a transaction: {orphan:?}");
}

pub async fn blob_of_kind_returns_the_newest(store: &dyn Store) {
    let (_, t) = transaction(store, 17_000, FAR).await;
    let (_, other) = transaction(store, 17_000, FAR).await;
    assert_eq!(store.blob_of_kind(&t, "face").await.unwrap(), None);
    let first = store.put_blob(&t, "face", b"1", 17_001).await.unwrap();
    let doc = store.put_blob(&t, "doc_front", b"d", 17_002).await.unwrap();
    let second = store.put_blob(&t, "face", b"2", 17_003).await.unwrap();
    assert_eq!(store.blob_of_kind(&t, "face").await.unwrap(), Some(second));
    let third = store.put_blob(&t, "face", b"3", 17_003).await.unwrap();
    assert_eq!(store.blob_of_kind(&t, "face").await.unwrap(), Some(third), "of blobs stored at one time, the last");
    assert_eq!(store.blob_of_kind(&t, "doc_front").await.unwrap(), Some(doc));
    assert_eq!(store.blob_of_kind(&other, "face").await.unwrap(), None, "per transaction");
    assert_eq!(store.get_blob(&t, &first).await.unwrap(), b"1", "older blobs stay readable");
}

pub async fn shredding_makes_sealed_data_unreadable_and_keeps_the_row(store: &dyn Store) {
    let (m, t) = in_progress(store, 18_000, FAR).await;
    let blob = store.put_blob(&t, "face", b"face", 18_001).await.unwrap();
    assert!(store.save_round(&t, 1, finishing(1, b"flow1", TxState::Completed, b"passed", 18_002)).await.unwrap());
    assert!(store.delete_evidence(&t, Evidence::All, None, 18_003).await.unwrap());

    let tx = store.get_transaction(&m, &t).await.unwrap().expect("the row stays, for accounting");
    assert_eq!(
        (tx.state, tx.created_at, tx.updated_at, tx.finished_at),
        (TxState::Completed, 18_000, 18_003, Some(18_002))
    );
    assert!(tx.options.is_none() && tx.device_secret.is_none() && tx.verdict.is_none(), "nothing opens any more");
    assert!(store.get_blob(&t, &blob).await.is_err());
    assert_eq!(store.blob_of_kind(&t, "face").await.unwrap(), None);
    assert!(store.put_blob(&t, "face", b"face", 18_004).await.is_err(), "nothing new is sealed for it");
}

pub async fn deleting_images_or_text_keeps_the_rest_and_the_decision(store: &dyn Store) {
    let (m, t) = in_progress(store, 18_200, FAR).await;
    let blob = store.put_blob(&t, "face", b"face", 18_201).await.unwrap();
    assert!(store.save_round(&t, 1, finishing(1, b"flow1", TxState::Completed, b"passed", 18_202)).await.unwrap());
    let decision = Decision { passed: true, sub_code: "200".into() };

    assert!(store.delete_evidence(&t, Evidence::Images, Some(&decision), 18_203).await.unwrap());
    let tx = store.get_transaction(&m, &t).await.unwrap().unwrap();
    assert_eq!(verdict(&tx), Some(&b"passed"[..]), "deleting the images keeps the text");
    assert!(store.get_blob(&t, &blob).await.is_err() && store.blob_of_kind(&t, "face").await.unwrap().is_none());
    assert_eq!((tx.deleted, tx.decision.clone()), (Some((Evidence::Images, 18_203)), Some(decision.clone())));
    assert!(store.delete_evidence(&t, Evidence::Images, None, 18_204).await.unwrap(), "again: harmless");

    let (m2, t2) = in_progress(store, 18_210, FAR).await;
    let blob2 = store.put_blob(&t2, "face", b"face2", 18_211).await.unwrap();
    assert!(store.save_round(&t2, 1, finishing(1, b"flow1", TxState::Failed, b"failed", 18_212)).await.unwrap());
    let failed = Decision { passed: false, sub_code: "205".into() };
    let rounds = store.list_rounds(&t2).await.unwrap();
    assert_eq!(
        rounds,
        vec![RoundSummary { round: 1, step: "FACE".into(), outcome: "done".into(), at: 18_212 }],
        "the drop-off log: step, outcome and time of each round"
    );
    assert!(store.delete_evidence(&t2, Evidence::Text, Some(&failed), 18_213).await.unwrap());
    assert!(store.list_rounds(&t2).await.unwrap().is_empty(), "the round log goes with the text");
    let tx2 = store.get_transaction(&m2, &t2).await.unwrap().unwrap();
    assert!(tx2.verdict.is_none() && tx2.options.is_none() && tx2.device_secret.is_none(), "the text is gone");
    assert!(store.get_device_session(&t2).await.unwrap().is_none(), "with the flow state");
    assert_eq!(store.get_blob(&t2, &blob2).await.unwrap(), b"face2", "the images stay");
    assert_eq!(tx2.decision, Some(failed.clone()));
    // Images after text: everything, and the key goes too; the first decision stays.
    let other = Decision { passed: true, sub_code: "200".into() };
    assert!(store.delete_evidence(&t2, Evidence::Images, Some(&other), 18_214).await.unwrap());
    let tx2 = store.get_transaction(&m2, &t2).await.unwrap().unwrap();
    assert_eq!((tx2.deleted, tx2.decision), (Some((Evidence::All, 18_214)), Some(failed)));
    assert!(store.put_blob(&t2, "face", b"x", 18_215).await.is_err(), "the data key is gone");
    assert_eq!(tx2.state, TxState::Failed, "the state stays, for accounting");

    // A deletion after the next query is recorded until a deletion happens.
    assert!(store.set_delete_after_query(&t, Some(Evidence::All)).await.unwrap());
    assert_eq!(stored(store, &t).await.delete_after_query, Some(Evidence::All));
    assert!(store.delete_evidence(&t, Evidence::All, None, 18_220).await.unwrap());
    assert_eq!(stored(store, &t).await.delete_after_query, None);
    assert!(!store.delete_evidence(&random_id(), Evidence::All, None, 18_221).await.unwrap(), "no such transaction");
    assert!(!store.set_delete_after_query(&random_id(), None).await.unwrap());
}

pub async fn retention_picks_finished_transactions_by_their_merchants_retention(store: &dyn Store) {
    // Default retention 100 s; merchant A keeps 10 s, merchant B the default.
    let (a, ta) = in_progress(store, 18_300, FAR).await;
    assert!(store.set_merchant_retention(&a, Some(10)).await.unwrap());
    assert_eq!(store.get_merchant(&a).await.unwrap().unwrap().retention_s, Some(10));
    assert!(store.save_round(&ta, 1, finishing(1, b"f", TxState::Completed, b"v", 18_301)).await.unwrap());
    let (_, tb) = in_progress(store, 18_300, FAR).await;
    assert!(store.save_round(&tb, 1, finishing(1, b"f", TxState::Completed, b"v", 18_301)).await.unwrap());
    let (_, open) = in_progress(store, 18_300, FAR).await;
    let due = |now| async move { store.due_for_deletion(100, now, LISTING).await.unwrap() };
    assert!(!due(18_310).await.contains(&ta), "due at finish + retention, not before");
    assert!(due(18_311).await.contains(&ta));
    assert!(!due(18_311).await.contains(&tb), "B keeps the default");
    assert!(due(18_401).await.contains(&tb));
    assert!(!due(i64::MAX / 2).await.contains(&open), "an open transaction is never due");
    assert!(store.delete_evidence(&ta, Evidence::All, None, 18_402).await.unwrap());
    assert!(!due(18_402).await.contains(&ta), "done with once all is deleted");
    assert!(store.set_merchant_retention(&a, None).await.unwrap());
    assert_eq!(store.get_merchant(&a).await.unwrap().unwrap().retention_s, None);
    assert!(store.set_merchant_retention(&a, Some(0)).await.is_err());
    assert!(!store.set_merchant_retention("mch_none", Some(5)).await.unwrap());
}

pub async fn callbacks_wait_for_the_end_are_leased_and_logged(store: &dyn Store) {
    let (m, t) = in_progress(store, 18_500, FAR).await;
    store.enqueue_callback(&t, &m, b"https://shop.example/cb?token=x", 18_500).await.unwrap();
    store.enqueue_callback(&t, &m, b"other", 18_500).await.unwrap();
    let mine = |v: Vec<CallbackDue>| v.into_iter().filter(|c| c.transaction_id == t).collect::<Vec<_>>();
    assert!(mine(store.claim_due_callbacks(18_501, 18_561, LISTING).await.unwrap()).is_empty(), "not before the end");
    assert!(store.save_round(&t, 1, finishing(1, b"f", TxState::Completed, b"v", 18_502)).await.unwrap());
    let due = mine(store.claim_due_callbacks(18_503, 18_563, LISTING).await.unwrap());
    assert_eq!(due.len(), 1);
    assert_eq!(
        (&due[0].request[..], due[0].attempts, due[0].merchant_id.as_str()),
        (&b"https://shop.example/cb?token=x"[..], 0, m.as_str()),
        "enqueued once, first request kept"
    );
    assert!(mine(store.claim_due_callbacks(18_504, 18_564, LISTING).await.unwrap()).is_empty(), "leased");
    assert!(store.claim_due_callbacks(18_504, 18_504, LISTING).await.is_err());
    let failed = CallbackAttempt { attempt: 1, at: 18_505, status: Some(500), error: None };
    assert!(
        store
            .record_callback_attempt(&t, failed.clone(), CallbackOutcome::Retry { next_attempt_at: 18_510 })
            .await
            .unwrap()
    );
    assert!(
        !store.record_callback_attempt(&t, failed, CallbackOutcome::Dead).await.unwrap(),
        "the same attempt counts once"
    );
    assert!(mine(store.claim_due_callbacks(18_509, 18_569, LISTING).await.unwrap()).is_empty(), "backing off");
    let due = mine(store.claim_due_callbacks(18_510, 18_570, LISTING).await.unwrap());
    assert_eq!(due[0].attempts, 1);
    let ok = CallbackAttempt { attempt: 2, at: 18_511, status: Some(200), error: None };
    assert!(store.record_callback_attempt(&t, ok, CallbackOutcome::Delivered).await.unwrap());
    assert!(
        mine(store.claim_due_callbacks(i64::MAX / 2, i64::MAX / 2 + 1, LISTING).await.unwrap()).is_empty(),
        "delivered: done"
    );
    let listed: Vec<CallbackRecord> = store
        .list_callbacks(Some("delivered"), LISTING)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.transaction_id == t)
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].state.as_str(), listed[0].attempts, listed[0].log.len()), ("delivered", 2, 2));
    assert_eq!(listed[0].log[0].status, Some(500));
    assert!(store.list_callbacks(Some("dead"), LISTING).await.unwrap().iter().all(|c| c.transaction_id != t));

    let s1 = store.merchant_callback_secret(&m).await.unwrap().expect("the merchant exists");
    let s2 = store.merchant_callback_secret(&m).await.unwrap().unwrap();
    assert_eq!(*s1, *s2, "created once, then the same");
    assert!(s1.len() >= 32);
    assert!(store.merchant_callback_secret("mch_none").await.unwrap().is_none());
}

pub async fn shredding_keeps_frame_digests(store: &dyn Store) {
    let (_, t) = in_progress(store, 18_100, FAR).await;
    let d = digest();
    assert_eq!(store.register_frame_digests(&t, &[d], 18_101, FAR).await.unwrap(), None);
    store.delete_evidence(&t, Evidence::All, None, 18_102).await.unwrap();
    let replay = store.register_frame_digests(&random_id(), &[d], 18_103, FAR).await.unwrap();
    assert_eq!(replay, Some(t), "a shredded transaction's frames are still refused elsewhere");
}

pub async fn a_shredded_open_transaction_can_still_be_closed(store: &dyn Store) {
    let (_, t) = transaction(store, 19_000, 19_100).await;
    store.delete_evidence(&t, Evidence::All, None, 19_001).await.unwrap();
    assert!(store.overdue_transactions(19_100, LISTING).await.unwrap().contains(&t));
    assert!(store.expire(&t, b"timed out", 19_100).await.unwrap());
    let tx = stored(store, &t).await;
    assert_eq!((tx.state, verdict(&tx), tx.finished_at), (TxState::Expired, None, Some(19_100)));
    assert!(!store.overdue_transactions(19_100, LISTING).await.unwrap().contains(&t), "the sweep is done with it");
}

pub async fn ping_answers(store: &dyn Store) {
    store.ping().await.unwrap();
}

/// Every audit entry in the store, read in pages as the verifier does.
async fn all_audit_entries(store: &dyn Store) -> Vec<crate::AuditEntry> {
    let mut all = Vec::new();
    loop {
        let page = store.audit_entries(all.last().map_or(0, |e: &crate::AuditEntry| e.seq), 7).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

fn audit_entry<'a>(at: i64, action: &'a str, tx: Option<&'a str>, detail: &'a str) -> crate::NewAuditEntry<'a> {
    crate::NewAuditEntry { at, actor: "system", action, transaction_id: tx, merchant_id: Some("mch_contract"), detail }
}

pub async fn audit_appends_take_increasing_seqs_in_a_verified_chain(store: &dyn Store) {
    let t = random_id();
    let mut seqs = Vec::new();
    for (i, action) in ["transaction.created", "device.started", "transaction.finished"].into_iter().enumerate() {
        seqs.push(store.append_audit(audit_entry(20_000 + i as i64, action, Some(&t), r#"{"n":1}"#)).await.unwrap());
    }
    seqs.push(store.append_audit(audit_entry(20_003, "merchant.created", None, "{}")).await.unwrap());
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "consecutive seqs: {seqs:?}");
    let all = all_audit_entries(store).await;
    assert_eq!(crate::verify_chain(&all), Ok(all.len()), "the whole log is one intact chain");
    assert_eq!(all.first().map(|e| (e.seq, e.prev_hash)), Some((1, crate::AUDIT_GENESIS)));
    let mine: Vec<_> = all.iter().filter(|e| seqs.contains(&e.seq)).collect();
    assert_eq!(mine.len(), 4);
    assert_eq!(
        (mine[0].actor.as_str(), mine[0].action.as_str(), mine[0].transaction_id.as_deref(), mine[0].at),
        ("system", "transaction.created", Some(t.as_str()), 20_000)
    );
    assert_eq!((mine[3].transaction_id.as_deref(), mine[3].detail.as_str()), (None, "{}"));
    assert_eq!(mine[0].merchant_id.as_deref(), Some("mch_contract"));
    let page = store.audit_entries(seqs[0], 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![seqs[1], seqs[2]], "after_seq and limit");
}

pub async fn audit_entries_are_not_modified_by_later_appends(store: &dyn Store) {
    let first = store.append_audit(audit_entry(20_100, "result.read", Some(&random_id()), "{}")).await.unwrap();
    let before = all_audit_entries(store).await;
    let append = |at| store.append_audit(audit_entry(at, "image.processed", None, "{}"));
    let (a, b, c, d) = tokio::join!(append(20_101), append(20_102), append(20_103), append(20_104));
    let seqs = vec![a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()];
    let mut sorted = seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 4, "concurrent appends take distinct seqs: {seqs:?}");
    assert!(sorted[0] > first);
    let after = all_audit_entries(store).await;
    assert_eq!(after[..before.len()], before[..], "earlier entries are unchanged");
    assert_eq!(after.len(), before.len() + 4);
    assert_eq!(crate::verify_chain(&after), Ok(after.len()));
}

// console

fn console_user<'a>(merchant_id: &'a str, username: &'a str, role: ConsoleRole) -> NewConsoleUser<'a> {
    NewConsoleUser {
        merchant_id,
        username,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        role,
        now: 30_000,
    }
}

pub async fn console_users_are_unique_and_sessions_expire(store: &dyn Store) {
    let m = merchant(store, 30_000).await;
    let name = format!("ann.{}", random_id());
    let u = store.create_console_user(console_user(&m.id, &name, ConsoleRole::Reviewer)).await.unwrap();
    assert_eq!((u.merchant_id.as_str(), u.role), (m.id.as_str(), ConsoleRole::Reviewer));
    let other = merchant(store, 30_000).await;
    let taken = store.create_console_user(console_user(&other.id, &name, ConsoleRole::Viewer)).await;
    assert!(matches!(taken, Err(StoreError::InvalidInput(_))), "user names are unique across merchants: {taken:?}");
    let bad = store.create_console_user(console_user(&m.id, "a b", ConsoleRole::Viewer)).await;
    assert!(matches!(bad, Err(StoreError::InvalidInput(_))), "{bad:?}");
    let orphan_name = format!("x{}", random_id());
    let orphan = store.create_console_user(console_user("mch_nosuch", &orphan_name, ConsoleRole::Viewer)).await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");
    let login = store.console_login(&name).await.unwrap().expect("the user logs in by name");
    assert_eq!((login.user, login.password_hash.starts_with("$argon2id$")), (u.clone(), true));
    assert!(store.console_login(&format!("{name}x")).await.unwrap().is_none());
    assert!(store.list_console_users(Some(&m.id)).await.unwrap().contains(&u));
    assert!(!store.list_console_users(Some(&other.id)).await.unwrap().contains(&u));

    let token: [u8; 32] = digest();
    assert!(store.create_console_session(&token, &u.id, 30_000, 30_000).await.is_err(), "a session must end later");
    store.create_console_session(&token, &u.id, 30_000, 31_000).await.unwrap();
    let s = store.console_session(&token, 30_100, 300).await.unwrap().expect("live");
    assert_eq!((s.user.id.as_str(), s.expires_at), (u.id.as_str(), 31_000));
    assert!(store.console_session(&digest(), 30_100, 300).await.unwrap().is_none(), "another token opens nothing");
    // Each use moves the idle deadline; a gap longer than the idle time ends the session.
    assert!(store.console_session(&token, 30_390, 300).await.unwrap().is_some(), "used 290 s after the last use");
    assert!(store.console_session(&token, 30_690, 300).await.unwrap().is_none(), "300 s idle");
    let t2: [u8; 32] = digest();
    store.create_console_session(&t2, &u.id, 30_900, 31_000).await.unwrap();
    assert!(store.console_session(&t2, 30_999, 300).await.unwrap().is_some());
    assert!(store.console_session(&t2, 31_000, 300).await.unwrap().is_none(), "expires at its expires_at");
    let t3: [u8; 32] = digest();
    store.create_console_session(&t3, &u.id, 30_000, 40_000).await.unwrap();
    store.end_console_session(&t3).await.unwrap();
    assert!(store.console_session(&t3, 30_001, 300).await.unwrap().is_none(), "logged out");
    store.purge_console(31_000, 0).await.unwrap();
    assert!(store.console_session(&t2, 30_999, 300).await.unwrap().is_none(), "purged at its expiry");
}

pub async fn console_login_failures_are_counted_per_key(store: &dyn Store) {
    let (a, b) = (format!("user:{}", random_id()), format!("addr:{}", random_id()));
    for at in [32_000, 32_010, 32_020] {
        store.record_console_login_failure(&[&a, &b], at).await.unwrap();
    }
    store.record_console_login_failure(&[&b], 32_030).await.unwrap();
    assert_eq!(store.console_login_failures(&[&a, &b], 32_000).await.unwrap(), [3, 4]);
    assert_eq!(store.console_login_failures(&[&a, &b], 32_015).await.unwrap(), [1, 2], "only since");
    store.clear_console_login_failures(&a).await.unwrap();
    assert_eq!(store.console_login_failures(&[&a, &b], 0).await.unwrap(), [0, 4]);
    let many = ["k1", "k2", "k3", "k4", "k5"];
    assert!(store.record_console_login_failure(&many, 32_000).await.is_err(), "bounded keys");
    store.purge_console(32_000, 32_025).await.unwrap();
    assert_eq!(store.console_login_failures(&[&b], 0).await.unwrap(), [1], "old failures purged");
}

/// Drains the indexer's backlog, indexing everything as `row_for` says, until `want` are all indexed final.
async fn index_all(store: &dyn Store, row_for: impl Fn(&str) -> ConsoleIndexRow) {
    for _ in 0..10_000 {
        let ids = store.console_unindexed(MAX_INDEX_BATCH as i64).await.unwrap();
        if ids.is_empty() {
            return;
        }
        let rows: Vec<ConsoleIndexRow> = ids.iter().map(|id| row_for(id)).collect();
        store.put_console_index(&rows).await.unwrap();
    }
    panic!("the index backlog does not drain");
}

fn index_row(id: &str, is_final: bool, passed: Option<bool>, sub: Option<&str>, score: Option<f64>) -> ConsoleIndexRow {
    ConsoleIndexRow {
        transaction_id: id.to_owned(),
        is_final,
        passed,
        sub_code: sub.map(str::to_owned),
        user_tag: Some([7; 32]),
        face_score: score,
        face_threshold: score.map(|_| 70.0),
        soft_failure: sub == Some("202"),
    }
}

pub async fn the_console_index_filters_one_merchants_transactions(store: &dyn Store) {
    let m = merchant(store, 33_000).await;
    let other = merchant(store, 33_000).await;
    let mut ids = Vec::new();
    for (i, biz) in ["b-pass", "b-fail", "b-soft", "b-open"].iter().enumerate() {
        let mut tx = new_transaction(&m.id, 33_000 + i as i64, FAR);
        tx.merchant_biz_id = (*biz).into();
        ids.push(tx.id.clone());
        store.create_transaction(tx).await.unwrap();
    }
    let foreign = new_transaction(&other.id, 33_000, FAR);
    let foreign_id = foreign.id.clone();
    store.create_transaction(foreign).await.unwrap();
    for (i, (id, v)) in ids[..3].iter().zip([b"pass", b"fail", b"soft"]).enumerate() {
        assert!(store.start_device_session(id, "s", b"flow0", 33_010).await.unwrap());
        let end = 33_020 + i as i64;
        assert!(store.save_round(id, 1, finishing(1, b"f", TxState::Completed, v, end)).await.unwrap());
    }
    let ids2 = ids.clone();
    let row_for = move |id: &str| match ids2.iter().position(|x| x == id) {
        Some(0) => index_row(id, true, Some(true), Some("200"), Some(90.0)),
        Some(1) => index_row(id, true, Some(false), Some("204"), Some(67.5)),
        Some(2) => index_row(id, true, Some(false), Some("202"), Some(95.0)),
        Some(3) => index_row(id, false, None, None, None),
        _ => index_row(id, true, Some(false), Some("201"), None),
    };
    index_all(store, &row_for).await;
    let mid = m.id.as_str();
    let list = |f: ConsoleFilter| async move {
        let (rows, total) = store.console_transactions(mid, &f, 0, 50).await.unwrap();
        assert_eq!(total as usize, rows.len());
        rows.into_iter().map(|r| r.merchant_biz_id).collect::<Vec<_>>()
    };
    assert_eq!(list(ConsoleFilter::default()).await, ["b-open", "b-soft", "b-fail", "b-pass"], "newest first");
    let verdict = |v| ConsoleFilter { verdict: Some(v), ..Default::default() };
    assert_eq!(list(verdict(VerdictFilter::Passed)).await, ["b-pass"]);
    assert_eq!(list(verdict(VerdictFilter::Failed)).await, ["b-soft", "b-fail"]);
    assert_eq!(list(verdict(VerdictFilter::Open)).await, ["b-open"]);
    let sub = ConsoleFilter { sub_code: Some("204".into()), ..Default::default() };
    assert_eq!(list(sub).await, ["b-fail"]);
    let dates = ConsoleFilter { created_from: Some(33_001), created_to: Some(33_003), ..Default::default() };
    assert_eq!(list(dates).await, ["b-soft", "b-fail"], "from inclusive, to exclusive");
    let biz = ConsoleFilter { merchant_biz_id: Some("b-pass".into()), ..Default::default() };
    assert_eq!(list(biz).await, ["b-pass"]);
    let user = ConsoleFilter { user_tag: Some([7; 32]), product: Some("eKYC".into()), ..Default::default() };
    assert_eq!(list(user).await.len(), 4);
    let nobody = ConsoleFilter { user_tag: Some([8; 32]), ..Default::default() };
    assert!(list(nobody).await.is_empty());
    let (rows, _) = store.console_transactions(&m.id, &ConsoleFilter::default(), 1, 2).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.merchant_biz_id.as_str()).collect::<Vec<_>>(), ["b-soft", "b-fail"], "paged");
    assert!(store.console_transactions(&m.id, &ConsoleFilter::default(), 0, MAX_CONSOLE_PAGE + 1).await.is_err());
    let (rows, _) = store.console_transactions(&m.id, &ConsoleFilter::default(), 0, 50).await.unwrap();
    assert!(rows.iter().all(|r| r.transaction_id != foreign_id), "another merchant's transaction is never listed");

    // The open one is indexed again once it ends; a final row is not rewritten.
    assert!(store.start_device_session(&ids[3], "s", b"flow0", 33_030).await.unwrap());
    assert!(store.save_round(&ids[3], 1, finishing(1, b"f", TxState::Failed, b"x", 33_040)).await.unwrap());
    let again = store.console_unindexed(MAX_INDEX_BATCH as i64).await.unwrap();
    assert!(again.contains(&ids[3]) && !again.contains(&ids[0]), "{again:?}");
    store.put_console_index(&[index_row(&ids[0], true, Some(false), Some("201"), None)]).await.unwrap();
    index_all(store, |id| index_row(id, true, Some(false), Some("209"), None)).await;
    assert_eq!(list(verdict(VerdictFilter::Passed)).await, ["b-pass"], "a final row stays as first written");
    assert_eq!(list(ConsoleFilter { sub_code: Some("209".into()), ..Default::default() }).await, ["b-open"]);

    // The review queue: the rule's parts, and reviewed transactions leave it.
    let queue = |rule: ReviewRule| async move {
        let (rows, total) = store.console_review_queue(mid, &rule, 0, 50).await.unwrap();
        assert_eq!(total as usize, rows.len());
        rows.into_iter().map(|r| r.merchant_biz_id).collect::<Vec<_>>()
    };
    let band = ReviewRule { face_band: 5.0, soft_failures: false, all_failures: false };
    assert_eq!(queue(band).await, ["b-fail"], "67.5 is within 5 of 70; 90 and 95 are not");
    let soft = ReviewRule { face_band: 0.0, soft_failures: true, all_failures: false };
    assert_eq!(queue(soft).await, ["b-soft"]);
    let all = ReviewRule { face_band: 0.0, soft_failures: false, all_failures: true };
    assert_eq!(queue(all).await, ["b-fail", "b-soft", "b-open"], "oldest finished first");
    assert_eq!(store.review_rule(&m.id).await.unwrap(), ReviewRule::default());
    assert!(store.set_review_rule(&m.id, Some(all)).await.unwrap());
    assert_eq!(store.review_rule(&m.id).await.unwrap(), all);
    assert_eq!(store.review_rule(&other.id).await.unwrap(), ReviewRule::default(), "per merchant");
    assert!(!store.set_review_rule("mch_nosuch", Some(all)).await.unwrap());
    let silly = ReviewRule { face_band: f64::NAN, ..all };
    assert!(store.set_review_rule(&m.id, Some(silly)).await.is_err());

    let rev_name = format!("rev.{}", random_id());
    let u = store.create_console_user(console_user(&m.id, &rev_name, ConsoleRole::Reviewer)).await.unwrap();
    assert!(store.record_review(new_review(&ids[1], &m.id, &u.id, "looks like her")).await.unwrap());
    assert!(
        !store.record_review(new_review(&ids[1], &m.id, &u.id, "second opinion")).await.unwrap(),
        "the first decision stands"
    );
    let r = store.review(&m.id, &ids[1]).await.unwrap().expect("recorded");
    assert_eq!(
        (r.decision, r.reason.as_deref(), r.username.as_str(), r.at),
        (ReviewDecision::Approved, Some("looks like her"), u.username.as_str(), 33_100)
    );
    assert!(store.review(&other.id, &ids[1]).await.unwrap().is_none(), "another merchant sees no review");
    assert_eq!(queue(all).await, ["b-soft", "b-open"], "reviewed transactions leave the queue");
    let (rows, _) = store.console_transactions(&m.id, &biz_filter("b-fail"), 0, 5).await.unwrap();
    assert_eq!(rows[0].review, Some(ReviewDecision::Approved));
    let foreign_review = new_review(&foreign_id, &m.id, &u.id, "x");
    assert!(matches!(store.record_review(foreign_review).await, Err(StoreError::NotFound(_))));
    let empty = new_review(&ids[0], &m.id, &u.id, "  ");
    assert!(matches!(store.record_review(empty).await, Err(StoreError::InvalidInput(_))));
    // The reason is text evidence: a text deletion takes it, the decision stays.
    let kept = Decision { passed: false, sub_code: "204".into() };
    assert!(store.delete_evidence(&ids[1], Evidence::Text, Some(&kept), 33_200).await.unwrap());
    let r = store.review(&m.id, &ids[1]).await.unwrap().expect("the decision stays");
    assert_eq!((r.decision, r.reason), (ReviewDecision::Approved, None));
}

fn new_review<'a>(transaction_id: &'a str, merchant_id: &'a str, user_id: &'a str, reason: &'a str) -> NewReview<'a> {
    NewReview { transaction_id, merchant_id, user_id, decision: ReviewDecision::Approved, reason, now: 33_100 }
}

fn biz_filter(biz: &str) -> ConsoleFilter {
    ConsoleFilter { merchant_biz_id: Some(biz.into()), ..Default::default() }
}

pub async fn a_reviewed_callback_is_due_again(store: &dyn Store) {
    let (m, t) = in_progress(store, 34_000, FAR).await;
    assert!(!store.rearm_callback(&t, 34_000).await.unwrap(), "owes no callback");
    store.enqueue_callback(&t, &m, b"cb", 34_000).await.unwrap();
    assert!(store.save_round(&t, 1, finishing(1, b"f", TxState::Completed, b"v", 34_001)).await.unwrap());
    let mine = |v: Vec<CallbackDue>| v.into_iter().filter(|c| c.transaction_id == t).count();
    assert_eq!(mine(store.claim_due_callbacks(34_002, 34_062, LISTING).await.unwrap()), 1);
    let ok = CallbackAttempt { attempt: 1, at: 34_003, status: Some(200), error: None };
    assert!(store.record_callback_attempt(&t, ok, CallbackOutcome::Delivered).await.unwrap());
    assert_eq!(mine(store.claim_due_callbacks(34_100, 34_160, LISTING).await.unwrap()), 0, "delivered");
    assert!(store.rearm_callback(&t, 34_200).await.unwrap());
    let due = store.claim_due_callbacks(34_200, 34_260, LISTING).await.unwrap();
    let due: Vec<_> = due.into_iter().filter(|c| c.transaction_id == t).collect();
    assert_eq!((due.len(), due[0].attempts, due[0].created_at), (1, 1, 34_200), "due again, attempts kept");
    let again = CallbackAttempt { attempt: 2, at: 34_201, status: Some(200), error: None };
    assert!(store.record_callback_attempt(&t, again, CallbackOutcome::Delivered).await.unwrap());
    let c = store.console_callback(&m, &t).await.unwrap().expect("the merchant sees its callback");
    assert_eq!((c.state.as_str(), c.log.len(), c.log[1].at), ("delivered", 2, 34_201));
    let other = merchant(store, 34_000).await;
    assert!(store.console_callback(&other.id, &t).await.unwrap().is_none(), "another merchant's is not shown");
}

pub async fn the_console_summary_counts_days_failures_and_rounds(store: &dyn Store) {
    let m = merchant(store, 35 * 86_400).await;
    let day = 35 * 86_400;
    let mut ids = Vec::new();
    for (i, (v, to)) in
        [(true, TxState::Completed), (false, TxState::Completed), (false, TxState::Completed)].into_iter().enumerate()
    {
        let tx = new_transaction(&m.id, day + i as i64, FAR);
        let id = tx.id.clone();
        store.create_transaction(tx).await.unwrap();
        assert!(store.start_device_session(&id, "s", b"f0", day + 10).await.unwrap());
        assert!(store.save_round(&id, 1, round(1, b"f1", day + 40)).await.unwrap());
        let end = day + 86_400 * i as i64 + 100;
        assert!(store.save_round(&id, 2, finishing(2, b"f2", to, b"v", end)).await.unwrap());
        ids.push((id, v));
    }
    let abandoned = new_transaction(&m.id, day + 5, FAR);
    let abandoned_id = abandoned.id.clone();
    store.create_transaction(abandoned).await.unwrap();
    assert!(store.expire(&abandoned_id, b"t", day + 2000).await.unwrap());
    let rows: Vec<ConsoleIndexRow> = ids
        .iter()
        .map(|(id, p)| index_row(id, true, Some(*p), Some(if *p { "200" } else { "204" }), None))
        .chain([index_row(&abandoned_id, true, Some(false), Some("207"), None)])
        .collect();
    store.put_console_index(&rows).await.unwrap();
    let s = store.console_summary(&m.id, day, day + 86_400).await.unwrap();
    assert_eq!(
        s.days,
        [
            DayCount { day: 35, passed: 1, failed: 1 },
            DayCount { day: 36, passed: 0, failed: 1 },
            DayCount { day: 37, passed: 0, failed: 1 }
        ],
        "by the day they finished"
    );
    assert_eq!(s.failures, [("204".to_owned(), 2), ("207".to_owned(), 1)]);
    assert_eq!(s.flows.len(), 4);
    let f = s.flows.iter().find(|f| f.transaction_id == ids[0].0).unwrap();
    assert_eq!((f.started_at, f.rounds.len(), f.rounds[0].at), (Some(day + 10), 2, day + 40));
    let a = s.flows.iter().find(|f| f.transaction_id == abandoned_id).unwrap();
    assert_eq!((a.state, a.started_at, a.rounds.len()), (TxState::Expired, None, 0));
    assert!(store.console_summary(&m.id, day, day).await.is_err(), "an empty period is refused");
}

// Shared limits and coordination (several instances on one database).

pub async fn rate_tokens_are_taken_refused_refilled_and_refunded(store: &dyn Store) {
    let key = format!("t:{}", random_id());
    // Burst 2, 1 token per second: two at once, then a wait of about a second.
    assert_eq!(store.take_rate_token(&key, 1.0, 2.0, 1_000_000).await.unwrap(), None, "a new bucket starts full");
    assert_eq!(store.take_rate_token(&key, 1.0, 2.0, 1_000_000).await.unwrap(), None);
    let wait = store.take_rate_token(&key, 1.0, 2.0, 1_000_000).await.unwrap().expect("the third is refused");
    assert!((900..=1000).contains(&wait), "a token is due in about a second, not {wait} ms");
    let wait = store.take_rate_token(&key, 1.0, 2.0, 1_000_500).await.unwrap().expect("half a token is not one");
    assert!((400..=500).contains(&wait), "the wait shrinks as the bucket refills: {wait} ms");
    assert_eq!(store.take_rate_token(&key, 1.0, 2.0, 1_001_000).await.unwrap(), None, "refilled after a second");
    assert!(store.take_rate_token(&key, 1.0, 2.0, 1_001_000).await.unwrap().is_some());
    store.refund_rate_token(&key, 2.0).await.unwrap();
    assert_eq!(store.take_rate_token(&key, 1.0, 2.0, 1_001_000).await.unwrap(), None, "a refund gives one back");
    // A long pause refills to the burst, never beyond it.
    for _ in 0..2 {
        assert_eq!(store.take_rate_token(&key, 1.0, 2.0, 9_000_000).await.unwrap(), None);
    }
    assert!(store.take_rate_token(&key, 1.0, 2.0, 9_000_000).await.unwrap().is_some(), "the burst caps the refill");
    // A clock that steps back refills nothing and breaks nothing.
    assert!(store.take_rate_token(&key, 1.0, 2.0, 8_000_000).await.unwrap().is_some());
    for (rate, burst) in [(0.0, 2.0), (1.0, 0.5), (f64::NAN, 2.0), (1.0, f64::INFINITY)] {
        assert!(
            matches!(store.take_rate_token(&key, rate, burst, 1).await, Err(StoreError::InvalidInput(_))),
            "rate {rate}, burst {burst} is refused"
        );
    }
}

pub async fn concurrent_takers_never_share_a_token(store: &dyn Store) {
    let key = format!("t:{}", random_id());
    let take = || store.take_rate_token(&key, 0.001, 5.0, 2_000_000);
    let (a, b, c, d, e, f, g, h) = tokio::join!(take(), take(), take(), take(), take(), take(), take(), take());
    let taken = [a, b, c, d, e, f, g, h].into_iter().filter(|r| r.as_ref().unwrap().is_none()).count();
    assert_eq!(taken, 5, "eight concurrent takers of a five-token bucket: exactly five succeed");
}

pub async fn idle_rate_buckets_are_purged_by_prefix(store: &dyn Store) {
    let prefix = format!("p{}:", random_id());
    let (old, new, other) = (format!("{prefix}old"), format!("{prefix}new"), format!("o{}", random_id()));
    store.take_rate_token(&old, 1.0, 1.0, 5_000).await.unwrap();
    store.take_rate_token(&new, 1.0, 1.0, 50_000).await.unwrap();
    store.take_rate_token(&other, 1.0, 1.0, 5_000).await.unwrap();
    assert_eq!(store.purge_rate_buckets(&prefix, 10_000).await.unwrap(), 1, "only the idle bucket of the prefix");
    assert_eq!(store.take_rate_token(&old, 1.0, 1.0, 5_000).await.unwrap(), None, "purged: it starts full again");
    assert!(store.take_rate_token(&new, 1.0, 1.0, 50_000).await.unwrap().is_some(), "the recent one is kept");
    assert!(store.take_rate_token(&other, 1.0, 1.0, 5_000).await.unwrap().is_some(), "another prefix is kept");
}

pub async fn a_lease_is_held_by_one_holder_until_it_ends(store: &dyn Store) {
    let name = format!("lease-{}", random_id());
    assert!(store.try_lease(&name, "a", 100, 200).await.unwrap(), "a free lease is taken");
    assert!(!store.try_lease(&name, "b", 150, 250).await.unwrap(), "held by another until it ends");
    assert!(store.try_lease(&name, "a", 150, 300).await.unwrap(), "the holder renews it");
    assert!(!store.try_lease(&name, "b", 299, 400).await.unwrap(), "renewed: still held");
    assert!(store.try_lease(&name, "b", 300, 400).await.unwrap(), "taken over once it ended");
    assert!(!store.try_lease(&name, "a", 350, 450).await.unwrap(), "the old holder lost it");
    let (x, y, z) = tokio::join!(
        store.try_lease(&name, "x", 500, 600),
        store.try_lease(&name, "y", 500, 600),
        store.try_lease(&name, "z", 500, 600)
    );
    let winners: Vec<&str> =
        [("x", x), ("y", y), ("z", z)].into_iter().filter(|(_, r)| *r.as_ref().unwrap()).map(|(h, _)| h).collect();
    assert_eq!(winners.len(), 1, "of concurrent takers exactly one wins");
    assert!(matches!(store.try_lease(&name, "x", 700, 700).await, Err(StoreError::InvalidInput(_))));
    store.release_lease(&name, "nobody").await.unwrap();
    assert!(!store.try_lease(&name, "w", 550, 650).await.unwrap(), "released by a non-holder: still held");
    store.release_lease(&name, winners[0]).await.unwrap();
    assert!(store.try_lease(&name, "w", 550, 650).await.unwrap(), "released by its holder: free before its end");
}

pub async fn a_face_groups_version_counts_every_change(store: &dyn Store) {
    let m = merchant(store, 40_000).await;
    let other = merchant(store, 40_000).await;
    let g = store.face_group(&m.id, "versions", Some(40_000)).await.unwrap().unwrap();
    assert_eq!(store.face_group_state(&m.id, g.id).await.unwrap(), Some(0));
    assert_eq!(store.face_group_state(&other.id, g.id).await.unwrap(), None, "another merchant's group is not seen");
    let embedding = vec![0.1f32; crate::FACE_EMBEDDING_DIM];
    let add = |user: &'static str, replace: bool| crate::NewFaceRecord {
        merchant_id: &m.id,
        group_code: "versions",
        merchant_user_id: user,
        registration_type: "MANUAL",
        embedding: &embedding,
        replace,
        now: 40_000,
        retain_until: FAR,
    };
    let crate::AddFace::Added(a) = store.add_face_record(add("u1", false)).await.unwrap() else { panic!("added") };
    store.add_face_record(add("u2", false)).await.unwrap();
    assert_eq!(store.face_group_state(&m.id, g.id).await.unwrap(), Some(2), "one per face added");
    assert!(matches!(store.add_face_record(add("u2", false)).await.unwrap(), crate::AddFace::UserExists(_)));
    assert_eq!(store.face_group_state(&m.id, g.id).await.unwrap(), Some(2), "a refused add changes nothing");
    store.add_face_record(add("u2", true)).await.unwrap();
    assert_eq!(store.face_group_state(&m.id, g.id).await.unwrap(), Some(3), "a replacement is a change");
    store.delete_face_record(&m.id, a.id).await.unwrap().expect("deleted");
    assert_eq!(store.face_group_state(&m.id, g.id).await.unwrap(), Some(4), "a deletion is a change");
    assert!(store.delete_face_record(&other.id, a.id).await.unwrap().is_none());
    assert_eq!(store.face_group_state(&m.id, g.id).await.unwrap(), Some(4));
}

/// A fresh, empty database on the test cluster, for backends' and servers' tests: its URL. The cluster is
/// `IDV_TEST_DATABASE_URL` (its maintenance database), or the project's throwaway one (`scripts/pg.sh`), started
/// when it is not running. Never skipped: a test that cannot reach PostgreSQL fails.
#[cfg(feature = "postgres")]
pub async fn fresh_postgres_database() -> String {
    static ADMIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let admin = ADMIN
        .get_or_init(|| {
            if let Ok(u) = std::env::var("IDV_TEST_DATABASE_URL") {
                return u;
            }
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg.sh");
            let out = std::process::Command::new(script).arg("start").output().expect("scripts/pg.sh runs");
            assert!(out.status.success(), "scripts/pg.sh start: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).expect("a URL").trim().to_owned()
        })
        .clone();
    let name = format!("idv_t_{}", random_id());
    let pool = sqlx::PgPool::connect(&admin).await.expect("the test cluster answers");
    // The name is ours (hex), not input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.expect("CREATE DATABASE");
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').expect("a database in the cluster URL");
    format!("{base}/{name}")
}

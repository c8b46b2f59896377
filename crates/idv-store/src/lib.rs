//! Persistence for idv. The server talks to the [`Store`] trait only; this crate is the one place that knows SQL
//! and the layout of the data directory. Sensitive values are sealed here, on the way in, under keys descending
//! from the master key (see `idv-crypto`), so neither the database file nor the blob directory holds a secret, an
//! image or a verdict in the clear.
//!
//! Data directory layout (`--data DIR`):
//! ```text
//! DIR/master.key     master key, 64 hex chars, mode 0600 (created on first start unless IDV_MASTER_KEY is set)
//! DIR/idv.sqlite3    SQLite database in WAL mode (+ -wal, -shm)
//! DIR/blobs/xx/ID    sealed blobs (images), sharded by the first two characters of the transaction id
//! DIR/keys/S-L.key   key epochs: the keys that wrap the transactions' data keys, destroyed when spent (`keyring`)
//! ```

mod audit;
mod blobs;
mod console;
#[cfg(feature = "contract")]
pub mod contract;
mod datadir;
mod faces;
mod group_commit;
pub mod keyring;
mod model;
#[cfg(feature = "postgres")]
mod pg_console;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

pub use audit::{AUDIT_GENESIS, ChainBreak, ChainVerifier, audit_hash, verify_chain};
pub use blobs::{Blobs, ObjectBackend};
pub use console::{
    ConsoleFilter, ConsoleIndexRow, ConsoleLogin, ConsoleRole, ConsoleRow, ConsoleSession, ConsoleSummary, ConsoleUser,
    DayCount, FlowLog, MAX_CONSOLE_PAGE, MAX_CONSOLE_USERNAME, MAX_INDEX_BATCH, MAX_PASSWORD_HASH, MAX_REVIEW_REASON,
    MAX_SUMMARY_FLOWS, MAX_THROTTLE_KEYS, NewConsoleUser, NewReview, Review, ReviewDecision, ReviewRule, VerdictFilter,
};
pub use datadir::{MasterKeySource, load_master_key, read_key_file as read_master_key_file};
pub use faces::{FACE_EMBEDDING_DIM, MAX_FACE_PAGE, MAX_FACE_TEXT};
pub use group_commit::GroupCommitStats;
pub use model::*;
#[cfg(feature = "postgres")]
pub use postgres::{BlobLocation, DEFAULT_PG_POOL, PgStore};
pub use sqlite::{DEFAULT_KEY_EPOCH_S, SqliteStore};

use async_trait::async_trait;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("stored data failed to open: {0}")]
    Crypto(#[from] idv_crypto::CryptoError),
    #[error("{0}")]
    Config(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A write that did not become durable (its batch's commit failed, or the writer could not run it): it did
    /// not happen.
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
    /// The object store holding the blobs failed (unreachable, refused the credentials, ...).
    #[error("blob store error: {0}")]
    Blob(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The caller passed something the store refuses to take, e.g. more items than one call may carry.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The most frame digests one [`Store::register_frame_digests`] call may carry: bounds the write transaction
/// (and the statement's parameter count) whatever the caller sends.
pub const MAX_FRAME_DIGESTS_PER_CALL: usize = 256;

/// The most frame hashes one capture-fingerprint call may carry (a round's frames, as for digests).
pub const MAX_CAPTURE_HASHES_PER_CALL: usize = 256;
/// The largest capture fingerprint the store keeps, bytes: a round's frames at 40 bytes each, with room.
pub const MAX_CAPTURE_FINGERPRINT_BYTES: usize = 64 * 1024;
/// The largest Hamming distance [`Store::similar_capture_fingerprints`] can search for: the hashes are indexed by
/// four 16-bit bands, and only a distance of at most 3 is sure to leave one band unchanged.
pub const MAX_CAPTURE_HASH_DISTANCE: u32 = 3;
/// The most fingerprints one [`Store::similar_capture_fingerprints`] call returns: the caller compares each in
/// full, so this bounds its work however many sessions a face has had.
pub const MAX_SIMILAR_CAPTURES: usize = 16;
/// The most indexed hashes one [`Store::similar_capture_fingerprints`] call reads as candidates, newest first:
/// bounds the lookup whatever is registered.
pub const MAX_CAPTURE_CANDIDATE_ROWS: usize = 8192;

/// Everything the server persists. Implementations must be safe to share between requests and, for the
/// multi-instance backends, between processes: replay protection and state transitions are decided by the
/// database (unique keys, conditional updates), never by process memory.
///
/// The store never reads a clock: every timestamp it records or compares arrives as a `now` argument, so the
/// server's one clock decides expiry everywhere and tests can pin time. A value expires *at* its `expires_at`:
/// at `now == expires_at` it no longer blocks and may be purged.
///
/// Every backend must pass the checks in the `contract` module (cargo feature `contract`).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn create_merchant(&self, name: &str, now: i64) -> Result<Merchant>;
    async fn get_merchant(&self, id: &str) -> Result<Option<Merchant>>;
    async fn list_merchants(&self) -> Result<Vec<Merchant>>;

    /// Creates a key and returns its secret. This is the only time the secret leaves the store other than for
    /// verifying a signature ([`Store::access_key_for_auth`]): listing returns [`AccessKey`], which has no secret.
    /// [`StoreError::NotFound`] if the merchant does not exist.
    async fn create_access_key(&self, merchant_id: &str, now: i64) -> Result<(AccessKey, Zeroizing<String>)>;
    async fn list_access_keys(&self, merchant_id: Option<&str>) -> Result<Vec<AccessKey>>;
    /// Returns false when no such key exists.
    async fn set_access_key_enabled(&self, id: &str, enabled: bool, now: i64) -> Result<bool>;
    /// The key, its merchant and its secret, for signature verification.
    async fn access_key_for_auth(&self, id: &str) -> Result<Option<AuthKey>>;

    /// Records a signature nonce until `expires_at`. Returns false if the same key already used it and that use has
    /// not expired at `now`; an expired use, purged or not, blocks nothing.
    async fn consume_nonce(&self, access_key_id: &str, nonce: &str, now: i64, expires_at: i64) -> Result<bool>;
    /// Deletes nonces expired at `now`; returns how many.
    async fn purge_expired_nonces(&self, now: i64) -> Result<u64>;

    /// Registers the SHA-256 digests of liveness frames submitted in `transaction_id`, so that frames already
    /// seen in *another* transaction (a previous session replayed, re-MACed under a new device credential) are
    /// recognised: the device MAC proves who sent a frame, not that the camera captured it just now.
    ///
    /// All or nothing, in one write transaction: if any digest is registered, and not yet expired at `now`, to a
    /// different transaction, nothing is registered and that transaction's id is returned. Otherwise every digest
    /// is registered to `transaction_id` until `expires_at` and `None` is returned. Digests this transaction
    /// already registered are left as they are, so resending the same round is idempotent; an expired digest of
    /// another transaction, not yet purged, blocks nothing and is taken over, as nonces are.
    ///
    /// More than [`MAX_FRAME_DIGESTS_PER_CALL`] digests is refused with [`StoreError::InvalidInput`].
    async fn register_frame_digests(
        &self,
        transaction_id: &str,
        digests: &[[u8; 32]],
        now: i64,
        expires_at: i64,
    ) -> Result<Option<String>>;
    /// Deletes frame digests expired at `now`; returns how many. Like nonces, they only need to live as long as a
    /// replay could still be accepted.
    async fn purge_expired_frame_digests(&self, now: i64) -> Result<u64>;

    /// Registers the fingerprint of a liveness capture of `transaction_id` (opaque bytes to the store) with its
    /// frames' 64-bit perceptual hashes until `expires_at`, so that [`Store::similar_capture_fingerprints`] finds
    /// it when a near copy of the capture arrives in another transaction (a replay re-encoded past the frame
    /// digests). Registering the same fingerprint again for the same transaction changes nothing but extends
    /// its expiry; one transaction may register several captures (retakes). More than
    /// [`MAX_CAPTURE_HASHES_PER_CALL`] hashes or [`MAX_CAPTURE_FINGERPRINT_BYTES`] bytes is refused with
    /// [`StoreError::InvalidInput`].
    async fn register_capture_fingerprint(
        &self,
        transaction_id: &str,
        hashes: &[u64],
        fingerprint: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// The fingerprints of *other* transactions' captures, unexpired at `now`, with at least one frame hash
    /// within Hamming distance `max_distance` of one of `hashes`; ranked by how many of `hashes` have such a
    /// near hash in the capture (most first, then by the sum of the nearest distances, then newest), at most
    /// [`MAX_SIMILAR_CAPTURES`], from at most [`MAX_CAPTURE_CANDIDATE_ROWS`] indexed hashes. Only the
    /// fingerprints are returned, never whose they are: the other transaction may belong to another merchant.
    /// `max_distance` over [`MAX_CAPTURE_HASH_DISTANCE`] or more than [`MAX_CAPTURE_HASHES_PER_CALL`] hashes is
    /// refused with [`StoreError::InvalidInput`].
    async fn similar_capture_fingerprints(
        &self,
        transaction_id: &str,
        hashes: &[u64],
        max_distance: u32,
        now: i64,
    ) -> Result<Vec<Vec<u8>>>;
    /// Deletes capture fingerprints and their hashes expired at `now`; returns how many fingerprints.
    async fn purge_expired_capture_fingerprints(&self, now: i64) -> Result<u64>;

    /// Stores a new transaction in [`TxState::Initialized`], last updated at its `created_at`.
    async fn create_transaction(&self, tx: NewTransaction) -> Result<()>;
    /// A transaction as seen by one merchant: another merchant's transaction is `None`, indistinguishable from
    /// one that does not exist.
    async fn get_transaction(&self, merchant_id: &str, id: &str) -> Result<Option<Transaction>>;
    /// Ids of transactions still open at or after their expiry, oldest expiry first, at most `limit`.
    async fn overdue_transactions(&self, now: i64, limit: i64) -> Result<Vec<String>>;
    /// Ids of in-progress transactions whose device session has been quiet since `cutoff` (last update at or
    /// before it), quietest first, at most `limit`.
    async fn idle_transactions(&self, cutoff: i64, limit: i64) -> Result<Vec<String>>;

    /// Closes an open transaction whose time ran out (hard expiry or idle device) as [`TxState::Expired`], with
    /// `verdict`. Every way a transaction finishes ([`Store::expire`], [`Store::cancel`], a finishing
    /// [`Store::save_round`]) is one conditional update on the state still being open, so of concurrent finishers
    /// exactly one wins and exactly one verdict is stored: true means this call won. False, changing nothing, if
    /// the transaction is already final or does not exist. A shredded transaction still closes (without a
    /// verdict, which nothing could open), so the expiry sweep is not stuck retrying it.
    async fn expire(&self, id: &str, verdict: &[u8], now: i64) -> Result<bool>;
    /// Closes an open transaction the user abandoned as [`TxState::Cancelled`], with `verdict`; as
    /// [`Store::expire`] otherwise.
    async fn cancel(&self, id: &str, verdict: &[u8], now: i64) -> Result<bool>;

    /// The transaction by id alone, for the device API: the device proves itself with the signed configuration
    /// and its credential, not with a merchant's key.
    async fn get_transaction_for_device(&self, id: &str) -> Result<Option<Transaction>>;
    /// Binds an `initialized`, not yet expired transaction to a device session and moves it to `in_progress`,
    /// atomically. Returns false if the transaction is not `initialized`, already has a session or is expired at
    /// `now`: the first device to start owns the transaction.
    async fn start_device_session(
        &self,
        transaction_id: &str,
        session_id: &str,
        state: &[u8],
        now: i64,
    ) -> Result<bool>;
    async fn get_device_session(&self, transaction_id: &str) -> Result<Option<DeviceSession>>;
    /// Records one round and the new flow state, and, when the round ends the flow, the final state and verdict,
    /// all in one database transaction. Returns false (nothing written) if the session's version is no longer
    /// `expected_version` or the transaction is no longer in progress: a concurrent round or the expiry sweep won.
    /// A `finish` whose state is not final is refused with [`StoreError::InvalidInput`]: an open transaction never
    /// holds a verdict.
    async fn save_round(&self, transaction_id: &str, expected_version: i64, update: RoundUpdate<'_>) -> Result<bool>;
    /// Claims the session's current round for one worker before the engines run, so that concurrent copies of
    /// the same round are refused at once instead of all running the engines (only the first save would count).
    /// True means this call holds the claim until `lease_until` (exclusive, like every `expires_at`). False,
    /// changing nothing, if there is no session, its version is no longer `expected_version` (a round was saved
    /// since), or another claim is held and not expired at `now`. A claim ends when [`Store::save_round`] saves
    /// the next version, when [`Store::release_round`] drops it, or at `lease_until`: a worker that crashed
    /// mid-round blocks the session for one lease at most. `lease_until` must be after `now`
    /// ([`StoreError::InvalidInput`] otherwise): it is what tells one claim from the next.
    async fn claim_round(
        &self,
        transaction_id: &str,
        expected_version: i64,
        round: u32,
        now: i64,
        lease_until: i64,
    ) -> Result<bool>;
    /// Drops the claim taken by [`Store::claim_round`] with this `expected_version` and `lease_until`, for a
    /// round that ended without a save (an engine failure, an overloaded pool), so the device may retry at once.
    /// A claim that expired and was taken by someone else since is left alone.
    async fn release_round(&self, transaction_id: &str, expected_version: i64, lease_until: i64) -> Result<()>;

    /// Stores an image or other binary evidence of a transaction, sealed under the transaction's data key.
    async fn put_blob(&self, transaction_id: &str, kind: &str, bytes: &[u8], now: i64) -> Result<String>;
    /// A blob is read through the transaction it was stored for: any other transaction id gets
    /// [`StoreError::NotFound`], so a blob id leaking between merchants opens nothing.
    async fn get_blob(&self, transaction_id: &str, blob_id: &str) -> Result<Vec<u8>>;
    /// The most recent blob of `kind` stored for a transaction (of several stored at the same `now`, the last).
    async fn blob_of_kind(&self, transaction_id: &str, kind: &str) -> Result<Option<String>>;

    /// Sets how long a merchant's finished transactions keep their evidence (`None`: the server's default). False
    /// if there is no such merchant; under 1 s is refused with [`StoreError::InvalidInput`].
    async fn set_merchant_retention(&self, id: &str, retention_s: Option<i64>) -> Result<bool>;
    /// Ids of finished transactions whose evidence is not all deleted and whose retention (their merchant's, or
    /// `default_retention_s`) has run out at `now`, counted from when they finished; oldest first, at most `limit`.
    async fn due_for_deletion(&self, default_retention_s: i64, now: i64, limit: i64) -> Result<Vec<String>>;
    /// Deletes `what` of a transaction's evidence and records it (what, `now`), keeping `decision` in the clear
    /// (the first one given is kept). [`Evidence::All`] crypto-shreds: the data key is destroyed, so nothing sealed
    /// can be opened again, in this database or, once its key epoch is destroyed too
    /// ([`Store::destroy_spent_key_epochs`]), in any copy of it; the blobs are deleted and the sealed text
    /// dropped. The row stays, with its state, timestamps and decision, for accounting. Deleting again is
    /// harmless (idempotent); two partial deletions add up to all. Any pending [`Store::set_delete_after_query`]
    /// is cleared. Frame digests and capture fingerprints stay until they expire: they hold no personal data and
    /// keep protecting other sessions from a replay. False if there is no such transaction.
    async fn delete_evidence(&self, id: &str, what: Evidence, decision: Option<&Decision>, now: i64) -> Result<bool>;
    /// Records a deletion to perform after the transaction's next CheckResult (`None` clears it). False if there is
    /// no such transaction.
    async fn set_delete_after_query(&self, id: &str, what: Option<Evidence>) -> Result<bool>;
    /// Destroys the keys of the key epochs that ended at or before `now` and wrap no live data key any more;
    /// returns their names. After this no copy of the database can open the data keys those epochs wrapped.
    async fn destroy_spent_key_epochs(&self, now: i64) -> Result<Vec<String>>;

    /// Records that `transaction_id` owes its merchant a callback, `request` (opaque to the store, sealed) being
    /// what to send. Written at Initialize, so the debt exists before the transaction can end. Once only: a second
    /// call for the same transaction changes nothing.
    async fn enqueue_callback(&self, transaction_id: &str, merchant_id: &str, request: &[u8], now: i64) -> Result<()>;
    /// Claims, for one sender until `lease_until`, the pending callbacks due at `now` whose transaction is final
    /// (at most `limit`, longest due first): they are not returned again before the lease ends unless an attempt is
    /// recorded. `lease_until` must be after `now` ([`StoreError::InvalidInput`]).
    async fn claim_due_callbacks(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<CallbackDue>>;
    /// Records one delivery attempt and what follows it, if it is the attempt after the last one recorded and the
    /// callback is still pending (false otherwise: another sender got there first, nothing is written).
    async fn record_callback_attempt(
        &self,
        transaction_id: &str,
        attempt: CallbackAttempt,
        outcome: CallbackOutcome,
    ) -> Result<bool>;
    /// The outbox, oldest first, optionally only in one state (`pending`, `delivered`, `dead`), with every
    /// attempt: for the operator.
    async fn list_callbacks(&self, state: Option<&str>, limit: i64) -> Result<Vec<CallbackRecord>>;
    /// The key a merchant's callbacks are signed with, created on first use; `None` for no such merchant.
    async fn merchant_callback_secret(&self, merchant_id: &str) -> Result<Option<Zeroizing<String>>>;

    /// The rounds recorded for a transaction, in order: step, outcome and time only (the measured detail is
    /// sealed and not returned). Empty once its text evidence was deleted.
    async fn list_rounds(&self, transaction_id: &str) -> Result<Vec<RoundSummary>>;

    // Audit log.
    /// Appends an entry to the audit log in one write transaction: reads the last entry's hash, takes the next
    /// seq (1 for the first) and stores the entry with its hash ([`audit_hash`]); returns the seq. Entries are
    /// never updated or deleted.
    async fn append_audit(&self, e: NewAuditEntry<'_>) -> Result<i64>;
    /// Audit entries with seq over `after_seq`, in seq order, at most `limit`.
    async fn audit_entries(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>>;

    // Face libraries (per merchant; a group is created on first use).
    async fn face_group(&self, merchant_id: &str, code: &str, create_at: Option<i64>) -> Result<Option<FaceGroup>>;
    async fn face_groups(
        &self,
        merchant_id: &str,
        code: Option<&str>,
        name: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<FaceGroup>, i64)>;
    async fn modify_face_group(
        &self,
        merchant_id: &str,
        id: i64,
        name: &str,
        description: Option<&str>,
    ) -> Result<bool>;
    /// Deletes the group and every face in it.
    async fn delete_face_group(&self, merchant_id: &str, id: i64) -> Result<bool>;
    async fn add_face_record(&self, r: NewFaceRecord<'_>) -> Result<AddFace>;
    async fn face_records(
        &self,
        merchant_id: &str,
        group_id: i64,
        filter: &FaceRecordFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<FaceRecord>, i64)>;
    /// Every face of a group with its embedding opened (for the search index); faces whose key epoch was
    /// destroyed are left out.
    async fn face_embeddings(&self, merchant_id: &str, group_id: i64) -> Result<Vec<(FaceRecord, Vec<f32>)>>;
    async fn delete_face_record(&self, merchant_id: &str, id: i64) -> Result<Option<FaceRecord>>;
    /// A user's faces, in one group or in all of the merchant's groups; returns what was deleted.
    async fn delete_user_faces(
        &self,
        merchant_id: &str,
        group_code: Option<&str>,
        merchant_user_id: &str,
    ) -> Result<Vec<FaceRecord>>;
    /// Faces past their retention deadline; returns what was deleted.
    async fn delete_expired_faces(&self, now: i64, limit: i64) -> Result<Vec<FaceRecord>>;
    /// The group's version: raised by one, in the same database transaction, by every face added to it
    /// ([`Store::add_face_record`]) and by every face deleted from it. An instance compares it with the version its
    /// in-memory index was built at, and rebuilds when another instance changed the group. `None`: no such group.
    async fn face_group_state(&self, merchant_id: &str, group_id: i64) -> Result<Option<i64>>;

    // Shared limits and coordination, for several instances on one database.
    /// Takes one token from the bucket `key`, which holds at most `burst` tokens and refills at `rate_per_s`
    /// (a new bucket starts full); times are milliseconds. `Ok(None)`: taken; `Ok(Some(ms))`: refused, a token
    /// is there in `ms`. Concurrent takers, from any instance, never take the same token twice.
    async fn take_rate_token(&self, key: &str, rate_per_s: f64, burst: f64, now_ms: i64) -> Result<Option<i64>>;
    /// Gives back a token taken by [`Store::take_rate_token`] (a request the limit must not count).
    async fn refund_rate_token(&self, key: &str, burst: f64) -> Result<()>;
    /// Forgets buckets whose key starts with `prefix` and that were last touched before `before_ms`: full again
    /// by then, they hold nothing worth keeping. Returns how many.
    async fn purge_rate_buckets(&self, prefix: &str, before_ms: i64) -> Result<u64>;
    /// Takes, or renews, the lease `name` for `holder` until `until`; `false` while another holder's lease runs.
    /// A holder that stops renewing loses it at `until`.
    async fn try_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool>;
    /// Gives up the lease `name` if `holder` holds it (an instance that drains), so another takes it at once
    /// instead of at its end; another holder's lease is left alone.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()>;

    /// Cheap liveness check of the backing database, for /healthz.
    async fn ping(&self) -> Result<()>;
    /// Whether the blob store (directory or bucket) answers, for /healthz.
    async fn ping_blobs(&self) -> Result<()>;

    // console
    /// Creates a console user of a merchant. [`StoreError::NotFound`] if the merchant does not exist;
    /// [`StoreError::InvalidInput`] for a malformed or taken user name (names are unique across merchants: the
    /// login form asks for nothing else) or an oversized hash.
    async fn create_console_user(&self, user: NewConsoleUser<'_>) -> Result<ConsoleUser>;
    /// A user and their password hash, by user name, for the login check.
    async fn console_login(&self, username: &str) -> Result<Option<ConsoleLogin>>;
    async fn list_console_users(&self, merchant_id: Option<&str>) -> Result<Vec<ConsoleUser>>;
    /// Records a session under the hash of its token, live until `expires_at` (exclusive; after `now`).
    async fn create_console_session(
        &self,
        token_hash: &[u8; 32],
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// The live session with this token hash, its last use set to `now`; `None` once it expired or went unused
    /// for `idle_s` seconds.
    async fn console_session(&self, token_hash: &[u8; 32], now: i64, idle_s: i64) -> Result<Option<ConsoleSession>>;
    /// Ends a session (logout); no such session is not an error.
    async fn end_console_session(&self, token_hash: &[u8; 32]) -> Result<()>;
    /// Failed logins recorded at or after `since`, for each key (at most [`MAX_THROTTLE_KEYS`]).
    async fn console_login_failures(&self, keys: &[&str], since: i64) -> Result<Vec<i64>>;
    /// Records one failed login under each key.
    async fn record_console_login_failure(&self, keys: &[&str], now: i64) -> Result<()>;
    async fn clear_console_login_failures(&self, key: &str) -> Result<()>;
    /// Deletes sessions expired at `now` and failed logins older than `failures_before`; returns how many rows.
    async fn purge_console(&self, now: i64, failures_before: i64) -> Result<u64>;
    /// Transactions the console index does not have yet, or has as open though they are final now; at most
    /// `limit` (capped at [`MAX_INDEX_BATCH`]).
    async fn console_unindexed(&self, limit: i64) -> Result<Vec<String>>;
    /// Writes index rows; a row already written for a final transaction is kept as it is.
    async fn put_console_index(&self, rows: &[ConsoleIndexRow]) -> Result<()>;
    /// A page of a merchant's transactions matching `filter`, newest first, and how many match.
    async fn console_transactions(
        &self,
        merchant_id: &str,
        filter: &ConsoleFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ConsoleRow>, i64)>;
    /// Sets a merchant's review rule (`None`: the default). False if there is no such merchant.
    async fn set_review_rule(&self, merchant_id: &str, rule: Option<ReviewRule>) -> Result<bool>;
    async fn review_rule(&self, merchant_id: &str) -> Result<ReviewRule>;
    /// A page of the merchant's final, unreviewed, undeleted transactions that `rule` selects, oldest first.
    async fn console_review_queue(
        &self,
        merchant_id: &str,
        rule: &ReviewRule,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ConsoleRow>, i64)>;
    /// Records a review of a final transaction of the merchant by one of its users, the reason sealed with the
    /// transaction's evidence. False if it was already reviewed (the first decision stands); `NotFound` for
    /// another merchant's or a shredded transaction, or another merchant's user.
    async fn record_review(&self, review: NewReview<'_>) -> Result<bool>;
    async fn review(&self, merchant_id: &str, transaction_id: &str) -> Result<Option<Review>>;
    /// Makes a transaction's callback due again at `now` (after a review), whatever became of it; false if it
    /// owes none.
    async fn rearm_callback(&self, transaction_id: &str, now: i64) -> Result<bool>;
    /// A transaction's callback with every attempt, if it owes one; another merchant's is `None`.
    async fn console_callback(&self, merchant_id: &str, transaction_id: &str) -> Result<Option<CallbackRecord>>;
    /// The summary page's figures for the merchant's transactions created in `from..to`.
    async fn console_summary(&self, merchant_id: &str, from: i64, to: i64) -> Result<ConsoleSummary>;
}

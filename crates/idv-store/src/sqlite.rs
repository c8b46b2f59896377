//! The embedded backend: SQLite in WAL mode with `synchronous=FULL` (an acknowledged write survives power loss),
//! plus sealed blobs in a local directory.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use idv_crypto::Key;
use sha2::Digest;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use zeroize::Zeroizing;

use crate::blobs::BlobDir;
use crate::group_commit::{GroupCommit, GroupCommitStats};
use crate::keyring::{self, KeyEpochs};
use crate::{
    AccessKey, AuthKey, CallbackAttempt, CallbackDue, CallbackOutcome, CallbackRecord, Decision, DeviceSession,
    Evidence, MAX_CAPTURE_CANDIDATE_ROWS, MAX_CAPTURE_FINGERPRINT_BYTES, MAX_CAPTURE_HASH_DISTANCE,
    MAX_CAPTURE_HASHES_PER_CALL, MAX_FRAME_DIGESTS_PER_CALL, MAX_SIMILAR_CAPTURES, Merchant, NewTransaction, Result,
    RoundSummary, RoundUpdate, Store, StoreError, Transaction, TxState,
};
use crate::{AddFace, FaceGroup, FaceRecord, FaceRecordFilter, NewFaceRecord};
use crate::{AuditEntry, NewAuditEntry, audit_hash};
use crate::{
    ConsoleFilter, ConsoleIndexRow, ConsoleLogin, ConsoleRow, ConsoleSession, ConsoleSummary, ConsoleUser,
    NewConsoleUser, NewReview, Review, ReviewRule,
};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_device.sql")),
    (3, include_str!("../migrations/0003_frame_digests.sql")),
    (4, include_str!("../migrations/0004_round_claim.sql")),
    (5, include_str!("../migrations/0005_capture_fingerprints.sql")),
    (6, include_str!("../migrations/0006_retention.sql")),
    (7, include_str!("../migrations/0007_callbacks.sql")),
    (8, include_str!("../migrations/0008_audit.sql")),
    (9, include_str!("../migrations/0009_face_library.sql")),
    (10, include_str!("../migrations/0010_console.sql")),
    (11, include_str!("../migrations/0011_shared_limits.sql")),
];

pub struct SqliteStore {
    /// One connection for every write. SQLite admits one writer at a time anyway; queueing writers in the pool
    /// (fair, async) instead of letting several connections collide on the file lock avoids the busy handler's
    /// sleeps, which otherwise dominate tail latency under load.
    pub(crate) writer: SqlitePool,
    pub(crate) reader: SqlitePool,
    blobs: BlobDir,
    kek_secret: Key,
    /// Wraps the data keys of transactions created before key epochs.
    kek_dek: Key,
    /// Seals the outbox's callback requests (they hold the merchant's callbackToken).
    kek_callback: Key,
    pub(crate) epochs: KeyEpochs,
    /// The merchant API's hot writes, batched into shared commits (see [`crate::group_commit`]).
    commits: GroupCommit,
}

/// Key epochs last a day unless the server asks otherwise: a deletion holds in old copies of the database at
/// most a day after the last transaction of its epoch was due.
pub const DEFAULT_KEY_EPOCH_S: i64 = 86_400;

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Switching a new database to WAL takes an exclusive lock that the busy timeout does not wait for, so a second
/// process opening the same fresh directory at that moment fails at once with SQLITE_BUSY. Wait for it here
/// instead, as the busy timeout would.
async fn connect_writer(opts: SqliteConnectOptions) -> Result<SqlitePool> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match SqlitePoolOptions::new().max_connections(1).connect_with(opts.clone()).await {
            Err(sqlx::Error::Database(e)) if is_busy(&*e) && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            r => return Ok(r?),
        }
    }
}

/// The four index keys of a 64-bit hash: band index in the high bits, the band's 16 bits in the low ones.
pub(crate) fn band_keys(h: u64) -> [i64; 4] {
    std::array::from_fn(|b| ((b as i64) << 16) | ((h >> (16 * b)) & 0xffff) as i64)
}

/// The candidate transactions of a similar-capture search, best first: by how many query hashes have a near hash
/// in them, then by those distances' sum. `rows` are the indexed (transaction, hash) pairs the band lookup found.
pub(crate) fn rank_similar(hashes: &[u64], rows: Vec<(String, i64)>, max_distance: u32) -> Vec<String> {
    // Per candidate transaction: how many query hashes have a near hash in it, and their distances' sum.
    let mut by_tx: std::collections::HashMap<String, Vec<u64>> = std::collections::HashMap::new();
    for (t, h) in rows {
        by_tx.entry(t).or_default().push(h as u64);
    }
    let mut ranked: Vec<(usize, u32, String)> = by_tx
        .into_iter()
        .filter_map(|(t, theirs)| {
            let near: Vec<u32> = hashes
                .iter()
                .filter_map(|q| theirs.iter().map(|h| (q ^ h).count_ones()).min())
                .filter(|&d| d <= max_distance)
                .collect();
            (!near.is_empty()).then(|| (near.len(), near.iter().sum(), t))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    ranked.into_iter().map(|(_, _, t)| t).collect()
}

pub(crate) fn check_capture_hashes(hashes: &[u64]) -> Result<()> {
    if hashes.len() > MAX_CAPTURE_HASHES_PER_CALL {
        return Err(StoreError::InvalidInput(format!(
            "{} capture hashes in one call, at most {MAX_CAPTURE_HASHES_PER_CALL}",
            hashes.len()
        )));
    }
    Ok(())
}

fn is_busy(e: &dyn sqlx::error::DatabaseError) -> bool {
    // Extended result codes keep the primary code in the low byte: SQLITE_BUSY (5) and SQLITE_LOCKED (6).
    let code = e.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
    matches!(code & 0xff, 5 | 6)
}

fn merchant_from(row: &sqlx::sqlite::SqliteRow) -> Result<Merchant> {
    Ok(Merchant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        enabled: row.try_get::<String, _>("status")? == "enabled",
        created_at: row.try_get("created_at")?,
        retention_s: row.try_get("retention_s")?,
    })
}

fn key_from(row: &sqlx::sqlite::SqliteRow) -> Result<AccessKey> {
    Ok(AccessKey {
        id: row.try_get("id")?,
        merchant_id: row.try_get("merchant_id")?,
        enabled: row.try_get::<String, _>("status")? == "enabled",
        created_at: row.try_get("created_at")?,
    })
}

impl SqliteStore {
    /// Opens (creating on first use) the database and blob directory under `dir`, applies pending migrations
    /// (recorded as applied at `now`) and checks that `master` is the key this directory was created with.
    pub async fn open(dir: &Path, master: &Key, now: i64) -> Result<SqliteStore> {
        Self::open_with_key_epochs(dir, master, now, DEFAULT_KEY_EPOCH_S).await
    }

    /// [`SqliteStore::open`] with new data keys wrapped by key epochs of `key_epoch_s` seconds (see `keyring`).
    pub async fn open_with_key_epochs(dir: &Path, master: &Key, now: i64, key_epoch_s: i64) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.display().to_string(), source })?;
        let db = dir.join("idv.sqlite3");
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))?
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Deleted rows are overwritten with zeros in the file, not just unlinked from its b-tree.
            .pragma("secure_delete", "ON")
            .busy_timeout(BUSY_TIMEOUT);
        let writer = connect_writer(opts.clone().journal_mode(SqliteJournalMode::Wal)).await?;
        // WAL is a property of the file once the writer has set it; readers leave the journal mode alone.
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        let store = SqliteStore {
            commits: GroupCommit::start(writer.clone()),
            writer,
            reader,
            blobs: BlobDir::open(dir.join("blobs"))?,
            kek_secret: master.derive("accesskey-secret"),
            kek_dek: master.derive("dek-wrap"),
            kek_callback: master.derive("callback-request"),
            epochs: KeyEpochs::open(dir.join("keys"), master, key_epoch_s)?,
        };
        store.migrate(now).await?;
        store.check_master_key(master).await?;
        Ok(store)
    }

    /// What the group committer has done so far (batches, writes, writes waiting).
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.commits.stats()
    }

    async fn migrate(&self, now: i64) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        // BEGIN IMMEDIATE takes the write lock up front, so two processes opening a fresh directory at once apply
        // each migration exactly once.
        sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let result: Result<()> = async {
            sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
                .execute(&mut *conn)
                .await?;
            let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(&mut *conn).await?;
            let applied = applied.unwrap_or(0);
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(*sql)).execute(&mut *conn).await?;
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
                    .bind(version)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                tracing::info!(version, "applied database migration");
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
                Ok(())
            }
            Err(e) => {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                Err(e)
            }
        }
    }

    /// A wrong master key would otherwise show up later as undecryptable rows; fail at start instead.
    async fn check_master_key(&self, master: &Key) -> Result<()> {
        let check = master.derive("key-check");
        let existing: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT v FROM meta WHERE k = 'key_check'").fetch_optional(&self.reader).await?;
        match existing {
            Some(sealed) => check.open(&sealed, b"key_check").map(|_| ()).map_err(|_| {
                StoreError::Config(
                    "the master key does not match this data directory (wrong IDV_MASTER_KEY or master.key)".into(),
                )
            }),
            None => {
                sqlx::query("INSERT OR IGNORE INTO meta (k, v) VALUES ('key_check', ?)")
                    .bind(check.seal(b"idv", b"key_check"))
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }
        }
    }

    fn transaction_from(&self, id: &str, row: &sqlx::sqlite::SqliteRow) -> Result<Transaction> {
        let state: String = row.try_get("state")?;
        let state = TxState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("unknown state {state}")))?;
        let wrapped: Option<Vec<u8>> = row.try_get("dek_wrapped")?;
        let merchant_id: String = row.try_get("merchant_id")?;
        let epoch: Option<String> = row.try_get("key_epoch")?;
        let dek = match wrapped {
            Some(w) => self.unwrap_dek(id, &merchant_id, &w, epoch.as_deref())?,
            None => None,
        };
        let open = |col: &str, field: &str| -> Result<Option<Zeroizing<Vec<u8>>>> {
            let sealed: Option<Vec<u8>> = row.try_get(col)?;
            match (&dek, sealed) {
                // Deleted text is an empty value (the columns are NOT NULL).
                (Some(k), Some(s)) if !s.is_empty() => Ok(Some(k.open(&s, &ctx(field, id))?)),
                _ => Ok(None),
            }
        };
        Ok(Transaction {
            id: row.try_get("id")?,
            merchant_id: row.try_get("merchant_id")?,
            merchant_biz_id: row.try_get("merchant_biz_id")?,
            product: row.try_get("product")?,
            state,
            options: open("options_sealed", "options")?,
            device_secret: open("device_secret_sealed", "device")?,
            verdict: open("verdict_sealed", "verdict")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            expires_at: row.try_get("expires_at")?,
            finished_at: row.try_get("finished_at")?,
            deleted: match (row.try_get::<Option<String>, _>("deleted")?, row.try_get::<Option<i64>, _>("deleted_at")?)
            {
                (Some(d), Some(at)) => Some((evidence(&d)?, at)),
                _ => None,
            },
            decision: match (
                row.try_get::<Option<i64>, _>("decision_passed")?,
                row.try_get::<Option<String>, _>("decision_sub_code")?,
            ) {
                (Some(p), Some(sub_code)) => Some(Decision { passed: p != 0, sub_code }),
                _ => None,
            },
            delete_after_query: row
                .try_get::<Option<String>, _>("delete_after_query")?
                .as_deref()
                .map(evidence)
                .transpose()?,
        })
    }

    /// Opens a transaction's data key. It only opens for the transaction id *and* merchant id it was wrapped for
    /// (see [`dek_context`]), so a row whose `merchant_id` was changed in the file fails here, with
    /// [`StoreError::Crypto`], before any of its sealed values could be read.
    ///
    /// `None` when the key epoch that wrapped it has been destroyed: the row is from a copy of the database older
    /// than the deletion, and nothing of it can be opened any more.
    pub(crate) fn unwrap_dek(
        &self,
        id: &str,
        merchant_id: &str,
        wrapped: &[u8],
        epoch: Option<&str>,
    ) -> Result<Option<Key>> {
        let raw = match epoch {
            None => self.kek_dek.open(wrapped, &dek_context(id, merchant_id))?,
            Some(e) => match self.epochs.key(e)? {
                Some(k) => k.open(wrapped, &dek_context(id, merchant_id))?,
                None => return Ok(None),
            },
        };
        Ok(Some(Key::from_bytes(&raw)?))
    }

    /// Old pages of deleted rows would otherwise live on in the write-ahead log until the next automatic
    /// checkpoint.
    pub(crate) async fn checkpoint(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.writer).await?;
        Ok(())
    }

    /// A transaction's data key and merchant: `None` for an unknown transaction, `Some((None, _))` for one whose
    /// key was destroyed (all its evidence deleted).
    async fn dek_of(&self, transaction_id: &str) -> Result<Option<(Option<Key>, String)>> {
        let row = sqlx::query("SELECT dek_wrapped, merchant_id, key_epoch FROM transactions WHERE id = ?")
            .bind(transaction_id)
            .fetch_optional(&self.reader)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let (wrapped, merchant_id, epoch): (Option<Vec<u8>>, String, Option<String>) =
            (r.try_get("dek_wrapped")?, r.try_get("merchant_id")?, r.try_get("key_epoch")?);
        let dek = match wrapped {
            Some(w) => self.unwrap_dek(transaction_id, &merchant_id, &w, epoch.as_deref())?,
            None => None,
        };
        Ok(Some((dek, merchant_id)))
    }

    async fn dek_for(&self, transaction_id: &str) -> Result<Key> {
        match self.dek_of(transaction_id).await? {
            None => Err(StoreError::NotFound(format!("transaction {transaction_id}"))),
            Some((None, _)) => Err(StoreError::NotFound(format!("transaction {transaction_id} has been shredded"))),
            Some((Some(k), _)) => Ok(k),
        }
    }

    /// Moves an open transaction to the final state `to`. The state check is in the UPDATE itself, so whichever
    /// finisher's statement runs first wins and the others change nothing.
    async fn close(&self, id: &str, to: TxState, verdict: &[u8], now: i64) -> Result<bool> {
        let sealed = match self.dek_of(id).await? {
            None => return Ok(false),
            // Shredded: no verdict could be opened again, but the state must still close, or the expiry sweep
            // would pick the transaction up on every pass.
            Some((None, _)) => None,
            Some((Some(k), _)) => Some(k.seal(verdict, &ctx("verdict", id))),
        };
        let r = sqlx::query(
            "UPDATE transactions SET state = ?, verdict_sealed = ?, updated_at = ?, finished_at = ? \
             WHERE id = ? AND state IN ('initialized', 'in_progress')",
        )
        .bind(to.as_str())
        .bind(sealed)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

/// A token bucket's parameters, checked before any statement runs.
pub(crate) fn check_bucket(rate_per_s: f64, burst: f64) -> Result<()> {
    if !(rate_per_s.is_finite() && rate_per_s > 0.0 && burst.is_finite() && burst >= 1.0) {
        return Err(StoreError::InvalidInput(format!(
            "a token bucket needs a rate over 0 and a burst of at least 1, not {rate_per_s}/{burst}"
        )));
    }
    Ok(())
}

/// Milliseconds until a refused bucket, holding `tokens` as of `updated_ms`, has a whole token.
pub(crate) fn wait_ms(tokens: f64, updated_ms: i64, rate_per_s: f64, burst: f64, now_ms: i64) -> i64 {
    let now_tokens = (tokens + (now_ms - updated_ms).max(0) as f64 * rate_per_s / 1000.0).min(burst);
    (((1.0 - now_tokens).max(0.0) / rate_per_s) * 1000.0).ceil().max(1.0) as i64
}

/// A stored audit hash, which must be 32 bytes.
pub(crate) fn hash32(bytes: Vec<u8>, seq: i64) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| StoreError::Corrupt(format!("audit entry {seq}: a hash is not 32 bytes")))
}

pub(crate) fn evidence(s: &str) -> Result<Evidence> {
    Evidence::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown deletion {s:.20}")))
}

pub(crate) fn ctx(field: &str, id: &str) -> Vec<u8> {
    format!("{field}:{id}").into_bytes()
}

/// The associated data a transaction's data key is wrapped under: its id and its merchant's id. Every value of
/// the transaction (options, device credential, verdict, flow state, answers, rounds, blobs) is sealed under that
/// key, so binding the merchant here binds all of them: a row moved to another merchant in the database file
/// opens nothing there. Values sealed with the earlier, transaction-only context no longer open; there is no
/// deployed data to migrate (pre-1.0), so no fallback is kept.
pub(crate) fn dek_context(id: &str, merchant_id: &str) -> Vec<u8> {
    idv_crypto::context(&[b"dek", id.as_bytes(), merchant_id.as_bytes()])
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_merchant(&self, name: &str, now: i64) -> Result<Merchant> {
        let m = Merchant {
            id: format!("mch_{}", idv_crypto::random_hex(8)),
            name: name.to_owned(),
            enabled: true,
            created_at: now,
            retention_s: None,
        };
        sqlx::query("INSERT INTO merchants (id, name, status, created_at) VALUES (?, ?, 'enabled', ?)")
            .bind(&m.id)
            .bind(&m.name)
            .bind(m.created_at)
            .execute(&self.writer)
            .await?;
        Ok(m)
    }

    async fn get_merchant(&self, id: &str) -> Result<Option<Merchant>> {
        let row = sqlx::query("SELECT * FROM merchants WHERE id = ?").bind(id).fetch_optional(&self.reader).await?;
        row.as_ref().map(merchant_from).transpose()
    }

    async fn list_merchants(&self) -> Result<Vec<Merchant>> {
        let rows = sqlx::query("SELECT * FROM merchants ORDER BY created_at, id").fetch_all(&self.reader).await?;
        rows.iter().map(merchant_from).collect()
    }

    async fn create_access_key(&self, merchant_id: &str, now: i64) -> Result<(AccessKey, Zeroizing<String>)> {
        if self.get_merchant(merchant_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("merchant {merchant_id}")));
        }
        // 24-character ids and 30-character secrets: the shapes merchants' tooling expects of an AccessKey pair.
        let id = format!("IDV{}", idv_crypto::random_alnum(21));
        let secret = Zeroizing::new(idv_crypto::random_alnum(30));
        let key = AccessKey { id, merchant_id: merchant_id.to_owned(), enabled: true, created_at: now };
        sqlx::query("INSERT INTO access_keys (id, merchant_id, secret_sealed, status, created_at) VALUES (?, ?, ?, 'enabled', ?)")
            .bind(&key.id)
            .bind(&key.merchant_id)
            .bind(self.kek_secret.seal(secret.as_bytes(), key.id.as_bytes()))
            .bind(key.created_at)
            .execute(&self.writer)
            .await?;
        Ok((key, secret))
    }

    async fn list_access_keys(&self, merchant_id: Option<&str>) -> Result<Vec<AccessKey>> {
        let rows = match merchant_id {
            Some(m) => {
                sqlx::query("SELECT * FROM access_keys WHERE merchant_id = ? ORDER BY created_at, id")
                    .bind(m)
                    .fetch_all(&self.reader)
                    .await?
            }
            None => sqlx::query("SELECT * FROM access_keys ORDER BY created_at, id").fetch_all(&self.reader).await?,
        };
        rows.iter().map(key_from).collect()
    }

    async fn set_access_key_enabled(&self, id: &str, enabled: bool, now: i64) -> Result<bool> {
        let r = sqlx::query("UPDATE access_keys SET status = ?, disabled_at = ? WHERE id = ?")
            .bind(if enabled { "enabled" } else { "disabled" })
            .bind(if enabled { None } else { Some(now) })
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn access_key_for_auth(&self, id: &str) -> Result<Option<AuthKey>> {
        let row = sqlx::query(
            "SELECT k.id, k.merchant_id, k.status, k.created_at, k.secret_sealed, m.name AS m_name, m.status AS m_status, m.created_at AS m_created_at, m.retention_s AS m_retention_s \
             FROM access_keys k JOIN merchants m ON m.id = k.merchant_id WHERE k.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let key = key_from(&row)?;
        let sealed: Vec<u8> = row.try_get("secret_sealed")?;
        let secret = self.kek_secret.open(&sealed, key.id.as_bytes())?;
        let secret = Zeroizing::new(
            String::from_utf8(secret.to_vec())
                .map_err(|_| StoreError::Corrupt("access key secret is not UTF-8".into()))?,
        );
        let merchant = Merchant {
            id: key.merchant_id.clone(),
            name: row.try_get("m_name")?,
            enabled: row.try_get::<String, _>("m_status")? == "enabled",
            created_at: row.try_get("m_created_at")?,
            retention_s: row.try_get("m_retention_s")?,
        };
        Ok(Some(AuthKey { key, merchant, secret }))
    }

    async fn consume_nonce(&self, access_key_id: &str, nonce: &str, now: i64, expires_at: i64) -> Result<bool> {
        let (access_key_id, nonce) = (access_key_id.to_owned(), nonce.to_owned());
        self.commits
            .write(move |conn| {
                Box::pin(async move {
                    // An expired row for the same nonce may linger until the next purge; it must not block a new use.
                    let r = sqlx::query(
                        "INSERT INTO nonces (access_key_id, nonce, expires_at) VALUES (?, ?, ?) \
                         ON CONFLICT (access_key_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?",
                    )
                    .bind(access_key_id)
                    .bind(nonce)
                    .bind(expires_at)
                    .bind(now)
                    .execute(conn)
                    .await?;
                    Ok(r.rows_affected() == 1)
                })
            })
            .await
    }

    async fn purge_expired_nonces(&self, now: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM nonces WHERE expires_at <= ?").bind(now).execute(&self.writer).await?;
        Ok(r.rows_affected())
    }

    async fn register_frame_digests(
        &self,
        transaction_id: &str,
        digests: &[[u8; 32]],
        now: i64,
        expires_at: i64,
    ) -> Result<Option<String>> {
        if digests.len() > MAX_FRAME_DIGESTS_PER_CALL {
            return Err(StoreError::InvalidInput(format!(
                "{} frame digests in one call, at most {MAX_FRAME_DIGESTS_PER_CALL}",
                digests.len()
            )));
        }
        if digests.is_empty() {
            return Ok(None);
        }
        // BEGIN IMMEDIATE takes the write lock before the check, so no other writer (another process included)
        // can register one of these digests between the check and the inserts.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let placeholders = vec!["?"; digests.len()].join(", ");
        let sql = format!(
            "SELECT transaction_id FROM frame_digests WHERE digest IN ({placeholders}) AND transaction_id <> ? \
             AND expires_at > ? ORDER BY seen_at LIMIT 1"
        );
        // Only the placeholder count varies; every value is bound.
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for d in digests {
            q = q.bind(d.to_vec());
        }
        let other = q.bind(transaction_id).bind(now).fetch_optional(&mut *tx).await?;
        if other.is_some() {
            tx.rollback().await?;
            return Ok(other);
        }
        for d in digests {
            // Same transaction and unexpired: left alone (an idempotent resend). Expired, whoever registered it:
            // taken over, so a digest lingering until the next purge neither blocks nor escapes registration.
            sqlx::query(
                "INSERT INTO frame_digests (digest, transaction_id, seen_at, expires_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (digest) DO UPDATE SET transaction_id = excluded.transaction_id, seen_at = excluded.seen_at, \
                 expires_at = excluded.expires_at WHERE frame_digests.expires_at <= ?",
            )
            .bind(d.to_vec())
            .bind(transaction_id)
            .bind(now)
            .bind(expires_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(None)
    }

    async fn purge_expired_frame_digests(&self, now: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM frame_digests WHERE expires_at <= ?").bind(now).execute(&self.writer).await?;
        Ok(r.rows_affected())
    }

    async fn register_capture_fingerprint(
        &self,
        transaction_id: &str,
        hashes: &[u64],
        fingerprint: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        check_capture_hashes(hashes)?;
        if fingerprint.len() > MAX_CAPTURE_FINGERPRINT_BYTES {
            return Err(StoreError::InvalidInput(format!(
                "a capture fingerprint of {} bytes, at most {MAX_CAPTURE_FINGERPRINT_BYTES}",
                fingerprint.len()
            )));
        }
        let digest = sha2::Sha256::digest(fingerprint).to_vec();
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO capture_fingerprints (transaction_id, digest, fingerprint, seen_at, expires_at)              VALUES (?, ?, ?, ?, ?) ON CONFLICT (transaction_id, digest) DO UPDATE SET              expires_at = max(capture_fingerprints.expires_at, excluded.expires_at)",
        )
        .bind(transaction_id)
        .bind(&digest)
        .bind(fingerprint)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        for &h in hashes {
            for key in band_keys(h) {
                sqlx::query(
                    "INSERT INTO capture_hash_bands (band_key, transaction_id, hash, expires_at) VALUES (?, ?, ?, ?)                      ON CONFLICT (band_key, transaction_id, hash) DO UPDATE SET                      expires_at = max(capture_hash_bands.expires_at, excluded.expires_at)",
                )
                .bind(key)
                .bind(transaction_id)
                // SQLite integers are signed: the hash is stored by its bits.
                .bind(h as i64)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn similar_capture_fingerprints(
        &self,
        transaction_id: &str,
        hashes: &[u64],
        max_distance: u32,
        now: i64,
    ) -> Result<Vec<Vec<u8>>> {
        check_capture_hashes(hashes)?;
        if max_distance > MAX_CAPTURE_HASH_DISTANCE {
            return Err(StoreError::InvalidInput(format!(
                "a Hamming distance of {max_distance}, at most {MAX_CAPTURE_HASH_DISTANCE} can be searched"
            )));
        }
        let mut keys: Vec<i64> = hashes.iter().flat_map(|&h| band_keys(h)).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // At most 4 x MAX_CAPTURE_HASHES_PER_CALL placeholders, well under SQLite's parameter limit; only their
        // count varies, every value is bound.
        let placeholders = vec!["?"; keys.len()].join(", ");
        let sql = format!(
            "SELECT DISTINCT transaction_id, hash FROM capture_hash_bands WHERE band_key IN ({placeholders})              AND transaction_id <> ? AND expires_at > ? ORDER BY expires_at DESC LIMIT ?"
        );
        let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql));
        for k in &keys {
            q = q.bind(*k);
        }
        let rows =
            q.bind(transaction_id).bind(now).bind(MAX_CAPTURE_CANDIDATE_ROWS as i64).fetch_all(&self.reader).await?;
        let ranked = rank_similar(hashes, rows, max_distance);
        let mut out = Vec::new();
        for t in ranked {
            let prints: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT fingerprint FROM capture_fingerprints WHERE transaction_id = ? AND expires_at > ?                  ORDER BY seen_at DESC LIMIT ?",
            )
            .bind(&t)
            .bind(now)
            .bind((MAX_SIMILAR_CAPTURES - out.len()) as i64)
            .fetch_all(&self.reader)
            .await?;
            out.extend(prints);
            if out.len() >= MAX_SIMILAR_CAPTURES {
                break;
            }
        }
        Ok(out)
    }

    async fn purge_expired_capture_fingerprints(&self, now: i64) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM capture_hash_bands WHERE expires_at <= ?").bind(now).execute(&mut *tx).await?;
        let r =
            sqlx::query("DELETE FROM capture_fingerprints WHERE expires_at <= ?").bind(now).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    async fn create_transaction(&self, tx: NewTransaction) -> Result<()> {
        let dek = Key::random();
        let (epoch, epoch_key) = self.epochs.for_deadline(tx.retain_until)?;
        // Sealed before queueing: the batch's connection is held only for the statement.
        let dek_wrapped = epoch_key.seal(dek.as_bytes(), &dek_context(&tx.id, &tx.merchant_id));
        let options = dek.seal(&tx.options, &ctx("options", &tx.id));
        let device = dek.seal(&tx.device_secret, &ctx("device", &tx.id));
        self.commits
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO transactions (id, merchant_id, merchant_biz_id, product, state, dek_wrapped, key_epoch, options_sealed, device_secret_sealed, created_at, updated_at, expires_at) \
                         VALUES (?, ?, ?, ?, 'initialized', ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(&tx.id)
                    .bind(&tx.merchant_id)
                    .bind(&tx.merchant_biz_id)
                    .bind(&tx.product)
                    .bind(dek_wrapped)
                    .bind(epoch)
                    .bind(options)
                    .bind(device)
                    .bind(tx.created_at)
                    .bind(tx.created_at)
                    .bind(tx.expires_at)
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn get_transaction(&self, merchant_id: &str, id: &str) -> Result<Option<Transaction>> {
        let row = sqlx::query("SELECT * FROM transactions WHERE id = ? AND merchant_id = ?")
            .bind(id)
            .bind(merchant_id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| self.transaction_from(id, &r)).transpose()
    }

    async fn get_transaction_for_device(&self, id: &str) -> Result<Option<Transaction>> {
        let row = sqlx::query("SELECT * FROM transactions WHERE id = ?").bind(id).fetch_optional(&self.reader).await?;
        row.map(|r| self.transaction_from(id, &r)).transpose()
    }

    async fn start_device_session(
        &self,
        transaction_id: &str,
        session_id: &str,
        state: &[u8],
        now: i64,
    ) -> Result<bool> {
        let dek = self.dek_for(transaction_id).await?;
        let mut tx = self.writer.begin().await?;
        let moved = sqlx::query(
            "UPDATE transactions SET state = 'in_progress', updated_at = ? WHERE id = ? AND state = 'initialized' AND expires_at > ?",
        )
        .bind(now)
        .bind(transaction_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO device_sessions (transaction_id, session_id, state_sealed, version, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)",
        )
        .bind(transaction_id)
        .bind(session_id)
        .bind(dek.seal(state, &ctx("flow", transaction_id)))
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn get_device_session(&self, transaction_id: &str) -> Result<Option<DeviceSession>> {
        let row = sqlx::query("SELECT * FROM device_sessions WHERE transaction_id = ?")
            .bind(transaction_id)
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let dek = self.dek_for(transaction_id).await?;
        let state: Vec<u8> = row.try_get("state_sealed")?;
        let response: Option<Vec<u8>> = row.try_get("last_response_sealed")?;
        Ok(Some(DeviceSession {
            session_id: row.try_get("session_id")?,
            state: dek.open(&state, &ctx("flow", transaction_id))?,
            version: row.try_get("version")?,
            last_request_hash: row.try_get("last_request_hash")?,
            last_response: response.map(|r| dek.open(&r, &ctx("response", transaction_id))).transpose()?,
            updated_at: row.try_get("updated_at")?,
        }))
    }

    async fn save_round(&self, transaction_id: &str, expected_version: i64, u: RoundUpdate<'_>) -> Result<bool> {
        if let Some((to, _)) = u.finish
            && !to.is_final()
        {
            return Err(StoreError::InvalidInput(format!("a round cannot finish a flow as {}", to.as_str())));
        }
        let dek = self.dek_for(transaction_id).await?;
        let mut tx = self.writer.begin().await?;
        let open = sqlx::query_scalar::<_, String>("SELECT state FROM transactions WHERE id = ?")
            .bind(transaction_id)
            .fetch_optional(&mut *tx)
            .await?;
        if !matches!(open.as_deref(), Some("in_progress")) {
            return Ok(false);
        }
        let updated = sqlx::query(
            "UPDATE device_sessions SET state_sealed = ?, version = version + 1, last_request_hash = ?, last_response_sealed = ?, updated_at = ?, \
             claim_round = NULL, claim_until = NULL WHERE transaction_id = ? AND version = ?",
        )
        .bind(dek.seal(u.state, &ctx("flow", transaction_id)))
        .bind(u.request_hash)
        .bind(dek.seal(u.response, &ctx("response", transaction_id)))
        .bind(u.now)
        .bind(transaction_id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO rounds (transaction_id, round, step, outcome, detail_sealed, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(transaction_id)
            .bind(u.round as i64)
            .bind(u.step)
            .bind(u.outcome)
            .bind(dek.seal(u.detail, &ctx(&format!("round{}", u.round), transaction_id)))
            .bind(u.now)
            .execute(&mut *tx)
            .await?;
        if let Some((to, verdict)) = u.finish {
            sqlx::query(
                "UPDATE transactions SET state = ?, verdict_sealed = ?, updated_at = ?, finished_at = ? WHERE id = ? AND state = 'in_progress'",
            )
            .bind(to.as_str())
            .bind(dek.seal(verdict, &ctx("verdict", transaction_id)))
            .bind(u.now)
            .bind(u.now)
            .bind(transaction_id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE transactions SET updated_at = ? WHERE id = ?")
            .bind(u.now)
            .bind(transaction_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn claim_round(
        &self,
        transaction_id: &str,
        expected_version: i64,
        round: u32,
        now: i64,
        lease_until: i64,
    ) -> Result<bool> {
        if lease_until <= now {
            return Err(StoreError::InvalidInput(format!("a round lease ending at {lease_until} is over at {now}")));
        }
        // One conditional UPDATE: of concurrent claimants exactly one sees the claim free and takes it.
        let r = sqlx::query(
            "UPDATE device_sessions SET claim_round = ?, claim_until = ? \
             WHERE transaction_id = ? AND version = ? AND (claim_until IS NULL OR claim_until <= ?)",
        )
        .bind(round as i64)
        .bind(lease_until)
        .bind(transaction_id)
        .bind(expected_version)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_round(&self, transaction_id: &str, expected_version: i64, lease_until: i64) -> Result<()> {
        // The lease end identifies the claim: a later claim always ends later, so this never drops someone else's.
        sqlx::query(
            "UPDATE device_sessions SET claim_round = NULL, claim_until = NULL \
             WHERE transaction_id = ? AND version = ? AND claim_until = ?",
        )
        .bind(transaction_id)
        .bind(expected_version)
        .bind(lease_until)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn overdue_transactions(&self, now: i64, limit: i64) -> Result<Vec<String>> {
        let ids = sqlx::query_scalar(
            "SELECT id FROM transactions WHERE state IN ('initialized', 'in_progress') AND expires_at <= ? ORDER BY expires_at LIMIT ?",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(ids)
    }

    async fn idle_transactions(&self, cutoff: i64, limit: i64) -> Result<Vec<String>> {
        let ids = sqlx::query_scalar(
            "SELECT t.id FROM transactions t JOIN device_sessions d ON d.transaction_id = t.id \
             WHERE t.state = 'in_progress' AND d.updated_at <= ? ORDER BY d.updated_at LIMIT ?",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(ids)
    }

    async fn expire(&self, id: &str, verdict: &[u8], now: i64) -> Result<bool> {
        self.close(id, TxState::Expired, verdict, now).await
    }

    async fn cancel(&self, id: &str, verdict: &[u8], now: i64) -> Result<bool> {
        self.close(id, TxState::Cancelled, verdict, now).await
    }

    async fn put_blob(&self, transaction_id: &str, kind: &str, bytes: &[u8], now: i64) -> Result<String> {
        let dek = self.dek_for(transaction_id).await?;
        let id = idv_crypto::random_hex(16);
        self.blobs.write(transaction_id, &id, &dek.seal(bytes, &ctx("blob", &id)))?;
        // The file is durable before the row that names it: a crash in between leaves an orphan file, never a row
        // pointing at nothing.
        sqlx::query("INSERT INTO blobs (id, transaction_id, kind, size, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(transaction_id)
            .bind(kind)
            .bind(bytes.len() as i64)
            .bind(hex::encode(sha2::Sha256::digest(bytes)))
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(id)
    }

    async fn get_blob(&self, transaction_id: &str, blob_id: &str) -> Result<Vec<u8>> {
        let known: Option<String> = sqlx::query_scalar("SELECT sha256 FROM blobs WHERE id = ? AND transaction_id = ?")
            .bind(blob_id)
            .bind(transaction_id)
            .fetch_optional(&self.reader)
            .await?;
        let sha = known.ok_or_else(|| StoreError::NotFound(format!("blob {blob_id}")))?;
        let dek = self.dek_for(transaction_id).await?;
        let plain = dek.open(&self.blobs.read(transaction_id, blob_id)?, &ctx("blob", blob_id))?;
        if hex::encode(sha2::Sha256::digest(&plain[..])) != sha {
            return Err(StoreError::Corrupt(format!("blob {blob_id} does not match its recorded hash")));
        }
        Ok(plain.to_vec())
    }

    async fn blob_of_kind(&self, transaction_id: &str, kind: &str) -> Result<Option<String>> {
        let id = sqlx::query_scalar(
            "SELECT id FROM blobs WHERE transaction_id = ? AND kind = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )
        .bind(transaction_id)
        .bind(kind)
        .fetch_optional(&self.reader)
        .await?;
        Ok(id)
    }

    async fn set_merchant_retention(&self, id: &str, retention_s: Option<i64>) -> Result<bool> {
        if retention_s.is_some_and(|r| r < 1) {
            return Err(StoreError::InvalidInput("a retention is at least 1 s".into()));
        }
        let r = sqlx::query("UPDATE merchants SET retention_s = ? WHERE id = ?")
            .bind(retention_s)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn due_for_deletion(&self, default_retention_s: i64, now: i64, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT t.id FROM transactions t JOIN merchants m ON m.id = t.merchant_id \
             WHERE t.finished_at IS NOT NULL AND t.deleted IS NOT 'all' \
               AND t.finished_at + COALESCE(m.retention_s, ?) <= ? \
             ORDER BY t.finished_at, t.id LIMIT ?",
        )
        .bind(default_retention_s)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn delete_evidence(&self, id: &str, what: Evidence, decision: Option<&Decision>, now: i64) -> Result<bool> {
        let row =
            sqlx::query("SELECT deleted FROM transactions WHERE id = ?").bind(id).fetch_optional(&self.reader).await?;
        let Some(row) = row else { return Ok(false) };
        let before = row.try_get::<Option<String>, _>("deleted")?.as_deref().map(evidence).transpose()?;
        let after = before.map_or(what, |b| b.union(what));
        let blob_ids: Vec<String> = if what == Evidence::Text {
            Vec::new()
        } else {
            sqlx::query_scalar("SELECT id FROM blobs WHERE transaction_id = ?").bind(id).fetch_all(&self.reader).await?
        };
        let mut tx = self.writer.begin().await?;
        // The decision is written once, from the first deletion that had the verdict to read it from.
        sqlx::query(
            "UPDATE transactions SET deleted = ?, deleted_at = ?, delete_after_query = NULL, updated_at = ?, \
             decision_passed = COALESCE(decision_passed, ?), decision_sub_code = COALESCE(decision_sub_code, ?) WHERE id = ?",
        )
        .bind(after.as_str())
        .bind(now)
        .bind(now)
        .bind(decision.map(|d| i64::from(d.passed)))
        .bind(decision.map(|d| d.sub_code.as_str()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if after == Evidence::All {
            // Destroying the key is what shreds: every sealed value of the transaction, in this file or in any copy
            // of it, needs it (and, in copies, its epoch key, destroyed when the epoch is spent).
            sqlx::query("UPDATE transactions SET dek_wrapped = NULL WHERE id = ?").bind(id).execute(&mut *tx).await?;
        }
        if what != Evidence::Images {
            sqlx::query(
                "UPDATE transactions SET options_sealed = x'', device_secret_sealed = x'', verdict_sealed = NULL WHERE id = ?",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM rounds WHERE transaction_id = ?").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM device_sessions WHERE transaction_id = ?").bind(id).execute(&mut *tx).await?;
        }
        if what != Evidence::Text {
            sqlx::query("DELETE FROM blobs WHERE transaction_id = ?").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        for b in &blob_ids {
            self.blobs.delete(id, b)?;
        }
        // The old pages would otherwise live on in the write-ahead log until the next automatic checkpoint.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.writer).await?;
        Ok(true)
    }

    async fn set_delete_after_query(&self, id: &str, what: Option<Evidence>) -> Result<bool> {
        let r = sqlx::query("UPDATE transactions SET delete_after_query = ? WHERE id = ?")
            .bind(what.map(Evidence::as_str))
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn enqueue_callback(&self, transaction_id: &str, merchant_id: &str, request: &[u8], now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO callback_outbox (transaction_id, merchant_id, request_sealed, state, next_attempt_at, created_at, updated_at) \
             VALUES (?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (transaction_id) DO NOTHING",
        )
        .bind(transaction_id)
        .bind(merchant_id)
        .bind(self.kek_callback.seal(request, &ctx("callback", transaction_id)))
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn claim_due_callbacks(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<CallbackDue>> {
        if lease_until <= now {
            return Err(StoreError::InvalidInput("a callback lease must end after now".into()));
        }
        let rows = sqlx::query(
            "UPDATE callback_outbox SET next_attempt_at = ?, updated_at = ? WHERE transaction_id IN ( \
               SELECT o.transaction_id FROM callback_outbox o JOIN transactions t ON t.id = o.transaction_id \
               WHERE o.state = 'pending' AND o.next_attempt_at <= ? AND t.state NOT IN ('initialized', 'in_progress') \
               ORDER BY o.next_attempt_at LIMIT ?) \
             RETURNING transaction_id, merchant_id, request_sealed, attempts, created_at",
        )
        .bind(lease_until)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("transaction_id")?;
                let sealed: Vec<u8> = r.try_get("request_sealed")?;
                Ok(CallbackDue {
                    request: self.kek_callback.open(&sealed, &ctx("callback", &id))?,
                    merchant_id: r.try_get("merchant_id")?,
                    attempts: r.try_get::<i64, _>("attempts")? as u32,
                    created_at: r.try_get("created_at")?,
                    transaction_id: id,
                })
            })
            .collect()
    }

    async fn record_callback_attempt(
        &self,
        transaction_id: &str,
        attempt: CallbackAttempt,
        outcome: CallbackOutcome,
    ) -> Result<bool> {
        let (state, next) = match outcome {
            CallbackOutcome::Delivered => ("delivered", attempt.at),
            CallbackOutcome::Retry { next_attempt_at } => ("pending", next_attempt_at),
            CallbackOutcome::Dead => ("dead", attempt.at),
        };
        let mut tx = self.writer.begin().await?;
        // Counted only as the attempt after the last one recorded: a worker whose lease ran out meanwhile does
        // not count twice.
        let r = sqlx::query(
            "UPDATE callback_outbox SET attempts = ?, state = ?, next_attempt_at = ?, updated_at = ? \
             WHERE transaction_id = ? AND attempts = ? AND state = 'pending'",
        )
        .bind(i64::from(attempt.attempt))
        .bind(state)
        .bind(next)
        .bind(attempt.at)
        .bind(transaction_id)
        .bind(i64::from(attempt.attempt) - 1)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO callback_attempts (transaction_id, attempt, at, status, error) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(transaction_id)
        .bind(i64::from(attempt.attempt))
        .bind(attempt.at)
        .bind(attempt.status.map(i64::from))
        .bind(attempt.error.as_deref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_callbacks(&self, state: Option<&str>, limit: i64) -> Result<Vec<CallbackRecord>> {
        let rows = sqlx::query(
            "SELECT transaction_id, merchant_id, state, attempts, next_attempt_at, created_at FROM callback_outbox \
             WHERE ? IS NULL OR state = ? ORDER BY created_at, transaction_id LIMIT ?",
        )
        .bind(state)
        .bind(state)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let id: String = r.try_get("transaction_id")?;
            let log = sqlx::query(
                "SELECT attempt, at, status, error FROM callback_attempts WHERE transaction_id = ? ORDER BY attempt",
            )
            .bind(&id)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|a| {
                Ok(CallbackAttempt {
                    attempt: a.try_get::<i64, _>("attempt")? as u32,
                    at: a.try_get("at")?,
                    status: a.try_get::<Option<i64>, _>("status")?.map(|s| s as u16),
                    error: a.try_get("error")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
            out.push(CallbackRecord {
                transaction_id: id,
                merchant_id: r.try_get("merchant_id")?,
                state: r.try_get("state")?,
                attempts: r.try_get::<i64, _>("attempts")? as u32,
                next_attempt_at: r.try_get("next_attempt_at")?,
                created_at: r.try_get("created_at")?,
                log,
            });
        }
        Ok(out)
    }

    async fn merchant_callback_secret(&self, merchant_id: &str) -> Result<Option<Zeroizing<String>>> {
        let open = |sealed: &[u8]| -> Result<Zeroizing<String>> {
            let raw = self.kek_secret.open(sealed, &ctx("callback-secret", merchant_id))?;
            Ok(Zeroizing::new(
                String::from_utf8(raw.to_vec()).map_err(|_| StoreError::Corrupt("callback secret".into()))?,
            ))
        };
        let row = sqlx::query("SELECT callback_secret_sealed FROM merchants WHERE id = ?")
            .bind(merchant_id)
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else { return Ok(None) };
        if let Some(sealed) = row.try_get::<Option<Vec<u8>>, _>("callback_secret_sealed")? {
            return open(&sealed).map(Some);
        }
        let secret = Zeroizing::new(idv_crypto::random_hex(32));
        // The first writer's secret wins; a concurrent creation reads it back.
        sqlx::query("UPDATE merchants SET callback_secret_sealed = ? WHERE id = ? AND callback_secret_sealed IS NULL")
            .bind(self.kek_secret.seal(secret.as_bytes(), &ctx("callback-secret", merchant_id)))
            .bind(merchant_id)
            .execute(&self.writer)
            .await?;
        let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT callback_secret_sealed FROM merchants WHERE id = ?")
            .bind(merchant_id)
            .fetch_one(&self.writer)
            .await?;
        sealed.map(|s| open(&s)).transpose()
    }

    async fn list_rounds(&self, transaction_id: &str) -> Result<Vec<RoundSummary>> {
        let rows =
            sqlx::query("SELECT round, step, outcome, created_at FROM rounds WHERE transaction_id = ? ORDER BY round")
                .bind(transaction_id)
                .fetch_all(&self.reader)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(RoundSummary {
                    round: r.try_get::<i64, _>("round")? as u32,
                    step: r.try_get("step")?,
                    outcome: r.try_get("outcome")?,
                    at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn destroy_spent_key_epochs(&self, now: i64) -> Result<Vec<String>> {
        let mut destroyed = Vec::new();
        for epoch in self.epochs.list()? {
            if keyring::epoch_end(&epoch).is_none_or(|end| end > now) {
                continue;
            }
            let in_use: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM transactions WHERE key_epoch = ? AND dek_wrapped IS NOT NULL")
                    .bind(&epoch)
                    .fetch_one(&self.reader)
                    .await?;
            if in_use == 0 {
                self.epochs.destroy(&epoch)?;
                destroyed.push(epoch);
            }
        }
        Ok(destroyed)
    }

    // Audit log.
    async fn append_audit(&self, e: NewAuditEntry<'_>) -> Result<i64> {
        let (at, actor, action) = (e.at, e.actor.to_owned(), e.action.to_owned());
        let (transaction_id, merchant_id) = (e.transaction_id.map(str::to_owned), e.merchant_id.map(str::to_owned));
        let detail = e.detail.to_owned();
        self.commits
            .write(move |conn| {
                Box::pin(async move {
                    // The batch runs under BEGIN IMMEDIATE, which took the write lock before this reads the last
                    // entry: no other writer (another process included) can take the same seq or chain to the same
                    // hash, and the batch's earlier entries are already visible here.
                    let last: Option<(i64, Vec<u8>)> =
                        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                            .fetch_optional(&mut *conn)
                            .await?;
                    let (seq, prev) = match last {
                        Some((seq, hash)) => (seq + 1, hash32(hash, seq)?),
                        None => (1, crate::AUDIT_GENESIS),
                    };
                    let entry = NewAuditEntry {
                        at,
                        actor: &actor,
                        action: &action,
                        transaction_id: transaction_id.as_deref(),
                        merchant_id: merchant_id.as_deref(),
                        detail: &detail,
                    };
                    let hash = audit_hash(&prev, seq, &entry);
                    sqlx::query(
                        "INSERT INTO audit_log (seq, at, actor, action, transaction_id, merchant_id, detail, prev_hash, hash) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(seq)
                    .bind(at)
                    .bind(&actor)
                    .bind(&action)
                    .bind(&transaction_id)
                    .bind(&merchant_id)
                    .bind(&detail)
                    .bind(&prev[..])
                    .bind(&hash[..])
                    .execute(&mut *conn)
                    .await?;
                    Ok(seq)
                })
            })
            .await
    }

    async fn audit_entries(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, transaction_id, merchant_id, detail, prev_hash, hash FROM audit_log \
             WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get("seq")?;
                Ok(AuditEntry {
                    seq,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    transaction_id: r.try_get("transaction_id")?,
                    merchant_id: r.try_get("merchant_id")?,
                    detail: r.try_get("detail")?,
                    prev_hash: hash32(r.try_get("prev_hash")?, seq)?,
                    hash: hash32(r.try_get("hash")?, seq)?,
                })
            })
            .collect()
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&self.reader).await?;
        Ok(())
    }

    async fn ping_blobs(&self) -> Result<()> {
        self.blobs.ping()
    }

    async fn face_group_state(&self, merchant_id: &str, group_id: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT version FROM face_groups WHERE merchant_id = ? AND id = ?")
            .bind(merchant_id)
            .bind(group_id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn take_rate_token(&self, key: &str, rate_per_s: f64, burst: f64, now_ms: i64) -> Result<Option<i64>> {
        check_bucket(rate_per_s, burst)?;
        // One statement: the refill, the check and the take happen together under SQLite's write lock.
        let refilled = "min(?3, rate_buckets.tokens + max(0, ?4 - rate_buckets.updated_ms) * ?2 / 1000.0)";
        let taken = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO rate_buckets (key, tokens, updated_ms) VALUES (?1, ?3 - 1, ?4) \
             ON CONFLICT (key) DO UPDATE SET tokens = {refilled} - 1, updated_ms = max(rate_buckets.updated_ms, ?4) \
             WHERE {refilled} >= 1"
        )))
        .bind(key)
        .bind(rate_per_s)
        .bind(burst)
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(None);
        }
        let (tokens, updated): (f64, i64) = sqlx::query_as("SELECT tokens, updated_ms FROM rate_buckets WHERE key = ?")
            .bind(key)
            .fetch_one(&self.writer)
            .await?;
        Ok(Some(wait_ms(tokens, updated, rate_per_s, burst, now_ms)))
    }

    async fn refund_rate_token(&self, key: &str, burst: f64) -> Result<()> {
        sqlx::query("UPDATE rate_buckets SET tokens = min(?, tokens + 1) WHERE key = ?")
            .bind(burst)
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn purge_rate_buckets(&self, prefix: &str, before_ms: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM rate_buckets WHERE substr(key, 1, length(?1)) = ?1 AND updated_ms < ?2")
            .bind(prefix)
            .bind(before_ms)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected())
    }

    async fn try_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool> {
        if until <= now {
            return Err(StoreError::InvalidInput("a lease must end after now".into()));
        }
        let r = sqlx::query(
            "INSERT INTO leases (name, holder, until_at) VALUES (?1, ?2, ?4) ON CONFLICT (name) DO UPDATE \
             SET holder = excluded.holder, until_at = excluded.until_at WHERE leases.holder = ?2 OR leases.until_at <= ?3",
        )
        .bind(name)
        .bind(holder)
        .bind(now)
        .bind(until)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = ?1 AND holder = ?2")
            .bind(name)
            .bind(holder)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn face_group(&self, merchant_id: &str, code: &str, create_at: Option<i64>) -> Result<Option<FaceGroup>> {
        self.face_group_impl(merchant_id, code, create_at).await
    }

    async fn face_groups(
        &self,
        merchant_id: &str,
        code: Option<&str>,
        name: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<FaceGroup>, i64)> {
        self.face_groups_impl(merchant_id, code, name, offset, limit).await
    }

    async fn modify_face_group(
        &self,
        merchant_id: &str,
        id: i64,
        name: &str,
        description: Option<&str>,
    ) -> Result<bool> {
        self.modify_face_group_impl(merchant_id, id, name, description).await
    }

    async fn delete_face_group(&self, merchant_id: &str, id: i64) -> Result<bool> {
        self.delete_face_group_impl(merchant_id, id).await
    }

    async fn add_face_record(&self, r: NewFaceRecord<'_>) -> Result<AddFace> {
        self.add_face_record_impl(r).await
    }

    async fn face_records(
        &self,
        merchant_id: &str,
        group_id: i64,
        filter: &FaceRecordFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<FaceRecord>, i64)> {
        self.face_records_impl(merchant_id, group_id, filter, offset, limit).await
    }

    async fn face_embeddings(&self, merchant_id: &str, group_id: i64) -> Result<Vec<(FaceRecord, Vec<f32>)>> {
        self.face_embeddings_impl(merchant_id, group_id).await
    }

    async fn delete_face_record(&self, merchant_id: &str, id: i64) -> Result<Option<FaceRecord>> {
        self.delete_face_record_impl(merchant_id, id).await
    }

    async fn delete_user_faces(
        &self,
        merchant_id: &str,
        group_code: Option<&str>,
        merchant_user_id: &str,
    ) -> Result<Vec<FaceRecord>> {
        self.delete_user_faces_impl(merchant_id, group_code, merchant_user_id).await
    }

    async fn delete_expired_faces(&self, now: i64, limit: i64) -> Result<Vec<FaceRecord>> {
        self.delete_expired_faces_impl(now, limit).await
    }

    // console
    async fn create_console_user(&self, user: NewConsoleUser<'_>) -> Result<ConsoleUser> {
        self.create_console_user_impl(user).await
    }
    async fn console_login(&self, username: &str) -> Result<Option<ConsoleLogin>> {
        self.console_login_impl(username).await
    }
    async fn list_console_users(&self, merchant_id: Option<&str>) -> Result<Vec<ConsoleUser>> {
        self.list_console_users_impl(merchant_id).await
    }
    async fn create_console_session(
        &self,
        token_hash: &[u8; 32],
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.create_console_session_impl(token_hash, user_id, now, expires_at).await
    }
    async fn console_session(&self, token_hash: &[u8; 32], now: i64, idle_s: i64) -> Result<Option<ConsoleSession>> {
        self.console_session_impl(token_hash, now, idle_s).await
    }
    async fn end_console_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        self.end_console_session_impl(token_hash).await
    }
    async fn console_login_failures(&self, keys: &[&str], since: i64) -> Result<Vec<i64>> {
        self.console_login_failures_impl(keys, since).await
    }
    async fn record_console_login_failure(&self, keys: &[&str], now: i64) -> Result<()> {
        self.record_console_login_failure_impl(keys, now).await
    }
    async fn clear_console_login_failures(&self, key: &str) -> Result<()> {
        self.clear_console_login_failures_impl(key).await
    }
    async fn purge_console(&self, now: i64, failures_before: i64) -> Result<u64> {
        self.purge_console_impl(now, failures_before).await
    }
    async fn console_unindexed(&self, limit: i64) -> Result<Vec<String>> {
        self.console_unindexed_impl(limit).await
    }
    async fn put_console_index(&self, rows: &[ConsoleIndexRow]) -> Result<()> {
        self.put_console_index_impl(rows).await
    }
    async fn console_transactions(
        &self,
        merchant_id: &str,
        filter: &ConsoleFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ConsoleRow>, i64)> {
        self.console_transactions_impl(merchant_id, filter, offset, limit).await
    }
    async fn set_review_rule(&self, merchant_id: &str, rule: Option<ReviewRule>) -> Result<bool> {
        self.set_review_rule_impl(merchant_id, rule).await
    }
    async fn review_rule(&self, merchant_id: &str) -> Result<ReviewRule> {
        self.review_rule_impl(merchant_id).await
    }
    async fn console_review_queue(
        &self,
        merchant_id: &str,
        rule: &ReviewRule,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ConsoleRow>, i64)> {
        self.console_review_queue_impl(merchant_id, rule, offset, limit).await
    }
    async fn record_review(&self, review: NewReview<'_>) -> Result<bool> {
        self.record_review_impl(review).await
    }
    async fn review(&self, merchant_id: &str, transaction_id: &str) -> Result<Option<Review>> {
        self.review_impl(merchant_id, transaction_id).await
    }
    async fn rearm_callback(&self, transaction_id: &str, now: i64) -> Result<bool> {
        self.rearm_callback_impl(transaction_id, now).await
    }
    async fn console_callback(&self, merchant_id: &str, transaction_id: &str) -> Result<Option<CallbackRecord>> {
        self.console_callback_impl(merchant_id, transaction_id).await
    }
    async fn console_summary(&self, merchant_id: &str, from: i64, to: i64) -> Result<ConsoleSummary> {
        self.console_summary_impl(merchant_id, from, to).await
    }
}

//! The multi-instance backend: PostgreSQL for every piece of state (so any instance serves any request), with the
//! sealed blobs and the key epochs in a local directory or an S3-compatible bucket (`Blobs`, `ObjectKeyEpochs`).
//!
//! What SQLite gets from its single writer, PostgreSQL gets from row locks and conditional updates under READ
//! COMMITTED, and, where a check and the writes it allows must not interleave with another instance's
//! (frame-digest registration, the audit chain, creating an epoch key, migrations), from transaction-scoped
//! advisory locks. Durability is PostgreSQL's: a commit is acknowledged once it is flushed, with the default
//! `synchronous_commit = on` (`docs/deployment.md`).

use std::sync::Arc;

use async_trait::async_trait;
use idv_crypto::Key;
use sha2::Digest;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use zeroize::Zeroizing;

use crate::blobs::{Blobs, ObjectBackend, ObjectBlobs};
use crate::faces::{
    FACE_EMBEDDING_DIM, MAX_FACE_PAGE, MAX_FACE_TEXT, RECORD_COLUMNS, check_page, check_text, embedding_context,
};
use crate::keyring::{self, KeyEpochs, ObjectKeyEpochs};
use crate::sqlite::{
    band_keys, check_bucket, check_capture_hashes, ctx, dek_context, evidence, hash32, rank_similar, wait_ms,
};
use crate::{
    AccessKey, AuthKey, CallbackAttempt, CallbackDue, CallbackOutcome, CallbackRecord, Decision, DeviceSession,
    Evidence, MAX_CAPTURE_CANDIDATE_ROWS, MAX_CAPTURE_FINGERPRINT_BYTES, MAX_CAPTURE_HASH_DISTANCE,
    MAX_FRAME_DIGESTS_PER_CALL, MAX_SIMILAR_CAPTURES, Merchant, NewTransaction, Result, RoundSummary, RoundUpdate,
    Store, StoreError, Transaction, TxState,
};
use crate::{AddFace, FaceGroup, FaceRecord, FaceRecordFilter, NewFaceRecord};
use crate::{AuditEntry, NewAuditEntry, audit_hash};
use crate::{
    ConsoleFilter, ConsoleIndexRow, ConsoleLogin, ConsoleRow, ConsoleSession, ConsoleSummary, ConsoleUser,
    NewConsoleUser, NewReview, Review, ReviewRule,
};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_console.sql")),
];

/// Advisory lock namespaces (the first of the two 32-bit keys), "idv" and a number, so they do not collide with
/// another application's locks in a shared database.
const LOCK_MIGRATE: i32 = 0x6964_7601;
const LOCK_FRAME_DIGESTS: i32 = 0x6964_7602;
const LOCK_AUDIT: i32 = 0x6964_7603;
const LOCK_EPOCH: i32 = 0x6964_7604;

/// Connections per instance unless the URL or the server says otherwise (`docs/deployment.md` on sizing).
pub const DEFAULT_PG_POOL: u32 = 16;

/// Where the key epochs live: with the blobs, in a directory or in the bucket.
enum Epochs {
    Dir(KeyEpochs),
    Object(ObjectKeyEpochs),
}

impl Epochs {
    async fn key(&self, epoch: &str) -> Result<Option<Key>> {
        match self {
            Epochs::Dir(d) => d.key(epoch),
            Epochs::Object(o) => o.key(epoch).await,
        }
    }

    async fn list(&self) -> Result<Vec<String>> {
        match self {
            Epochs::Dir(d) => d.list(),
            Epochs::Object(o) => o.list().await,
        }
    }

    async fn destroy(&self, epoch: &str) -> Result<()> {
        match self {
            Epochs::Dir(d) => d.destroy(epoch),
            Epochs::Object(o) => o.destroy(epoch).await,
        }
    }
}

/// Where a [`PgStore`] keeps its blobs and key epochs.
pub enum BlobLocation {
    /// A local directory (`DIR/blobs`, `DIR/keys`): one host, or a file system every instance mounts.
    Dir(std::path::PathBuf),
    /// An object store and the key prefix under which `blobs/` and `keys/` are kept.
    Object { backend: Arc<dyn ObjectBackend>, prefix: String },
}

pub struct PgStore {
    pub(crate) pool: PgPool,
    blobs: Blobs,
    kek_secret: Key,
    kek_dek: Key,
    kek_callback: Key,
    epochs: Epochs,
}

fn mismatch() -> StoreError {
    StoreError::Config(
        "this blob store (--blob-url, or the data directory's blobs/ and keys/) is not the one the other instances \
         of this database use: give every instance the same bucket, or a directory they all mount"
            .into(),
    )
}

fn merchant_from(row: &sqlx::postgres::PgRow) -> Result<Merchant> {
    Ok(Merchant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        enabled: row.try_get::<String, _>("status")? == "enabled",
        created_at: row.try_get("created_at")?,
        retention_s: row.try_get("retention_s")?,
    })
}

fn key_from(row: &sqlx::postgres::PgRow) -> Result<AccessKey> {
    Ok(AccessKey {
        id: row.try_get("id")?,
        merchant_id: row.try_get("merchant_id")?,
        enabled: row.try_get::<String, _>("status")? == "enabled",
        created_at: row.try_get("created_at")?,
    })
}

fn group_of(r: &sqlx::postgres::PgRow) -> Result<FaceGroup> {
    Ok(FaceGroup {
        id: r.try_get("id")?,
        merchant_id: r.try_get("merchant_id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
    })
}

fn record_of(r: &sqlx::postgres::PgRow) -> Result<FaceRecord> {
    Ok(FaceRecord {
        id: r.try_get("id")?,
        group_id: r.try_get("group_id")?,
        group_code: r.try_get("code")?,
        face_id: r.try_get("face_id")?,
        merchant_user_id: r.try_get("merchant_user_id")?,
        registration_type: r.try_get("registration_type")?,
        created_at: r.try_get("created_at")?,
        retain_until: r.try_get("retain_until")?,
    })
}

impl PgStore {
    /// Connects to `database_url` (`postgres://user:password@host:port/db`), applies pending migrations once
    /// whatever the number of instances starting at the same time, and checks that `master` is the key this
    /// database was created with. New data keys are wrapped by key epochs of `key_epoch_s` seconds.
    pub async fn open(
        database_url: &str,
        blobs: BlobLocation,
        master: &Key,
        now: i64,
        key_epoch_s: i64,
        pool_size: u32,
    ) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(database_url)
            .await?;
        let (blobs, epochs) = match blobs {
            BlobLocation::Dir(dir) => (
                Blobs::Dir(crate::blobs::BlobDir::open(dir.join("blobs"))?),
                Epochs::Dir(KeyEpochs::open(dir.join("keys"), master, key_epoch_s)?),
            ),
            BlobLocation::Object { backend, prefix } => (
                Blobs::Object(ObjectBlobs::new(backend.clone(), &prefix)),
                Epochs::Object(ObjectKeyEpochs::new(backend, &prefix, master, key_epoch_s)?),
            ),
        };
        let store = PgStore {
            pool,
            blobs,
            kek_secret: master.derive("accesskey-secret"),
            kek_dek: master.derive("dek-wrap"),
            kek_callback: master.derive("callback-request"),
            epochs,
        };
        store.migrate(now).await?;
        store.check_master_key(master).await?;
        store.check_blob_store().await?;
        Ok(store)
    }

    /// Applies the migrations this binary knows and the database has not seen, under an advisory lock so that
    /// several instances starting at once apply each exactly once. Returns the versions applied.
    pub async fn migrate(&self, now: i64) -> Result<Vec<i64>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, 0)").bind(LOCK_MIGRATE).execute(&mut *tx).await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(&mut *tx).await?;
        let applied = applied.unwrap_or(0);
        if let Some(newest) = MIGRATIONS.last().map(|m| m.0)
            && applied > newest
        {
            return Err(StoreError::Config(format!(
                "the database is at schema version {applied}, newer than this binary's {newest}: upgrade idv"
            )));
        }
        let mut done = Vec::new();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql)).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tracing::info!(version, "applied database migration");
            done.push(*version);
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn check_master_key(&self, master: &Key) -> Result<()> {
        let check = master.derive("key-check");
        sqlx::query("INSERT INTO meta (k, v) VALUES ('key_check', $1) ON CONFLICT (k) DO NOTHING")
            .bind(check.seal(b"idv", b"key_check"))
            .execute(&self.pool)
            .await?;
        let sealed: Vec<u8> =
            sqlx::query_scalar("SELECT v FROM meta WHERE k = 'key_check'").fetch_one(&self.pool).await?;
        check.open(&sealed, b"key_check").map(|_| ()).map_err(|_| {
            StoreError::Config(
                "the master key does not match this database (wrong IDV_MASTER_KEY or master.key)".into(),
            )
        })
    }

    /// Every instance must see the same blobs and key epochs: the first records its blob store's identity in the
    /// database; an instance whose directory or bucket holds another identity, or none while the database has
    /// one, is refused (a per-instance directory would silently seal data the others cannot open).
    async fn check_blob_store(&self) -> Result<()> {
        // Under the migration lock, so instances starting together on a fresh store agree on one identity.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, 0)").bind(LOCK_MIGRATE).execute(&mut *tx).await?;
        let recorded: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT v FROM meta WHERE k = 'blob_store'").fetch_optional(&mut *tx).await?;
        let mine = self.blobs.identity().await?;
        match (recorded, mine) {
            (Some(r), Some(m)) if r == m.as_bytes() => {}
            (Some(_), _) => return Err(mismatch()),
            (None, mine) => {
                let id = match mine {
                    Some(m) => m,
                    None => {
                        let id = idv_crypto::random_hex(16);
                        self.blobs.set_identity(&id).await?;
                        id
                    }
                };
                sqlx::query("INSERT INTO meta (k, v) VALUES ('blob_store', $1)")
                    .bind(id.as_bytes())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The epoch key for a deadline. Creating one is serialised across instances by an advisory lock on the
    /// epoch, so all of them wrap with the same key; once it exists the cache answers without the database.
    async fn epoch_for(&self, deadline: i64) -> Result<(String, Key)> {
        match &self.epochs {
            Epochs::Dir(d) => d.for_deadline(deadline),
            Epochs::Object(o) => {
                let length = o.length_s();
                let start = deadline.div_euclid(length) * length;
                let epoch = format!("{start}-{length}");
                if let Some(k) = o.cached(&epoch) {
                    return Ok((epoch, k));
                }
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                    .bind(LOCK_EPOCH)
                    .bind(&epoch)
                    .execute(&mut *tx)
                    .await?;
                let got = o.for_deadline(deadline).await;
                tx.commit().await?;
                got
            }
        }
    }

    async fn transaction_from(&self, id: &str, row: &sqlx::postgres::PgRow) -> Result<Transaction> {
        let state: String = row.try_get("state")?;
        let state = TxState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("unknown state {state}")))?;
        let wrapped: Option<Vec<u8>> = row.try_get("dek_wrapped")?;
        let merchant_id: String = row.try_get("merchant_id")?;
        let epoch: Option<String> = row.try_get("key_epoch")?;
        let dek = match wrapped {
            Some(w) => self.unwrap_dek(id, &merchant_id, &w, epoch.as_deref()).await?,
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
    pub(crate) async fn unwrap_dek(
        &self,
        id: &str,
        merchant_id: &str,
        wrapped: &[u8],
        epoch: Option<&str>,
    ) -> Result<Option<Key>> {
        let raw = match epoch {
            None => self.kek_dek.open(wrapped, &dek_context(id, merchant_id))?,
            Some(e) => match self.epochs.key(e).await? {
                Some(k) => k.open(wrapped, &dek_context(id, merchant_id))?,
                None => return Ok(None),
            },
        };
        Ok(Some(Key::from_bytes(&raw)?))
    }

    /// A transaction's data key and merchant: `None` for an unknown transaction, `Some((None, _))` for one whose
    /// key was destroyed (all its evidence deleted).
    async fn dek_of(&self, transaction_id: &str) -> Result<Option<(Option<Key>, String)>> {
        let row = sqlx::query("SELECT dek_wrapped, merchant_id, key_epoch FROM transactions WHERE id = $1")
            .bind(transaction_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let (wrapped, merchant_id, epoch): (Option<Vec<u8>>, String, Option<String>) =
            (r.try_get("dek_wrapped")?, r.try_get("merchant_id")?, r.try_get("key_epoch")?);
        let dek = match wrapped {
            Some(w) => self.unwrap_dek(transaction_id, &merchant_id, &w, epoch.as_deref()).await?,
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
            "UPDATE transactions SET state = $1, verdict_sealed = $2, updated_at = $3, finished_at = $4 \
             WHERE id = $5 AND state IN ('initialized', 'in_progress')",
        )
        .bind(to.as_str())
        .bind(sealed)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn face_group_impl(
        &self,
        merchant_id: &str,
        code: &str,
        create_at: Option<i64>,
    ) -> Result<Option<FaceGroup>> {
        check_text("a face group code", code)?;
        if let Some(now) = create_at {
            sqlx::query(
                "INSERT INTO face_groups (merchant_id, code, name, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (merchant_id, code) DO NOTHING",
            )
            .bind(merchant_id)
            .bind(code)
            .bind(code)
            .bind(now)
            .execute(&self.pool)
            .await?;
        }
        let row = sqlx::query("SELECT * FROM face_groups WHERE merchant_id = $1 AND code = $2")
            .bind(merchant_id)
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(group_of).transpose()
    }

    async fn face_groups_impl(
        &self,
        merchant_id: &str,
        code: Option<&str>,
        name: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<FaceGroup>, i64)> {
        check_page(offset, limit)?;
        let filter = "merchant_id = $1 AND ($2::text IS NULL OR code = $3) AND ($4::text IS NULL OR name = $5)";
        let total: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM face_groups WHERE {filter}")))
                .bind(merchant_id)
                .bind(code)
                .bind(code)
                .bind(name)
                .bind(name)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM face_groups WHERE {filter} ORDER BY id LIMIT $6 OFFSET $7"
        )))
        .bind(merchant_id)
        .bind(code)
        .bind(code)
        .bind(name)
        .bind(name)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.iter().map(group_of).collect::<Result<_>>()?, total))
    }

    async fn modify_face_group_impl(
        &self,
        merchant_id: &str,
        id: i64,
        name: &str,
        description: Option<&str>,
    ) -> Result<bool> {
        check_text("a face group name", name)?;
        if let Some(d) = description
            && d.len() > MAX_FACE_TEXT
        {
            return Err(StoreError::InvalidInput(format!("a description is at most {MAX_FACE_TEXT} bytes")));
        }
        let r = sqlx::query(
            "UPDATE face_groups SET name = $1, description = coalesce($2, description) WHERE id = $3 AND merchant_id = $4",
        )
        .bind(name)
        .bind(description)
        .bind(id)
        .bind(merchant_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn delete_face_group_impl(&self, merchant_id: &str, id: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM face_records WHERE group_id = $1 AND merchant_id = $2")
            .bind(id)
            .bind(merchant_id)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM face_groups WHERE id = $1 AND merchant_id = $2")
            .bind(id)
            .bind(merchant_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    async fn add_face_record_impl(&self, n: NewFaceRecord<'_>) -> Result<AddFace> {
        check_text("a merchant user id", n.merchant_user_id)?;
        if n.embedding.len() != FACE_EMBEDDING_DIM || n.embedding.iter().any(|v| !v.is_finite()) {
            return Err(StoreError::InvalidInput(format!("an embedding is {FACE_EMBEDDING_DIM} finite floats")));
        }
        if !matches!(n.registration_type, "MANUAL" | "AUTO") {
            return Err(StoreError::InvalidInput("registration type is MANUAL or AUTO".into()));
        }
        let Some(group) = self.face_group_impl(n.merchant_id, n.group_code, Some(n.now)).await? else {
            return Err(StoreError::NotFound(format!("face group {}", n.group_code)));
        };
        let face_id = idv_crypto::random_hex(16);
        let dek = Key::random();
        let (epoch, epoch_key) = self.epoch_for(n.retain_until).await?;
        let bytes: Vec<u8> = n.embedding.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut tx = self.pool.begin().await?;
        let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM face_records f JOIN face_groups g ON g.id = f.group_id \
             WHERE f.group_id = $1 AND f.merchant_user_id = $2"
        )))
        .bind(group.id)
        .bind(n.merchant_user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            let old = record_of(&row)?;
            if !n.replace {
                return Ok(AddFace::UserExists(old));
            }
            sqlx::query("DELETE FROM face_records WHERE id = $1").bind(old.id).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE face_groups SET version = version + 1 WHERE id = $1")
            .bind(group.id)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO face_records (merchant_id, group_id, face_id, merchant_user_id, registration_type, \
             dek_wrapped, key_epoch, embedding_sealed, created_at, retain_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(n.merchant_id)
        .bind(group.id)
        .bind(&face_id)
        .bind(n.merchant_user_id)
        .bind(n.registration_type)
        .bind(epoch_key.seal(dek.as_bytes(), &dek_context(&face_id, n.merchant_id)))
        .bind(&epoch)
        .bind(dek.seal(&bytes, &embedding_context(&face_id)))
        .bind(n.now)
        .bind(n.retain_until)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AddFace::Added(FaceRecord {
            id,
            group_id: group.id,
            group_code: group.code,
            face_id,
            merchant_user_id: n.merchant_user_id.to_owned(),
            registration_type: n.registration_type.to_owned(),
            created_at: n.now,
            retain_until: n.retain_until,
        }))
    }

    async fn face_records_impl(
        &self,
        merchant_id: &str,
        group_id: i64,
        f: &FaceRecordFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<FaceRecord>, i64)> {
        check_page(offset, limit)?;
        let filter = "f.merchant_id = $1 AND f.group_id = $2 AND ($3::text IS NULL OR f.face_id = $4) \
             AND ($5::text IS NULL OR f.merchant_user_id = $6) AND ($7::text IS NULL OR f.registration_type = $8)";
        let from = "face_records f JOIN face_groups g ON g.id = f.group_id";
        macro_rules! binds {
            ($q:expr) => {
                $q.bind(merchant_id)
                    .bind(group_id)
                    .bind(&f.face_id)
                    .bind(&f.face_id)
                    .bind(&f.merchant_user_id)
                    .bind(&f.merchant_user_id)
                    .bind(&f.registration_type)
                    .bind(&f.registration_type)
            };
        }
        let total: i64 =
            binds!(sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {from} WHERE {filter}"))))
                .fetch_one(&self.pool)
                .await?;
        let rows = binds!(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM {from} WHERE {filter} ORDER BY f.id LIMIT $9 OFFSET $10"
        ))))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.iter().map(record_of).collect::<Result<_>>()?, total))
    }

    async fn face_embeddings_impl(&self, merchant_id: &str, group_id: i64) -> Result<Vec<(FaceRecord, Vec<f32>)>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS}, f.dek_wrapped, f.key_epoch, f.embedding_sealed \
             FROM face_records f JOIN face_groups g ON g.id = f.group_id WHERE f.merchant_id = $1 AND f.group_id = $2"
        )))
        .bind(merchant_id)
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let rec = record_of(r)?;
            let wrapped: Vec<u8> = r.try_get("dek_wrapped")?;
            let epoch: Option<String> = r.try_get("key_epoch")?;
            // A destroyed epoch means the face was shredded: it no longer exists for the search.
            let Some(dek) = self.unwrap_dek(&rec.face_id, merchant_id, &wrapped, epoch.as_deref()).await? else {
                continue;
            };
            let sealed: Vec<u8> = r.try_get("embedding_sealed")?;
            let bytes = dek.open(&sealed, &embedding_context(&rec.face_id))?;
            let v: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            out.push((rec, v));
        }
        Ok(out)
    }

    async fn delete_records_where(&self, clause: &str, binds: &[&str]) -> Result<Vec<FaceRecord>> {
        let mut tx = self.pool.begin().await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM face_records f JOIN face_groups g ON g.id = f.group_id WHERE {clause}"
        )));
        for b in binds {
            q = q.bind(*b);
        }
        let gone: Vec<FaceRecord> = q.fetch_all(&mut *tx).await?.iter().map(record_of).collect::<Result<_>>()?;
        for r in &gone {
            sqlx::query("DELETE FROM face_records WHERE id = $1").bind(r.id).execute(&mut *tx).await?;
            sqlx::query("UPDATE face_groups SET version = version + 1 WHERE id = $1")
                .bind(r.group_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    async fn delete_face_record_impl(&self, merchant_id: &str, id: i64) -> Result<Option<FaceRecord>> {
        let id = id.to_string();
        Ok(self
            .delete_records_where("f.merchant_id = $1 AND f.id = CAST($2 AS BIGINT)", &[merchant_id, &id])
            .await?
            .pop())
    }

    async fn delete_user_faces_impl(
        &self,
        merchant_id: &str,
        group_code: Option<&str>,
        merchant_user_id: &str,
    ) -> Result<Vec<FaceRecord>> {
        match group_code {
            Some(code) => {
                self.delete_records_where(
                    "f.merchant_id = $1 AND g.code = $2 AND f.merchant_user_id = $3",
                    &[merchant_id, code, merchant_user_id],
                )
                .await
            }
            None => {
                self.delete_records_where(
                    "f.merchant_id = $1 AND f.merchant_user_id = $2",
                    &[merchant_id, merchant_user_id],
                )
                .await
            }
        }
    }

    async fn delete_expired_faces_impl(&self, now: i64, limit: i64) -> Result<Vec<FaceRecord>> {
        let (now, limit) = (now.to_string(), limit.clamp(1, MAX_FACE_PAGE).to_string());
        self.delete_records_where(
            "f.id IN (SELECT id FROM face_records WHERE retain_until <= CAST($1 AS BIGINT) ORDER BY retain_until \
             LIMIT CAST($2 AS BIGINT))",
            &[&now, &limit],
        )
        .await
    }
}

#[async_trait]
impl Store for PgStore {
    async fn create_merchant(&self, name: &str, now: i64) -> Result<Merchant> {
        let m = Merchant {
            id: format!("mch_{}", idv_crypto::random_hex(8)),
            name: name.to_owned(),
            enabled: true,
            created_at: now,
            retention_s: None,
        };
        sqlx::query("INSERT INTO merchants (id, name, status, created_at) VALUES ($1, $2, 'enabled', $3)")
            .bind(&m.id)
            .bind(&m.name)
            .bind(m.created_at)
            .execute(&self.pool)
            .await?;
        Ok(m)
    }

    async fn get_merchant(&self, id: &str) -> Result<Option<Merchant>> {
        let row = sqlx::query("SELECT * FROM merchants WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(merchant_from).transpose()
    }

    async fn list_merchants(&self) -> Result<Vec<Merchant>> {
        let rows = sqlx::query("SELECT * FROM merchants ORDER BY created_at, id").fetch_all(&self.pool).await?;
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
        sqlx::query("INSERT INTO access_keys (id, merchant_id, secret_sealed, status, created_at) VALUES ($1, $2, $3, 'enabled', $4)")
            .bind(&key.id)
            .bind(&key.merchant_id)
            .bind(self.kek_secret.seal(secret.as_bytes(), key.id.as_bytes()))
            .bind(key.created_at)
            .execute(&self.pool)
            .await?;
        Ok((key, secret))
    }

    async fn list_access_keys(&self, merchant_id: Option<&str>) -> Result<Vec<AccessKey>> {
        let rows = match merchant_id {
            Some(m) => {
                sqlx::query("SELECT * FROM access_keys WHERE merchant_id = $1 ORDER BY created_at, id")
                    .bind(m)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => sqlx::query("SELECT * FROM access_keys ORDER BY created_at, id").fetch_all(&self.pool).await?,
        };
        rows.iter().map(key_from).collect()
    }

    async fn set_access_key_enabled(&self, id: &str, enabled: bool, now: i64) -> Result<bool> {
        let r = sqlx::query("UPDATE access_keys SET status = $1, disabled_at = $2 WHERE id = $3")
            .bind(if enabled { "enabled" } else { "disabled" })
            .bind(if enabled { None } else { Some(now) })
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn access_key_for_auth(&self, id: &str) -> Result<Option<AuthKey>> {
        let row = sqlx::query(
            "SELECT k.id, k.merchant_id, k.status, k.created_at, k.secret_sealed, m.name AS m_name, m.status AS m_status, m.created_at AS m_created_at, m.retention_s AS m_retention_s \
             FROM access_keys k JOIN merchants m ON m.id = k.merchant_id WHERE k.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
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
        // An expired row for the same nonce may linger until the next purge; it must not block a new use.
        let r = sqlx::query(
            "INSERT INTO nonces (access_key_id, nonce, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (access_key_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= $4",
        )
        .bind(access_key_id)
        .bind(nonce)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn purge_expired_nonces(&self, now: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM nonces WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
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
        // A transaction-scoped advisory lock per digest (taken in one order, so two registrations cannot deadlock)
        // keeps any other instance from registering one of these digests between the check and the inserts.
        let digests_sorted: Vec<Vec<u8>> = digests.iter().map(|d| d.to_vec()).collect();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, k) FROM (SELECT DISTINCT ('x' || substr(encode(d, 'hex'), 1, 8))::bit(32)::int AS k FROM unnest($2::bytea[]) d ORDER BY 1) s")
            .bind(LOCK_FRAME_DIGESTS)
            .bind(&digests_sorted)
            .execute(&mut *tx)
            .await?;
        let other: Option<String> = sqlx::query_scalar(
            "SELECT transaction_id FROM frame_digests WHERE digest = ANY($1) AND transaction_id <> $2 \
             AND expires_at > $3 ORDER BY seen_at LIMIT 1",
        )
        .bind(&digests_sorted)
        .bind(transaction_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if other.is_some() {
            tx.rollback().await?;
            return Ok(other);
        }
        for d in digests {
            // Same transaction and unexpired: left alone (an idempotent resend). Expired, whoever registered it:
            // taken over, so a digest lingering until the next purge neither blocks nor escapes registration.
            sqlx::query(
                "INSERT INTO frame_digests (digest, transaction_id, seen_at, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (digest) DO UPDATE SET transaction_id = excluded.transaction_id, seen_at = excluded.seen_at, \
                 expires_at = excluded.expires_at WHERE frame_digests.expires_at <= $5",
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
        let r = sqlx::query("DELETE FROM frame_digests WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO capture_fingerprints (transaction_id, digest, fingerprint, seen_at, expires_at)              VALUES ($1, $2, $3, $4, $5) ON CONFLICT (transaction_id, digest) DO UPDATE SET              expires_at = GREATEST(capture_fingerprints.expires_at, excluded.expires_at)",
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
                    "INSERT INTO capture_hash_bands (band_key, transaction_id, hash, expires_at) VALUES ($1, $2, $3, $4)                      ON CONFLICT (band_key, transaction_id, hash) DO UPDATE SET                      expires_at = GREATEST(capture_hash_bands.expires_at, excluded.expires_at)",
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
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT transaction_id, hash FROM capture_hash_bands WHERE band_key = ANY($1) \
             AND transaction_id <> $2 AND expires_at > $3 GROUP BY transaction_id, hash \
             ORDER BY max(expires_at) DESC LIMIT $4",
        )
        .bind(&keys)
        .bind(transaction_id)
        .bind(now)
        .bind(MAX_CAPTURE_CANDIDATE_ROWS as i64)
        .fetch_all(&self.pool)
        .await?;
        let ranked = rank_similar(hashes, rows, max_distance);
        let mut out = Vec::new();
        for t in ranked {
            let prints: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT fingerprint FROM capture_fingerprints WHERE transaction_id = $1 AND expires_at > $2                  ORDER BY seen_at DESC LIMIT $3",
            )
            .bind(&t)
            .bind(now)
            .bind((MAX_SIMILAR_CAPTURES - out.len()) as i64)
            .fetch_all(&self.pool)
            .await?;
            out.extend(prints);
            if out.len() >= MAX_SIMILAR_CAPTURES {
                break;
            }
        }
        Ok(out)
    }

    async fn purge_expired_capture_fingerprints(&self, now: i64) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM capture_hash_bands WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
        let r =
            sqlx::query("DELETE FROM capture_fingerprints WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    async fn create_transaction(&self, tx: NewTransaction) -> Result<()> {
        let dek = Key::random();
        let (epoch, epoch_key) = self.epoch_for(tx.retain_until).await?;
        sqlx::query(
            "INSERT INTO transactions (id, merchant_id, merchant_biz_id, product, state, dek_wrapped, key_epoch, options_sealed, device_secret_sealed, created_at, updated_at, expires_at) \
             VALUES ($1, $2, $3, $4, 'initialized', $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&tx.id)
        .bind(&tx.merchant_id)
        .bind(&tx.merchant_biz_id)
        .bind(&tx.product)
        .bind(epoch_key.seal(dek.as_bytes(), &dek_context(&tx.id, &tx.merchant_id)))
        .bind(&epoch)
        .bind(dek.seal(&tx.options, &ctx("options", &tx.id)))
        .bind(dek.seal(&tx.device_secret, &ctx("device", &tx.id)))
        .bind(tx.created_at)
        .bind(tx.created_at)
        .bind(tx.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_transaction(&self, merchant_id: &str, id: &str) -> Result<Option<Transaction>> {
        let row = sqlx::query("SELECT * FROM transactions WHERE id = $1 AND merchant_id = $2")
            .bind(id)
            .bind(merchant_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(self.transaction_from(id, &r).await?)),
            None => Ok(None),
        }
    }

    async fn get_transaction_for_device(&self, id: &str) -> Result<Option<Transaction>> {
        let row = sqlx::query("SELECT * FROM transactions WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        match row {
            Some(r) => Ok(Some(self.transaction_from(id, &r).await?)),
            None => Ok(None),
        }
    }

    async fn start_device_session(
        &self,
        transaction_id: &str,
        session_id: &str,
        state: &[u8],
        now: i64,
    ) -> Result<bool> {
        let dek = self.dek_for(transaction_id).await?;
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE transactions SET state = 'in_progress', updated_at = $1 WHERE id = $2 AND state = 'initialized' AND expires_at > $3",
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
            "INSERT INTO device_sessions (transaction_id, session_id, state_sealed, version, created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $5)",
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
        let row = sqlx::query("SELECT * FROM device_sessions WHERE transaction_id = $1")
            .bind(transaction_id)
            .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let open = sqlx::query_scalar::<_, String>("SELECT state FROM transactions WHERE id = $1 FOR UPDATE")
            .bind(transaction_id)
            .fetch_optional(&mut *tx)
            .await?;
        if !matches!(open.as_deref(), Some("in_progress")) {
            return Ok(false);
        }
        let updated = sqlx::query(
            "UPDATE device_sessions SET state_sealed = $1, version = version + 1, last_request_hash = $2, last_response_sealed = $3, updated_at = $4, \
             claim_round = NULL, claim_until = NULL WHERE transaction_id = $5 AND version = $6",
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
        sqlx::query("INSERT INTO rounds (transaction_id, round, step, outcome, detail_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
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
                "UPDATE transactions SET state = $1, verdict_sealed = $2, updated_at = $3, finished_at = $4 WHERE id = $5 AND state = 'in_progress'",
            )
            .bind(to.as_str())
            .bind(dek.seal(verdict, &ctx("verdict", transaction_id)))
            .bind(u.now)
            .bind(u.now)
            .bind(transaction_id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE transactions SET updated_at = $1 WHERE id = $2")
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
            "UPDATE device_sessions SET claim_round = $1, claim_until = $2 \
             WHERE transaction_id = $3 AND version = $4 AND (claim_until IS NULL OR claim_until <= $5)",
        )
        .bind(round as i64)
        .bind(lease_until)
        .bind(transaction_id)
        .bind(expected_version)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_round(&self, transaction_id: &str, expected_version: i64, lease_until: i64) -> Result<()> {
        // The lease end identifies the claim: a later claim always ends later, so this never drops someone else's.
        sqlx::query(
            "UPDATE device_sessions SET claim_round = NULL, claim_until = NULL \
             WHERE transaction_id = $1 AND version = $2 AND claim_until = $3",
        )
        .bind(transaction_id)
        .bind(expected_version)
        .bind(lease_until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn overdue_transactions(&self, now: i64, limit: i64) -> Result<Vec<String>> {
        let ids = sqlx::query_scalar(
            "SELECT id FROM transactions WHERE state IN ('initialized', 'in_progress') AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    async fn idle_transactions(&self, cutoff: i64, limit: i64) -> Result<Vec<String>> {
        let ids = sqlx::query_scalar(
            "SELECT t.id FROM transactions t JOIN device_sessions d ON d.transaction_id = t.id \
             WHERE t.state = 'in_progress' AND d.updated_at <= $1 ORDER BY d.updated_at LIMIT $2",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&self.pool)
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
        self.blobs.write(transaction_id, &id, &dek.seal(bytes, &ctx("blob", &id))).await?;
        // The file is durable before the row that names it: a crash in between leaves an orphan file, never a row
        // pointing at nothing.
        sqlx::query(
            "INSERT INTO blobs (id, transaction_id, kind, size, sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(transaction_id)
        .bind(kind)
        .bind(bytes.len() as i64)
        .bind(hex::encode(sha2::Sha256::digest(bytes)))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    async fn get_blob(&self, transaction_id: &str, blob_id: &str) -> Result<Vec<u8>> {
        let known: Option<String> =
            sqlx::query_scalar("SELECT sha256 FROM blobs WHERE id = $1 AND transaction_id = $2")
                .bind(blob_id)
                .bind(transaction_id)
                .fetch_optional(&self.pool)
                .await?;
        let sha = known.ok_or_else(|| StoreError::NotFound(format!("blob {blob_id}")))?;
        let dek = self.dek_for(transaction_id).await?;
        let plain = dek.open(&self.blobs.read(transaction_id, blob_id).await?, &ctx("blob", blob_id))?;
        if hex::encode(sha2::Sha256::digest(&plain[..])) != sha {
            return Err(StoreError::Corrupt(format!("blob {blob_id} does not match its recorded hash")));
        }
        Ok(plain.to_vec())
    }

    async fn blob_of_kind(&self, transaction_id: &str, kind: &str) -> Result<Option<String>> {
        let id = sqlx::query_scalar(
            "SELECT id FROM blobs WHERE transaction_id = $1 AND kind = $2 ORDER BY created_at DESC, seq DESC LIMIT 1",
        )
        .bind(transaction_id)
        .bind(kind)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    async fn set_merchant_retention(&self, id: &str, retention_s: Option<i64>) -> Result<bool> {
        if retention_s.is_some_and(|r| r < 1) {
            return Err(StoreError::InvalidInput("a retention is at least 1 s".into()));
        }
        let r = sqlx::query("UPDATE merchants SET retention_s = $1 WHERE id = $2")
            .bind(retention_s)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn due_for_deletion(&self, default_retention_s: i64, now: i64, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT t.id FROM transactions t JOIN merchants m ON m.id = t.merchant_id \
             WHERE t.finished_at IS NOT NULL AND t.deleted IS DISTINCT FROM 'all' \
               AND t.finished_at + COALESCE(m.retention_s, $1) <= $2 \
             ORDER BY t.finished_at, t.id LIMIT $3",
        )
        .bind(default_retention_s)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn delete_evidence(&self, id: &str, what: Evidence, decision: Option<&Decision>, now: i64) -> Result<bool> {
        let row =
            sqlx::query("SELECT deleted FROM transactions WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(false) };
        let before = row.try_get::<Option<String>, _>("deleted")?.as_deref().map(evidence).transpose()?;
        let after = before.map_or(what, |b| b.union(what));
        let blob_ids: Vec<String> = if what == Evidence::Text {
            Vec::new()
        } else {
            sqlx::query_scalar("SELECT id FROM blobs WHERE transaction_id = $1").bind(id).fetch_all(&self.pool).await?
        };
        let mut tx = self.pool.begin().await?;
        // The decision is written once, from the first deletion that had the verdict to read it from.
        sqlx::query(
            "UPDATE transactions SET deleted = $1, deleted_at = $2, delete_after_query = NULL, updated_at = $3, \
             decision_passed = COALESCE(decision_passed, $4), decision_sub_code = COALESCE(decision_sub_code, $5) WHERE id = $6",
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
            sqlx::query("UPDATE transactions SET dek_wrapped = NULL WHERE id = $1").bind(id).execute(&mut *tx).await?;
        }
        if what != Evidence::Images {
            sqlx::query(
                "UPDATE transactions SET options_sealed = ''::bytea, device_secret_sealed = ''::bytea, verdict_sealed = NULL WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM rounds WHERE transaction_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM device_sessions WHERE transaction_id = $1").bind(id).execute(&mut *tx).await?;
        }
        if what != Evidence::Text {
            sqlx::query("DELETE FROM blobs WHERE transaction_id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        for b in &blob_ids {
            self.blobs.delete(id, b).await?;
        }
        Ok(true)
    }

    async fn set_delete_after_query(&self, id: &str, what: Option<Evidence>) -> Result<bool> {
        let r = sqlx::query("UPDATE transactions SET delete_after_query = $1 WHERE id = $2")
            .bind(what.map(Evidence::as_str))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn enqueue_callback(&self, transaction_id: &str, merchant_id: &str, request: &[u8], now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO callback_outbox (transaction_id, merchant_id, request_sealed, state, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 'pending', $4, $5, $6) ON CONFLICT (transaction_id) DO NOTHING",
        )
        .bind(transaction_id)
        .bind(merchant_id)
        .bind(self.kek_callback.seal(request, &ctx("callback", transaction_id)))
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_due_callbacks(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<CallbackDue>> {
        if lease_until <= now {
            return Err(StoreError::InvalidInput("a callback lease must end after now".into()));
        }
        let rows = sqlx::query(
            "UPDATE callback_outbox SET next_attempt_at = $1, updated_at = $2 WHERE transaction_id IN ( \
               SELECT o.transaction_id FROM callback_outbox o JOIN transactions t ON t.id = o.transaction_id \
               WHERE o.state = 'pending' AND o.next_attempt_at <= $3 AND t.state NOT IN ('initialized', 'in_progress') \
               ORDER BY o.next_attempt_at LIMIT $4 FOR UPDATE OF o SKIP LOCKED) \
             RETURNING transaction_id, merchant_id, request_sealed, attempts, created_at",
        )
        .bind(lease_until)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        // Counted only as the attempt after the last one recorded: a worker whose lease ran out meanwhile does
        // not count twice.
        let r = sqlx::query(
            "UPDATE callback_outbox SET attempts = $1, state = $2, next_attempt_at = $3, updated_at = $4 \
             WHERE transaction_id = $5 AND attempts = $6 AND state = 'pending'",
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
            "INSERT INTO callback_attempts (transaction_id, attempt, at, status, error) VALUES ($1, $2, $3, $4, $5)",
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
             WHERE $1 IS NULL OR state = $2 ORDER BY created_at, transaction_id LIMIT $3",
        )
        .bind(state)
        .bind(state)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let id: String = r.try_get("transaction_id")?;
            let log = sqlx::query(
                "SELECT attempt, at, status, error FROM callback_attempts WHERE transaction_id = $1 ORDER BY attempt",
            )
            .bind(&id)
            .fetch_all(&self.pool)
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
        let row = sqlx::query("SELECT callback_secret_sealed FROM merchants WHERE id = $1")
            .bind(merchant_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        if let Some(sealed) = row.try_get::<Option<Vec<u8>>, _>("callback_secret_sealed")? {
            return open(&sealed).map(Some);
        }
        let secret = Zeroizing::new(idv_crypto::random_hex(32));
        // The first writer's secret wins; a concurrent creation reads it back.
        sqlx::query(
            "UPDATE merchants SET callback_secret_sealed = $1 WHERE id = $2 AND callback_secret_sealed IS NULL",
        )
        .bind(self.kek_secret.seal(secret.as_bytes(), &ctx("callback-secret", merchant_id)))
        .bind(merchant_id)
        .execute(&self.pool)
        .await?;
        let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT callback_secret_sealed FROM merchants WHERE id = $1")
            .bind(merchant_id)
            .fetch_one(&self.pool)
            .await?;
        sealed.map(|s| open(&s)).transpose()
    }

    async fn list_rounds(&self, transaction_id: &str) -> Result<Vec<RoundSummary>> {
        let rows =
            sqlx::query("SELECT round, step, outcome, created_at FROM rounds WHERE transaction_id = $1 ORDER BY round")
                .bind(transaction_id)
                .fetch_all(&self.pool)
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
        for epoch in self.epochs.list().await? {
            if keyring::epoch_end(&epoch).is_none_or(|end| end > now) {
                continue;
            }
            let in_use: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM transactions WHERE key_epoch = $1 AND dek_wrapped IS NOT NULL",
            )
            .bind(&epoch)
            .fetch_one(&self.pool)
            .await?;
            if in_use == 0 {
                self.epochs.destroy(&epoch).await?;
                destroyed.push(epoch);
            }
        }
        Ok(destroyed)
    }

    // Audit log.
    async fn append_audit(&self, e: NewAuditEntry<'_>) -> Result<i64> {
        // The chain's advisory lock, held until this transaction ends, keeps every other instance from taking the
        // same seq or chaining to the same hash.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, 0)").bind(LOCK_AUDIT).execute(&mut *tx).await?;
        let last: Option<(i64, Vec<u8>)> = sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (seq, prev) = match last {
            Some((seq, hash)) => (seq + 1, hash32(hash, seq)?),
            None => (1, crate::AUDIT_GENESIS),
        };
        let hash = audit_hash(&prev, seq, &e);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, transaction_id, merchant_id, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(seq)
        .bind(e.at)
        .bind(e.actor)
        .bind(e.action)
        .bind(e.transaction_id)
        .bind(e.merchant_id)
        .bind(e.detail)
        .bind(&prev[..])
        .bind(&hash[..])
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn audit_entries(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, transaction_id, merchant_id, detail, prev_hash, hash FROM audit_log \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
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
        sqlx::query_scalar::<_, i64>("SELECT 1::BIGINT").fetch_one(&self.pool).await?;
        Ok(())
    }

    async fn ping_blobs(&self) -> Result<()> {
        self.blobs.ping().await
    }

    async fn face_group_state(&self, merchant_id: &str, group_id: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT version FROM face_groups WHERE merchant_id = $1 AND id = $2")
            .bind(merchant_id)
            .bind(group_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn take_rate_token(&self, key: &str, rate_per_s: f64, burst: f64, now_ms: i64) -> Result<Option<i64>> {
        check_bucket(rate_per_s, burst)?;
        // One statement: the row lock of the upsert orders concurrent takers from every instance, and each sees
        // the bucket as the previous one left it.
        let refilled = "LEAST($3, rate_buckets.tokens + GREATEST(0, $4 - rate_buckets.updated_ms) * $2 / 1000.0)";
        let taken = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO rate_buckets (key, tokens, updated_ms) VALUES ($1, $3 - 1, $4) \
             ON CONFLICT (key) DO UPDATE SET tokens = {refilled} - 1, updated_ms = GREATEST(rate_buckets.updated_ms, $4) \
             WHERE {refilled} >= 1"
        )))
        .bind(key)
        .bind(rate_per_s)
        .bind(burst)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(None);
        }
        let (tokens, updated): (f64, i64) =
            sqlx::query_as("SELECT tokens, updated_ms FROM rate_buckets WHERE key = $1")
                .bind(key)
                .fetch_one(&self.pool)
                .await?;
        Ok(Some(wait_ms(tokens, updated, rate_per_s, burst, now_ms)))
    }

    async fn refund_rate_token(&self, key: &str, burst: f64) -> Result<()> {
        sqlx::query("UPDATE rate_buckets SET tokens = LEAST($1, tokens + 1) WHERE key = $2")
            .bind(burst)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_rate_buckets(&self, prefix: &str, before_ms: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM rate_buckets WHERE starts_with(key, $1) AND updated_ms < $2")
            .bind(prefix)
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn try_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool> {
        if until <= now {
            return Err(StoreError::InvalidInput("a lease must end after now".into()));
        }
        let r = sqlx::query(
            "INSERT INTO leases (name, holder, until_at) VALUES ($1, $2, $4) ON CONFLICT (name) DO UPDATE \
             SET holder = excluded.holder, until_at = excluded.until_at WHERE leases.holder = $2 OR leases.until_at <= $3",
        )
        .bind(name)
        .bind(holder)
        .bind(now)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
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

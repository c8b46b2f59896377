//! The merchant console's storage in SQLite (`migrations/0010_console.sql`): users, sessions, failed logins,
//! the transaction index the list and review queue filter on, review decisions and review rules, and the
//! figures of the summary page. Login state lives here, never in a server's memory, so any number of server
//! instances share it.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::sqlite::SqliteStore;
use crate::{CallbackAttempt, CallbackRecord, Result, RoundSummary, StoreError, TxState};

/// Longest user name; names are 3 to this many of `a-z A-Z 0-9 . _ @ -`.
pub const MAX_CONSOLE_USERNAME: usize = 64;
/// Longest password hash string the store keeps (an Argon2id PHC string is about 100 bytes).
pub const MAX_PASSWORD_HASH: usize = 512;
/// Longest review reason, bytes.
pub const MAX_REVIEW_REASON: usize = 2000;
/// Most rows one console page may return.
pub const MAX_CONSOLE_PAGE: i64 = 200;
/// Most keys one login-throttling call may carry.
pub const MAX_THROTTLE_KEYS: usize = 4;
/// Most transactions one indexing call takes or returns.
pub const MAX_INDEX_BATCH: usize = 500;
/// Most transactions whose rounds one summary reads (the newest in the period).
pub const MAX_SUMMARY_FLOWS: i64 = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleRole {
    /// Sees the merchant's transactions.
    Viewer,
    /// Also decides the review queue and deletes results.
    Reviewer,
}

impl ConsoleRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleRole::Viewer => "viewer",
            ConsoleRole::Reviewer => "reviewer",
        }
    }
    pub fn parse(s: &str) -> Option<ConsoleRole> {
        match s {
            "viewer" => Some(ConsoleRole::Viewer),
            "reviewer" => Some(ConsoleRole::Reviewer),
            _ => None,
        }
    }
}

/// A console user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: String,
    pub merchant_id: String,
    pub username: String,
    pub role: ConsoleRole,
    pub created_at: i64,
}

pub struct NewConsoleUser<'a> {
    pub merchant_id: &'a str,
    pub username: &'a str,
    /// The password's hash string (opaque to the store; the server hashes with Argon2id).
    pub password_hash: &'a str,
    pub role: ConsoleRole,
    pub now: i64,
}

/// A user and the hash to check a password against.
pub struct ConsoleLogin {
    pub user: ConsoleUser,
    pub password_hash: String,
}

impl std::fmt::Debug for ConsoleLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleLogin").field("user", &self.user).finish_non_exhaustive()
    }
}

/// A live session and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub user: ConsoleUser,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What the console filters a transaction on, as the server's indexer read it from the sealed record.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleIndexRow {
    pub transaction_id: String,
    /// The transaction was final when indexed (an open one is indexed again once it is final).
    pub is_final: bool,
    pub passed: Option<bool>,
    pub sub_code: Option<String>,
    /// A keyed hash of the MerchantUserId (the server's key): equality search without the id in the clear.
    pub user_tag: Option<[u8; 32]>,
    /// The face comparison score and the threshold it was decided at (0-100), when a face was compared.
    pub face_score: Option<f64>,
    pub face_threshold: Option<f64>,
    /// Failed only softly: a document outside its validity dates, captures that stayed unusable, a liveness
    /// check never passed but no attack seen.
    pub soft_failure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictFilter {
    Passed,
    Failed,
    /// Not final yet.
    Open,
}

/// The list's filters; every one given must hold. Times are Unix seconds, `to` exclusive.
#[derive(Debug, Clone, Default)]
pub struct ConsoleFilter {
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub product: Option<String>,
    pub verdict: Option<VerdictFilter>,
    pub sub_code: Option<String>,
    pub merchant_biz_id: Option<String>,
    pub user_tag: Option<[u8; 32]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    Approved,
    Rejected,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Approved => "approved",
            ReviewDecision::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<ReviewDecision> {
        match s {
            "approved" => Some(ReviewDecision::Approved),
            "rejected" => Some(ReviewDecision::Rejected),
            _ => None,
        }
    }
}

/// One transaction as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleRow {
    pub transaction_id: String,
    pub merchant_biz_id: String,
    pub product: String,
    pub state: TxState,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub passed: Option<bool>,
    pub sub_code: Option<String>,
    pub face_score: Option<f64>,
    pub face_threshold: Option<f64>,
    pub soft_failure: bool,
    pub review: Option<ReviewDecision>,
}

/// Which final, unreviewed transactions a merchant's review queue holds: any that matches one of the parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReviewRule {
    /// Face scores within this many points of their threshold, passed or not (0: none).
    pub face_band: f64,
    pub soft_failures: bool,
    pub all_failures: bool,
}

impl Default for ReviewRule {
    fn default() -> Self {
        ReviewRule { face_band: 5.0, soft_failures: true, all_failures: false }
    }
}

pub struct NewReview<'a> {
    pub transaction_id: &'a str,
    pub merchant_id: &'a str,
    pub user_id: &'a str,
    pub decision: ReviewDecision,
    pub reason: &'a str,
    pub now: i64,
}

/// A recorded review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub transaction_id: String,
    pub user_id: String,
    pub username: String,
    pub decision: ReviewDecision,
    /// `None` once the transaction's text evidence is deleted (the reason is sealed with it).
    pub reason: Option<String>,
    pub at: i64,
}

/// Final transactions of one day (UTC, `day` = Unix seconds / 86400, by when they finished).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    pub day: i64,
    pub passed: i64,
    pub failed: i64,
}

/// A transaction's path through the flow, for drop-off and time per step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLog {
    pub transaction_id: String,
    pub state: TxState,
    pub created_at: i64,
    /// When a device (app or hosted page) started the flow.
    pub started_at: Option<i64>,
    pub rounds: Vec<RoundSummary>,
}

/// The figures of the summary page for one merchant and period (transactions created in it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleSummary {
    pub days: Vec<DayCount>,
    /// Failed transactions per SubCode, most first.
    pub failures: Vec<(String, i64)>,
    /// The newest transactions of the period (at most [`MAX_SUMMARY_FLOWS`]) with their rounds.
    pub flows: Vec<FlowLog>,
}

pub(crate) fn check_page(offset: i64, limit: i64) -> Result<()> {
    if offset < 0 || !(1..=MAX_CONSOLE_PAGE).contains(&limit) {
        return Err(StoreError::InvalidInput(format!("a page is 1-{MAX_CONSOLE_PAGE} rows from offset 0 on")));
    }
    Ok(())
}

pub(crate) fn check_username(name: &str) -> Result<()> {
    let ok = (3..=MAX_CONSOLE_USERNAME).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if !ok {
        return Err(StoreError::InvalidInput(format!(
            "a user name is 3-{MAX_CONSOLE_USERNAME} letters, digits or . _ @ -"
        )));
    }
    Ok(())
}

pub(crate) fn check_keys(keys: &[&str]) -> Result<()> {
    if keys.len() > MAX_THROTTLE_KEYS || keys.iter().any(|k| k.is_empty() || k.len() > 256) {
        return Err(StoreError::InvalidInput(format!("1-{MAX_THROTTLE_KEYS} throttling keys of 1-256 bytes")));
    }
    Ok(())
}

pub(crate) fn review_context(transaction_id: &str) -> Vec<u8> {
    idv_crypto::context(&[b"console-review", transaction_id.as_bytes()])
}

fn user_of(r: &SqliteRow) -> Result<ConsoleUser> {
    let role: String = r.try_get("role")?;
    Ok(ConsoleUser {
        id: r.try_get("id")?,
        merchant_id: r.try_get("merchant_id")?,
        username: r.try_get("username")?,
        role: ConsoleRole::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:.20}")))?,
        created_at: r.try_get("created_at")?,
    })
}

fn state_of(r: &SqliteRow) -> Result<TxState> {
    let s: String = r.try_get("state")?;
    TxState::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("unknown state {s:.20}")))
}

fn decision_of(s: Option<String>) -> Result<Option<ReviewDecision>> {
    s.map(|s| ReviewDecision::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("unknown review {s:.20}"))))
        .transpose()
}

fn row_of(r: &SqliteRow) -> Result<ConsoleRow> {
    // A transaction not indexed yet shows its clear decision, if its evidence was deleted.
    let passed: Option<i64> = r.try_get("passed")?;
    let kept: Option<i64> = r.try_get("decision_passed")?;
    Ok(ConsoleRow {
        transaction_id: r.try_get("id")?,
        merchant_biz_id: r.try_get("merchant_biz_id")?,
        product: r.try_get("product")?,
        state: state_of(r)?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
        passed: passed.or(kept).map(|p| p != 0),
        sub_code: r.try_get::<Option<String>, _>("sub_code")?.or(r.try_get("decision_sub_code")?),
        face_score: r.try_get("face_score")?,
        face_threshold: r.try_get("face_threshold")?,
        soft_failure: r.try_get::<Option<i64>, _>("soft_failure")?.unwrap_or(0) != 0,
        review: decision_of(r.try_get("review")?)?,
    })
}

const ROW_COLUMNS: &str = "t.id, t.merchant_biz_id, t.product, t.state, t.created_at, t.finished_at, \
     t.decision_passed, t.decision_sub_code, i.passed, i.sub_code, i.face_score, i.face_threshold, i.soft_failure, \
     r.decision AS review";
const ROW_FROM: &str = "transactions t LEFT JOIN console_index i ON i.transaction_id = t.id \
     LEFT JOIN console_reviews r ON r.transaction_id = t.id";

impl SqliteStore {
    pub(crate) async fn create_console_user_impl(&self, n: NewConsoleUser<'_>) -> Result<ConsoleUser> {
        check_username(n.username)?;
        if n.password_hash.is_empty() || n.password_hash.len() > MAX_PASSWORD_HASH {
            return Err(StoreError::InvalidInput(format!("a password hash is 1-{MAX_PASSWORD_HASH} bytes")));
        }
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM merchants WHERE id = ?")
            .bind(n.merchant_id)
            .fetch_optional(&self.reader)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("merchant {}", n.merchant_id)));
        }
        let user = ConsoleUser {
            id: format!("usr_{}", idv_crypto::random_hex(8)),
            merchant_id: n.merchant_id.to_owned(),
            username: n.username.to_owned(),
            role: n.role,
            created_at: n.now,
        };
        let r = sqlx::query(
            "INSERT INTO console_users (id, merchant_id, username, password_hash, role, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.merchant_id)
        .bind(&user.username)
        .bind(n.password_hash)
        .bind(user.role.as_str())
        .bind(user.created_at)
        .execute(&self.writer)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::InvalidInput(format!("the user name {} is taken", n.username)));
        }
        Ok(user)
    }

    pub(crate) async fn console_login_impl(&self, username: &str) -> Result<Option<ConsoleLogin>> {
        if username.len() > MAX_CONSOLE_USERNAME {
            return Ok(None);
        }
        let row = sqlx::query("SELECT * FROM console_users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| Ok(ConsoleLogin { user: user_of(&r)?, password_hash: r.try_get("password_hash")? })).transpose()
    }

    pub(crate) async fn list_console_users_impl(&self, merchant_id: Option<&str>) -> Result<Vec<ConsoleUser>> {
        let rows =
            sqlx::query("SELECT * FROM console_users WHERE ? IS NULL OR merchant_id = ? ORDER BY created_at, username")
                .bind(merchant_id)
                .bind(merchant_id)
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(user_of).collect()
    }

    pub(crate) async fn create_console_session_impl(
        &self,
        token_hash: &[u8; 32],
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        if expires_at <= now {
            return Err(StoreError::InvalidInput("a session must end after now".into()));
        }
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, user_id, created_at, last_seen_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&token_hash[..])
        .bind(user_id)
        .bind(now)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub(crate) async fn console_session_impl(
        &self,
        token_hash: &[u8; 32],
        now: i64,
        idle_s: i64,
    ) -> Result<Option<ConsoleSession>> {
        // One conditional update: a session past its expiry or idle too long is not refreshed, and not returned.
        let row = sqlx::query(
            "UPDATE console_sessions SET last_seen_at = ? \
             WHERE token_hash = ? AND expires_at > ? AND last_seen_at + ? > ? \
             RETURNING user_id, created_at, expires_at",
        )
        .bind(now)
        .bind(&token_hash[..])
        .bind(now)
        .bind(idle_s)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user_id: String = row.try_get("user_id")?;
        let user = sqlx::query("SELECT * FROM console_users WHERE id = ?")
            .bind(&user_id)
            .fetch_optional(&self.writer)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a session's user is gone".into()))?;
        Ok(Some(ConsoleSession {
            user: user_of(&user)?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    pub(crate) async fn end_console_session_impl(&self, token_hash: &[u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = ?")
            .bind(&token_hash[..])
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub(crate) async fn console_login_failures_impl(&self, keys: &[&str], since: i64) -> Result<Vec<i64>> {
        check_keys(keys)?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM console_login_failures WHERE key = ? AND at >= ?")
                .bind(k)
                .bind(since)
                .fetch_one(&self.writer)
                .await?;
            out.push(n);
        }
        Ok(out)
    }

    pub(crate) async fn record_console_login_failure_impl(&self, keys: &[&str], now: i64) -> Result<()> {
        check_keys(keys)?;
        let mut tx = self.writer.begin().await?;
        for k in keys {
            sqlx::query("INSERT INTO console_login_failures (key, at) VALUES (?, ?)")
                .bind(k)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn clear_console_login_failures_impl(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM console_login_failures WHERE key = ?").bind(key).execute(&self.writer).await?;
        Ok(())
    }

    pub(crate) async fn purge_console_impl(&self, now: i64, failures_before: i64) -> Result<u64> {
        let s =
            sqlx::query("DELETE FROM console_sessions WHERE expires_at <= ?").bind(now).execute(&self.writer).await?;
        let f = sqlx::query("DELETE FROM console_login_failures WHERE at < ?")
            .bind(failures_before)
            .execute(&self.writer)
            .await?;
        Ok(s.rows_affected() + f.rows_affected())
    }

    pub(crate) async fn console_unindexed_impl(&self, limit: i64) -> Result<Vec<String>> {
        let limit = limit.clamp(1, MAX_INDEX_BATCH as i64);
        // New transactions past the mark (rowids only grow), then indexed open ones that have ended since.
        let mut ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM transactions WHERE rowid > (SELECT last_rowid FROM console_index_mark WHERE id = 1) \
             ORDER BY rowid LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let room = limit - ids.len() as i64;
        if room > 0 {
            let ended: Vec<String> = sqlx::query_scalar(
                "SELECT t.id FROM console_index i JOIN transactions t ON t.id = i.transaction_id \
                 WHERE i.final = 0 AND t.state NOT IN ('initialized', 'in_progress') LIMIT ?",
            )
            .bind(room)
            .fetch_all(&self.reader)
            .await?;
            ids.extend(ended);
        }
        Ok(ids)
    }

    pub(crate) async fn put_console_index_impl(&self, rows: &[ConsoleIndexRow]) -> Result<()> {
        if rows.len() > MAX_INDEX_BATCH {
            return Err(StoreError::InvalidInput(format!("at most {MAX_INDEX_BATCH} index rows in one call")));
        }
        let mut tx = self.writer.begin().await?;
        for r in rows {
            let found = sqlx::query("SELECT rowid, merchant_id FROM transactions WHERE id = ?")
                .bind(&r.transaction_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(found) = found else {
                return Err(StoreError::NotFound(format!("transaction {}", r.transaction_id)));
            };
            let (rowid, merchant_id): (i64, String) = (found.try_get(0)?, found.try_get(1)?);
            sqlx::query(
                "INSERT INTO console_index (transaction_id, merchant_id, final, passed, sub_code, user_tag, face_score, \
                 face_threshold, soft_failure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (transaction_id) DO UPDATE SET final = excluded.final, passed = excluded.passed, \
                 sub_code = excluded.sub_code, user_tag = excluded.user_tag, face_score = excluded.face_score, \
                 face_threshold = excluded.face_threshold, soft_failure = excluded.soft_failure \
                 WHERE console_index.final = 0",
            )
            .bind(&r.transaction_id)
            .bind(&merchant_id)
            .bind(r.is_final)
            .bind(r.passed)
            .bind(&r.sub_code)
            .bind(r.user_tag.as_ref().map(|t| &t[..]))
            .bind(r.face_score)
            .bind(r.face_threshold)
            .bind(r.soft_failure)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE console_index_mark SET last_rowid = max(last_rowid, ?) WHERE id = 1")
                .bind(rowid)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn console_transactions_impl(
        &self,
        merchant_id: &str,
        f: &ConsoleFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ConsoleRow>, i64)> {
        check_page(offset, limit)?;
        let verdict = f.verdict.map(|v| match v {
            VerdictFilter::Passed => "passed",
            VerdictFilter::Failed => "failed",
            VerdictFilter::Open => "open",
        });
        let filter = "t.merchant_id = ? AND (? IS NULL OR t.created_at >= ?) AND (? IS NULL OR t.created_at < ?) \
             AND (? IS NULL OR t.product = ?) AND (? IS NULL OR coalesce(i.sub_code, t.decision_sub_code) = ?) \
             AND (? IS NULL OR t.merchant_biz_id = ?) AND (? IS NULL OR i.user_tag = ?) \
             AND (? IS NULL \
                  OR (? = 'open' AND t.state IN ('initialized', 'in_progress')) \
                  OR (? = 'passed' AND coalesce(i.passed, t.decision_passed) = 1) \
                  OR (? = 'failed' AND coalesce(i.passed, t.decision_passed) = 0))";
        let tag = f.user_tag.as_ref().map(|t| t.to_vec());
        macro_rules! binds {
            ($q:expr) => {
                $q.bind(merchant_id)
                    .bind(f.created_from)
                    .bind(f.created_from)
                    .bind(f.created_to)
                    .bind(f.created_to)
                    .bind(&f.product)
                    .bind(&f.product)
                    .bind(&f.sub_code)
                    .bind(&f.sub_code)
                    .bind(&f.merchant_biz_id)
                    .bind(&f.merchant_biz_id)
                    .bind(&tag)
                    .bind(&tag)
                    .bind(verdict)
                    .bind(verdict)
                    .bind(verdict)
                    .bind(verdict)
            };
        }
        let total: i64 =
            binds!(sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {ROW_FROM} WHERE {filter}"))))
                .fetch_one(&self.reader)
                .await?;
        let rows = binds!(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM {ROW_FROM} WHERE {filter} ORDER BY t.created_at DESC, t.id LIMIT ? OFFSET ?"
        ))))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await?;
        Ok((rows.iter().map(row_of).collect::<Result<_>>()?, total))
    }

    pub(crate) async fn set_review_rule_impl(&self, merchant_id: &str, rule: Option<ReviewRule>) -> Result<bool> {
        if let Some(r) = rule
            && !(r.face_band.is_finite() && (0.0..=100.0).contains(&r.face_band))
        {
            return Err(StoreError::InvalidInput("a face band is 0-100 score points".into()));
        }
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM merchants WHERE id = ?")
            .bind(merchant_id)
            .fetch_optional(&self.writer)
            .await?;
        if exists.is_none() {
            return Ok(false);
        }
        match rule {
            None => {
                sqlx::query("DELETE FROM console_review_rules WHERE merchant_id = ?")
                    .bind(merchant_id)
                    .execute(&self.writer)
                    .await?;
            }
            Some(r) => {
                sqlx::query(
                    "INSERT INTO console_review_rules (merchant_id, face_band, soft_failures, all_failures) \
                     VALUES (?, ?, ?, ?) ON CONFLICT (merchant_id) DO UPDATE SET face_band = excluded.face_band, \
                     soft_failures = excluded.soft_failures, all_failures = excluded.all_failures",
                )
                .bind(merchant_id)
                .bind(r.face_band)
                .bind(r.soft_failures)
                .bind(r.all_failures)
                .execute(&self.writer)
                .await?;
            }
        }
        Ok(true)
    }

    pub(crate) async fn review_rule_impl(&self, merchant_id: &str) -> Result<ReviewRule> {
        let row = sqlx::query(
            "SELECT face_band, soft_failures, all_failures FROM console_review_rules WHERE merchant_id = ?",
        )
        .bind(merchant_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(match row {
            None => ReviewRule::default(),
            Some(r) => ReviewRule {
                face_band: r.try_get("face_band")?,
                soft_failures: r.try_get::<i64, _>("soft_failures")? != 0,
                all_failures: r.try_get::<i64, _>("all_failures")? != 0,
            },
        })
    }

    pub(crate) async fn console_review_queue_impl(
        &self,
        merchant_id: &str,
        rule: &ReviewRule,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ConsoleRow>, i64)> {
        check_page(offset, limit)?;
        let filter = "t.merchant_id = ? AND i.final = 1 AND r.transaction_id IS NULL AND t.deleted IS NULL AND ( \
               (? AND i.passed = 0) OR (? AND i.soft_failure = 1) \
               OR (? > 0 AND i.face_score IS NOT NULL AND i.face_threshold IS NOT NULL \
                   AND abs(i.face_score - i.face_threshold) <= ?))";
        macro_rules! binds {
            ($q:expr) => {
                $q.bind(merchant_id)
                    .bind(rule.all_failures)
                    .bind(rule.soft_failures)
                    .bind(rule.face_band)
                    .bind(rule.face_band)
            };
        }
        let total: i64 =
            binds!(sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {ROW_FROM} WHERE {filter}"))))
                .fetch_one(&self.reader)
                .await?;
        let rows = binds!(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM {ROW_FROM} WHERE {filter} ORDER BY t.finished_at, t.id LIMIT ? OFFSET ?"
        ))))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await?;
        Ok((rows.iter().map(row_of).collect::<Result<_>>()?, total))
    }

    pub(crate) async fn record_review_impl(&self, n: NewReview<'_>) -> Result<bool> {
        if n.reason.trim().is_empty() || n.reason.len() > MAX_REVIEW_REASON {
            return Err(StoreError::InvalidInput(format!("a review reason is 1-{MAX_REVIEW_REASON} bytes")));
        }
        let row =
            sqlx::query("SELECT dek_wrapped, key_epoch, state FROM transactions WHERE id = ? AND merchant_id = ?")
                .bind(n.transaction_id)
                .bind(n.merchant_id)
                .fetch_optional(&self.writer)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("transaction {}", n.transaction_id)))?;
        if !state_of(&row)?.is_final() {
            return Err(StoreError::InvalidInput("only a final transaction can be reviewed".into()));
        }
        let wrapped: Option<Vec<u8>> = row.try_get("dek_wrapped")?;
        let epoch: Option<String> = row.try_get("key_epoch")?;
        let dek = match wrapped {
            Some(w) => self.unwrap_dek(n.transaction_id, n.merchant_id, &w, epoch.as_deref())?,
            None => None,
        }
        .ok_or_else(|| StoreError::NotFound(format!("transaction {} has been shredded", n.transaction_id)))?;
        let member: Option<i64> = sqlx::query_scalar("SELECT 1 FROM console_users WHERE id = ? AND merchant_id = ?")
            .bind(n.user_id)
            .bind(n.merchant_id)
            .fetch_optional(&self.writer)
            .await?;
        if member.is_none() {
            return Err(StoreError::NotFound(format!("user {} of merchant {}", n.user_id, n.merchant_id)));
        }
        let r = sqlx::query(
            "INSERT INTO console_reviews (transaction_id, merchant_id, user_id, decision, reason_sealed, at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (transaction_id) DO NOTHING",
        )
        .bind(n.transaction_id)
        .bind(n.merchant_id)
        .bind(n.user_id)
        .bind(n.decision.as_str())
        .bind(dek.seal(n.reason.as_bytes(), &review_context(n.transaction_id)))
        .bind(n.now)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub(crate) async fn review_impl(&self, merchant_id: &str, transaction_id: &str) -> Result<Option<Review>> {
        let row = sqlx::query(
            "SELECT r.user_id, u.username, r.decision, r.reason_sealed, r.at, t.dek_wrapped, t.key_epoch, t.deleted \
             FROM console_reviews r JOIN console_users u ON u.id = r.user_id JOIN transactions t ON t.id = r.transaction_id \
             WHERE r.transaction_id = ? AND r.merchant_id = ? AND t.merchant_id = ?",
        )
        .bind(transaction_id)
        .bind(merchant_id)
        .bind(merchant_id)
        .fetch_optional(&self.reader)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let wrapped: Option<Vec<u8>> = r.try_get("dek_wrapped")?;
        let epoch: Option<String> = r.try_get("key_epoch")?;
        let deleted: Option<String> = r.try_get("deleted")?;
        // The reason is text evidence: gone with a text (or full) deletion.
        let dek = match (wrapped, deleted.as_deref()) {
            (Some(w), None | Some("images")) => self.unwrap_dek(transaction_id, merchant_id, &w, epoch.as_deref())?,
            _ => None,
        };
        let reason = match dek {
            Some(k) => {
                let sealed: Vec<u8> = r.try_get("reason_sealed")?;
                let raw = k.open(&sealed, &review_context(transaction_id))?;
                Some(String::from_utf8(raw.to_vec()).map_err(|_| StoreError::Corrupt("review reason".into()))?)
            }
            None => None,
        };
        let decision: String = r.try_get("decision")?;
        Ok(Some(Review {
            transaction_id: transaction_id.to_owned(),
            user_id: r.try_get("user_id")?,
            username: r.try_get("username")?,
            decision: ReviewDecision::parse(&decision)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown review {decision:.20}")))?,
            reason,
            at: r.try_get("at")?,
        }))
    }

    pub(crate) async fn rearm_callback_impl(&self, transaction_id: &str, now: i64) -> Result<bool> {
        // Due again now, with a fresh give-up clock; the attempts so far stay in the log.
        let r = sqlx::query(
            "UPDATE callback_outbox SET state = 'pending', next_attempt_at = ?, created_at = ?, updated_at = ? \
             WHERE transaction_id = ?",
        )
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(transaction_id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub(crate) async fn console_callback_impl(
        &self,
        merchant_id: &str,
        transaction_id: &str,
    ) -> Result<Option<CallbackRecord>> {
        let row = sqlx::query(
            "SELECT transaction_id, merchant_id, state, attempts, next_attempt_at, created_at FROM callback_outbox \
             WHERE transaction_id = ? AND merchant_id = ?",
        )
        .bind(transaction_id)
        .bind(merchant_id)
        .fetch_optional(&self.reader)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let log = sqlx::query(
            "SELECT attempt, at, status, error FROM callback_attempts WHERE transaction_id = ? ORDER BY attempt",
        )
        .bind(transaction_id)
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
        Ok(Some(CallbackRecord {
            transaction_id: r.try_get("transaction_id")?,
            merchant_id: r.try_get("merchant_id")?,
            state: r.try_get("state")?,
            attempts: r.try_get::<i64, _>("attempts")? as u32,
            next_attempt_at: r.try_get("next_attempt_at")?,
            created_at: r.try_get("created_at")?,
            log,
        }))
    }

    pub(crate) async fn console_summary_impl(&self, merchant_id: &str, from: i64, to: i64) -> Result<ConsoleSummary> {
        if to <= from || to - from > 400 * 86_400 {
            return Err(StoreError::InvalidInput("a summary period is 1 second to 400 days".into()));
        }
        let days = sqlx::query(
            "SELECT t.finished_at / 86400 AS day, sum(coalesce(i.passed, t.decision_passed) = 1) AS passed, \
             sum(coalesce(i.passed, t.decision_passed) = 0) AS failed \
             FROM transactions t LEFT JOIN console_index i ON i.transaction_id = t.id \
             WHERE t.merchant_id = ? AND t.created_at >= ? AND t.created_at < ? AND t.finished_at IS NOT NULL \
             GROUP BY day ORDER BY day",
        )
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| {
            Ok(DayCount {
                day: r.try_get("day")?,
                passed: r.try_get::<Option<i64>, _>("passed")?.unwrap_or(0),
                failed: r.try_get::<Option<i64>, _>("failed")?.unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let failures = sqlx::query(
            "SELECT coalesce(i.sub_code, t.decision_sub_code) AS sub_code, count(*) AS n \
             FROM transactions t LEFT JOIN console_index i ON i.transaction_id = t.id \
             WHERE t.merchant_id = ? AND t.created_at >= ? AND t.created_at < ? \
               AND coalesce(i.passed, t.decision_passed) = 0 \
             GROUP BY 1 ORDER BY n DESC, 1",
        )
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<Option<String>, _>("sub_code")?.unwrap_or_default(), r.try_get("n")?)))
        .collect::<Result<Vec<_>>>()?;
        let txs = sqlx::query(
            "SELECT t.id, t.state, t.created_at, s.created_at AS started_at FROM transactions t \
             LEFT JOIN device_sessions s ON s.transaction_id = t.id \
             WHERE t.merchant_id = ? AND t.created_at >= ? AND t.created_at < ? \
             ORDER BY t.created_at DESC LIMIT ?",
        )
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .bind(MAX_SUMMARY_FLOWS)
        .fetch_all(&self.reader)
        .await?;
        // Their rounds in one query, grouped by transaction below.
        let rounds = sqlx::query(
            "SELECT transaction_id, round, step, outcome, created_at FROM rounds WHERE transaction_id IN ( \
               SELECT id FROM transactions WHERE merchant_id = ? AND created_at >= ? AND created_at < ? \
               ORDER BY created_at DESC LIMIT ?) ORDER BY transaction_id, round",
        )
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .bind(MAX_SUMMARY_FLOWS)
        .fetch_all(&self.reader)
        .await?;
        let mut by_tx: std::collections::HashMap<String, Vec<RoundSummary>> = std::collections::HashMap::new();
        for r in &rounds {
            by_tx.entry(r.try_get("transaction_id")?).or_default().push(RoundSummary {
                round: r.try_get::<i64, _>("round")? as u32,
                step: r.try_get("step")?,
                outcome: r.try_get("outcome")?,
                at: r.try_get("created_at")?,
            });
        }
        let mut flows = Vec::with_capacity(txs.len());
        for t in &txs {
            let id: String = t.try_get("id")?;
            flows.push(FlowLog {
                rounds: by_tx.remove(&id).unwrap_or_default(),
                transaction_id: id,
                state: state_of(t)?,
                created_at: t.try_get("created_at")?,
                started_at: t.try_get("started_at")?,
            });
        }
        Ok(ConsoleSummary { days, failures, flows })
    }
}

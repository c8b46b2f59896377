//! The console's tables in PostgreSQL: `console.rs`'s queries in PostgreSQL's dialect (booleans bound as
//! integers, `FILTER` for conditional counts) and one difference of substance: the indexer finds new transactions
//! by a flag on the row instead of following SQLite's rowids, which concurrent instances do not commit in order.

use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::console::{check_keys, check_page, check_username, review_context};
use crate::postgres::PgStore;
use crate::{CallbackAttempt, CallbackRecord, Result, RoundSummary, StoreError, TxState};
use crate::{
    ConsoleFilter, ConsoleIndexRow, ConsoleLogin, ConsoleRole, ConsoleRow, ConsoleSession, ConsoleSummary, ConsoleUser,
    DayCount, FlowLog, MAX_CONSOLE_USERNAME, MAX_INDEX_BATCH, MAX_PASSWORD_HASH, MAX_REVIEW_REASON, MAX_SUMMARY_FLOWS,
    NewConsoleUser, NewReview, Review, ReviewDecision, ReviewRule, VerdictFilter,
};

fn user_of(r: &PgRow) -> Result<ConsoleUser> {
    let role: String = r.try_get("role")?;
    Ok(ConsoleUser {
        id: r.try_get("id")?,
        merchant_id: r.try_get("merchant_id")?,
        username: r.try_get("username")?,
        role: ConsoleRole::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:.20}")))?,
        created_at: r.try_get("created_at")?,
    })
}

fn state_of(r: &PgRow) -> Result<TxState> {
    let s: String = r.try_get("state")?;
    TxState::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("unknown state {s:.20}")))
}

fn decision_of(s: Option<String>) -> Result<Option<ReviewDecision>> {
    s.map(|s| ReviewDecision::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("unknown review {s:.20}"))))
        .transpose()
}

fn row_of(r: &PgRow) -> Result<ConsoleRow> {
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

impl PgStore {
    pub(crate) async fn create_console_user_impl(&self, n: NewConsoleUser<'_>) -> Result<ConsoleUser> {
        check_username(n.username)?;
        if n.password_hash.is_empty() || n.password_hash.len() > MAX_PASSWORD_HASH {
            return Err(StoreError::InvalidInput(format!("a password hash is 1-{MAX_PASSWORD_HASH} bytes")));
        }
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1::BIGINT FROM merchants WHERE id = $1")
            .bind(n.merchant_id)
            .fetch_optional(&self.pool)
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
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.merchant_id)
        .bind(&user.username)
        .bind(n.password_hash)
        .bind(user.role.as_str())
        .bind(user.created_at)
        .execute(&self.pool)
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
        let row = sqlx::query("SELECT * FROM console_users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(ConsoleLogin { user: user_of(&r)?, password_hash: r.try_get("password_hash")? })).transpose()
    }

    pub(crate) async fn list_console_users_impl(&self, merchant_id: Option<&str>) -> Result<Vec<ConsoleUser>> {
        let rows = sqlx::query(
            "SELECT * FROM console_users WHERE $1 IS NULL OR merchant_id = $2 ORDER BY created_at, username",
        )
        .bind(merchant_id)
        .bind(merchant_id)
        .fetch_all(&self.pool)
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
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token_hash[..])
        .bind(user_id)
        .bind(now)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
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
            "UPDATE console_sessions SET last_seen_at = $1 \
             WHERE token_hash = $2 AND expires_at > $3 AND last_seen_at + $4 > $5 \
             RETURNING user_id, created_at, expires_at",
        )
        .bind(now)
        .bind(&token_hash[..])
        .bind(now)
        .bind(idle_s)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user_id: String = row.try_get("user_id")?;
        let user = sqlx::query("SELECT * FROM console_users WHERE id = $1")
            .bind(&user_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a session's user is gone".into()))?;
        Ok(Some(ConsoleSession {
            user: user_of(&user)?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    pub(crate) async fn end_console_session_impl(&self, token_hash: &[u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(&token_hash[..])
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn console_login_failures_impl(&self, keys: &[&str], since: i64) -> Result<Vec<i64>> {
        check_keys(keys)?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM console_login_failures WHERE key = $1 AND at >= $2")
                .bind(k)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
            out.push(n);
        }
        Ok(out)
    }

    pub(crate) async fn record_console_login_failure_impl(&self, keys: &[&str], now: i64) -> Result<()> {
        check_keys(keys)?;
        let mut tx = self.pool.begin().await?;
        for k in keys {
            sqlx::query("INSERT INTO console_login_failures (key, at) VALUES ($1, $2)")
                .bind(k)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn clear_console_login_failures_impl(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM console_login_failures WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }

    pub(crate) async fn purge_console_impl(&self, now: i64, failures_before: i64) -> Result<u64> {
        let s =
            sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        let f = sqlx::query("DELETE FROM console_login_failures WHERE at < $1")
            .bind(failures_before)
            .execute(&self.pool)
            .await?;
        Ok(s.rows_affected() + f.rows_affected())
    }

    pub(crate) async fn console_unindexed_impl(&self, limit: i64) -> Result<Vec<String>> {
        let limit = limit.clamp(1, MAX_INDEX_BATCH as i64);
        // Transactions not indexed yet, by their flag (a partial index holds only those): instances commit
        // concurrently, so no order of ids or times says which rows are new. Then indexed open ones that have
        // ended since.
        let mut ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM transactions WHERE console_indexed = 0 ORDER BY created_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let room = limit - ids.len() as i64;
        if room > 0 {
            let ended: Vec<String> = sqlx::query_scalar(
                "SELECT t.id FROM console_index i JOIN transactions t ON t.id = i.transaction_id \
                 WHERE i.final = 0 AND t.state NOT IN ('initialized', 'in_progress') LIMIT $1",
            )
            .bind(room)
            .fetch_all(&self.pool)
            .await?;
            ids.extend(ended);
        }
        Ok(ids)
    }

    pub(crate) async fn put_console_index_impl(&self, rows: &[ConsoleIndexRow]) -> Result<()> {
        if rows.len() > MAX_INDEX_BATCH {
            return Err(StoreError::InvalidInput(format!("at most {MAX_INDEX_BATCH} index rows in one call")));
        }
        let mut tx = self.pool.begin().await?;
        for r in rows {
            let found = sqlx::query("UPDATE transactions SET console_indexed = 1 WHERE id = $1 RETURNING merchant_id")
                .bind(&r.transaction_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(found) = found else {
                return Err(StoreError::NotFound(format!("transaction {}", r.transaction_id)));
            };
            let merchant_id: String = found.try_get(0)?;
            sqlx::query(
                "INSERT INTO console_index (transaction_id, merchant_id, final, passed, sub_code, user_tag, face_score, \
                 face_threshold, soft_failure) VALUES ($1, $2, $3::int, $4::int, $5, $6, $7, $8, $9::int) \
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
        let filter = "t.merchant_id = $1 AND ($2 IS NULL OR t.created_at >= $3) AND ($4 IS NULL OR t.created_at < $5) \
             AND ($6 IS NULL OR t.product = $7) AND ($8 IS NULL OR coalesce(i.sub_code, t.decision_sub_code) = $9) \
             AND ($10 IS NULL OR t.merchant_biz_id = $11) AND ($12 IS NULL OR i.user_tag = $13) \
             AND ($14 IS NULL \
                  OR ($15 = 'open' AND t.state IN ('initialized', 'in_progress')) \
                  OR ($16 = 'passed' AND coalesce(i.passed, t.decision_passed) = 1) \
                  OR ($17 = 'failed' AND coalesce(i.passed, t.decision_passed) = 0))";
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
                .fetch_one(&self.pool)
                .await?;
        let rows = binds!(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM {ROW_FROM} WHERE {filter} ORDER BY t.created_at DESC, t.id LIMIT $18 OFFSET $19"
        ))))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.iter().map(row_of).collect::<Result<_>>()?, total))
    }

    pub(crate) async fn set_review_rule_impl(&self, merchant_id: &str, rule: Option<ReviewRule>) -> Result<bool> {
        if let Some(r) = rule
            && !(r.face_band.is_finite() && (0.0..=100.0).contains(&r.face_band))
        {
            return Err(StoreError::InvalidInput("a face band is 0-100 score points".into()));
        }
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1::BIGINT FROM merchants WHERE id = $1")
            .bind(merchant_id)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Ok(false);
        }
        match rule {
            None => {
                sqlx::query("DELETE FROM console_review_rules WHERE merchant_id = $1")
                    .bind(merchant_id)
                    .execute(&self.pool)
                    .await?;
            }
            Some(r) => {
                sqlx::query(
                    "INSERT INTO console_review_rules (merchant_id, face_band, soft_failures, all_failures) \
                     VALUES ($1, $2, $3::int, $4::int) ON CONFLICT (merchant_id) DO UPDATE SET face_band = excluded.face_band, \
                     soft_failures = excluded.soft_failures, all_failures = excluded.all_failures",
                )
                .bind(merchant_id)
                .bind(r.face_band)
                .bind(r.soft_failures)
                .bind(r.all_failures)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(true)
    }

    pub(crate) async fn review_rule_impl(&self, merchant_id: &str) -> Result<ReviewRule> {
        let row = sqlx::query(
            "SELECT face_band, soft_failures, all_failures FROM console_review_rules WHERE merchant_id = $1",
        )
        .bind(merchant_id)
        .fetch_optional(&self.pool)
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
        let filter = "t.merchant_id = $1 AND i.final = 1 AND r.transaction_id IS NULL AND t.deleted IS NULL AND ( \
               ($2::boolean AND i.passed = 0) OR ($3::boolean AND i.soft_failure = 1) \
               OR ($4 > 0 AND i.face_score IS NOT NULL AND i.face_threshold IS NOT NULL \
                   AND abs(i.face_score - i.face_threshold) <= $5))";
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
                .fetch_one(&self.pool)
                .await?;
        let rows = binds!(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM {ROW_FROM} WHERE {filter} ORDER BY t.finished_at, t.id LIMIT $6 OFFSET $7"
        ))))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.iter().map(row_of).collect::<Result<_>>()?, total))
    }

    pub(crate) async fn record_review_impl(&self, n: NewReview<'_>) -> Result<bool> {
        if n.reason.trim().is_empty() || n.reason.len() > MAX_REVIEW_REASON {
            return Err(StoreError::InvalidInput(format!("a review reason is 1-{MAX_REVIEW_REASON} bytes")));
        }
        let row =
            sqlx::query("SELECT dek_wrapped, key_epoch, state FROM transactions WHERE id = $1 AND merchant_id = $2")
                .bind(n.transaction_id)
                .bind(n.merchant_id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("transaction {}", n.transaction_id)))?;
        if !state_of(&row)?.is_final() {
            return Err(StoreError::InvalidInput("only a final transaction can be reviewed".into()));
        }
        let wrapped: Option<Vec<u8>> = row.try_get("dek_wrapped")?;
        let epoch: Option<String> = row.try_get("key_epoch")?;
        let dek = match wrapped {
            Some(w) => self.unwrap_dek(n.transaction_id, n.merchant_id, &w, epoch.as_deref()).await?,
            None => None,
        }
        .ok_or_else(|| StoreError::NotFound(format!("transaction {} has been shredded", n.transaction_id)))?;
        let member: Option<i64> =
            sqlx::query_scalar("SELECT 1::BIGINT FROM console_users WHERE id = $1 AND merchant_id = $2")
                .bind(n.user_id)
                .bind(n.merchant_id)
                .fetch_optional(&self.pool)
                .await?;
        if member.is_none() {
            return Err(StoreError::NotFound(format!("user {} of merchant {}", n.user_id, n.merchant_id)));
        }
        let r = sqlx::query(
            "INSERT INTO console_reviews (transaction_id, merchant_id, user_id, decision, reason_sealed, at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (transaction_id) DO NOTHING",
        )
        .bind(n.transaction_id)
        .bind(n.merchant_id)
        .bind(n.user_id)
        .bind(n.decision.as_str())
        .bind(dek.seal(n.reason.as_bytes(), &review_context(n.transaction_id)))
        .bind(n.now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub(crate) async fn review_impl(&self, merchant_id: &str, transaction_id: &str) -> Result<Option<Review>> {
        let row = sqlx::query(
            "SELECT r.user_id, u.username, r.decision, r.reason_sealed, r.at, t.dek_wrapped, t.key_epoch, t.deleted \
             FROM console_reviews r JOIN console_users u ON u.id = r.user_id JOIN transactions t ON t.id = r.transaction_id \
             WHERE r.transaction_id = $1 AND r.merchant_id = $2 AND t.merchant_id = $3",
        )
        .bind(transaction_id)
        .bind(merchant_id)
        .bind(merchant_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let wrapped: Option<Vec<u8>> = r.try_get("dek_wrapped")?;
        let epoch: Option<String> = r.try_get("key_epoch")?;
        let deleted: Option<String> = r.try_get("deleted")?;
        // The reason is text evidence: gone with a text (or full) deletion.
        let dek = match (wrapped, deleted.as_deref()) {
            (Some(w), None | Some("images")) => {
                self.unwrap_dek(transaction_id, merchant_id, &w, epoch.as_deref()).await?
            }
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
            "UPDATE callback_outbox SET state = 'pending', next_attempt_at = $1, created_at = $2, updated_at = $3 \
             WHERE transaction_id = $4",
        )
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(transaction_id)
        .execute(&self.pool)
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
             WHERE transaction_id = $1 AND merchant_id = $2",
        )
        .bind(transaction_id)
        .bind(merchant_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let log = sqlx::query(
            "SELECT attempt, at, status, error FROM callback_attempts WHERE transaction_id = $1 ORDER BY attempt",
        )
        .bind(transaction_id)
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
            "SELECT t.finished_at / 86400 AS day, count(*) FILTER (WHERE coalesce(i.passed, t.decision_passed) = 1) AS passed, \
             count(*) FILTER (WHERE coalesce(i.passed, t.decision_passed) = 0) AS failed \
             FROM transactions t LEFT JOIN console_index i ON i.transaction_id = t.id \
             WHERE t.merchant_id = $1 AND t.created_at >= $2 AND t.created_at < $3 AND t.finished_at IS NOT NULL \
             GROUP BY day ORDER BY day",
        )
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
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
             WHERE t.merchant_id = $1 AND t.created_at >= $2 AND t.created_at < $3 \
               AND coalesce(i.passed, t.decision_passed) = 0 \
             GROUP BY 1 ORDER BY n DESC, 1",
        )
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<Option<String>, _>("sub_code")?.unwrap_or_default(), r.try_get("n")?)))
        .collect::<Result<Vec<_>>>()?;
        let txs = sqlx::query(
            "SELECT t.id, t.state, t.created_at, s.created_at AS started_at FROM transactions t \
             LEFT JOIN device_sessions s ON s.transaction_id = t.id \
             WHERE t.merchant_id = $1 AND t.created_at >= $2 AND t.created_at < $3 \
             ORDER BY t.created_at DESC LIMIT $4",
        )
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .bind(MAX_SUMMARY_FLOWS)
        .fetch_all(&self.pool)
        .await?;
        // Their rounds in one query, grouped by transaction below.
        let rounds = sqlx::query(
            "SELECT transaction_id, round, step, outcome, created_at FROM rounds WHERE transaction_id IN ( \
               SELECT id FROM transactions WHERE merchant_id = $1 AND created_at >= $2 AND created_at < $3 \
               ORDER BY created_at DESC LIMIT $4) ORDER BY transaction_id, round",
        )
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .bind(MAX_SUMMARY_FLOWS)
        .fetch_all(&self.pool)
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

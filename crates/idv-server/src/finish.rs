//! Ending a transaction without a device round: timeouts (hard expiry, idle device) and cancellation. The
//! verdicts come from `idv-flow`; the store's conditional transitions make sure exactly one finisher wins, so a
//! device round, the sweeper and CheckResult racing each other store one verdict and fire one callback.

use idv_flow::{Timeout, Verdict};

use crate::AppState;
use crate::error::ServerError;

/// Closes one overdue transaction with a timeout verdict. Returns false when another finisher won.
pub(crate) async fn expire(state: &AppState, id: &str, why: Timeout, now: i64) -> Result<bool, ServerError> {
    let verdict = idv_flow::timeout_verdict(why);
    let bytes = serde_json::to_vec(&verdict).map_err(ServerError::internal)?;
    let won = state.store.expire(id, &bytes, now).await?;
    if won {
        crate::callbacks::notify(state, id, &verdict).await;
    }
    Ok(won)
}

/// The user cancelled on the device. Returns false when the transaction was already over.
pub(crate) async fn cancel(state: &AppState, id: &str, now: i64) -> Result<bool, ServerError> {
    let verdict = idv_flow::cancelled();
    let bytes = serde_json::to_vec(&verdict).map_err(ServerError::internal)?;
    let won = state.store.cancel(id, &bytes, now).await?;
    if won {
        crate::callbacks::notify(state, id, &verdict).await;
    }
    Ok(won)
}

/// The housekeeping sweep: every transaction whose time ran out gets its verdict, even if nobody asks.
///
/// One transaction that cannot be closed (a corrupt row, a data key that no longer opens) is logged and skipped:
/// it would otherwise sort first on every pass and stop the sweep for every transaction behind it. It is listed
/// again on the next pass, so a passing failure heals by itself.
pub(crate) async fn expire_overdue(state: &AppState, now: i64) -> Result<(), ServerError> {
    for id in state.store.overdue_transactions(now, 500).await? {
        expire_or_skip(state, &id, Timeout::Expired, now).await;
    }
    let cutoff = now - state.config.device_idle_timeout.as_secs() as i64;
    for id in state.store.idle_transactions(cutoff, 500).await? {
        expire_or_skip(state, &id, Timeout::Idle, now).await;
    }
    Ok(())
}

async fn expire_or_skip(state: &AppState, id: &str, why: Timeout, now: i64) {
    if let Err(e) = expire(state, id, why, now).await {
        // The id is a random handle and the store's errors name no personal data (sealed values stay sealed).
        tracing::warn!(transaction_id = id, reason = why.reason(), error = %e, "expiry sweep skipped a transaction");
    }
}

/// The stored verdict of a finished transaction.
pub(crate) fn stored_verdict(tx: &idv_store::Transaction) -> Result<Option<Verdict>, ServerError> {
    match &tx.verdict {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(bytes).map(Some).map_err(ServerError::internal),
    }
}

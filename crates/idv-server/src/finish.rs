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
        crate::audit::audit_tx(state, "system", "transaction.expired", id, serde_json::json!({"reason": why.reason()}))
            .await;
        // Wakes the callback worker (`callbacks::run`): the outbox entry this transaction owes is due now.
        state.callbacks_due.notify_one();
    }
    Ok(won)
}

/// The flow was cancelled: by the user on the device (`actor` `device`), or by the merchant deleting an open
/// transaction (its AccessKey id). Returns false when the transaction was already over.
pub(crate) async fn cancel(state: &AppState, id: &str, actor: &str, now: i64) -> Result<bool, ServerError> {
    let verdict = idv_flow::cancelled();
    let bytes = serde_json::to_vec(&verdict).map_err(ServerError::internal)?;
    let won = state.store.cancel(id, &bytes, now).await?;
    if won {
        crate::audit::audit_tx(state, actor, "transaction.cancelled", id, serde_json::json!({})).await;
        // Wakes the callback worker (`callbacks::run`): the outbox entry this transaction owes is due now.
        state.callbacks_due.notify_one();
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

/// The decision to keep in the clear when a transaction's evidence is deleted: its verdict's, or the one kept
/// by an earlier deletion.
pub(crate) fn decision(tx: &idv_store::Transaction) -> Result<Option<idv_store::Decision>, ServerError> {
    Ok(match stored_verdict(tx)? {
        Some(v) => Some(idv_store::Decision { passed: v.passed, sub_code: v.sub_code.code().to_owned() }),
        None => tx.decision.clone(),
    })
}

/// Deletes `what` of a finished transaction's evidence, keeping its decision (`docs/data-protection.md`).
pub(crate) async fn delete_evidence(
    state: &AppState,
    tx: &idv_store::Transaction,
    what: idv_store::Evidence,
    actor: &str,
    now: i64,
) -> Result<(), ServerError> {
    let decision = decision(tx)?;
    state.store.delete_evidence(&tx.id, what, decision.as_ref(), now).await?;
    tracing::info!(transaction_id = %tx.id, deleted = what.as_str(), "evidence deleted");
    crate::audit::audit(
        state,
        actor,
        "evidence.deleted",
        Some(&tx.id),
        Some(&tx.merchant_id),
        serde_json::json!({"what": what.as_str()}),
    )
    .await;
    Ok(())
}

/// The retention sweep: every finished transaction past its merchant's retention (or the server's) loses all its
/// evidence but the decision; then the key epochs no live data key needs are destroyed, so the deletions hold in
/// old copies of the database too. A transaction that cannot be deleted is logged and skipped, as in the expiry
/// sweep.
pub(crate) async fn delete_retained(state: &AppState, now: i64) -> Result<(), ServerError> {
    let default = state.config.retention.as_secs() as i64;
    for id in state.store.due_for_deletion(default, now, 500).await? {
        let result = async {
            match state.store.get_transaction_for_device(&id).await? {
                Some(tx) => delete_evidence(state, &tx, idv_store::Evidence::All, "system", now).await,
                None => Ok(()),
            }
        }
        .await;
        if let Err(e) = result {
            tracing::error!(transaction_id = %id, error = %e, "retention: could not delete this transaction's evidence; skipped");
        }
    }
    // Registered faces past their retention; the index forgets them with the store.
    let gone = state.store.delete_expired_faces(now, 500).await?;
    if !gone.is_empty() {
        // Faces of any merchant: their groups' indexes are dropped and rebuilt on their next search.
        for r in &gone {
            state.face_libraries.forget(r.group_id).await;
        }
        tracing::info!(faces = gone.len(), "retention: registered faces deleted");
    }
    for epoch in state.store.destroy_spent_key_epochs(now).await? {
        tracing::info!(epoch = %epoch, "retention: key epoch destroyed");
    }
    Ok(())
}

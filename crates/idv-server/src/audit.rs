//! Appending to the audit log (`idv_store::Store::append_audit`): who (an AccessKey id, or `device`, `web`,
//! `system`), what, to which transaction and merchant. Entries carry ids, states and flags only, never personal
//! data (no names, images, OCR values or MerchantUserId).
//!
//! Every call site appends after its state change or read is done, so a failed append is logged at error level and
//! the request goes on: the change is already durable and failing the request would only make the caller retry
//! something that already happened (a retried Initialize would create a second transaction). The operator learns
//! of the gap from the log; the chain itself stays intact (the entry is simply absent).

use crate::AppState;
use crate::auth::Caller;

pub(crate) async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    tx_id: Option<&str>,
    merchant_id: Option<&str>,
    detail: serde_json::Value,
) {
    let detail = detail.to_string();
    let entry = idv_store::NewAuditEntry {
        at: state.now(),
        actor,
        action,
        transaction_id: tx_id,
        merchant_id,
        detail: &detail,
    };
    if let Err(e) = state.store.append_audit(entry).await {
        // Log and continue: the state change this entry records is already committed (see the module comment).
        tracing::error!(actor, action, transaction_id = tx_id, merchant_id, error = %e, "audit log append failed");
    }
}

/// [`audit`] by a merchant's AccessKey, for a transaction of its merchant.
pub(crate) async fn audit_key(state: &AppState, caller: &Caller, action: &str, tx_id: &str, detail: serde_json::Value) {
    audit(state, &caller.access_key_id, action, Some(tx_id), Some(&caller.merchant.id), detail).await;
}

/// [`audit`] for a transaction known only by its id: the merchant id is looked up (a failed lookup leaves it out).
pub(crate) async fn audit_tx(state: &AppState, actor: &str, action: &str, tx_id: &str, detail: serde_json::Value) {
    let merchant = match state.store.get_transaction_for_device(tx_id).await {
        Ok(tx) => tx.map(|t| t.merchant_id),
        Err(e) => {
            tracing::error!(transaction_id = tx_id, error = %e, "audit: could not look up the transaction's merchant");
            None
        }
    };
    audit(state, actor, action, Some(tx_id), merchant.as_deref(), detail).await;
}

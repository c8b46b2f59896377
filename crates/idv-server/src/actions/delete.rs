//! DeleteVerifyResult: the merchant deletes a transaction's evidence now, or after its next CheckResult.

use std::collections::BTreeMap;

use idv_api::{DeleteType, DeleteVerifyResultRequest, DeleteVerifyResultResult};
use idv_store::Evidence;

use crate::AppState;
use crate::actions::Success;
use crate::actions::check_result::own_transaction;
use crate::auth::Caller;
use crate::error::ServerError;
use crate::finish;

pub(crate) fn evidence(t: DeleteType) -> Evidence {
    match t {
        DeleteType::Images => Evidence::Images,
        DeleteType::Text => Evidence::Text,
        DeleteType::All => Evidence::All,
    }
}

pub async fn handle(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let req = DeleteVerifyResultRequest::parse(params)?;
    // Another merchant's transaction is answered as unknown: nothing is deleted, nothing is revealed.
    let mut tx = own_transaction(state, &caller.merchant.id, &req.transaction_id).await?;
    let now = state.now();
    if !tx.state.is_final() {
        // The merchant wants the data gone while the user may still be capturing: the flow ends as cancelled
        // first, so no later round stores new evidence and the decision exists.
        finish::cancel(state, &tx.id, &caller.access_key_id, now).await?;
        tx = own_transaction(state, &caller.merchant.id, &req.transaction_id).await?;
    }
    let what = evidence(req.delete_type);
    if req.after_query {
        state.store.set_delete_after_query(&tx.id, Some(what)).await?;
        tracing::info!(transaction_id = %tx.id, deleted = what.as_str(), "evidence deletion scheduled after the next query");
    } else {
        finish::delete_evidence(state, &tx, what, &caller.access_key_id, now).await?;
    }
    let result = DeleteVerifyResultResult { delete_result: "Y".into(), transaction_id: tx.id };
    Ok(Success(serde_json::to_value(result).map_err(ServerError::internal)?))
}

use std::collections::BTreeMap;

use idv_api::params::unknown_transaction;
use idv_api::{ApiError, CheckResultRequest, ErrorCode, Verdict};

use crate::AppState;
use crate::auth::{Caller, unix_now};
use crate::error::ServerError;
use crate::rpc::Success;

pub async fn handle(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let req = CheckResultRequest::parse(params)?;
    let mut tx =
        state.store.get_transaction(&caller.merchant.id, &req.transaction_id).await?.ok_or_else(unknown_transaction)?;
    if tx.merchant_biz_id != req.merchant_biz_id {
        return Err(ApiError::invalid(
            "MerchantBizId",
            "does not match the MerchantBizId given to Initialize for this TransactionId",
        )
        .into());
    }
    let now = unix_now();
    if !tx.state.is_final() {
        let idle_since = state.store.get_device_session(&tx.id).await?.map(|s| s.updated_at);
        let idle = idle_since.is_some_and(|t| now - t > state.config.device_idle_timeout.as_secs() as i64);
        if now >= tx.expires_at || idle {
            super::expire(state, &tx.id, now, if idle { super::IDLE } else { super::EXPIRED }).await?;
            tx = state
                .store
                .get_transaction(&caller.merchant.id, &req.transaction_id)
                .await?
                .ok_or_else(unknown_transaction)?;
        }
    }
    if !tx.state.is_final() {
        return Err(
            ApiError::new(ErrorCode::ProcessNotCompleted, "The verification process is not completed yet.").into()
        );
    }
    let Some(bytes) = &tx.verdict else {
        return Err(ApiError::new(
            ErrorCode::TransactionIdInvalid,
            "The results of this transaction have been deleted.",
        )
        .into());
    };
    let verdict: Verdict = serde_json::from_slice(bytes)
        .map_err(|e| ServerError::Internal(format!("stored verdict of {}: {e}", tx.id)))?;
    let mut images = Vec::new();
    for (kind, blob_id) in verdict.wanted_images(&req) {
        images.push((kind, state.store.get_blob(&tx.id, &blob_id).await?));
    }
    let result = verdict.render(&images);
    Ok(Success(serde_json::to_value(result).map_err(|e| ServerError::Internal(e.to_string()))?))
}

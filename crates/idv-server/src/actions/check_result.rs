use std::collections::BTreeMap;

use idv_api::params::unknown_transaction;
use idv_api::{ApiError, CheckResultRequest, ErrorCode, render};

use crate::AppState;
use crate::actions::Success;
use crate::auth::Caller;
use crate::error::ServerError;
use crate::finish;

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
    let now = state.now();
    if !tx.state.is_final() {
        let last_activity = state.store.get_device_session(&tx.id).await?.map(|s| s.updated_at);
        let idle = state.config.device_idle_timeout.as_secs() as i64;
        if let Some(why) = idv_flow::timed_out(now, tx.expires_at, last_activity, idle) {
            finish::expire(state, &tx.id, why, now).await?;
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
    let Some(verdict) = finish::stored_verdict(&tx)? else {
        return Err(ApiError::new(
            ErrorCode::TransactionIdInvalid,
            "The results of this transaction have been deleted.",
        )
        .into());
    };
    let mut images = Vec::new();
    for (kind, blob_id) in render::wanted_images(&verdict, &req) {
        images.push((kind, state.store.get_blob(&tx.id, &blob_id.0).await?));
    }
    let result = render::check_result(&verdict, &images);
    Ok(Success(serde_json::to_value(result).map_err(ServerError::internal)?))
}

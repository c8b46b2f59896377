//! CheckVerifyLog: the drop-off log of a transaction, from its recorded rounds (`idv_api::verify_log`).

use std::collections::BTreeMap;

use idv_api::verify_log::{FlowStanding, LoggedRound, verify_log};
use idv_api::{ApiError, CheckVerifyLogRequest};
use idv_protocol::device::result_code;
use idv_store::TxState;

use crate::AppState;
use crate::actions::Success;
use crate::actions::check_result::own_transaction;
use crate::auth::Caller;
use crate::error::ServerError;
use crate::finish;

pub async fn handle(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let req = CheckVerifyLogRequest::parse(params)?;
    let tx = own_transaction(state, &caller.merchant.id, &req.transaction_id).await?;
    if req.merchant_biz_id.as_ref().is_some_and(|b| *b != tx.merchant_biz_id) {
        return Err(ApiError::invalid(
            "MerchantBizId",
            "does not match the MerchantBizId given to Initialize for this TransactionId",
        )
        .into());
    }
    let rounds: Vec<LoggedRound> = state
        .store
        .list_rounds(&tx.id)
        .await?
        .into_iter()
        .map(|r| LoggedRound { round: r.round, step: r.step, outcome: r.outcome, at: r.at })
        .collect();
    let started = state.store.get_device_session(&tx.id).await?.is_some() || !rounds.is_empty();
    let standing = match tx.state {
        TxState::Initialized => FlowStanding::NotStarted,
        TxState::InProgress => FlowStanding::InProgress,
        TxState::Completed | TxState::Failed => FlowStanding::Finished,
        TxState::Expired | TxState::Cancelled if started => FlowStanding::Interrupted,
        TxState::Expired | TxState::Cancelled => FlowStanding::NotStarted,
    };
    let decision = finish::decision(&tx)?.map(|d| (d.passed, d.sub_code));
    let exhausted = rounds.last().is_some_and(|r| r.outcome == "exhausted");
    let client_result = match tx.state {
        TxState::Initialized | TxState::InProgress => None,
        TxState::Expired | TxState::Cancelled => Some(result_code::CANCELLED_OR_TIMEOUT),
        _ if exhausted => Some(result_code::TOO_MANY_ERRORS),
        _ => decision.as_ref().map(|(p, _)| if *p { result_code::PASS } else { result_code::FAIL }),
    };
    // The step the user was on: the one after the last accepted step, or the last one retaken.
    let steps = tx
        .options
        .as_ref()
        .and_then(|o| serde_json::from_slice::<idv_api::TransactionOptions>(o).ok())
        .map(|o| o.product.steps(o.back_page));
    let current = rounds.last().map(|r| {
        if r.outcome == "next" {
            let done = steps.as_ref().and_then(|s| s.iter().position(|st| st.as_str() == r.step));
            done.and_then(|i| steps.as_ref().and_then(|s| s.get(i + 1)))
                .map_or(r.step.clone(), |s| s.as_str().to_owned())
        } else {
            r.step.clone()
        }
    });
    let current = current
        .or_else(|| (started).then(|| steps.as_ref().and_then(|s| s.first()).map(|s| s.as_str().to_owned())).flatten());
    let log = verify_log(
        standing,
        decision.as_ref().map(|(p, s)| (*p, s.as_str())),
        client_result,
        current.as_deref(),
        &rounds,
        tx.created_at,
    );
    Ok(Success(serde_json::to_value(log).map_err(ServerError::internal)?))
}

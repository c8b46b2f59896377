//! The CallbackUrl notification: when a transaction ends, the merchant's CallbackUrl gets a GET with
//! `transactionId`, `passed`, `subCode` (and `callbackToken` when the merchant gave one), as the official
//! service does. It is a hint to call CheckResult, never the verdict itself, so delivery is best effort: a few
//! attempts with backoff, from this process. Durable, signed webhooks with an outbox arrive with their own issue.

use std::time::Duration;

use idv_api::TransactionOptions;
use idv_flow::Verdict;

use crate::AppState;

const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(5);

/// Fires the notification for a transaction that just reached a final state, if it asked for one.
pub(crate) async fn notify(state: &AppState, transaction_id: &str, verdict: &Verdict) {
    let options = match state.store.get_transaction_for_device(transaction_id).await {
        Ok(Some(tx)) => tx.options.and_then(|o| serde_json::from_slice::<TransactionOptions>(&o).ok()),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(transaction_id, error = %e, "callback skipped: the transaction could not be read");
            None
        }
    };
    let Some(options) = options else { return };
    let Some(url) = options.callback_url else { return };
    let mut query = vec![
        ("transactionId", transaction_id.to_owned()),
        ("passed", if verdict.passed { "Y" } else { "N" }.to_owned()),
        ("subCode", verdict.sub_code.code().to_owned()),
    ];
    if let Some(token) = options.callback_token {
        query.push(("callbackToken", token));
    }
    let client = state.http.clone();
    let tid = transaction_id.to_owned();
    tokio::spawn(async move {
        for attempt in 1..=ATTEMPTS {
            match client.get(&url).query(&query).timeout(TIMEOUT).send().await {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(transaction_id = %tid, attempt, "callback delivered");
                    return;
                }
                Ok(r) => {
                    tracing::warn!(transaction_id = %tid, attempt, status = r.status().as_u16(), "callback refused")
                }
                Err(e) => tracing::warn!(transaction_id = %tid, attempt, error = %e, "callback failed"),
            }
            tokio::time::sleep(Duration::from_secs(1 << (2 * attempt))).await;
        }
        tracing::warn!(transaction_id = %tid, "callback abandoned after {ATTEMPTS} attempts");
    });
}

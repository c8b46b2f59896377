//! The CallbackUrl notification: when a transaction ends, the merchant's CallbackUrl gets a GET with
//! `transactionId`, `passed`, `subCode` (and `callbackToken` when the merchant gave one), as the official
//! service does. It is a hint to call CheckResult, never the verdict itself, so delivery is best effort: a few
//! attempts with backoff, from this process. Durable, signed webhooks with an outbox arrive with their own issue.
//!
//! A CallbackUrl is a request this server makes on a merchant's behalf, so it must not reach the server's own
//! network (SSRF): unless the operator runs `idv serve --allow-private-callbacks`, a literal special address is
//! refused at Initialize ([`check_at_initialize`]) and again before sending, and a name is refused when it resolves
//! to one. The check is in the client's own DNS resolver ([`client`]), so the addresses checked are the addresses
//! connected to: a name cannot resolve to a public address for the check and a private one for the connection.

use std::net::SocketAddr;
use std::time::Duration;

use idv_api::params::{literal_ip, special_address};
use idv_api::{ApiError, TransactionOptions};
use idv_flow::Verdict;

use crate::AppState;
use crate::config::ServerConfig;

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
    // Literal addresses never reach the resolver, so they are checked here (Initialize checked them too, but a
    // transaction may predate the check or the operator may have turned the flag off since).
    if !state.config.allow_private_callbacks
        && let Some(why) = literal_ip(&url).and_then(special_address)
    {
        tracing::warn!(transaction_id, reason = why, "callback not sent: the CallbackUrl host is a special address");
        return;
    }
    let client = state.http.clone();
    let tid = transaction_id.to_owned();
    tokio::spawn(async move {
        for attempt in 1..=ATTEMPTS {
            // Never the URL in the log: its query holds the callbackToken (and the merchant's path may hold more).
            match client.get(&url).query(&query).timeout(TIMEOUT).send().await {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(transaction_id = %tid, attempt, "callback delivered");
                    return;
                }
                Ok(r) => {
                    tracing::warn!(transaction_id = %tid, attempt, status = r.status().as_u16(), "callback refused")
                }
                Err(e) => {
                    if let Some(refused) = private_address(&e) {
                        // Final: the name resolves to a special address, retrying would only repeat the lookup.
                        tracing::warn!(transaction_id = %tid, reason = refused.0, "callback not sent: the CallbackUrl host resolves to a special address");
                        return;
                    }
                    tracing::warn!(transaction_id = %tid, attempt, error = %error_chain(e), "callback failed");
                }
            }
            tokio::time::sleep(Duration::from_secs(1 << (2 * attempt))).await;
        }
        tracing::warn!(transaction_id = %tid, "callback abandoned after {ATTEMPTS} attempts");
    });
}

/// The Initialize-time check that needs the operator's setting: a CallbackUrl whose host is a literal special
/// address (`http://127.1/`, `http://0x7f.1/`, `https://[::ffff:10.0.0.1]/`, as the URL parser reads them). The
/// syntax (scheme, user information, host) was checked by `idv_api::params::url`.
pub(crate) fn check_at_initialize(config: &ServerConfig, callback_url: Option<&str>) -> Result<(), ApiError> {
    if config.allow_private_callbacks {
        return Ok(());
    }
    match callback_url.and_then(literal_ip).and_then(special_address) {
        None => Ok(()),
        Some(why) => Err(ApiError::invalid(
            "CallbackUrl",
            format!(
                "the host is {why}; callbacks go to public addresses only (an operator can allow private ones with \
                 `idv serve --allow-private-callbacks`)"
            ),
        )),
    }
}

/// The outgoing client for callbacks: no redirects (a redirect would be a second, unchecked request), no proxy
/// from the environment (a proxy resolves the name itself, past our check), and the guarded resolver.
pub(crate) fn client(allow_private: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(GuardedResolver { allow_private })
        .build()
        .expect("an HTTP client without custom TLS settings builds")
}

/// Why a name was not connected to: it resolves to a special address and private callbacks are off.
#[derive(Debug, thiserror::Error)]
#[error("the host resolves to {0}")]
struct PrivateAddress(&'static str);

/// Resolves with the system resolver and refuses the whole name if any of its addresses is special: the client
/// connects only to addresses this returned, so the check and the connection see the same addresses.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && let Some(why) = addrs.iter().find_map(|a| special_address(a.ip())) {
                return Err(Box::new(PrivateAddress(why)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The resolver's refusal, if that is what ended the request (it arrives wrapped in the connector's errors).
fn private_address(e: &reqwest::Error) -> Option<&PrivateAddress> {
    let mut source = std::error::Error::source(e);
    for _ in 0..16 {
        let s = source?;
        if let Some(p) = s.downcast_ref::<PrivateAddress>() {
            return Some(p);
        }
        source = s.source();
    }
    None
}

/// The error and its causes, without the URL reqwest attaches (it carries the callbackToken).
fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut source = std::error::Error::source(&e);
    for _ in 0..16 {
        let Some(s) = source else { break };
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

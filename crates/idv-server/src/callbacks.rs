//! The CallbackUrl notification: when a transaction ends, the merchant's CallbackUrl gets a GET with
//! `transactionId`, `passed`, `subCode` (and `callbackToken` when the merchant gave one), as the official
//! service sends it, plus a signature the merchant can check (`x-idv-signature: t=<unix>,v1=<hex HMAC-SHA256>`
//! over `GET\n<path and query as sent>\n<t>` under the merchant's callback secret, `idv admin merchant
//! callback-secret`). It is a hint to call CheckResult, never the verdict itself.
//!
//! Delivery is durable: Initialize writes the callback the transaction owes into the store's outbox, and a
//! worker ([`run`]) sends it once the transaction is final, so a callback survives any restart, a crash mid-send
//! included (it is then sent again: merchants must accept a repeat, as with any webhook). A failed attempt is
//! retried with exponential backoff (`ServerConfig::callback_retry_base`, doubling, at most an hour apart) until
//! `callback_give_up_after`; then the callback is dead, and the operator sees it with every attempt in
//! `idv admin callbacks`.
//!
//! A CallbackUrl is a request this server makes on a merchant's behalf, so it must not reach the server's own
//! network (SSRF): unless the operator runs `idv serve --allow-private-callbacks`, a literal special address is
//! refused at Initialize ([`check_at_initialize`]) and again before sending, and a name is refused when it resolves
//! to one. The check is in the client's own DNS resolver ([`client`]), so the addresses checked are the addresses
//! connected to: a name cannot resolve to a public address for the check and a private one for the connection.

use std::net::SocketAddr;
use std::time::Duration;

use hmac::Mac;
use idv_api::params::{literal_ip, special_address};
use idv_api::{ApiError, TransactionOptions};
use idv_store::{CallbackAttempt, CallbackDue, CallbackOutcome};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::config::ServerConfig;

const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a sender holds the callbacks it claimed: longer than one attempt's timeout.
const LEASE_S: i64 = 60;
/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-idv-signature";

/// What the outbox holds for a transaction, sealed by the store: where to send and the merchant's token.
#[derive(Serialize, Deserialize)]
struct Owed {
    url: String,
    token: Option<String>,
}

/// Writes the callback a new transaction owes, if its merchant asked for one.
pub(crate) async fn owe(
    state: &AppState,
    transaction_id: &str,
    merchant_id: &str,
    options: &TransactionOptions,
    now: i64,
) -> Result<(), crate::error::ServerError> {
    let Some(url) = &options.callback_url else { return Ok(()) };
    let owed = serde_json::to_vec(&Owed { url: url.clone(), token: options.callback_token.clone() })
        .map_err(crate::error::ServerError::internal)?;
    state.store.enqueue_callback(transaction_id, merchant_id, &owed, now).await?;
    Ok(())
}

/// Wakes the delivery worker: a transaction just ended.
pub(crate) fn wake(state: &AppState) {
    state.callbacks_due.notify_one();
}

/// The delivery worker: sends every due callback, when woken and at least every second (retries).
pub(crate) async fn run(state: std::sync::Arc<AppState>) {
    loop {
        tokio::select! {
            _ = state.callbacks_due.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if let Err(e) = deliver_due(&state).await {
            tracing::warn!(error = %e, "callback delivery pass failed");
        }
    }
}

/// One pass over the due callbacks (each in its own task, so a slow merchant does not hold up the others).
pub(crate) async fn deliver_due(state: &std::sync::Arc<AppState>) -> Result<(), crate::error::ServerError> {
    let now = state.now();
    let due = state.store.claim_due_callbacks(now, now + LEASE_S, 100).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for c in due {
        let state = state.clone();
        tasks.spawn(async move { deliver(&state, c).await });
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// The signature of a callback request: `t=<unix>,v1=<hex HMAC-SHA256(secret, "GET\n" + path_and_query + "\n" + t)>`.
pub fn signature(secret: &[u8], path_and_query: &str, t: i64) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("GET\n{path_and_query}\n{t}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver(state: &AppState, c: CallbackDue) {
    let attempt = c.attempts + 1;
    let tid = c.transaction_id.clone();
    let result = attempt_once(state, &c).await;
    let now = state.now();
    let (status, error, give_up) = match result {
        Ok(status) if (200..300).contains(&status) => {
            tracing::info!(transaction_id = %tid, attempt, "callback delivered");
            record(
                state,
                &tid,
                CallbackAttempt { attempt, at: now, status: Some(status), error: None },
                CallbackOutcome::Delivered,
            )
            .await;
            return;
        }
        Ok(status) => {
            tracing::warn!(transaction_id = %tid, attempt, status, "callback refused");
            (Some(status), format!("HTTP {status}"), false)
        }
        Err(Failure::Final(why)) => {
            tracing::warn!(transaction_id = %tid, reason = %why, "callback not sent");
            (None, why, true)
        }
        Err(Failure::Transient(why)) => {
            tracing::warn!(transaction_id = %tid, attempt, error = %why, "callback failed");
            (None, why, false)
        }
    };
    let base = state.config.callback_retry_base.as_secs().max(1) as i64;
    let wait = base.saturating_mul(1i64 << c.attempts.min(20)).min(3600);
    let late = now + wait - c.created_at > state.config.callback_give_up_after.as_secs() as i64;
    let outcome = if give_up || late {
        tracing::warn!(transaction_id = %tid, attempts = attempt, "callback abandoned: dead letter");
        CallbackOutcome::Dead
    } else {
        CallbackOutcome::Retry { next_attempt_at: now + wait }
    };
    record(state, &tid, CallbackAttempt { attempt, at: now, status, error: Some(error) }, outcome).await;
}

async fn record(state: &AppState, tid: &str, attempt: CallbackAttempt, outcome: CallbackOutcome) {
    match state.store.record_callback_attempt(tid, attempt, outcome).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(transaction_id = %tid, "callback attempt already recorded by another sender"),
        Err(e) => tracing::error!(transaction_id = %tid, error = %e, "callback attempt could not be recorded"),
    }
}

enum Failure {
    /// Retrying cannot help (the host is a special address, the record is unreadable).
    Final(String),
    Transient(String),
}

/// Sends one callback; the merchant's HTTP status.
async fn attempt_once(state: &AppState, c: &CallbackDue) -> Result<u16, Failure> {
    let owed: Owed =
        serde_json::from_slice(&c.request).map_err(|_| Failure::Final("unreadable outbox entry".into()))?;
    let tx = state
        .store
        .get_transaction_for_device(&c.transaction_id)
        .await
        .map_err(|e| Failure::Transient(e.to_string()))?
        .ok_or_else(|| Failure::Final("the transaction is gone".into()))?;
    let decision = match crate::finish::decision(&tx) {
        Ok(Some(d)) => (d.passed, d.sub_code),
        _ => return Err(Failure::Final("the transaction has no verdict to announce".into())),
    };
    // Literal addresses never reach the resolver, so they are checked here (Initialize checked them too, but the
    // operator may have turned the flag off since).
    if !state.config.allow_private_callbacks
        && let Some(why) = literal_ip(&owed.url).and_then(special_address)
    {
        return Err(Failure::Final(format!("the CallbackUrl host is {why}")));
    }
    let mut url =
        reqwest::Url::parse(&owed.url).map_err(|_| Failure::Final("the CallbackUrl does not parse".into()))?;
    // After a console review the callback is sent again, saying so (the verdict itself stays).
    let review = crate::console::review_param(state, &c.merchant_id, &c.transaction_id).await;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("transactionId", &c.transaction_id);
        q.append_pair("passed", if decision.0 { "Y" } else { "N" });
        q.append_pair("subCode", &decision.1);
        if let Some(r) = review {
            q.append_pair("reviewDecision", r);
        }
        if let Some(token) = &owed.token {
            q.append_pair("callbackToken", token);
        }
    }
    let secret = state
        .store
        .merchant_callback_secret(&c.merchant_id)
        .await
        .map_err(|e| Failure::Transient(e.to_string()))?
        .ok_or_else(|| Failure::Final("the merchant is gone".into()))?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let sig = signature(secret.as_bytes(), &path_and_query, state.now());
    // Never the URL in the log: its query holds the callbackToken (and the merchant's path may hold more).
    match state.http.get(url).header(SIGNATURE_HEADER, sig).timeout(TIMEOUT).send().await {
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) => match private_address(&e) {
            Some(refused) => Err(Failure::Final(format!("the CallbackUrl host resolves to {}", refused.0))),
            None => Err(Failure::Transient(error_chain(e))),
        },
    }
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

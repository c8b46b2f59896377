//! The device API (`/device/v1/...`): the rounds between the client SDK and the server for one transaction.
//! Protocol: `docs/device-protocol.md`; messages: `idv_protocol::device`.
//!
//! Every call is authenticated twice, by the [`DeviceCall`] extractor before any handler runs: the client
//! configuration must carry this server's MAC and be unexpired, and the request must carry an HMAC under the
//! transaction's device credential. The transaction is bound to the first device session that starts it. A round
//! is accepted only with the latest instruction's round number and single-use nonce; an exact resend of the last
//! accepted round gets the stored answer again (a retry after a lost response), anything else out of order is
//! refused. Each accepted round, its evidence and — on the last one — the verdict are written in one database
//! transaction before the answer leaves, so a restart loses nothing that was acknowledged.

mod flow;

pub(crate) use flow::open_session;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use http_body_util::BodyExt;
use idv_api::TransactionOptions;
use idv_protocol::device::{self as proto, error_code, result_code};
use idv_protocol::{ClientConfig, ClientConfigError};
use idv_store::{Transaction, TxState};
use sha2::Digest;
use subtle::ConstantTimeEq;
use tracing::Instrument;

use crate::AppState;
use crate::error::ServerError;
use crate::ratelimit::{MAX_ADDRESSES, RateLimiter, client_key};

/// The device API's transport headers (`docs/device-protocol.md`).
const HEADER_CONFIG: &str = "x-idv-config";
const HEADER_SESSION: &str = "x-idv-session";
const HEADER_SIGNATURE: &str = "x-idv-signature";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/device/v1/start", post(flow::start))
        .route("/device/v1/round", post(flow::round))
        .route("/device/v1/status", post(flow::status))
        .route("/device/v1/cancel", post(flow::cancel))
        .layer(axum::middleware::from_fn(span))
}

/// Every device call gets a RequestId in its log span, extraction (authentication) included.
async fn span(req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let span = tracing::info_span!("device", request_id = %request_id, path = %req.uri().path());
    next.run(req).instrument(span).await
}

/// The device API's one error type: an HTTP status and the protocol's error body, with the cause of an internal
/// failure kept for the log (never sent).
#[derive(Debug)]
pub(crate) struct DeviceError {
    status: StatusCode,
    code: &'static str,
    message: String,
    result_code: Option<u32>,
    /// Seconds for the `Retry-After` header of an answer that is not final (throttled, round in progress).
    retry_after_s: Option<u64>,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The longest message an error body or its log line carries: messages are the server's own sentences, and this
/// bounds any that quotes something the client sent.
const MAX_MESSAGE_CHARS: usize = 200;

fn clip(s: &str) -> &str {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl DeviceError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>, result: Option<u32>) -> Self {
        DeviceError { status, code, message: message.into(), result_code: result, retry_after_s: None, cause: None }
    }

    /// Too many calls for one transaction or from one address; `wait` is the limiter's time to the next token.
    pub(crate) fn throttled(what: &str, wait: std::time::Duration) -> Self {
        DeviceError {
            retry_after_s: Some(wait.as_secs_f64().ceil().max(1.0) as u64),
            ..DeviceError::new(
                StatusCode::TOO_MANY_REQUESTS,
                error_code::THROTTLED,
                format!("too many device API calls {what}; retry later"),
                None,
            )
        }
    }

    /// Another copy of this round is on the engines now: its answer will be stored for an exact resend.
    pub(crate) fn round_in_progress() -> Self {
        DeviceError {
            retry_after_s: Some(1),
            ..DeviceError::conflict(
                error_code::ROUND_IN_PROGRESS,
                "this round is being processed; resend it shortly for its answer",
                None,
            )
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        DeviceError::new(StatusCode::BAD_REQUEST, error_code::BAD_REQUEST, message, None)
    }

    fn conflict(code: &'static str, message: impl Into<String>, result: Option<u32>) -> Self {
        DeviceError::new(StatusCode::CONFLICT, code, message, result)
    }

    pub(crate) fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DeviceError {
            cause: Some(cause.into()),
            ..DeviceError::new(StatusCode::INTERNAL_SERVER_ERROR, error_code::INTERNAL, "internal error", None)
        }
    }
}

impl From<ServerError> for DeviceError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::Overloaded => DeviceError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                error_code::UNAVAILABLE,
                "The verification engines are saturated; retry shortly.",
                None,
            ),
            other => DeviceError::internal(other),
        }
    }
}

impl From<idv_store::StoreError> for DeviceError {
    fn from(e: idv_store::StoreError) -> Self {
        DeviceError::internal(e)
    }
}

impl IntoResponse for DeviceError {
    fn into_response(self) -> Response {
        match &self.cause {
            Some(cause) => tracing::error!(error = clip(&cause.to_string()), "device API failure"),
            None => tracing::info!(code = self.code, message = clip(&self.message), "device call refused"),
        }
        let body = proto::DeviceError {
            code: self.code.to_owned(),
            message: clip(&self.message).to_owned(),
            result_code: self.result_code,
        };
        let mut resp = json(self.status, &body);
        if let Some(s) = self.retry_after_s {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, s.into());
        }
        resp
    }
}

pub(crate) fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(value).expect("protocol types serialise");
    (status, [("content-type", "application/json")], body).into_response()
}

/// The device API's rate limits: per client address, checked before any authentication work, and per
/// transaction, checked once the client configuration's MAC shows the transaction is one this server issued (so
/// the buckets are bounded by real transactions, not by what an attacker sends).
pub(crate) struct Limiters {
    per_address: RateLimiter<IpAddr>,
    per_transaction: crate::ratelimit::IssuedLimiter,
}

impl Limiters {
    pub(crate) fn new(c: &crate::ServerConfig) -> Limiters {
        Limiters {
            per_address: RateLimiter::bounded(c.device_rate_per_address, c.device_burst_per_address, MAX_ADDRESSES),
            per_transaction: crate::ratelimit::IssuedLimiter::new(
                c.shared_limits,
                "tx:",
                c.device_rate_per_transaction,
                c.device_burst_per_transaction,
            ),
        }
    }

    pub(crate) fn prune_local(&self) {
        self.per_address.prune();
    }

    pub(crate) async fn prune_issued(
        &self,
        store: &dyn idv_store::Store,
        now_ms: i64,
    ) -> Result<(), idv_store::StoreError> {
        self.per_transaction.prune(store, now_ms).await
    }
}

/// The authenticated context of one device call.
pub(crate) struct DeviceCall {
    pub cfg: ClientConfig,
    pub tx: Transaction,
    pub session_header: String,
    pub body: bytes::Bytes,
    pub body_hash: String,
    pub now: i64,
}

impl DeviceCall {
    fn options(&self) -> Result<TransactionOptions, DeviceError> {
        let bytes = self.tx.options.as_ref().ok_or_else(|| DeviceError::internal("transaction options are gone"))?;
        serde_json::from_slice(bytes).map_err(DeviceError::internal)
    }

    /// The body as a `what` ("round request"). A refusal says where and what kind of fault, never the input:
    /// serde's own message quotes the offending value, which may be megabytes an attacker chose, and would be
    /// sent back and logged.
    fn parse<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, DeviceError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let fault = match e.classify() {
                serde_json::error::Category::Syntax => "not valid JSON",
                serde_json::error::Category::Data => "a field is missing or has the wrong type or value",
                serde_json::error::Category::Eof => "the JSON ends early",
                serde_json::error::Category::Io => "unreadable",
            };
            DeviceError::bad_request(format!(
                "the request body is not a valid {what}: {fault} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

impl FromRequest<Arc<AppState>> for DeviceCall {
    type Rejection = DeviceError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, DeviceError> {
        let (parts, body) = req.into_parts();
        let now = state.now();
        // The transport attaches the peer address; a router served without it (embedded in another server) has
        // no per-address limit.
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            state
                .device_limits
                .per_address
                .check(client_key(peer.ip()), Instant::now())
                .map_err(|wait| DeviceError::throttled("from this address", wait))?;
        }
        let unauthorized =
            |code, message: &str, result| DeviceError::new(StatusCode::UNAUTHORIZED, code, message, result);
        let cfg = ClientConfig::verify(header(&parts.headers, HEADER_CONFIG), &state.clientcfg_key, now).map_err(
            |e| match e {
                ClientConfigError::Expired => unauthorized(
                    error_code::CONFIG_EXPIRED,
                    "the client configuration has expired",
                    Some(result_code::CANCELLED_OR_TIMEOUT),
                ),
                _ => unauthorized(
                    error_code::BAD_CONFIG,
                    "the client configuration is not valid",
                    Some(result_code::INIT_FAILED),
                ),
            },
        )?;
        state
            .device_limits
            .per_transaction
            .check(&*state.store, &cfg.tid, state.now_ms())
            .await
            .map_err(DeviceError::internal)?
            .map_err(|wait| DeviceError::throttled("for this transaction", wait))?;
        let limit = state.config.max_body_bytes;
        let body = http_body_util::Limited::new(body, limit)
            .collect()
            .await
            .map_err(|_| {
                DeviceError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    error_code::TOO_LARGE,
                    format!("request body over {limit} bytes"),
                    None,
                )
            })?
            .to_bytes();
        let tx = state.store.get_transaction_for_device(&cfg.tid).await?.ok_or_else(|| {
            unauthorized(error_code::BAD_CONFIG, "unknown transaction", Some(result_code::INVALID_TRANSACTION))
        })?;
        let secret = tx.device_secret.as_ref().ok_or_else(|| {
            DeviceError::new(
                StatusCode::GONE,
                error_code::TRANSACTION_CLOSED,
                "the transaction's data has been deleted",
                Some(result_code::INVALID_TRANSACTION),
            )
        })?;
        let claimed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&cfg.cred).unwrap_or_default();
        if !bool::from(claimed.as_slice().ct_eq(&secret[..])) {
            return Err(unauthorized(
                error_code::BAD_CONFIG,
                "the client configuration does not belong to this transaction",
                Some(result_code::INIT_FAILED),
            ));
        }
        let session_header = header(&parts.headers, HEADER_SESSION).to_owned();
        let mac = header(&parts.headers, HEADER_SIGNATURE);
        if !proto::verify_request_mac(secret, parts.method.as_str(), parts.uri.path(), &session_header, &body, mac) {
            return Err(unauthorized(error_code::BAD_SIGNATURE, "the request signature does not verify", None));
        }
        let body_hash = hex::encode(sha2::Sha256::digest(&body));
        Ok(DeviceCall { cfg, tx, session_header, body, body_hash, now })
    }
}

/// The SDK result code of a finished transaction, from its stored verdict.
pub(crate) fn final_result_code(tx: &Transaction) -> u32 {
    match tx.state {
        TxState::Expired | TxState::Cancelled => result_code::CANCELLED_OR_TIMEOUT,
        _ => {
            let passed = crate::finish::stored_verdict(tx).ok().flatten().is_some_and(|v| v.passed);
            if passed { result_code::PASS } else { result_code::FAIL }
        }
    }
}

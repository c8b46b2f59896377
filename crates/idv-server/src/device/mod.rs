//! The device API (`/device/v1/...`): the rounds between the client SDK and the server for one transaction.
//! Protocol: `docs/device-protocol.md`; messages: `idv_protocol::device`.
//!
//! Every call is authenticated twice: the client configuration must carry this server's MAC and be unexpired,
//! and the request must carry an HMAC under the transaction's device credential. The transaction is bound to
//! the first device session that starts it. A round is accepted only with the latest instruction's round number
//! and single-use nonce; an exact resend of the last accepted round gets the stored answer again (a retry after
//! a lost response), anything else out of order is refused. Each accepted round, its evidence and — on the last
//! one — the verdict are written in one database transaction before the answer leaves, so a restart loses
//! nothing that was acknowledged.

mod flow;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use http_body_util::BodyExt;
use idv_protocol::device::{self as proto, DeviceError, error_code, result_code};
use idv_protocol::{ClientConfig, ClientConfigError};
use idv_store::{Transaction, TxState};
use sha2::Digest;
use subtle::ConstantTimeEq;
use tracing::Instrument;

use crate::AppState;
use crate::auth::unix_now;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/device/v1/start", post(handle))
        .route("/device/v1/round", post(handle))
        .route("/device/v1/status", post(handle))
        .route("/device/v1/cancel", post(handle))
}

/// A refusal of the device API, with its HTTP status.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    body: DeviceError,
}

impl Refusal {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>, result: Option<u32>) -> Refusal {
        Refusal {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            body: DeviceError { code: code.to_owned(), message: message.into(), result_code: result },
        }
    }
    pub(crate) fn internal(e: impl std::fmt::Display) -> Refusal {
        tracing::error!(error = %e, "device API failure");
        Refusal::new(500, error_code::INTERNAL, "internal error", None)
    }
}

impl From<idv_store::StoreError> for Refusal {
    fn from(e: idv_store::StoreError) -> Self {
        Refusal::internal(e)
    }
}

impl From<crate::error::ServerError> for Refusal {
    fn from(e: crate::error::ServerError) -> Self {
        match e {
            crate::error::ServerError::Api(a) if a.code == idv_api::ErrorCode::ServiceUnavailable => {
                Refusal::new(503, error_code::UNAVAILABLE, a.message, None)
            }
            other => Refusal::internal(other),
        }
    }
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(value).expect("protocol types serialise");
    (status, [("content-type", "application/json")], body).into_response()
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

async fn handle(State(state): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let path = req.uri().path().to_owned();
    let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let span = tracing::info_span!("device", request_id = %request_id, path = %path);
    let outcome = async {
        let call = authenticate(&state, req).await?;
        match path.as_str() {
            "/device/v1/start" => flow::start(&state, call).await.and_then(to_json),
            "/device/v1/round" => flow::round(&state, call).await.and_then(to_json),
            "/device/v1/status" => flow::status(&state, call).await.and_then(to_json),
            "/device/v1/cancel" => flow::cancel(&state, call).await.and_then(to_json),
            _ => Err(Refusal::new(404, error_code::BAD_REQUEST, "unknown device endpoint", None)),
        }
    }
    .instrument(span.clone())
    .await;
    let _enter = span.enter();
    match outcome {
        Ok(v) => json(StatusCode::OK, &v),
        Err(r) => {
            tracing::info!(code = %r.body.code, message = %r.body.message, "device call refused");
            json(r.status, &r.body)
        }
    }
}

fn to_json(v: impl serde::Serialize) -> Result<serde_json::Value, Refusal> {
    serde_json::to_value(v).map_err(Refusal::internal)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn authenticate(state: &AppState, req: Request<Body>) -> Result<DeviceCall, Refusal> {
    let (parts, body) = req.into_parts();
    let now = unix_now();
    let cfg =
        ClientConfig::verify(header(&parts.headers, proto::HEADER_CONFIG), &state.clientcfg_key, now).map_err(|e| {
            match e {
                ClientConfigError::Expired => Refusal::new(
                    401,
                    error_code::CONFIG_EXPIRED,
                    "the client configuration has expired",
                    Some(result_code::CANCELLED_OR_TIMEOUT),
                ),
                _ => Refusal::new(
                    401,
                    error_code::BAD_CONFIG,
                    "the client configuration is not valid",
                    Some(result_code::INIT_FAILED),
                ),
            }
        })?;
    let body = http_body_util::Limited::new(body, state.config.max_body_bytes)
        .collect()
        .await
        .map_err(|_| {
            Refusal::new(
                413,
                error_code::TOO_LARGE,
                format!("request body over {} bytes", state.config.max_body_bytes),
                None,
            )
        })?
        .to_bytes();
    let tx = state.store.get_transaction_for_device(&cfg.tid).await?.ok_or_else(|| {
        Refusal::new(401, error_code::BAD_CONFIG, "unknown transaction", Some(result_code::INVALID_TRANSACTION))
    })?;
    let secret = tx.device_secret.as_ref().ok_or_else(|| {
        Refusal::new(
            410,
            error_code::TRANSACTION_CLOSED,
            "the transaction's data has been deleted",
            Some(result_code::INVALID_TRANSACTION),
        )
    })?;
    let claimed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&cfg.cred).unwrap_or_default();
    if !bool::from(claimed.as_slice().ct_eq(&secret[..])) {
        return Err(Refusal::new(
            401,
            error_code::BAD_CONFIG,
            "the client configuration does not belong to this transaction",
            Some(result_code::INIT_FAILED),
        ));
    }
    let session_header = header(&parts.headers, proto::HEADER_SESSION).to_owned();
    let mac = header(&parts.headers, proto::HEADER_SIGNATURE);
    if !proto::verify_request_mac(secret, parts.method.as_str(), parts.uri.path(), &session_header, &body, mac) {
        return Err(Refusal::new(401, error_code::BAD_SIGNATURE, "the request signature does not verify", None));
    }
    let body_hash = hex::encode(sha2::Sha256::digest(&body));
    Ok(DeviceCall { cfg, tx, session_header, body, body_hash, now })
}

/// The SDK result code of a finished transaction, from its stored verdict.
pub(crate) fn final_result_code(tx: &Transaction) -> u32 {
    match tx.state {
        TxState::Expired | TxState::Cancelled => result_code::CANCELLED_OR_TIMEOUT,
        _ => {
            let passed = tx
                .verdict
                .as_ref()
                .and_then(|v| serde_json::from_slice::<idv_api::Verdict>(v).ok())
                .is_some_and(|v| v.passed);
            if passed { result_code::PASS } else { result_code::FAIL }
        }
    }
}

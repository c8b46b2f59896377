//! The merchant RPC endpoint: one route for every action, both signature schemes, JSON answers in the shapes the
//! official SDKs parse (`docs/wire-facts.md#responses`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use idv_api::sign::{RawRequest, SignedRequest};
use idv_api::{ApiError, ErrorCode};
use tracing::Instrument;

use crate::AppState;
use crate::actions::{self, Success};
use crate::auth;
use crate::error::{ApiFailure, ServerError, json_response};
use crate::transport::BodyTimeout;

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

pub async fn handle(State(state): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let request_id = new_request_id();
    let started = Instant::now();
    let span = tracing::info_span!("rpc", request_id = %request_id);
    async move {
        let host_id = req
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .filter(|h| h.len() <= 255)
            .unwrap_or("idv")
            .to_owned();
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        // Before anything is read: an address whose requests keep failing authentication has to wait. Only the
        // failures are charged, after the fact, so a merchant's server may have any number of signed requests in
        // flight from one address (charging each up front and refunding it once its signature verified refused the
        // ones beyond the burst while the others were still in flight).
        if let Some(ip) = peer
            && let Err(wait) = state.unauth_limiter.admit(&crate::ratelimit::client_key(ip), Instant::now())
        {
            return address_throttled(&state, wait, &request_id, &host_id);
        }
        let (action, outcome) = serve(&state, req, peer).await;
        let elapsed = started.elapsed().as_secs_f64();
        match outcome {
            Ok(body) => {
                tracing::info!(action, code = "Success", ms = elapsed * 1e3, "request served");
                state.metrics.observe(action, "Success", elapsed);
                json_response(StatusCode::OK, success_bytes(body, &request_id), &request_id)
            }
            Err(err) => {
                let api = err.to_api();
                if err.is_internal() {
                    let cause = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
                    tracing::error!(action, error = %err, cause, "request failed");
                } else {
                    // The code only, never the message: messages echo the request (a SignatureDoesNotMatch one holds
                    // the string to sign, with CallbackToken, MerchantUserId, MetaInfo), which the caller sent and
                    // may see again but the log must not keep.
                    tracing::info!(action, code = api.code.as_str(), ms = elapsed * 1e3, "request refused");
                }
                state.metrics.observe(action, api.code.as_str(), elapsed);
                ApiFailure { error: &err, request_id: &request_id, host_id: &host_id }.into_response()
            }
        }
    }
    .instrument(span)
    .await
}

/// Whether an authentication failure came after the signature verified: a key holder's mistake, not a probe, so
/// its address is not charged for it.
fn signature_verified(e: &ServerError) -> bool {
    match e {
        // The per-key limiter refuses only requests whose signature verified.
        ServerError::Throttled { .. } => true,
        ServerError::Api(_) => matches!(
            e.to_api().code,
            ErrorCode::InvalidAccessKeyIdInactive
                | ErrorCode::AccountAccessDenied
                | ErrorCode::InvalidTimeStampExpired
                | ErrorCode::SignatureNonceUsed
        ),
        _ => false,
    }
}

fn address_throttled(state: &AppState, wait: std::time::Duration, request_id: &str, host_id: &str) -> Response {
    state.metrics.observe("unauthenticated", ErrorCode::ThrottlingUser.as_str(), 0.0);
    tracing::info!(code = ErrorCode::ThrottlingUser.as_str(), "request refused: unauthenticated requests per address");
    let err = ServerError::from(ApiError::new(
        ErrorCode::ThrottlingUser,
        "Request was denied due to flow control: too many requests without a valid signature from this address.",
    ));
    let mut resp = ApiFailure { error: &err, request_id, host_id }.into_response();
    // The SDKs raise ThrottlingException when this header is present and positive.
    let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
    resp.headers_mut().insert("x-acs-retry-after", ms.into());
    resp
}

fn success_bytes(result: Success, request_id: &str) -> Vec<u8> {
    if let Some(serde_json::Value::Object(fields)) = result.0.get(crate::actions::TOP_LEVEL) {
        let mut body = serde_json::Map::new();
        body.insert("RequestId".into(), request_id.into());
        body.insert("Code".into(), "Success".into());
        body.insert("Message".into(), "success".into());
        body.extend(fields.clone());
        return serde_json::to_vec(&body).expect("JSON values serialise");
    }
    let body = idv_api::SuccessBody::new(request_id, result.0);
    serde_json::to_vec(&body).expect("JSON values serialise")
}

/// Returns the action label for metrics (from a closed set) and the outcome. A request refused before its
/// signature verified is charged to `peer`'s unauthenticated-request bucket.
async fn serve(
    state: &AppState,
    req: Request<Body>,
    peer: Option<std::net::IpAddr>,
) -> (&'static str, Result<Success, ServerError>) {
    match read_and_authenticate(state, req).await {
        Ok((signed, caller)) => {
            tracing::debug!(access_key_id = %caller.access_key_id, merchant = %caller.merchant.id, "authenticated");
            actions::dispatch(state, &signed, &caller).await
        }
        Err((action, e)) => {
            if let Some(ip) = peer
                && !signature_verified(&e)
            {
                state.unauth_limiter.charge(crate::ratelimit::client_key(ip), Instant::now());
            }
            (action, Err(e))
        }
    }
}

/// Reads the request and authenticates it. A refusal carries its metrics label: `unknown` when the request could
/// not be read, `unauthenticated` when `authenticate` refused it.
async fn read_and_authenticate(
    state: &AppState,
    req: Request<Body>,
) -> Result<(SignedRequest, auth::Caller), (&'static str, ServerError)> {
    let (parts, body) = req.into_parts();
    let raw_query = parts.uri.query().unwrap_or("");
    if raw_query.len() > state.config.max_query_bytes {
        let e = ApiError::new(
            ErrorCode::RequestTooLarge,
            format!(
                "The query string is longer than {} bytes; send large parameters in the form body.",
                state.config.max_query_bytes
            ),
        );
        return Err(("unknown", e.into()));
    }
    // Neither an Authorization header nor a Signature in the query: only a small V1 request with its signature in
    // the form body can still be signed, so a larger body is refused before it is read, let alone parsed.
    let may_be_signed = parts.headers.contains_key(header::AUTHORIZATION)
        || raw_query.split('&').any(|pair| pair.split('=').next() == Some("Signature"));
    let body_limit =
        if may_be_signed { state.config.max_body_bytes } else { state.config.max_body_bytes.min(UNSIGNED_BODY_LIMIT) };
    let over_limit =
        |state: &AppState| -> ServerError { if may_be_signed { too_large(state).into() } else { unsigned().into() } };
    if let Some(len) =
        parts.headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
        && len > body_limit
    {
        return Err(("unknown", over_limit(state)));
    }
    // The Content-Length check above is a fast path; this bound holds even for chunked bodies that lie about it.
    let body = match http_body_util::Limited::new(body, body_limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Err(("unknown", over_limit(state)));
        }
        Err(e) if caused_by::<BodyTimeout>(&*e) => {
            let msg = format!("was not received within {} s", state.config.body_read_timeout.as_secs_f64());
            return Err(("unknown", ApiError::invalid("body", msg).into()));
        }
        Err(e) => return Err(("unknown", ApiError::invalid("body", format!("could not be read: {e}")).into())),
    };
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        match value.to_str() {
            Ok(v) => headers.push((name.as_str().to_owned(), v.to_owned())),
            // Non-ASCII header values cannot be signed headers of any official SDK; refuse rather than guess.
            Err(_) => {
                return Err(("unknown", ApiError::invalid(name.as_str(), "header value is not visible ASCII").into()));
            }
        }
    }
    let raw =
        RawRequest { method: parts.method.as_str(), path: parts.uri.path(), raw_query, headers: &headers, body: &body };
    auth::authenticate(state, &raw).await.map_err(|e| ("unauthenticated", e))
}

/// Largest body of a request that has no `Authorization` header and no `Signature` query parameter: a V1 request
/// with every parameter, its signature included, in a small form body.
const UNSIGNED_BODY_LIMIT: usize = 64 * 1024;

fn unsigned() -> ApiError {
    ApiError::new(
        ErrorCode::IncompleteSignature,
        format!(
            "The request is not signed: expected an \"Authorization: ACS3-HMAC-SHA256 ...\" header or a Signature parameter (in the query for a body over {} KiB).",
            UNSIGNED_BODY_LIMIT / 1024
        ),
    )
}

/// Whether `T` is somewhere in `e`'s chain of causes (axum wraps the body's own error).
fn caused_by<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    for _ in 0..8 {
        match next {
            Some(e) if e.is::<T>() => return true,
            Some(e) => next = e.source(),
            None => return false,
        }
    }
    false
}

fn too_large(state: &AppState) -> ApiError {
    ApiError::new(
        ErrorCode::RequestTooLarge,
        format!("The request body is larger than {} bytes.", state.config.max_body_bytes),
    )
}

pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    // Both checks run whatever the first answered, so the body says which store is down.
    let (db, blobs) = tokio::join!(state.store.ping(), state.store.ping_blobs());
    let word = |r: &Result<(), idv_store::StoreError>, what: &str| match r {
        Ok(()) => "ok",
        Err(e) => {
            tracing::error!(error = %e, "health check: {what} unreachable");
            "unavailable"
        }
    };
    let body = format!("database: {}\nblobs: {}\n", word(&db, "database"), word(&blobs, "blob store"));
    if db.is_ok() && blobs.is_ok() {
        (StatusCode::OK, format!("ok\n{body}")).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("storage unavailable\n{body}")).into_response()
    }
}

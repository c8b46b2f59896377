//! The merchant RPC endpoint: one route for every action, both signature schemes, JSON answers in the shapes the
//! official SDKs parse (`docs/wire-facts.md#responses`).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use idv_api::sign::RawRequest;
use idv_api::{ApiError, ErrorCode};
use tracing::Instrument;

use crate::AppState;
use crate::actions::{self, Success};
use crate::auth;
use crate::error::{ApiFailure, ServerError, json_response};

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
        let (action, outcome) = serve(&state, req).await;
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
                    tracing::info!(action, code = api.code.as_str(), message = %api.message, ms = elapsed * 1e3, "request refused");
                }
                state.metrics.observe(action, api.code.as_str(), elapsed);
                ApiFailure { error: &err, request_id: &request_id, host_id: &host_id }.into_response()
            }
        }
    }
    .instrument(span)
    .await
}

fn success_bytes(result: Success, request_id: &str) -> Vec<u8> {
    let body = idv_api::SuccessBody::new(request_id, result.0);
    serde_json::to_vec(&body).expect("JSON values serialise")
}

/// Returns the action label for metrics (from a closed set) and the outcome.
async fn serve(state: &AppState, req: Request<Body>) -> (&'static str, Result<Success, ServerError>) {
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
        return ("unknown", Err(e.into()));
    }
    if let Some(len) =
        parts.headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
        && len > state.config.max_body_bytes
    {
        return ("unknown", Err(too_large(state).into()));
    }
    // The Content-Length check above is a fast path; this bound holds even for chunked bodies that lie about it.
    let body = match http_body_util::Limited::new(body, state.config.max_body_bytes).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return ("unknown", Err(too_large(state).into()));
        }
        Err(e) => return ("unknown", Err(ApiError::invalid("body", format!("could not be read: {e}")).into())),
    };
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        match value.to_str() {
            Ok(v) => headers.push((name.as_str().to_owned(), v.to_owned())),
            // Non-ASCII header values cannot be signed headers of any official SDK; refuse rather than guess.
            Err(_) => {
                return ("unknown", Err(ApiError::invalid(name.as_str(), "header value is not visible ASCII").into()));
            }
        }
    }
    let raw =
        RawRequest { method: parts.method.as_str(), path: parts.uri.path(), raw_query, headers: &headers, body: &body };
    let (signed, caller) = match auth::authenticate(state, &raw).await {
        Ok(ok) => ok,
        Err(e) => return ("unauthenticated", Err(e)),
    };
    tracing::debug!(access_key_id = %caller.access_key_id, merchant = %caller.merchant.id, "authenticated");
    actions::dispatch(state, &signed, &caller).await
}

fn too_large(state: &AppState) -> ApiError {
    ApiError::new(
        ErrorCode::RequestTooLarge,
        format!("The request body is larger than {} bytes.", state.config.max_body_bytes),
    )
}

pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n").into_response()
        }
    }
}

/// The TransactionUrl target. The hosted capture page is a later issue; until it exists this says so plainly
/// instead of pretending to run a flow.
pub async fn web_page(Path(transaction_id): Path<String>) -> Response {
    let id: String = transaction_id.chars().filter(|c| c.is_ascii_alphanumeric()).take(32).collect();
    (
        StatusCode::NOT_IMPLEMENTED,
        [("content-type", "text/plain; charset=utf-8")],
        format!("idv: the hosted web capture page is not available in this version of the server (transaction {id}).\nUse the idv client SDK (deviceType android/ios) for this transaction.\n"),
    )
        .into_response()
}

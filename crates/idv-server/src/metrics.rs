//! Prometheus metrics at `/metrics`. Label values come from closed sets (known actions, error codes), so an
//! attacker cannot grow the series count.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub action: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub action: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<ActionLabel, Histogram>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~8 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("idv");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<ActionLabel, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("rpc_requests", "Merchant API requests by action and result code", requests.clone());
        registry.register("rpc_request_duration_seconds", "Merchant API request latency by action", latency.clone());
        Metrics { registry: Mutex::new(registry), requests, latency }
    }

    pub fn observe(&self, action: &str, code: &str, seconds: f64) {
        self.requests.get_or_create(&RequestLabels { action: action.to_owned(), code: code.to_owned() }).inc();
        self.latency.get_or_create(&ActionLabel { action: action.to_owned() }).observe(seconds);
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }
}

/// `/metrics` needs `Authorization: Bearer <metrics token>`; without a configured token it is not served at all
/// (404): the counts reveal traffic and error patterns per action, which are nobody else's business.
pub async fn handle(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(token) = &state.config.metrics_token else {
        return (StatusCode::NOT_FOUND, "metrics are disabled: start the server with --metrics-token\n")
            .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    // Compared as SHA-256 digests in constant time: neither the token's bytes nor its length leak through timing.
    let matches = given
        .is_some_and(|given| bool::from(Sha256::digest(given.as_bytes()).ct_eq(&Sha256::digest(token.as_bytes()))));
    if !matches {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"idv metrics\"")],
            "metrics need the metrics token: Authorization: Bearer <token>\n",
        )
            .into_response();
    }
    let mut resp = state.metrics.encode().into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

//! The idv HTTP server. It is the only crate that knows HTTP: it turns requests into calls on the API types
//! (`idv-api`), the device protocol (`idv-protocol`) and the store (`idv-store`), and maps every layer's errors to
//! the API's error codes at this edge.
//!
//! Routes: `POST /` and `GET /` (the merchant RPC API, both signature schemes), `GET /healthz`, `GET /metrics`
//! (Prometheus text format), `GET /web/{TransactionId}/{link}` (the hosted capture page at `TransactionUrl`, see
//! `web`) and its assets, `POST /device/v1/...` (the device API).

mod actions;
mod audit;
mod auth;
mod callbacks;
mod config;
mod console;
mod device;
mod engines;
mod error;
mod face_library;
mod finish;
mod metrics;
mod ratelimit;
mod rpc;
mod steps;
mod transport;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use idv_crypto::Key;
use idv_store::Store;

pub use callbacks::signature as callback_signature;
pub use config::{ConfigError, ServerConfig};
pub use console::create_console_user;
pub use engines::{EngineLoadError, EngineSet, Engines};
pub use error::ServerError;
pub use steps::doc_spec;
pub use steps::{challenge_spec, doc_reading};

/// Shared state of one server process.
pub struct AppState {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: ServerConfig,
    /// Signs the client configuration handed to devices.
    pub(crate) clientcfg_key: Key,
    /// Signs the hosted page's single-use links (`web`).
    pub(crate) web_link_key: Key,
    /// The console's CSRF tokens and MerchantUserId tags (`console`).
    pub(crate) console_key: Key,
    /// Requests per AccessKey whose signature verified.
    pub(crate) limiter: ratelimit::IssuedLimiter,
    /// Requests that fail authentication, per client address.
    /// Requests without a valid signature, per client address (`ratelimit::client_key`).
    pub(crate) unauth_limiter: ratelimit::RateLimiter<std::net::IpAddr>,
    pub(crate) device_limits: device::Limiters,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) engines: Engines,
    /// Outgoing HTTP (CallbackUrl notifications).
    pub(crate) http: reqwest::Client,
    /// Wakes the callback worker when a transaction ends.
    pub(crate) callbacks_due: tokio::sync::Notify,
    /// The face libraries' search indexes.
    pub(crate) face_libraries: face_library::Libraries,
}

impl AppState {
    /// The one clock of the server, Unix seconds: every layer below gets the time as a `now` argument.
    pub(crate) fn now(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }

    /// The same clock in milliseconds, for the token buckets kept in the store.
    pub(crate) fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, master: &Key, config: ServerConfig, engines: Engines) -> Arc<AppState> {
        Arc::new(AppState {
            engines,
            http: callbacks::client(config.allow_private_callbacks),
            callbacks_due: tokio::sync::Notify::new(),
            face_libraries: face_library::Libraries::default(),
            store,
            clientcfg_key: master.derive("clientcfg-mac"),
            web_link_key: master.derive("web-link"),
            console_key: master.derive("console"),
            limiter: ratelimit::IssuedLimiter::new(
                config.shared_limits,
                "ak:",
                config.rate_limit_per_second,
                config.rate_limit_burst,
            ),
            unauth_limiter: ratelimit::RateLimiter::bounded(
                config.unauth_rate_per_second,
                config.unauth_burst,
                ratelimit::MAX_ADDRESSES,
            ),
            device_limits: device::Limiters::new(&config),
            metrics: metrics::Metrics::new(),
            config,
        })
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(rpc::handle).post(rpc::handle))
        .route("/healthz", get(rpc::healthz))
        .route("/metrics", get(metrics::handle))
        .merge(web::routes())
        .merge(console::routes())
        .merge(device::routes())
        .with_state(state)
}

/// Runs the server on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Instances sharing a database take turns at housekeeping under one lease; this one's name for itself.
    let holder = idv_crypto::random_hex(8);
    let sweeper = tokio::spawn(housekeeping(state.clone(), holder.clone()));
    let callbacks = tokio::spawn(callbacks::run(state.clone()));
    let c = &state.config;
    let limits = transport::ConnLimits {
        header_read_timeout: c.header_read_timeout,
        body_read_timeout: c.body_read_timeout,
        idle_timeout: c.idle_timeout,
        max_connections: c.max_connections,
    };
    let app = router(state.clone());
    let result = transport::run(listener, app, limits, shutdown).await;
    sweeper.abort();
    callbacks.abort();
    // A drained instance hands housekeeping over now rather than when its lease runs out (two intervals later):
    // a restart, or the instance that stays, sweeps at its next tick.
    let _ = sweeper.await;
    if let Err(e) = state.store.release_lease("housekeeping", &holder).await {
        tracing::warn!(error = %e, "housekeeping lease not released; it ends by itself");
    }
    result
}

/// Purges expired nonces, frame digests and capture fingerprints and closes transactions whose time ran out, so their verdict exists even if the merchant
/// never asks (callbacks and retention depend on it).
async fn housekeeping(state: Arc<AppState>, holder: String) {
    let mut tick = tokio::time::interval(state.config.sweep_interval);
    // Instances sharing a database take turns: the sweep runs where the lease is held, renewed each pass and
    // lost two intervals after its holder stops renewing (crashed; a drained one releases it), so another takes over.
    let lease_s = (state.config.sweep_interval.as_secs() as i64).max(1) * 2 + 1;
    loop {
        tick.tick().await;
        let now = state.now();
        state.unauth_limiter.prune();
        state.device_limits.prune_local();
        match state.store.try_lease("housekeeping", &holder, now, now + lease_s).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "housekeeping lease failed");
                continue;
            }
        }
        if let Err(e) = state.store.purge_expired_nonces(now).await {
            tracing::warn!(error = %e, "nonce purge failed");
        }
        if let Err(e) = state.store.purge_expired_frame_digests(now).await {
            tracing::warn!(error = %e, "frame digest purge failed");
        }
        if let Err(e) = state.store.purge_expired_capture_fingerprints(now).await {
            tracing::warn!(error = %e, "capture fingerprint purge failed");
        }
        if let Err(e) = finish::expire_overdue(&state, now).await {
            tracing::warn!(error = %e, "transaction expiry sweep failed");
        }
        if let Err(e) = finish::delete_retained(&state, now).await {
            tracing::warn!(error = %e, "retention sweep failed");
        }
        if let Err(e) = console::housekeeping(&state, now).await {
            tracing::warn!(error = %e, "console sweep failed");
        }
        let now_ms = state.now_ms();
        if let Err(e) = state.limiter.prune(&*state.store, now_ms).await {
            tracing::warn!(error = %e, "rate-limit bucket purge failed");
        }
        if let Err(e) = state.device_limits.prune_issued(&*state.store, now_ms).await {
            tracing::warn!(error = %e, "rate-limit bucket purge failed");
        }
    }
}

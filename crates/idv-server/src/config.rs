use std::net::SocketAddr;
use std::time::Duration;

/// Server settings. Every value is validated by [`ServerConfig::validate`] before the server starts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Base URL devices and browsers use to reach this server (device API, hosted page). Defaults to the listen
    /// address; set it when the server sits behind a proxy.
    pub public_url: String,
    /// Largest accepted request body (form-encoded images are the big ones).
    pub max_body_bytes: usize,
    /// Largest accepted query string.
    pub max_query_bytes: usize,
    /// Accepted difference between a request's signed timestamp and this server's clock.
    pub max_clock_skew: Duration,
    /// Per-AccessKey request rate (token bucket).
    pub rate_limit_per_second: f64,
    pub rate_limit_burst: f64,
    /// Device API calls per transaction (token bucket): one device runs a handful of calls per step, so a
    /// device (or a replayed capture) flooding one transaction is throttled before it costs anyone else.
    pub device_rate_per_transaction: f64,
    pub device_burst_per_transaction: f64,
    /// Device API calls per client address (the TCP peer; behind a proxy that is the proxy, so raise it there),
    /// checked before any authentication work.
    pub device_rate_per_address: f64,
    pub device_burst_per_address: f64,
    /// How long a device has to finish a transaction.
    pub transaction_ttl: Duration,
    /// How long a finished transaction's evidence is kept when its merchant set no retention of its own.
    pub retention: Duration,
    /// How long a face registered in a face library is kept (then deleted by the retention sweep). A library
    /// exists to recognise people again, so this is longer than evidence retention; `docs/face-library.md`.
    pub face_retention: Duration,
    /// Wait before a failed callback's first retry; each next wait doubles (at most an hour).
    pub callback_retry_base: Duration,
    /// A callback not delivered this long after its transaction was created is given up (dead letter).
    pub callback_give_up_after: Duration,
    /// A device session with no round for this long is closed as timed out.
    pub device_idle_timeout: Duration,
    /// How often expired nonces, overdue and idle transactions are swept.
    pub sweep_interval: Duration,
    /// Time a client has to send a request's head; also how long an idle keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// Time a client has to send a whole request body, counted from its head (a trickled body is cut off).
    pub body_read_timeout: Duration,
    /// A connection on which no byte moved in either direction for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; further clients wait in the accept backlog.
    pub max_connections: usize,
    /// Requests per second per client address that carry no valid signature (unsigned, unknown key, bad
    /// signature), so one address cannot make the server parse large unauthenticated requests without end.
    pub unauth_rate_per_second: f64,
    pub unauth_burst: f64,
    /// Bearer token that `/metrics` requires; `None` answers `/metrics` with 404.
    pub metrics_token: Option<String>,
    /// Disables the clock check: only for replaying captured test vectors.
    pub skip_clock_check: bool,
    /// Lets CallbackUrl reach loopback, private and other special addresses (literal or resolved): only for a
    /// merchant server on this machine or network (the demo, tests). Off, a CallbackUrl cannot probe the
    /// server's own network (SSRF).
    pub allow_private_callbacks: bool,
    /// Several instances share the database: the per-AccessKey and per-transaction limits are kept in it.
    pub shared_limits: bool,
    /// Accepts captures the device declares as read from files (`capture.source = "file"`: the simulator, the
    /// demo, tests). Off in production: a file is not a camera capture.
    pub test_mode: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl ServerConfig {
    pub fn for_address(addr: SocketAddr) -> ServerConfig {
        ServerConfig {
            public_url: format!("http://{addr}"),
            max_body_bytes: 12 * 1024 * 1024,
            max_query_bytes: 64 * 1024,
            max_clock_skew: Duration::from_secs(15 * 60),
            rate_limit_per_second: 50.0,
            rate_limit_burst: 100.0,
            device_rate_per_transaction: 5.0,
            device_burst_per_transaction: 30.0,
            device_rate_per_address: 50.0,
            device_burst_per_address: 200.0,
            transaction_ttl: Duration::from_secs(30 * 60),
            retention: Duration::from_secs(30 * 24 * 3600),
            face_retention: Duration::from_secs(365 * 24 * 3600),
            callback_retry_base: Duration::from_secs(10),
            callback_give_up_after: Duration::from_secs(24 * 3600),
            device_idle_timeout: Duration::from_secs(5 * 60),
            sweep_interval: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(180),
            max_connections: 1024,
            unauth_rate_per_second: 2.0,
            unauth_burst: 20.0,
            metrics_token: None,
            skip_clock_check: false,
            allow_private_callbacks: false,
            shared_limits: false,
            test_mode: false,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.public_url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.contains(char::is_whitespace)
            || url.len() < 10
        {
            return Err(ConfigError(format!("public URL {:?} must be an absolute http(s) URL", self.public_url)));
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(ConfigError("max body size must be between 1 KiB and 256 MiB".into()));
        }
        if !(self.rate_limit_per_second > 0.0 && self.rate_limit_per_second.is_finite()) {
            return Err(ConfigError("rate limit must be a positive number of requests per second".into()));
        }
        if !(self.rate_limit_burst >= 1.0 && self.rate_limit_burst.is_finite()) {
            return Err(ConfigError("rate limit burst must be at least 1".into()));
        }
        for (what, rate, burst) in [
            ("device rate limit per transaction", self.device_rate_per_transaction, self.device_burst_per_transaction),
            ("device rate limit per address", self.device_rate_per_address, self.device_burst_per_address),
        ] {
            if !(rate > 0.0 && rate.is_finite() && burst >= 1.0 && burst.is_finite()) {
                return Err(ConfigError(format!("{what}: the rate must be positive and the burst at least 1")));
            }
        }
        if self.max_clock_skew < Duration::from_secs(60) || self.max_clock_skew > Duration::from_secs(3600) {
            return Err(ConfigError("clock skew must be between 1 and 60 minutes".into()));
        }
        if self.transaction_ttl < Duration::from_secs(60) || self.transaction_ttl > Duration::from_secs(24 * 3600) {
            return Err(ConfigError("transaction lifetime must be between 1 minute and 24 hours".into()));
        }
        if self.callback_retry_base < Duration::from_secs(1) || self.callback_retry_base > Duration::from_secs(3600) {
            return Err(ConfigError("callback retry wait must be between 1 second and 1 hour".into()));
        }
        if self.callback_give_up_after < self.callback_retry_base {
            return Err(ConfigError("callbacks must be given up later than their first retry".into()));
        }
        if self.retention < Duration::from_secs(1) || self.retention > Duration::from_secs(10 * 365 * 24 * 3600) {
            return Err(ConfigError("retention must be between 1 second and 10 years".into()));
        }
        if self.face_retention < Duration::from_secs(1)
            || self.face_retention > Duration::from_secs(10 * 365 * 24 * 3600)
        {
            return Err(ConfigError("face retention must be between 1 second and 10 years".into()));
        }
        if self.device_idle_timeout < Duration::from_secs(1) || self.device_idle_timeout > self.transaction_ttl {
            return Err(ConfigError(
                "device idle timeout must be between 1 second and the transaction lifetime".into(),
            ));
        }
        if self.sweep_interval < Duration::from_millis(100) || self.sweep_interval > Duration::from_secs(3600) {
            return Err(ConfigError("sweep interval must be between 0.1 s and 1 hour".into()));
        }
        let secs = |d: Duration| (Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&d);
        if !secs(self.header_read_timeout) || !secs(self.body_read_timeout) || !secs(self.idle_timeout) {
            return Err(ConfigError("header, body and idle timeouts must be between 0.1 s and 1 hour".into()));
        }
        if !(1..=65_536).contains(&self.max_connections) {
            return Err(ConfigError("max connections must be between 1 and 65536".into()));
        }
        let rate_ok = self.unauth_rate_per_second > 0.0 && self.unauth_rate_per_second.is_finite();
        if !(rate_ok && self.unauth_burst >= 1.0 && self.unauth_burst.is_finite()) {
            return Err(ConfigError(
                "unauthenticated rate must be positive and its burst at least 1 request per client address".into(),
            ));
        }
        // A short token is guessable; the token also must fit in an HTTP header as is.
        if let Some(t) = &self.metrics_token
            && (t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError("metrics token must be at least 16 visible ASCII characters".into()));
        }
        Ok(())
    }

    pub(crate) fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

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
    /// How long a device has to finish a transaction.
    pub transaction_ttl: Duration,
    /// A device session with no round for this long is closed as timed out.
    pub device_idle_timeout: Duration,
    /// How often expired nonces, overdue and idle transactions are swept.
    pub sweep_interval: Duration,
    /// Disables the clock check: only for replaying captured test vectors.
    pub skip_clock_check: bool,
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
            transaction_ttl: Duration::from_secs(30 * 60),
            device_idle_timeout: Duration::from_secs(5 * 60),
            sweep_interval: Duration::from_secs(30),
            skip_clock_check: false,
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
        if self.max_clock_skew < Duration::from_secs(60) || self.max_clock_skew > Duration::from_secs(3600) {
            return Err(ConfigError("clock skew must be between 1 and 60 minutes".into()));
        }
        if self.transaction_ttl < Duration::from_secs(60) || self.transaction_ttl > Duration::from_secs(24 * 3600) {
            return Err(ConfigError("transaction lifetime must be between 1 minute and 24 hours".into()));
        }
        if self.device_idle_timeout < Duration::from_secs(1) || self.device_idle_timeout > self.transaction_ttl {
            return Err(ConfigError(
                "device idle timeout must be between 1 second and the transaction lifetime".into(),
            ));
        }
        if self.sweep_interval < Duration::from_millis(100) || self.sweep_interval > Duration::from_secs(3600) {
            return Err(ConfigError("sweep interval must be between 0.1 s and 1 hour".into()));
        }
        Ok(())
    }

    pub(crate) fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

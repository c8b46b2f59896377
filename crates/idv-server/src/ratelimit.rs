//! Per-AccessKey token buckets. Buckets are created only for keys whose signature verified, so the map is bounded
//! by the number of real keys, not by what an attacker sends.
//!
//! This limiter lives in process memory, which is right for the embedded single-process deployment. With several
//! instances behind a load balancer each instance enforces the limit separately; the shared-database limiter
//! arrives with the multi-instance storage backend.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(rate_per_second: f64, burst: f64) -> Self {
        RateLimiter { rate: rate_per_second, burst, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`. On refusal returns how long until a token is available.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: self.burst, last: now });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
        }
    }

    /// Gives back the token a request took with [`RateLimiter::check`] when the request turned out to be one the
    /// limit must not count: a replay refused by its nonce costs the replayer nothing and must not cost the key's
    /// owner either, or replaying one captured request would throttle the merchant's fresh ones.
    pub fn refund(&self, key: &str) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get_mut(key) {
            b.tokens = (b.tokens + 1.0).min(self.burst);
        }
    }

    /// Forgets buckets that have refilled completely: they hold no state worth keeping.
    pub fn prune(&self) {
        let now = Instant::now();
        let full_after = Duration::from_secs_f64(self.burst / self.rate);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.retain(|_, b| now.saturating_duration_since(b.last) < full_after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_key() {
        let l = RateLimiter::new(2.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            l.check("a", t0).unwrap();
        }
        let wait = l.check("a", t0).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
        l.check("b", t0).unwrap();
        l.check("a", t0 + Duration::from_millis(500)).unwrap();
        assert!(l.check("a", t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn a_refund_returns_one_token_up_to_the_burst() {
        let l = RateLimiter::new(0.001, 2.0);
        let t0 = Instant::now();
        l.check("a", t0).unwrap();
        l.check("a", t0).unwrap();
        assert!(l.check("a", t0).is_err());
        l.refund("a");
        l.check("a", t0).unwrap();
        assert!(l.check("a", t0).is_err());
        l.refund("a");
        l.refund("a");
        l.refund("a");
        l.check("a", t0).unwrap();
        l.check("a", t0).unwrap();
        assert!(l.check("a", t0).is_err(), "refunds never exceed the burst");
        l.refund("unknown");
    }
}

//! Token buckets, one mechanism for every limit of the server: per AccessKey (buckets only for keys whose
//! signature verified, so the map is bounded by real keys), per client address for requests that do not
//! authenticate and for the device API, and per device transaction.
//!
//! These limiters live in process memory, which is right for the embedded single-process deployment. With several
//! instances behind a load balancer ([`IssuedLimiter`] with `shared`), the limits keyed by what the server issued
//! (AccessKeys, transactions) are token buckets in the database, so they hold across instances: N instances do not
//! allow N times the rate. The per-address limits stay per instance: they are a cost cap against floods, keyed by
//! what an attacker chooses, and a database write per unauthenticated request would be the cost they cap.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A limit keyed by ids this server issued: in memory for one instance, in the store for several.
pub enum IssuedLimiter {
    Local(RateLimiter),
    Shared { prefix: &'static str, rate: f64, burst: f64 },
}

impl IssuedLimiter {
    /// `prefix` names the limit's buckets in the store (`ak:`, `tx:`).
    pub fn new(shared: bool, prefix: &'static str, rate: f64, burst: f64) -> IssuedLimiter {
        if shared {
            IssuedLimiter::Shared { prefix, rate, burst }
        } else {
            IssuedLimiter::Local(RateLimiter::new(rate, burst))
        }
    }

    /// Takes one token for `key`: `Ok(Err(wait))` when refused.
    pub async fn check(
        &self,
        store: &dyn idv_store::Store,
        key: &str,
        now_ms: i64,
    ) -> Result<Result<(), Duration>, idv_store::StoreError> {
        match self {
            IssuedLimiter::Local(l) => Ok(l.check(key.to_owned(), Instant::now())),
            IssuedLimiter::Shared { prefix, rate, burst } => {
                Ok(match store.take_rate_token(&format!("{prefix}{key}"), *rate, *burst, now_ms).await? {
                    None => Ok(()),
                    Some(ms) => Err(Duration::from_millis(ms.max(1) as u64)),
                })
            }
        }
    }

    pub async fn refund(&self, store: &dyn idv_store::Store, key: &str) -> Result<(), idv_store::StoreError> {
        match self {
            IssuedLimiter::Local(l) => {
                l.refund(&key.to_owned());
                Ok(())
            }
            IssuedLimiter::Shared { prefix, burst, .. } => {
                store.refund_rate_token(&format!("{prefix}{key}"), *burst).await
            }
        }
    }

    /// Forgets buckets that are full again (in the store: untouched for longer than a refill takes).
    pub async fn prune(&self, store: &dyn idv_store::Store, now_ms: i64) -> Result<(), idv_store::StoreError> {
        match self {
            IssuedLimiter::Local(l) => {
                l.prune();
                Ok(())
            }
            IssuedLimiter::Shared { prefix, rate, burst } => {
                let refill_ms = (burst / rate * 1000.0).ceil() as i64;
                store.purge_rate_buckets(prefix, now_ms.saturating_sub(refill_ms)).await.map(|_| ())
            }
        }
    }
}

/// Most client addresses an address-keyed limiter tracks at once (a bucket is a few dozen bytes).
pub const MAX_ADDRESSES: usize = 65_536;

pub struct RateLimiter<K = String> {
    rate: f64,
    burst: f64,
    /// Keys tracked at most. When the map is full of buckets that have not refilled, a new key goes unlimited
    /// rather than evicting a bucket an attacker just drained (fail open: a cost cap, not an access control).
    max_keys: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// A limiter whose keys are bounded by their origin (verified keys, issued transactions).
    pub fn new(rate_per_second: f64, burst: f64) -> Self {
        Self::bounded(rate_per_second, burst, usize::MAX)
    }

    /// A limiter for keys an attacker chooses (client addresses), tracking at most `max_keys`.
    pub fn bounded(rate_per_second: f64, burst: f64, max_keys: usize) -> Self {
        RateLimiter { rate: rate_per_second, burst, max_keys, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`. On refusal returns how long until a token is available.
    pub fn check(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= self.max_keys && !buckets.contains_key(&key) {
            self.retain_unfilled(&mut buckets, now);
            if buckets.len() >= self.max_keys {
                return Ok(());
            }
        }
        let b = buckets.entry(key).or_insert(Bucket { tokens: self.burst, last: now });
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

    /// Whether `key` may be served now, taking nothing: the limit for keys charged only for their failures
    /// ([`RateLimiter::charge`]), so that any number of good requests may be in flight at once. A key with no
    /// bucket has never failed (or has refilled) and is admitted without being tracked. On refusal returns how
    /// long until a token is available.
    pub fn admit(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(b) = buckets.get(key) else { return Ok(()) };
        let tokens = (b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * self.rate).min(self.burst);
        if tokens >= 1.0 { Ok(()) } else { Err(Duration::from_secs_f64((1.0 - tokens) / self.rate)) }
    }

    /// Takes one token from `key` after a request it should pay for failed. Requests admitted together may fail
    /// together, so the bucket may go into debt, down to minus one burst: a concurrent flood waits for what it
    /// spent, and a neighbour sharing the address waits at most two bursts' refill.
    pub fn charge(&self, key: K, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= self.max_keys && !buckets.contains_key(&key) {
            self.retain_unfilled(&mut buckets, now);
            if buckets.len() >= self.max_keys {
                return;
            }
        }
        let b = buckets.entry(key).or_insert(Bucket { tokens: self.burst, last: now });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = ((b.tokens + elapsed * self.rate).min(self.burst) - 1.0).max(-self.burst);
        b.last = now;
    }

    /// Gives back the token a request took with [`RateLimiter::check`] when the request turned out to be one the
    /// limit must not count: a replay refused by its nonce costs the replayer nothing and must not cost the key's
    /// owner either (or replaying one captured request would throttle the merchant's fresh ones), and a request
    /// that authenticated is not charged to its address.
    pub fn refund(&self, key: &K) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get_mut(key) {
            b.tokens = (b.tokens + 1.0).min(self.burst);
        }
    }

    /// Forgets buckets that have refilled completely: they hold no state worth keeping.
    pub fn prune(&self) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        self.retain_unfilled(&mut buckets, Instant::now());
    }

    fn retain_unfilled(&self, buckets: &mut HashMap<K, Bucket>, now: Instant) {
        buckets.retain(|_, b| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * self.rate < self.burst);
    }
}

/// The bucket of a client address: an IPv4 address (also in its v4-mapped IPv6 form), or an IPv6 /64, the block
/// one host usually holds.
pub fn client_key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_key() {
        let l: RateLimiter = RateLimiter::new(2.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            l.check("a".to_string(), t0).unwrap();
        }
        let wait = l.check("a".to_string(), t0).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
        l.check("b".to_string(), t0).unwrap();
        l.check("a".to_string(), t0 + Duration::from_millis(500)).unwrap();
        assert!(l.check("a".to_string(), t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn a_refund_returns_one_token_up_to_the_burst() {
        let l: RateLimiter = RateLimiter::new(0.001, 2.0);
        let t0 = Instant::now();
        l.check("a".to_string(), t0).unwrap();
        l.check("a".to_string(), t0).unwrap();
        assert!(l.check("a".to_string(), t0).is_err());
        l.refund(&"a".to_string());
        l.check("a".to_string(), t0).unwrap();
        assert!(l.check("a".to_string(), t0).is_err());
        l.refund(&"a".to_string());
        l.refund(&"a".to_string());
        l.refund(&"a".to_string());
        l.check("a".to_string(), t0).unwrap();
        l.check("a".to_string(), t0).unwrap();
        assert!(l.check("a".to_string(), t0).is_err(), "refunds never exceed the burst");
        l.refund(&"unknown".to_string());
    }

    #[test]
    fn admitting_takes_nothing_failures_are_charged_into_bounded_debt() {
        let l: RateLimiter = RateLimiter::new(1.0, 3.0);
        let t0 = Instant::now();
        let a = "a".to_string();
        // Good requests in flight together: none is charged, so any number is admitted.
        for _ in 0..100 {
            l.admit(&a, t0).unwrap();
        }
        // Six admitted requests that all fail: the bucket goes three into debt, and no further.
        for _ in 0..3 {
            l.charge(a.clone(), t0);
        }
        let wait = l.admit(&a, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        for _ in 0..3 {
            l.charge(a.clone(), t0);
        }
        l.charge(a.clone(), t0);
        let wait = l.admit(&a, t0).unwrap_err();
        assert!(
            wait > Duration::from_millis(3_900) && wait <= Duration::from_secs(4),
            "debt stops at one burst: {wait:?}"
        );
        assert!(l.admit(&a, t0 + Duration::from_millis(3_900)).is_err());
        l.admit(&a, t0 + Duration::from_secs(4)).unwrap();
        l.admit(&"b".to_string(), t0).unwrap();
    }

    #[test]
    fn charging_a_full_map_fails_open() {
        let l: RateLimiter = RateLimiter::bounded(0.001, 1.0, 2);
        let t0 = Instant::now();
        for k in ["a", "b", "c"] {
            l.charge(k.to_string(), t0);
        }
        assert!(l.admit(&"a".to_string(), t0).is_err());
        assert!(l.admit(&"b".to_string(), t0).is_err());
        l.admit(&"c".to_string(), t0).unwrap();
    }

    fn take(l: &RateLimiter<IpAddr>, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        l.check(client_key(addr), now)
    }

    #[test]
    fn drained_address_is_refused_others_and_refunds_are_not() {
        let l = RateLimiter::bounded(1.0, 2.0, MAX_ADDRESSES);
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        take(&l, a, t0).unwrap();
        take(&l, a, t0).unwrap();
        assert!(take(&l, a, t0).is_err());
        take(&l, "192.0.2.2".parse().unwrap(), t0).unwrap();
        l.refund(&client_key(a));
        take(&l, a, t0).unwrap();
        // One /64 is one bucket; the v4-mapped form of an IPv4 address is that address.
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        take(&l, v6a, t0).unwrap();
        take(&l, v6b, t0).unwrap();
        assert!(take(&l, v6a, t0).is_err());
        assert!(take(&l, "::ffff:192.0.2.1".parse().unwrap(), t0).is_err());
        take(&l, a, t0 + Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn a_full_map_fails_open_for_new_keys_only() {
        let l: RateLimiter<u32> = RateLimiter::bounded(0.001, 1.0, 2);
        let t0 = Instant::now();
        l.check(1, t0).unwrap();
        l.check(2, t0).unwrap();
        assert!(l.check(1, t0).is_err(), "a drained bucket is kept, not evicted");
        l.check(3, t0).unwrap();
        l.check(3, t0).unwrap();
    }
}

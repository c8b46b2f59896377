//! Per-client-address token buckets for requests that do not authenticate (unsigned, unknown AccessKey, wrong
//! signature, malformed). Such a request costs reading and parsing up to `max_body_bytes` before the server knows
//! it is worthless, and the per-AccessKey limiter cannot see it (there is no key to charge).
//!
//! A token is taken before the request is read and given back once it authenticates, so signed traffic is never
//! charged, concurrent bad requests from one address cannot all slip past a check made before any of them failed,
//! and an address out of tokens is refused before its body is read.
//!
//! IPv6 addresses are counted per /64, the block one host usually holds. The map is bounded: when it is full of
//! addresses that have not refilled, a new address goes unlimited rather than evicting a bucket an attacker just
//! drained (fail open: this limiter is a cost cap, not an access control).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most addresses tracked at once (a bucket is a few dozen bytes).
const MAX_ADDRESSES: usize = 65_536;

pub struct AddrLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl AddrLimiter {
    pub fn new(rate_per_second: f64, burst: f64) -> Self {
        AddrLimiter { rate: rate_per_second, burst, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `addr`. On refusal returns how long until a token is available.
    pub fn take(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = bucket_key(addr);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= MAX_ADDRESSES {
            self.retain_unfilled(&mut buckets, now);
            if buckets.len() >= MAX_ADDRESSES {
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

    /// Gives back the token of a request that authenticated.
    pub fn refund(&self, addr: IpAddr) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get_mut(&bucket_key(addr)) {
            b.tokens = (b.tokens + 1.0).min(self.burst);
        }
    }

    /// Forgets buckets that have refilled completely: they hold no state worth keeping.
    pub fn prune(&self) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        self.retain_unfilled(&mut buckets, Instant::now());
    }

    fn retain_unfilled(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        buckets.retain(|_, b| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * self.rate < self.burst);
    }
}

fn bucket_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drained_address_is_refused_others_and_refunds_are_not() {
        let l = AddrLimiter::new(1.0, 2.0);
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        l.take(a, t0).unwrap();
        l.take(a, t0).unwrap();
        assert!(l.take(a, t0).is_err());
        l.take("192.0.2.2".parse().unwrap(), t0).unwrap();
        l.refund(a);
        l.take(a, t0).unwrap();
        // One /64 is one bucket; the v4-mapped form of an IPv4 address is that address.
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        l.take(v6a, t0).unwrap();
        l.take(v6b, t0).unwrap();
        assert!(l.take(v6a, t0).is_err());
        assert!(l.take("::ffff:192.0.2.1".parse().unwrap(), t0).is_err());
        l.take(a, t0 + Duration::from_secs(1)).unwrap();
    }
}

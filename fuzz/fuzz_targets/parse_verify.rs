//! Request parsing and signature verification must never panic, whatever arrives on the wire.
//!
//! The input is an HTTP/1-like text so that seeds can be real captured requests (scripts/fuzz.sh writes the six
//! signature vectors that way):
//!
//! ```text
//! METHOD\n
//! /path?query\n
//! Name: value\n      (any number of header lines)
//! \n
//! body bytes
//! ```

#![no_main]

use idv_api::sign::{Limits, RawRequest, parse};
use libfuzzer_sys::fuzz_target;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

/// The vectors' secret, so that mutations of a seed keep reaching the success path of `verify`.
const SECRET: &str = "TestAccessKeySecret000000000000";

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &data[data.len()..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let method = lines.next().unwrap_or("");
    let target = lines.next().unwrap_or("");
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| {
            (
                name.to_owned(),
                value.strip_prefix(' ').unwrap_or(value).to_owned(),
            )
        })
        .collect();
    let req = RawRequest {
        method,
        path,
        raw_query,
        headers: &headers,
        body,
    };

    let tight = Limits {
        max_params: 4,
        max_key_len: 8,
        max_value_len: 32,
    };
    for limits in [Limits::default(), tight] {
        let Ok(signed) = parse(&req, &limits) else {
            continue;
        };
        let _ = signed.string_to_sign();
        let _ = signed.canonical_request();
        let _ = signed.verify(SECRET);
        let _ = signed.verify("");
        for now in [
            signed.timestamp,
            OffsetDateTime::UNIX_EPOCH,
            PrimitiveDateTime::MIN.assume_utc(),
            PrimitiveDateTime::MAX.assume_utc(),
        ] {
            let _ = signed.check_clock(now, Duration::minutes(15));
            let _ = signed.check_clock(now, Duration::ZERO);
        }
    }
});

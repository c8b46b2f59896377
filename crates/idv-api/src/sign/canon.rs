//! Percent-encoding, form decoding and timestamps shared by both signature schemes and by the client signers.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::Limits;
use crate::error::{ApiError, ErrorCode};

/// Everything but RFC 3986 "unreserved". Both schemes canonicalise with exactly this set, whatever the SDK put on
/// the wire (Python sends `+` for space, Java/Go `%20`, some send `~` as `%7E`).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// RFC 3986 percent-encoding of a UTF-8 string, uppercase hex: the `pct` of `docs/wire-facts.md#signatures`.
pub fn pct(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// Encodes one component the way Python's `quote_plus` does (space as `+`, `~` kept): what the official Python
/// SDK puts on the wire for the form body and the query.
pub fn quote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `application/x-www-form-urlencoded` serialisation as Python's `urlencode` produces it (keys in map order).
pub fn form_encode(params: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (k, v) in params {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&quote_plus(k));
        out.push('=');
        out.push_str(&quote_plus(v));
    }
    out
}

/// `k=v` pairs RFC 3986-encoded, sorted by encoded key, joined by `&`: the ACS3 CanonicalQueryString and the V1
/// CanonicalizedQueryString. Keys of a map are unique, so sorting by key alone is a total order.
pub fn canonical_query<'a>(params: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut pairs: Vec<(String, String)> = params.into_iter().map(|(k, v)| (pct(k), pct(v))).collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&k);
        out.push('=');
        out.push_str(&v);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    BadPercent,
    BadUtf8,
}

impl DecodeError {
    fn why(self) -> &'static str {
        match self {
            DecodeError::BadPercent => {
                "it contains an invalid percent-encoding ('%' must be followed by two hex digits)"
            }
            DecodeError::BadUtf8 => "it does not decode to valid UTF-8",
        }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Strict percent-decoding: a stray `%` or a non-UTF-8 result is an error rather than being passed through or
/// replaced, because lenient decoding would let two different wire strings sign as the same parameters.
pub(crate) fn decode(raw: &[u8], plus_is_space: bool) -> Result<String, DecodeError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'%' => {
                let hi = bytes.next().and_then(|&h| hex_val(h));
                let lo = bytes.next().and_then(|&l| hex_val(l));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                    _ => return Err(DecodeError::BadPercent),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            _ => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::BadUtf8)
}

/// A parameter name as it may appear in a message: bounded, since it is attacker-controlled and echoed back.
pub(crate) fn shown(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// Decodes one `application/x-www-form-urlencoded` string (a query or a form body) into `out`, counting every
/// parameter against `limits` through `count` so the cap covers query and body together.
pub(crate) fn parse_form(
    raw: &[u8],
    limits: &Limits,
    count: &mut usize,
    out: &mut BTreeMap<String, String>,
) -> Result<(), ApiError> {
    // Empty pieces come from "a=1&&b=2" or a trailing '&'; every form parser in the SDKs' ecosystems skips them.
    for piece in raw.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        *count += 1;
        if *count > limits.max_params {
            return Err(ApiError::new(
                ErrorCode::RequestTooLarge,
                format!("The request has more than {} parameters.", limits.max_params),
            ));
        }
        let (raw_key, raw_value) = match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (&piece[..eq], &piece[eq + 1..]),
            None => (piece, &piece[piece.len()..]),
        };
        let key = decode(raw_key, true).map_err(|e| {
            ApiError::invalid(&shown(&String::from_utf8_lossy(raw_key)), format!("its name: {}", e.why()))
        })?;
        if key.is_empty() {
            return Err(ApiError::new(ErrorCode::InvalidParameter, "A parameter has an empty name."));
        }
        if key.len() > limits.max_key_len {
            return Err(ApiError::invalid(
                &shown(&key),
                format!("the name is longer than {} bytes", limits.max_key_len),
            ));
        }
        let value = decode(raw_value, true).map_err(|e| ApiError::invalid(&shown(&key), e.why()))?;
        if value.len() > limits.max_value_len {
            return Err(ApiError::new(
                ErrorCode::RequestTooLarge,
                format!("The value of parameter \"{}\" is longer than {} bytes.", shown(&key), limits.max_value_len),
            ));
        }
        if out.contains_key(&key) {
            return Err(duplicate(&key));
        }
        out.insert(key, value);
    }
    Ok(())
}

pub(crate) fn duplicate(key: &str) -> ApiError {
    ApiError::invalid(&shown(key), "it appears more than once in the request (query and form body together)")
}

/// The CanonicalURI of ACS3: the path decoded and re-encoded RFC 3986 with `/` kept, so `%7E` and `~` agree.
pub(crate) fn canonical_path(path: &str) -> Result<String, ApiError> {
    if path.is_empty() {
        return Ok("/".to_owned());
    }
    let decoded = decode(path.as_bytes(), false).map_err(|e| ApiError::invalid("request path", e.why()))?;
    let mut out = String::with_capacity(decoded.len());
    for (i, segment) in decoded.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&pct(segment));
    }
    Ok(out)
}

/// `%Y-%m-%dT%H:%M:%SZ`, the only form the SDKs send (UTC, no fraction, literal `Z`).
pub fn format_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses exactly `YYYY-MM-DDTHH:MM:SSZ`; anything else (offsets, fractions, lowercase `z`) is a format error.
pub(crate) fn parse_timestamp(s: &str, field: &str) -> Result<OffsetDateTime, ApiError> {
    let err = || {
        ApiError::new(
            ErrorCode::InvalidTimeStampFormat,
            format!(
                "The {field} \"{}\" is not a UTC time of the form YYYY-MM-DDThh:mm:ssZ (e.g. 2025-01-02T03:04:05Z).",
                shown(s)
            ),
        )
    };
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return Err(err());
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b.get(from..to)?.iter().try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19))
    else {
        return Err(err());
    };
    let month = u8::try_from(month).ok().and_then(|m| Month::try_from(m).ok()).ok_or_else(err)?;
    let small = |v: u32| u8::try_from(v).map_err(|_| err());
    let date =
        Date::from_calendar_date(i32::try_from(year).map_err(|_| err())?, month, small(day)?).map_err(|_| err())?;
    let time = Time::from_hms(small(hour)?, small(minute)?, small(second)?).map_err(|_| err())?;
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_is_strict() {
        assert_eq!(decode(b"a+b%20c%2B", true), Ok("a b c+".to_owned()));
        assert_eq!(decode(b"a+b", false), Ok("a+b".to_owned()));
        assert_eq!(decode(b"%C3%a4", true), Ok("ä".to_owned()));
        assert_eq!(decode(b"%", true), Err(DecodeError::BadPercent));
        assert_eq!(decode(b"%4", true), Err(DecodeError::BadPercent));
        assert_eq!(decode(b"%G1", true), Err(DecodeError::BadPercent));
        assert_eq!(decode(b"%C3", true), Err(DecodeError::BadUtf8));
    }

    #[test]
    fn encodings() {
        assert_eq!(pct("a b*~+/ä"), "a%20b%2A~%2B%2F%C3%A4");
        assert_eq!(quote_plus("a b*~+/ä"), "a+b%2A~%2B%2F%C3%A4");
        assert_eq!(canonical_path("/").unwrap(), "/");
        assert_eq!(canonical_path("").unwrap(), "/");
        assert_eq!(canonical_path("/a%7Eb/c d").unwrap(), "/a~b/c%20d");
    }

    #[test]
    fn timestamps() {
        let t = parse_timestamp("2025-01-02T03:04:05Z", "x").unwrap();
        assert_eq!(format_timestamp(t), "2025-01-02T03:04:05Z");
        for bad in [
            "2025-01-02T03:04:05",
            "2025-01-02T03:04:05z",
            "2025-01-02 03:04:05Z",
            "2025-13-02T03:04:05Z",
            "2025-02-30T03:04:05Z",
            "2025-01-02T24:04:05Z",
            "2025-01-02T03:04:05.000Z",
            "+025-01-02T03:04:05Z",
            "2025-01-02T03:04:0éZ",
            "",
        ] {
            let e = parse_timestamp(bad, "x").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidTimeStampFormat, "{bad}");
        }
    }

    #[test]
    fn shown_truncates_on_char_boundary() {
        let long = "ä".repeat(100);
        assert_eq!(shown(&long).chars().count(), 65);
        assert_eq!(shown("abc"), "abc");
    }
}

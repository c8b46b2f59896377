//! RPC signature V1, HMAC-SHA1 (`docs/wire-facts.md#rpc-v1-hmac-sha1`): tea-openapi with
//! `signature_algorithm='v2'` and the legacy aliyun-python-sdk-core.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use time::OffsetDateTime;

use super::canon::{self, pct, shown};
use super::{RPC_PROTOCOL_PARAMS, Scheme, SignedHttpRequest, SignedRequest};
use crate::error::{ApiError, ErrorCode};

/// V1 keys the HMAC with the secret followed by `&` (the empty "token secret" of its OAuth 1.0 ancestry).
pub(crate) fn hmac_sha1_v1(secret: &str, msg: &[u8]) -> Option<Vec<u8>> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).ok()?;
    mac.update(msg);
    Some(mac.finalize().into_bytes().to_vec())
}

/// `METHOD&%2F&pct(CQS)` over every parameter but `Signature`. The path is always `/` in V1.
fn string_to_sign(method: &str, signed: &BTreeMap<String, String>) -> String {
    let cqs = canon::canonical_query(signed.iter().filter(|(k, _)| k.as_str() != "Signature"));
    format!("{method}&%2F&{}", pct(&cqs))
}

/// Feeds the V1 string to sign, `METHOD&%2F&pct(CQS)`, to `sink` in pieces of at most a few KiB instead of
/// building it: every value is percent-encoded twice, so the string can be up to 9 times a (12 MiB) body, and
/// building it (with its intermediate copies) cost ~120 MB per request before any key was known.
/// `params` must not contain `Signature`; the output is exactly [`string_to_sign`]'s.
pub(crate) fn feed_string_to_sign<'p>(
    method: &str,
    params: impl IntoIterator<Item = (&'p String, &'p String)>,
    sink: &mut dyn FnMut(&[u8]),
) {
    // Sorted by the encoded key, as `canon::canonical_query` sorts; keys are short (`Limits::max_key_len`).
    let mut pairs: Vec<(String, &String)> = params.into_iter().map(|(k, v)| (pct(k), v)).collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut feed = Feed { buf: Vec::with_capacity(FEED_CHUNK), sink };
    feed.push(method.as_bytes());
    feed.push(b"&%2F&");
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            feed.push(b"%26"); // pct("&")
        }
        feed.pct(key.as_bytes()); // `key` is encoded once already
        feed.push(b"%3D"); // pct("=")
        feed.pct_twice(value.as_bytes());
    }
    feed.flush();
}

const FEED_CHUNK: usize = 8 * 1024;
const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

struct Feed<'s> {
    buf: Vec<u8>,
    sink: &'s mut dyn FnMut(&[u8]),
}

impl Feed<'_> {
    fn push(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > FEED_CHUNK {
            self.flush();
        }
        self.buf.extend_from_slice(bytes);
    }

    /// `canon::pct` byte by byte (RFC 3986 unreserved bytes stay, any other becomes `%XY`).
    fn pct(&mut self, s: &[u8]) {
        for &b in s {
            if is_unreserved(b) {
                self.push(&[b]);
            } else {
                self.push(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
    }

    /// `pct(pct(s))` byte by byte: an unreserved byte stays, any other becomes `%XY` and then `%25XY`.
    fn pct_twice(&mut self, s: &[u8]) {
        for &b in s {
            if is_unreserved(b) {
                self.push(&[b]);
            } else {
                self.push(&[b'%', b'2', b'5', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            (self.sink)(&self.buf);
            self.buf.clear();
        }
    }
}

/// HMAC-SHA1 over the V1 string to sign of `params`, streamed (see [`feed_string_to_sign`]).
pub(crate) fn streamed_hmac_sha1_v1<'p>(
    secret: &str,
    method: &str,
    params: impl IntoIterator<Item = (&'p String, &'p String)>,
) -> Option<Vec<u8>> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).ok()?;
    feed_string_to_sign(method, params, &mut |chunk| mac.update(chunk));
    Some(mac.finalize().into_bytes().to_vec())
}

pub(crate) fn parse(method: &str, mut params: BTreeMap<String, String>) -> Result<SignedRequest, ApiError> {
    const REQUIRED: &[&str] = &[
        "AccessKeyId",
        "Action",
        "Version",
        "Timestamp",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Signature",
    ];
    for name in REQUIRED {
        if params.get(*name).is_none_or(String::is_empty) {
            return Err(ApiError::new(
                ErrorCode::IncompleteSignature,
                format!("The parameter {name} required by the V1 (HMAC-SHA1) signature is missing or empty."),
            ));
        }
    }
    let get = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
    if get("SignatureMethod") != "HMAC-SHA1" {
        return Err(ApiError::new(
            ErrorCode::InvalidSignatureMethod,
            format!("SignatureMethod \"{}\" is not supported; use HMAC-SHA1.", shown(get("SignatureMethod"))),
        ));
    }
    if get("SignatureVersion") != "1.0" {
        return Err(ApiError::new(
            ErrorCode::InvalidSignatureMethod,
            format!("SignatureVersion \"{}\" is not supported; use 1.0.", shown(get("SignatureVersion"))),
        ));
    }
    let timestamp = canon::parse_timestamp(get("Timestamp"), "Timestamp parameter")?;
    // Only the start of the string to sign is kept, for the mismatch message; verifying streams it again.
    let mut string_to_sign = String::new();
    let mut string_to_sign_len = 0;
    feed_string_to_sign(method, params.iter().filter(|(k, _)| k.as_str() != "Signature"), &mut |chunk| {
        string_to_sign_len += chunk.len();
        let room = super::MAX_ECHO.saturating_sub(string_to_sign.len()).min(chunk.len());
        // The output is percent-encoded, so ASCII: byte to char is exact.
        string_to_sign.extend(chunk[..room].iter().map(|&b| char::from(b)));
    });
    // A client that forgot to encode the signature sends base64's '+' raw, which form-decoding turned into a space;
    // base64 never contains a space, so mapping it back cannot make a wrong signature right.
    let provided_signature = BASE64.decode(get("Signature").replace(' ', "+")).unwrap_or_default();

    let mut take = |name: &str| params.remove(name).unwrap_or_default();
    let access_key_id = take("AccessKeyId");
    let action = take("Action");
    let version = take("Version");
    let nonce = take("SignatureNonce");
    let mut protocol = BTreeMap::from([
        ("AccessKeyId".to_owned(), access_key_id.clone()),
        ("Action".to_owned(), action.clone()),
        ("Version".to_owned(), version.clone()),
        ("SignatureNonce".to_owned(), nonce.clone()),
    ]);
    for name in RPC_PROTOCOL_PARAMS {
        if let Some(value) = params.remove(*name)
            && *name != "Signature"
        {
            protocol.insert((*name).to_owned(), value);
        }
    }
    Ok(SignedRequest {
        scheme: Scheme::RpcHmacSha1,
        action,
        version,
        access_key_id,
        nonce,
        timestamp,
        params,
        string_to_sign,
        string_to_sign_len,
        canonical_request: None,
        provided_signature,
        v1: Some(super::V1Signed { method: method.to_owned(), protocol }),
    })
}

/// Signs a V1 request with every parameter in the query, as aliyun-python-sdk-core does for both GET and POST.
/// Protocol parameters in `params` are replaced by the signer's own.
#[allow(clippy::too_many_arguments)] // the shape the merchant client, load generator and tests share
pub fn sign_rpc_v1(
    method: &str,
    action: &str,
    version: &str,
    params: &BTreeMap<String, String>,
    access_key_id: &str,
    access_key_secret: &str,
    timestamp: OffsetDateTime,
    nonce: &str,
) -> SignedHttpRequest {
    sign_rpc_v1_form(
        method,
        action,
        version,
        params,
        &BTreeMap::new(),
        access_key_id,
        access_key_secret,
        timestamp,
        nonce,
    )
}

/// Like [`sign_rpc_v1`], with `form_body` sent as an `application/x-www-form-urlencoded` body (signed too, as
/// tea-openapi does for large parameters such as `FacePictureBase64`). Keys of `form_body` that are also in `query`
/// or are protocol parameters are dropped from the body: a parameter may appear only once in a request.
#[allow(clippy::too_many_arguments)] // the shape the merchant client, load generator and tests share
pub fn sign_rpc_v1_form(
    method: &str,
    action: &str,
    version: &str,
    query: &BTreeMap<String, String>,
    form_body: &BTreeMap<String, String>,
    access_key_id: &str,
    access_key_secret: &str,
    timestamp: OffsetDateTime,
    nonce: &str,
) -> SignedHttpRequest {
    let mut on_query = query.clone();
    for name in RPC_PROTOCOL_PARAMS {
        on_query.remove(*name);
    }
    for (name, value) in [
        ("AccessKeyId", access_key_id),
        ("Action", action),
        ("Version", version),
        ("Format", "JSON"),
        ("Timestamp", &canon::format_timestamp(timestamp)),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce),
    ] {
        on_query.insert(name.to_owned(), value.to_owned());
    }
    let in_body: BTreeMap<String, String> = form_body
        .iter()
        .filter(|(k, _)| !on_query.contains_key(*k) && !RPC_PROTOCOL_PARAMS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let mut signed = on_query.clone();
    signed.extend(in_body.iter().map(|(k, v)| (k.clone(), v.clone())));
    let signature = hmac_sha1_v1(access_key_secret, string_to_sign(method, &signed).as_bytes())
        .map(|s| BASE64.encode(s))
        .unwrap_or_default();

    let mut raw_query = canon::canonical_query(&on_query);
    raw_query.push_str("&Signature=");
    raw_query.push_str(&pct(&signature));
    let body = canon::form_encode(&in_body).into_bytes();
    let headers = if body.is_empty() {
        Vec::new()
    } else {
        vec![("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned())]
    };
    SignedHttpRequest { raw_query, headers, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(method: &str, params: &BTreeMap<String, String>) -> String {
        let mut out = Vec::new();
        feed_string_to_sign(method, params.iter().filter(|(k, _)| k.as_str() != "Signature"), &mut |c| {
            out.extend_from_slice(c)
        });
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn streamed_string_to_sign_is_the_built_one() {
        let long = "é&=+ %~*".repeat(5000); // crosses many feed chunks
        let cases: Vec<BTreeMap<String, String>> = vec![
            BTreeMap::new(),
            BTreeMap::from([("Signature".to_owned(), "x".to_owned())]),
            BTreeMap::from([
                ("b".to_owned(), "2".to_owned()),
                ("A b".to_owned(), long.clone()),
                ("a~".to_owned(), String::new()),
                ("Ä".to_owned(), "ü/".to_owned()),
                ("Signature".to_owned(), "ignored".to_owned()),
            ]),
        ];
        for params in cases {
            for method in ["GET", "POST"] {
                assert_eq!(streamed(method, &params), string_to_sign(method, &params));
            }
        }
    }
}

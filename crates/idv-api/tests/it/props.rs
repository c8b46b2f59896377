//! Properties of the client signers against the verifier: whatever the parameters and however the query is
//! encoded on the wire, a signed request verifies and its parameters round-trip; a single changed byte never
//! verifies with changed content.

use std::collections::BTreeMap;

use idv_api::sign::canon::{form_encode, quote_plus};
use idv_api::sign::{
    Limits, RPC_PROTOCOL_PARAMS, SignedHttpRequest, SignedRequest, parse, sign_acs3, sign_rpc_v1, sign_rpc_v1_form,
};
use proptest::prelude::*;
use time::OffsetDateTime;

use crate::common::AK_ID;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, ..ProptestConfig::default() }
}

/// Names a real request cannot use as business parameters: V1 protocol names, and the STS markers that are refused.
fn usable_key(k: &str) -> bool {
    !RPC_PROTOCOL_PARAMS.contains(&k) && k != "SecurityToken"
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        // The characters encodings disagree on.
        proptest::string::string_regex(&format!("[ +*~%&=/?#;,:@!'()$a-zA-Z0-9ä€😀_.-]{{0,{max}}}")).unwrap(),
        // Anything at all, control characters and newlines included.
        proptest::string::string_regex(&format!("(?s).{{0,{max}}}")).unwrap(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    text(16).prop_filter("non-empty business name", |k| !k.is_empty() && usable_key(k))
}

fn params(max: usize) -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(key(), text(24), 0..max)
}

/// Query and body parameters with disjoint names (a name may appear only once per request).
fn query_and_body() -> impl Strategy<Value = (BTreeMap<String, String>, BTreeMap<String, String>)> {
    (params(8), params(5)).prop_map(|(query, mut body)| {
        body.retain(|k, _| !query.contains_key(k));
        (query, body)
    })
}

fn instant() -> impl Strategy<Value = OffsetDateTime> {
    (946_684_800i64..4_102_444_800).prop_map(|s| OffsetDateTime::from_unix_timestamp(s).unwrap())
}

#[derive(Debug, Clone)]
struct Meta {
    get: bool,
    host: String,
    action: String,
    version: String,
    nonce: String,
    at: OffsetDateTime,
    secret: String,
}

fn meta() -> impl Strategy<Value = Meta> {
    (
        any::<bool>(),
        "[a-z0-9.-]{1,20}(:[0-9]{1,5})?",
        "[A-Za-z]{1,24}",
        "20[0-9]{2}-[0-9]{2}-[0-9]{2}",
        "[0-9a-f]{32}",
        instant(),
        "[!-~]{1,40}",
    )
        .prop_map(|(get, host, action, version, nonce, at, secret)| Meta {
            get,
            host,
            action,
            version,
            nonce,
            at,
            secret,
        })
}

impl Meta {
    fn method(&self) -> &'static str {
        if self.get { "GET" } else { "POST" }
    }
}

fn acs3(m: &Meta, query: &BTreeMap<String, String>, body: &BTreeMap<String, String>) -> SignedHttpRequest {
    sign_acs3(m.method(), &m.host, &m.action, &m.version, query, body, AK_ID, &m.secret, m.at, &m.nonce)
}

fn merged(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    a.iter().chain(b).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn parse_and_verify(req: &SignedHttpRequest, method: &str, secret: &str) -> Result<SignedRequest, idv_api::ApiError> {
    let signed = parse(&req.as_raw(method), &Limits::default())?;
    signed.verify(secret)?;
    Ok(signed)
}

fn assert_same(signed: &SignedRequest, m: &Meta, params: &BTreeMap<String, String>) {
    assert_eq!(&signed.params, params);
    assert_eq!(signed.action, m.action);
    assert_eq!(signed.version, m.version);
    assert_eq!(signed.nonce, m.nonce);
    assert_eq!(signed.timestamp, m.at);
    assert_eq!(signed.access_key_id, AK_ID);
}

/// The query re-encoded the way other clients put it on the wire; the signature must not depend on it.
#[derive(Debug, Clone, Copy)]
enum WireStyle {
    /// Python `urlencode` (`quote_plus`): space as `+`, in the map's (unencoded) key order.
    PythonQuotePlus,
    /// Every byte but alphanumerics as `%xx`, lowercase hex, `~` as `%7e`, reversed order.
    EncodeEverythingLowercase,
}

fn reencode(params: &BTreeMap<String, String>, style: WireStyle) -> String {
    match style {
        WireStyle::PythonQuotePlus => form_encode(params),
        WireStyle::EncodeEverythingLowercase => {
            let enc = |s: &str| {
                s.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02x}") })
                    .collect::<String>()
            };
            params.iter().rev().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn acs3_round_trip((query, body) in query_and_body(), m in meta()) {
        let req = acs3(&m, &query, &body);
        let signed = parse_and_verify(&req, m.method(), &m.secret).unwrap_or_else(|e| panic!("{e}"));
        assert_same(&signed, &m, &merged(&query, &body));
        let err = signed.verify(&format!("{}x", m.secret)).unwrap_err();
        prop_assert_eq!(err.code, idv_api::ErrorCode::SignatureDoesNotMatch);
    }

    #[test]
    fn acs3_round_trip_whatever_the_wire_encoding(
        (query, body) in query_and_body(),
        m in meta(),
        python in any::<bool>(),
    ) {
        let mut req = acs3(&m, &query, &body);
        let style = if python { WireStyle::PythonQuotePlus } else { WireStyle::EncodeEverythingLowercase };
        req.raw_query = reencode(&query, style);
        let signed = parse_and_verify(&req, m.method(), &m.secret).unwrap_or_else(|e| panic!("{style:?}: {e}"));
        assert_same(&signed, &m, &merged(&query, &body));
    }

    #[test]
    fn rpc_round_trip(query in params(8), m in meta()) {
        let req = sign_rpc_v1(m.method(), &m.action, &m.version, &query, AK_ID, &m.secret, m.at, &m.nonce);
        let signed = parse_and_verify(&req, m.method(), &m.secret).unwrap_or_else(|e| panic!("{e}"));
        assert_same(&signed, &m, &query);

        // The legacy SDK's wire form: quote_plus instead of %20, Signature last.
        let mut legacy = req.clone();
        let mut wire = BTreeMap::new();
        for piece in req.raw_query.split('&') {
            let (k, v) = piece.split_once('=').unwrap();
            wire.insert(pct_decode(k), pct_decode(v));
        }
        let signature = wire.remove("Signature").unwrap();
        legacy.raw_query = format!("{}&Signature={}", form_encode(&wire), quote_plus(&signature));
        let signed = parse_and_verify(&legacy, m.method(), &m.secret).unwrap_or_else(|e| panic!("{e}"));
        assert_same(&signed, &m, &query);
    }

    #[test]
    fn rpc_form_round_trip((query, body) in query_and_body(), m in meta()) {
        let req = sign_rpc_v1_form(m.method(), &m.action, &m.version, &query, &body, AK_ID, &m.secret, m.at, &m.nonce);
        let signed = parse_and_verify(&req, m.method(), &m.secret).unwrap_or_else(|e| panic!("{e}"));
        assert_same(&signed, &m, &merged(&query, &body));
    }

    #[test]
    fn acs3_single_byte_change_never_verifies_changed_content(
        (query, body) in query_and_body(),
        m in meta(),
        target in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
        delta in 1u8..=255,
    ) {
        let req = acs3(&m, &query, &body);
        // Wire query, body, and the value of every signed header (all but Authorization).
        let signed_headers = req.headers.len() - 1;
        let mut tampered = req.clone();
        let changed = match target.index(2 + signed_headers) {
            0 => tamper_str(&mut tampered.raw_query, position, delta),
            1 => tamper_bytes(&mut tampered.body, position, delta),
            h => tamper_str(&mut tampered.headers[h - 2].1, position, delta),
        };
        prop_assume!(changed);
        check_tampered(&tampered, &m, &merged(&query, &body))?;
    }

    #[test]
    fn rpc_single_byte_change_never_verifies_changed_content(
        (query, body) in query_and_body(),
        m in meta(),
        in_body in any::<bool>(),
        position in any::<prop::sample::Index>(),
        delta in 1u8..=255,
    ) {
        let req = sign_rpc_v1_form(m.method(), &m.action, &m.version, &query, &body, AK_ID, &m.secret, m.at, &m.nonce);
        let mut tampered = req.clone();
        let changed = if in_body && !tampered.body.is_empty() {
            tamper_bytes(&mut tampered.body, position, delta)
        } else {
            tamper_str(&mut tampered.raw_query, position, delta)
        };
        prop_assume!(changed);
        check_tampered(&tampered, &m, &merged(&query, &body))?;
    }
}

fn check_tampered(
    tampered: &SignedHttpRequest,
    m: &Meta,
    params: &BTreeMap<String, String>,
) -> Result<(), TestCaseError> {
    if let Ok(signed) = parse_and_verify(tampered, m.method(), &m.secret) {
        // Only a change that means the same thing (e.g. `%2a` for `%2A`) may still verify.
        prop_assert_eq!(&signed.params, params);
        prop_assert_eq!(&signed.action, &m.action);
        prop_assert_eq!(&signed.version, &m.version);
        prop_assert_eq!(&signed.nonce, &m.nonce);
        prop_assert_eq!(signed.timestamp, m.at);
    }
    Ok(())
}

/// Adds `delta` to one byte; false when there is no byte or the result is not UTF-8 (such a request cannot even
/// be represented as the server's `&str`, so it cannot verify).
fn tamper_str(s: &mut String, position: prop::sample::Index, delta: u8) -> bool {
    let mut bytes = std::mem::take(s).into_bytes();
    let ok = tamper_bytes(&mut bytes, position, delta);
    match String::from_utf8(bytes) {
        Ok(changed) => {
            *s = changed;
            ok
        }
        Err(_) => false,
    }
}

fn tamper_bytes(bytes: &mut [u8], position: prop::sample::Index, delta: u8) -> bool {
    if bytes.is_empty() {
        return false;
    }
    let i = position.index(bytes.len());
    bytes[i] = bytes[i].wrapping_add(delta);
    true
}

fn pct_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned()
}

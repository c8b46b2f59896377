//! Each kind of bad request gets its own error code, and the message names what is wrong.

use std::collections::BTreeMap;

use idv_api::sign::{Limits, parse, sign_acs3, sign_rpc_v1};
use idv_api::{ApiError, ErrorCode};
use time::macros::datetime;

use crate::common::{AK_ID, AK_SECRET, Req};
use crate::vectors::by_name;

/// The error of parsing and verifying with the right secret; panics if the request is accepted.
fn error(req: &Req) -> ApiError {
    error_with(req, &Limits::default())
}

fn error_with(req: &Req, limits: &Limits) -> ApiError {
    match parse(&req.raw(), limits) {
        Err(e) => e,
        Ok(signed) => signed.verify(AK_SECRET).expect_err("request unexpectedly verified"),
    }
}

fn accepted(req: &Req) -> idv_api::sign::SignedRequest {
    let signed = parse(&req.raw(), &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    signed.verify(AK_SECRET).unwrap_or_else(|e| panic!("{e}"));
    signed
}

fn acs3_with_body() -> Req {
    by_name("ACS3 POST Initialize", 0).req()
}

fn acs3_no_body() -> Req {
    by_name("ACS3 POST CheckResult", 0).req()
}

fn rpc() -> Req {
    by_name("RPC-V1 POST CheckResult", 0).req()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A freshly signed ACS3 request (our signer), for cases the captured vectors do not cover.
fn signed_acs3(query: &[(&str, &str)], body: &[(&str, &str)]) -> Req {
    let s = sign_acs3(
        "POST",
        "idv.example:8080",
        "CheckResult",
        "2022-08-09",
        &map(query),
        &map(body),
        AK_ID,
        AK_SECRET,
        datetime!(2025-06-01 12:00:00 UTC),
        "6e0d8a6c1f8b4b1f9a3d2c1b0a998877",
    );
    Req { method: "POST".into(), path: "/".into(), query: s.raw_query, headers: s.headers, body: s.body }
}

fn signed_rpc(params: &[(&str, &str)]) -> Req {
    let s = sign_rpc_v1(
        "POST",
        "CheckResult",
        "2022-08-09",
        &map(params),
        AK_ID,
        AK_SECRET,
        datetime!(2025-06-01 12:00:00 UTC),
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    );
    Req { method: "POST".into(), path: "/".into(), query: s.raw_query, headers: s.headers, body: s.body }
}

#[test]
fn wrong_secret() {
    for req in [acs3_with_body(), rpc()] {
        let signed = parse(&req.raw(), &Limits::default()).unwrap();
        let err = signed.verify("not-the-secret").unwrap_err();
        assert_eq!(err.code, ErrorCode::SignatureDoesNotMatch);
        assert!(err.message.contains("string to sign"), "{}", err.message);
        assert!(err.message.contains(signed.string_to_sign()));
    }
}

#[test]
fn flipped_byte_in_body() {
    let mut req = acs3_with_body();
    req.body[20] ^= 0x01;
    let err = error(&req);
    assert_eq!(err.code, ErrorCode::SignatureDoesNotMatch);
    assert!(err.message.contains("body hash does not match"), "{}", err.message);

    let mut req = by_name("RPC-V1 POST Initialize", 0).req();
    req.body[20] ^= 0x01;
    assert_eq!(error(&req).code, ErrorCode::SignatureDoesNotMatch);
}

#[test]
fn flipped_byte_in_query() {
    let mut req = acs3_no_body();
    req.query = req.query.replace("IsReturnImage=Y", "IsReturnImage=N");
    assert_eq!(error(&req).code, ErrorCode::SignatureDoesNotMatch);

    let mut req = rpc();
    req.query = req.query.replace("MerchantBizId=e1d2c3b4a5f6", "MerchantBizId=e1d2c3b4a5f7");
    assert_eq!(error(&req).code, ErrorCode::SignatureDoesNotMatch);
}

#[test]
fn flipped_byte_in_signed_header() {
    for (name, value) in [
        ("user-agent", "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.4 TeaDSL/2"),
        ("host", "127.0.0.1:18082"),
        ("x-acs-action", "CheckResulu"),
        ("x-acs-version", "2022-08-08"),
        ("x-acs-signature-nonce", "0b1c2d3e4f5a69788796a5b4c3d2e1f1"),
        ("x-acs-date", "2025-01-02T03:04:06Z"),
        ("accept", "application/jsoN"),
    ] {
        let mut req = acs3_no_body();
        *req.header_mut(name) = value.to_owned();
        assert_eq!(error(&req).code, ErrorCode::SignatureDoesNotMatch, "{name}");
    }
    // Unsigned headers are not covered and may change (python-requests adds Accept-Encoding after signing).
    let mut req = acs3_no_body();
    *req.header_mut("Accept-Encoding") = "gzip".into();
    req.headers.push(("x-forwarded-for".into(), "10.0.0.1".into()));
    accepted(&req);
}

#[test]
fn missing_signed_header() {
    let mut req = acs3_no_body();
    req.remove_header("user-agent");
    let err = error(&req);
    assert_eq!(err.code, ErrorCode::IncompleteSignature);
    assert!(err.message.contains("user-agent"), "{}", err.message);
}

#[test]
fn required_header_not_signed() {
    for required in
        ["host", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256", "x-acs-action", "x-acs-version"]
    {
        let mut req = acs3_no_body();
        let auth = req.header_mut("authorization");
        *auth = auth.replace(&format!("{required};"), "").replace(&format!(";{required},"), ",");
        let err = error(&req);
        assert_eq!(err.code, ErrorCode::IncompleteSignature, "{required}");
        assert!(err.message.contains(required), "{required}: {}", err.message);
    }
}

#[test]
fn body_hash_mismatch() {
    let mut req = acs3_no_body();
    *req.header_mut("x-acs-content-sha256") = "f3168f234b21401d664f2afc74365c2826b7f9554535c5ccaf5fa58474605540".into();
    let err = error(&req);
    assert_eq!(err.code, ErrorCode::SignatureDoesNotMatch);
    assert!(err.message.contains("body hash does not match"), "{}", err.message);
}

#[test]
fn other_acs3_algorithms() {
    for algorithm in ["ACS3-HMAC-SM3", "ACS3-RSA-SHA256"] {
        let mut req = acs3_no_body();
        let auth = req.header_mut("authorization");
        *auth = auth.replace("ACS3-HMAC-SHA256", algorithm);
        let err = error(&req);
        assert_eq!(err.code, ErrorCode::InvalidSignatureMethod, "{algorithm}");
        assert!(err.message.contains(algorithm), "{}", err.message);
    }
}

#[test]
fn rpc_signature_method_and_version() {
    let mut req = rpc();
    req.query = req.query.replace("SignatureMethod=HMAC-SHA1", "SignatureMethod=HMAC-SHA256");
    assert_eq!(error(&req).code, ErrorCode::InvalidSignatureMethod);
    let mut req = rpc();
    req.query = req.query.replace("SignatureVersion=1.0", "SignatureVersion=2.0");
    assert_eq!(error(&req).code, ErrorCode::InvalidSignatureMethod);
}

#[test]
fn rpc_missing_protocol_params() {
    for name in
        ["AccessKeyId", "Action", "Version", "Timestamp", "SignatureMethod", "SignatureVersion", "SignatureNonce"]
    {
        let mut req = rpc();
        req.query = req.query.split('&').filter(|p| !p.starts_with(&format!("{name}="))).collect::<Vec<_>>().join("&");
        let err = error(&req);
        assert_eq!(err.code, ErrorCode::IncompleteSignature, "{name}");
        assert!(err.message.contains(name), "{}", err.message);
    }
    // Format is optional: dropping it only breaks the signature.
    let mut req = rpc();
    req.query = req.query.replace("Format=json&", "");
    assert_eq!(error(&req).code, ErrorCode::SignatureDoesNotMatch);
}

#[test]
fn unsigned_request() {
    let mut req = rpc();
    req.query = req.query.split('&').filter(|p| !p.starts_with("Signature=")).collect::<Vec<_>>().join("&");
    assert_eq!(error(&req).code, ErrorCode::IncompleteSignature);

    let mut req = acs3_no_body();
    req.remove_header("authorization");
    assert_eq!(error(&req).code, ErrorCode::IncompleteSignature);

    // A foreign Authorization scheme is not ours; without a V1 Signature the request is unsigned.
    let mut req = acs3_no_body();
    *req.header_mut("authorization") = "Basic dXNlcjpwYXNz".into();
    assert_eq!(error(&req).code, ErrorCode::IncompleteSignature);

    for broken in [
        "ACS3-HMAC-SHA256",
        "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=00",
        "ACS3-HMAC-SHA256 Credential=AK,Signature=00",
        "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host",
        "ACS3-HMAC-SHA256 Credential=AK,Credential=AK,SignedHeaders=host,Signature=00",
        "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;;x-acs-date,Signature=00",
        "ACS3-HMAC-SHA256 Credential=AK,garbage,Signature=00",
    ] {
        let mut req = acs3_no_body();
        *req.header_mut("authorization") = broken.into();
        assert_eq!(error(&req).code, ErrorCode::IncompleteSignature, "{broken}");
    }
}

#[test]
fn security_tokens_are_refused() {
    for header in ["x-acs-security-token", "X-Acs-Bearer-Token"] {
        let mut req = acs3_no_body();
        req.headers.push((header.into(), "token".into()));
        let err = error(&req);
        assert_eq!(err.code, ErrorCode::SecurityTokenNotSupported, "{header}");
        assert!(err.message.contains("sign with an AccessKey"), "{}", err.message);
    }
    for extra in ["SecurityToken=abc", "SignatureType=BEARERTOKEN"] {
        let mut req = rpc();
        req.query = format!("{}&{extra}", req.query);
        assert_eq!(error(&req).code, ErrorCode::SecurityTokenNotSupported, "{extra}");
    }
}

#[test]
fn duplicate_params() {
    let mut req = acs3_no_body();
    req.query.push_str("&IsReturnImage=N");
    let err = error(&req);
    assert_eq!(err.code, ErrorCode::InvalidParameter);
    assert!(err.message.contains("IsReturnImage"), "{}", err.message);

    let mut req = acs3_with_body();
    req.body.extend_from_slice(b"&FacePictureBase64=x");
    let err = error(&req);
    assert_eq!(err.code, ErrorCode::InvalidParameter);
    assert!(err.message.contains("FacePictureBase64"), "{}", err.message);

    // Across query and body; the duplicate is detected before the body hash matters.
    let mut req = acs3_with_body();
    req.query.push_str("&FacePictureBase64=x");
    let err = error(&req);
    assert_eq!(err.code, ErrorCode::InvalidParameter);
    assert!(err.message.contains("FacePictureBase64"), "{}", err.message);

    // The same name spelled two ways on the wire is still the same name.
    let mut req = rpc();
    req.query.push_str("&Merchant%42izId=x");
    assert_eq!(error(&req).code, ErrorCode::InvalidParameter);
}

#[test]
fn bad_encoding() {
    for bad in ["&Bad=%", "&Bad=%4", "&Bad=%zz", "&Bad=%C3", "&B%FFd=1", "&=novalue"] {
        let mut req = acs3_no_body();
        req.query.push_str(bad);
        assert_eq!(error(&req).code, ErrorCode::InvalidParameter, "{bad}");
    }
    let mut req = acs3_with_body();
    req.body = b"FacePictureBase64=%FF".to_vec();
    assert_eq!(error(&req).code, ErrorCode::InvalidParameter);
}

#[test]
fn limits() {
    let limits = Limits { max_params: 4, max_key_len: 8, max_value_len: 16 };
    let mut req = acs3_no_body();
    assert_eq!(error_with(&req, &limits).code, ErrorCode::InvalidParameter, "ExtraImageControlList is a long key");
    req.query = "a=1&b=2&c=3&d=4".into();
    assert_eq!(error_with(&req, &limits).code, ErrorCode::SignatureDoesNotMatch, "4 parameters are allowed");
    req.query = "a=1&b=2&c=3&d=4&e=5".into();
    assert_eq!(error_with(&req, &limits).code, ErrorCode::RequestTooLarge);
    req.query = "a=0123456789abcdefg".into();
    let err = error_with(&req, &limits);
    assert_eq!(err.code, ErrorCode::RequestTooLarge);
    assert!(err.message.contains("\"a\""), "{}", err.message);
    // The count covers the body too.
    let mut req = acs3_with_body();
    req.query = "a=1&b=2&c=3&d=4".into();
    assert_eq!(error_with(&req, &limits).code, ErrorCode::RequestTooLarge);

    let d = Limits::default();
    assert_eq!((d.max_params, d.max_key_len, d.max_value_len), (256, 128, 16 << 20));
}

#[test]
fn timestamp_format() {
    let mut req = acs3_no_body();
    *req.header_mut("x-acs-date") = "2025-01-02 03:04:05".into();
    assert_eq!(error(&req).code, ErrorCode::InvalidTimeStampFormat);
    let mut req = rpc();
    req.query = req.query.replace("Timestamp=2025-01-02T03%3A04%3A05Z", "Timestamp=1735787045");
    assert_eq!(error(&req).code, ErrorCode::InvalidTimeStampFormat);
}

#[test]
fn media_type_and_method() {
    let mut req = acs3_with_body();
    *req.header_mut("content-type") = "application/json".into();
    assert_eq!(error(&req).code, ErrorCode::UnsupportedMediaType);
    let mut req = acs3_with_body();
    req.remove_header("content-type");
    assert_eq!(error(&req).code, ErrorCode::UnsupportedMediaType);
    // An empty body is fine whatever its declared type.
    let mut req = acs3_no_body();
    req.headers.push(("Content-Type".into(), "application/json".into()));
    accepted(&req);

    let mut req = rpc();
    req.method = "PUT".into();
    assert_eq!(error(&req).code, ErrorCode::InvalidParameter);
}

#[test]
fn header_names_are_case_insensitive_and_authorization_spacing_tolerated() {
    let mut req = acs3_with_body();
    for (name, _) in &mut req.headers {
        *name = name.to_ascii_uppercase();
    }
    let auth = req.header_mut("authorization");
    *auth =
        format!("  {}  ", auth.replace(",SignedHeaders=", ", SignedHeaders=").replace(",Signature=", ",  Signature="));
    accepted(&req);
}

#[test]
fn repeated_headers() {
    // Repeated signed headers are canonicalised sorted and comma-joined.
    let mut req = acs3_no_body();
    req.headers.push(("X-Extra".into(), " b ".into()));
    req.headers.push(("x-extra".into(), "a".into()));
    let auth = req.header_mut("authorization");
    *auth = auth.replace("x-acs-version,", "x-acs-version;x-extra,");
    let signed = parse(&req.raw(), &Limits::default()).unwrap();
    assert!(signed.canonical_request().unwrap().contains("\nx-extra:a,b\n"));

    // A repeated protocol header is ambiguous and refused.
    let mut req = acs3_no_body();
    req.headers.push(("Host".into(), "evil.example".into()));
    assert_eq!(error(&req).code, ErrorCode::InvalidParameter);
}

#[test]
fn our_signers_produce_verifiable_requests() {
    let req = signed_acs3(&[("TransactionId", "hksb*1"), ("Note", "a b+c")], &[("FacePictureBase64", "aGVsbG8=+/")]);
    let signed = accepted(&req);
    assert_eq!(signed.params["Note"], "a b+c");
    assert_eq!(signed.params["FacePictureBase64"], "aGVsbG8=+/");
    assert_eq!(signed.action, "CheckResult");

    let req = signed_rpc(&[("TransactionId", "hksb*1"), ("Note", "a b+c")]);
    let signed = accepted(&req);
    assert_eq!(signed.params, map(&[("TransactionId", "hksb*1"), ("Note", "a b+c")]));
    assert_eq!(signed.access_key_id, AK_ID);

    // With ACS3 the protocol lives in headers, so a business parameter may be called Timestamp
    // (IdnAuthorityVerifyIntl has one).
    let req = signed_acs3(&[("Timestamp", "1700000000")], &[]);
    assert_eq!(accepted(&req).params["Timestamp"], "1700000000");
}

#[test]
fn rpc_signature_tolerates_unencoded_plus() {
    // c9BQwNTNbqj+CDxHz6xZK66oUi0= sent with a raw '+', which form-decoding reads as a space.
    let mut req = by_name("RPC-V1 POST Initialize", 0).req();
    req.query =
        req.query.replace("Signature=c9BQwNTNbqj%2BCDxHz6xZK66oUi0%3D", "Signature=c9BQwNTNbqj+CDxHz6xZK66oUi0%3D");
    accepted(&req);
}

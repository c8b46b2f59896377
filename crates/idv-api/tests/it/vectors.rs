//! The six requests captured from the official SDKs (`tests/fixtures/signature-vectors.json`; where they come from:
//! `tests/fixtures/README.md` and `docs/wire-facts.md#test-vectors`).

use idv_api::ErrorCode;
use idv_api::sign::{Limits, Scheme, parse};
use serde::Deserialize;

use crate::common::Req;

/// The captured requests, byte for byte as recorded (headers in wire order, bodies, expected results).
pub const VECTORS_JSON: &str = include_str!("../fixtures/signature-vectors.json");

#[derive(Debug, Deserialize)]
pub struct Vector {
    pub name: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub method: String,
    pub raw_path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub expected: Expected,
}

#[derive(Debug, Deserialize)]
pub struct Expected {
    pub canonical_request: Option<String>,
    pub string_to_sign: Option<String>,
    pub expected_signature: String,
    pub body_sha256: Option<String>,
}

impl Vector {
    pub fn req(&self) -> Req {
        let (path, query) = self.raw_path.split_once('?').unwrap_or((&self.raw_path, ""));
        Req {
            method: self.method.clone(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: self.headers.clone(),
            body: self.body.as_bytes().to_vec(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub fn load() -> Vec<Vector> {
    let vectors: Vec<Vector> = serde_json::from_str(VECTORS_JSON).expect("signature-vectors.json");
    assert_eq!(vectors.len(), 6, "six requests were captured");
    vectors
}

/// Vector by name and, for the two vectors sharing a name, by position among them.
pub fn by_name(name: &str, nth: usize) -> Vector {
    load().into_iter().filter(|v| v.name == name).nth(nth).unwrap_or_else(|| panic!("no vector {name} #{nth}"))
}

#[test]
fn every_vector_parses_and_verifies() {
    for v in load() {
        let req = v.req();
        let signed = parse(&req.raw(), &Limits::default()).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        if let Some(cr) = &v.expected.canonical_request {
            assert_eq!(signed.canonical_request(), Some(cr.as_str()), "{}", v.name);
        }
        if let Some(sts) = &v.expected.string_to_sign {
            assert_eq!(signed.string_to_sign(), sts, "{}", v.name);
        }
        if let Some(hash) = &v.expected.body_sha256 {
            assert_eq!(v.header("x-acs-content-sha256"), Some(hash.as_str()), "{}", v.name);
        }
        signed.verify(&v.access_key_secret).unwrap_or_else(|e| panic!("{}: {e}", v.name));

        let is_acs3 = v.header("authorization").is_some();
        assert_eq!(signed.scheme, if is_acs3 { Scheme::Acs3HmacSha256 } else { Scheme::RpcHmacSha1 }, "{}", v.name);
        if is_acs3 {
            assert!(v.header("authorization").unwrap().ends_with(&v.expected.expected_signature), "{}", v.name);
        } else {
            assert!(req.query.contains(&format!("Signature={}", pct(&v.expected.expected_signature))), "{}", v.name);
        }
        assert_eq!(signed.access_key_id, v.access_key_id, "{}", v.name);
        // Every vector also carries the action/version headers; V1 must have taken them from the query instead.
        assert_eq!(Some(signed.action.as_str()), v.header("x-acs-action"), "{}", v.name);
        assert_eq!(signed.version, "2022-08-09", "{}", v.name);
        assert!(!signed.nonce.is_empty(), "{}", v.name);
        for protocol in idv_api::sign::RPC_PROTOCOL_PARAMS {
            assert!(!signed.params.contains_key(*protocol), "{}: {protocol} leaked into params", v.name);
        }

        let err = signed.verify("TestAccessKeySecret000000000001").unwrap_err();
        assert_eq!(err.code, ErrorCode::SignatureDoesNotMatch, "{}", v.name);
        assert!(err.message.contains(signed.string_to_sign()), "{}: {}", v.name, err.message);
        assert!(!err.message.contains("TestAccessKeySecret"), "{}", v.name);
    }
}

fn pct(s: &str) -> String {
    idv_api::sign::canon::pct(s)
}

#[test]
fn vector_params_are_decoded_and_merged() {
    let v = by_name("ACS3 POST Initialize", 0);
    let signed = parse(&v.req().raw(), &Limits::default()).unwrap();
    let p = &signed.params;
    assert_eq!(p["FacePictureBase64"], "aGVsbG8gd29ybGQ=+/", "form body merged and decoded");
    assert_eq!(p["MerchantUserId"], "user~1+2 ä", "'+' is a space, %2B a plus");
    assert_eq!(p["SceneCode"], "login 01");
    assert_eq!(p["DocPageConfig"], r#"["01","02"]"#);
    assert_eq!(p["ReturnUrl"], "https://www.example.com/return?x=1&y=2");
    assert_eq!(p.len(), 10);
    assert_eq!(signed.action, "Initialize");
    assert_eq!(idv_api::sign::canon::format_timestamp(signed.timestamp), "2025-01-02T03:04:05Z");

    let v = by_name("RPC-V1 POST Initialize", 0);
    let signed = parse(&v.req().raw(), &Limits::default()).unwrap();
    assert_eq!(signed.params["FacePictureBase64"], "aGVsbG8gd29ybGQ=+/");
    assert_eq!(signed.params["MerchantUserId"], "user~1+2 ä");
    assert_eq!(signed.params.len(), 10);
    assert_eq!(signed.nonce, "11111111111111111111111111111111");

    // aliyun-python-sdk-core: RegionId and the empty SignatureType are signed but are not business parameters.
    let v = by_name("RPC-V1 GET Initialize", 0);
    let signed = parse(&v.req().raw(), &Limits::default()).unwrap();
    assert_eq!(signed.params.keys().collect::<Vec<_>>(), ["MerchantBizId", "MetaInfo", "ProductCode"]);
    assert_eq!(signed.params["MetaInfo"], r#"{"a":"b c"}"#);
    assert_eq!(signed.action, "Initialize");
}

#[test]
fn clock_check_uses_the_request_time() {
    let v = by_name("ACS3 POST CheckResult", 0);
    let signed = parse(&v.req().raw(), &Limits::default()).unwrap();
    let at = signed.timestamp;
    let window = time::Duration::minutes(15);
    signed.check_clock(at, window).unwrap();
    signed.check_clock(at + window, window).unwrap();
    signed.check_clock(at - window, window).unwrap();
    for off in [window + time::Duration::SECOND, -(window + time::Duration::SECOND), time::Duration::days(700)] {
        let err = signed.check_clock(at + off, window).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidTimeStampExpired);
    }
}

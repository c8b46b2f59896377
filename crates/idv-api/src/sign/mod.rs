//! Request parsing and signature verification for the two schemes the official SDKs use
//! (`docs/wire-facts.md#transport`, `#signatures`, `#verifier-checks`):
//! ACS3-HMAC-SHA256 (the default, `Authorization` header) and the RPC V1 signature (HMAC-SHA1, `Signature` query
//! parameter). Also the matching client-side signers, so our own merchant client, load generator and tests produce
//! exactly what the SDKs produce.
//!
//! Pure functions: no I/O, no clock (the caller passes `now`), no key store (the caller looks up the secret by
//! `access_key_id` and calls [`SignedRequest::verify`]).
//!
//! ```
//! use std::collections::BTreeMap;
//! use idv_api::sign::{Limits, parse, sign_acs3};
//! use time::{Duration, macros::datetime};
//!
//! let now = datetime!(2025-01-02 03:04:05 UTC);
//! let query = BTreeMap::from([("TransactionId".to_owned(), "hksb7ba1".to_owned())]);
//! let wire = sign_acs3("POST", "127.0.0.1:8080", "CheckResult", "2022-08-09", &query, &BTreeMap::new(),
//!     "AKID", "secret", now, "0b1c2d3e4f5a69788796a5b4c3d2e1f0");
//!
//! // Server side: parse, look up the secret of `access_key_id`, check the clock, verify, then check the nonce.
//! let signed = parse(&wire.as_raw("POST"), &Limits::default())?;
//! assert_eq!(signed.access_key_id, "AKID");
//! signed.check_clock(now, Duration::minutes(15))?;
//! signed.verify("secret")?;
//! assert_eq!(signed.action, "CheckResult");
//! assert_eq!(signed.params["TransactionId"], "hksb7ba1");
//! # Ok::<(), idv_api::ApiError>(())
//! ```

mod acs3;
pub mod canon;
mod rpc;

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::error::{ApiError, ErrorCode};

pub use acs3::sign_acs3;
pub use rpc::{sign_rpc_v1, sign_rpc_v1_form};

/// One HTTP request as the server received it, before any interpretation.
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    /// `GET` or `POST`; anything else is rejected.
    pub method: &'a str,
    /// Path part of the URI as received, e.g. `/`.
    pub path: &'a str,
    /// Query exactly as on the wire, without `?`; empty if none.
    pub raw_query: &'a str,
    /// In received order, names in any case; a repeated header appears repeatedly.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Caps applied while decoding parameters, before anything is allocated per parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Query and form-body parameters together, protocol parameters included.
    pub max_params: usize,
    /// Decoded bytes of one parameter name.
    pub max_key_len: usize,
    /// Decoded bytes of one parameter value (base64 images are the large ones).
    pub max_value_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_params: 256, max_key_len: 128, max_value_len: 16 * 1024 * 1024 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Authorization: ACS3-HMAC-SHA256 ...` (tea-openapi default).
    Acs3HmacSha256,
    /// `Signature=` query parameter, `SignatureMethod=HMAC-SHA1` (tea-openapi `signature_algorithm='v2'`,
    /// aliyun-python-sdk-core).
    RpcHmacSha1,
}

/// A request whose signature has been parsed and whose string to sign has been rebuilt, but not yet verified:
/// verifying needs the secret of `access_key_id`, which only the caller can look up.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub scheme: Scheme,
    /// `x-acs-action` header (ACS3) or `Action` parameter (V1).
    pub action: String,
    /// `x-acs-version` header (ACS3) or `Version` parameter (V1).
    pub version: String,
    pub access_key_id: String,
    /// `x-acs-signature-nonce` or `SignatureNonce`, for the replay cache.
    pub nonce: String,
    /// `x-acs-date` or `Timestamp`, UTC.
    pub timestamp: OffsetDateTime,
    /// Business parameters: query and form body merged and decoded. With V1 the protocol parameters
    /// ([`RPC_PROTOCOL_PARAMS`]) are removed; with ACS3 the protocol lives in headers, so every query/body parameter
    /// is a business one (IdnAuthorityVerifyIntl has a business parameter named `Timestamp`).
    pub params: BTreeMap<String, String>,
    /// For V1 only its first [`MAX_ECHO`] bytes: a V1 string to sign holds every body parameter encoded twice,
    /// so keeping it whole would cost up to 9 times the body for every request, signed or not.
    string_to_sign: String,
    /// Length of the whole string to sign.
    string_to_sign_len: usize,
    /// ACS3 only; V1 has no separate canonical request.
    canonical_request: Option<String>,
    /// V1 only: what verifying needs besides `params` to stream the string to sign again.
    v1: Option<V1Signed>,
    /// Raw signature bytes (hex- or base64-decoded). Empty when the wire form did not decode, so that `verify` reports
    /// a mismatch together with the string to sign the client needs for debugging.
    provided_signature: Vec<u8>,
}

/// The V1 signed parameters that are not in `SignedRequest::params`, and the method, to stream the string to sign
/// when verifying.
#[derive(Debug, Clone)]
struct V1Signed {
    method: String,
    /// Protocol parameters but `Signature`.
    protocol: BTreeMap<String, String>,
}

/// The V1 protocol parameters, which are not passed on as business parameters.
pub const RPC_PROTOCOL_PARAMS: &[&str] = &[
    "AccessKeyId",
    "Action",
    "Version",
    "Format",
    "Timestamp",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Signature",
    "SignatureType",
    "RegionId",
];

/// What a client has to send: the query (without `?`), headers in the order to send them, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHttpRequest {
    pub raw_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SignedHttpRequest {
    /// The server's view of this request sent to `/` with `method`.
    pub fn as_raw<'a>(&'a self, method: &'a str) -> RawRequest<'a> {
        RawRequest { method, path: "/", raw_query: &self.raw_query, headers: &self.headers, body: &self.body }
    }
}

/// Longest part of a string to sign / canonical request echoed in an error message: a V1 string to sign contains
/// every body parameter, images included.
const MAX_ECHO: usize = 16 * 1024;

/// `s` is the string (or, for a V1 string to sign, its kept start) and `len` the whole string's length.
fn echo(s: &str, len: usize) -> String {
    if s.len() <= MAX_ECHO && len == s.len() {
        return s.to_owned();
    }
    let mut cut = MAX_ECHO.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…(truncated, {len} bytes in all)", &s[..cut])
}

impl SignedRequest {
    /// The string the server computed the signature over; for V1, only its first 16 KiB when it is longer.
    pub fn string_to_sign(&self) -> &str {
        &self.string_to_sign
    }

    /// The ACS3 canonical request the string to sign hashes; `None` for V1.
    pub fn canonical_request(&self) -> Option<&str> {
        self.canonical_request.as_deref()
    }

    /// Constant-time comparison of the provided signature with the one computed from `access_key_secret`.
    pub fn verify(&self, access_key_secret: &str) -> Result<(), ApiError> {
        let expected: Vec<u8> = match self.scheme {
            Scheme::Acs3HmacSha256 => hmac_sha256(access_key_secret.as_bytes(), self.string_to_sign.as_bytes()),
            // `params` are the business parameters as parsed: together with the protocol ones, all that was signed.
            Scheme::RpcHmacSha1 => self.v1.as_ref().and_then(|v1| {
                rpc::streamed_hmac_sha1_v1(access_key_secret, &v1.method, self.params.iter().chain(&v1.protocol))
            }),
        }
        .ok_or_else(ApiError::internal)?;
        if bool::from(expected.as_slice().ct_eq(&self.provided_signature)) {
            return Ok(());
        }
        let message = match &self.canonical_request {
            Some(cr) => format!(
                "The request signature does not match our calculation. server string to sign is:{} canonical request is:{}",
                echo(&self.string_to_sign, self.string_to_sign_len),
                echo(cr, cr.len())
            ),
            None => format!(
                "Specified signature does not match our calculation. server string to sign is:{}",
                echo(&self.string_to_sign, self.string_to_sign_len)
            ),
        };
        Err(ApiError::new(ErrorCode::SignatureDoesNotMatch, message))
    }

    /// Rejects a request whose timestamp is more than `max_skew` away from `now`, in either direction (a replay
    /// window bounded in time is what makes a bounded nonce cache sufficient).
    pub fn check_clock(&self, now: OffsetDateTime, max_skew: time::Duration) -> Result<(), ApiError> {
        let skew = (now - self.timestamp).abs();
        if skew > max_skew {
            return Err(ApiError::new(
                ErrorCode::InvalidTimeStampExpired,
                format!(
                    "The request time {} is more than {} s away from the server time {}.",
                    canon::format_timestamp(self.timestamp),
                    max_skew.whole_seconds(),
                    canon::format_timestamp(now)
                ),
            ));
        }
        Ok(())
    }
}

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).ok()?;
    mac.update(msg);
    Some(mac.finalize().into_bytes().to_vec())
}

/// Values of header `name` (ASCII case-insensitive), in received order.
pub(crate) fn header_values<'h>(headers: &'h [(String, String)], name: &'h str) -> impl Iterator<Item = &'h str> + 'h {
    headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Parses and canonicalises a request; the result still has to be [`SignedRequest::verify`]-ed.
pub fn parse(req: &RawRequest, limits: &Limits) -> Result<SignedRequest, ApiError> {
    if req.method != "GET" && req.method != "POST" {
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            format!("The HTTP method \"{}\" is not supported; use POST (or GET).", canon::shown(req.method)),
        ));
    }
    for token_header in ["x-acs-security-token", "x-acs-bearer-token"] {
        if header_values(req.headers, token_header).next().is_some() {
            return Err(token_not_supported(token_header));
        }
    }

    let mut count = 0;
    let mut query = BTreeMap::new();
    canon::parse_form(req.raw_query.as_bytes(), limits, &mut count, &mut query)?;
    let mut body_params = BTreeMap::new();
    if !req.body.is_empty() {
        let mut content_types = header_values(req.headers, "content-type");
        let content_type = content_types.next().unwrap_or("");
        if content_types.next().is_some() {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "The request has more than one Content-Type header.",
            ));
        }
        let is_form = content_type.trim().get(..FORM.len()).is_some_and(|prefix| prefix.eq_ignore_ascii_case(FORM));
        if !is_form {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("A request body must be {FORM}; got Content-Type \"{}\".", canon::shown(content_type)),
            ));
        }
        canon::parse_form(req.body, limits, &mut count, &mut body_params)?;
    }
    let mut params = query.clone();
    for (k, v) in body_params {
        if params.contains_key(&k) {
            return Err(canon::duplicate(&k));
        }
        params.insert(k, v);
    }

    if params.contains_key("SecurityToken") {
        return Err(token_not_supported("SecurityToken"));
    }
    if params.get("SignatureType").is_some_and(|t| t.eq_ignore_ascii_case("BEARERTOKEN")) {
        return Err(token_not_supported("SignatureType=BEARERTOKEN"));
    }

    let mut authorizations = header_values(req.headers, "authorization");
    let authorization = authorizations.next();
    if authorizations.next().is_some() {
        return Err(ApiError::new(
            ErrorCode::IncompleteSignature,
            "The request has more than one Authorization header.",
        ));
    }
    if let Some(authorization) = authorization {
        let authorization = authorization.trim();
        let (algorithm, rest) =
            authorization.split_once(|c: char| c.is_ascii_whitespace()).unwrap_or((authorization, ""));
        if algorithm.eq_ignore_ascii_case(acs3::ALGORITHM) {
            return acs3::parse(req, rest, &query, params);
        }
        if algorithm.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("ACS3-")) {
            return Err(ApiError::new(
                ErrorCode::InvalidSignatureMethod,
                format!(
                    "The signature algorithm \"{}\" is not supported; configure the SDK for ACS3-HMAC-SHA256 (the default).",
                    canon::shown(algorithm)
                ),
            ));
        }
        // Any other Authorization scheme (e.g. one added by a proxy) is not ours: fall through to V1.
    }
    if params.contains_key("Signature") {
        return rpc::parse(req.method, params);
    }
    Err(ApiError::new(
        ErrorCode::IncompleteSignature,
        "The request is not signed: expected an \"Authorization: ACS3-HMAC-SHA256 ...\" header or a Signature parameter.",
    ))
}

fn token_not_supported(what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::SecurityTokenNotSupported,
        format!(
            "STS and bearer-token credentials ({what}) are not supported by this server; sign with an AccessKey (AccessKeyId/AccessKeySecret)."
        ),
    )
}

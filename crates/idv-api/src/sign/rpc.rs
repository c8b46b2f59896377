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
    let string_to_sign = string_to_sign(method, &params);
    // A client that forgot to encode the signature sends base64's '+' raw, which form-decoding turned into a space;
    // base64 never contains a space, so mapping it back cannot make a wrong signature right.
    let provided_signature = BASE64.decode(get("Signature").replace(' ', "+")).unwrap_or_default();

    let mut take = |name: &str| params.remove(name).unwrap_or_default();
    let access_key_id = take("AccessKeyId");
    let action = take("Action");
    let version = take("Version");
    let nonce = take("SignatureNonce");
    for name in RPC_PROTOCOL_PARAMS {
        params.remove(*name);
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
        canonical_request: None,
        provided_signature,
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

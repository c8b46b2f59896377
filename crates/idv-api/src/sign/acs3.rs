//! ACS3-HMAC-SHA256 (`docs/wire-facts.md#acs3-hmac-sha256`): the tea-openapi default.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::canon::{self, shown};
use super::{RawRequest, Scheme, SignedHttpRequest, SignedRequest, header_values, hmac_sha256};
use crate::error::{ApiError, ErrorCode};

pub(crate) const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Headers without which a signature would not bind the request to its target, time, nonce, body and operation.
const REQUIRED_SIGNED: &[&str] =
    &["host", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256", "x-acs-action", "x-acs-version"];

fn incomplete(message: String) -> ApiError {
    ApiError::new(ErrorCode::IncompleteSignature, message)
}

struct Authorization<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

/// Parses `Credential=..,SignedHeaders=..,Signature=..` (any order, spaces after commas tolerated, unknown fields
/// ignored for forward compatibility).
fn parse_authorization(rest: &str) -> Result<Authorization<'_>, ApiError> {
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in rest.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let Some((name, value)) = field.split_once('=') else {
            return Err(incomplete(format!(
                "The Authorization header field \"{}\" is not of the form name=value.",
                shown(field)
            )));
        };
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(value.trim()).is_some() {
            return Err(incomplete(format!("The Authorization header has {} more than once.", name.trim())));
        }
    }
    fn need<'a>(v: Option<&'a str>, name: &str) -> Result<&'a str, ApiError> {
        match v {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(incomplete(format!("The Authorization header has no {name}."))),
        }
    }
    Ok(Authorization {
        credential: need(credential, "Credential")?,
        signed_headers: need(signed_headers, "SignedHeaders")?,
        signature: need(signature, "Signature")?,
    })
}

/// The one value of a protocol header. A repeated one is refused: canonicalisation would join the copies with ','
/// while the server would act on one of them.
fn single<'h>(headers: &'h [(String, String)], name: &'h str) -> Result<&'h str, ApiError> {
    let mut values = header_values(headers, name);
    let value = values.next().map(str::trim).unwrap_or("");
    if values.next().is_some() {
        return Err(ApiError::new(ErrorCode::InvalidParameter, format!("The header {name} appears more than once.")));
    }
    if value.is_empty() {
        return Err(incomplete(format!("The signed header {name} is empty.")));
    }
    Ok(value)
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// CanonicalHeaders lines for sorted, deduplicated lowercase `names`; `None` names the first absent header.
fn canonical_headers<'n>(headers: &[(String, String)], names: &[&'n str]) -> Result<String, &'n str> {
    let mut out = String::new();
    for &name in names {
        let mut values: Vec<&str> = header_values(headers, name).map(str::trim).collect();
        if values.is_empty() {
            return Err(name);
        }
        values.sort_unstable();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Ok(out)
}

fn string_to_sign(canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()))
}

pub(crate) fn parse(
    req: &RawRequest,
    authorization: &str,
    query: &BTreeMap<String, String>,
    params: BTreeMap<String, String>,
) -> Result<SignedRequest, ApiError> {
    let auth = parse_authorization(authorization)?;

    let lowered: Vec<String> = auth.signed_headers.split(';').map(|n| n.trim().to_ascii_lowercase()).collect();
    if lowered.iter().any(String::is_empty) {
        return Err(incomplete("SignedHeaders contains an empty header name.".to_owned()));
    }
    let mut names: Vec<&str> = lowered.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    if let Some(missing) = REQUIRED_SIGNED.iter().find(|r| !names.contains(r)) {
        return Err(incomplete(format!("The header {missing} must be signed (listed in SignedHeaders).")));
    }
    let canonical_headers = canonical_headers(req.headers, &names)
        .map_err(|name| incomplete(format!("The header {} is listed in SignedHeaders but absent.", shown(name))))?;

    // Only its uniqueness matters here: routing by host is the server's business.
    single(req.headers, "host")?;
    let date = single(req.headers, "x-acs-date")?;
    let nonce = single(req.headers, "x-acs-signature-nonce")?;
    let content_sha256 = single(req.headers, "x-acs-content-sha256")?;
    let action = single(req.headers, "x-acs-action")?;
    let version = single(req.headers, "x-acs-version")?;

    let body_sha256 = sha256_hex(req.body);
    if !content_sha256.eq_ignore_ascii_case(&body_sha256) {
        return Err(ApiError::new(
            ErrorCode::SignatureDoesNotMatch,
            format!(
                "The body hash does not match: x-acs-content-sha256 is \"{}\" but the SHA-256 of the received body is {body_sha256}.",
                shown(content_sha256)
            ),
        ));
    }
    let timestamp = canon::parse_timestamp(date, "x-acs-date header")?;

    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canon::canonical_path(req.path)?,
        canon::canonical_query(query),
        canonical_headers,
        names.join(";"),
        content_sha256
    );
    let sts = string_to_sign(&canonical_request);
    Ok(SignedRequest {
        scheme: Scheme::Acs3HmacSha256,
        action: action.to_owned(),
        version: version.to_owned(),
        access_key_id: auth.credential.to_owned(),
        nonce: nonce.to_owned(),
        timestamp,
        params,
        string_to_sign_len: sts.len(),
        string_to_sign: sts,
        canonical_request: Some(canonical_request),
        v1: None,
        provided_signature: hex::decode(auth.signature).unwrap_or_default(),
    })
}

/// Signs a request the way tea-openapi's Python SDK does: every header it sends is signed, the query goes on the
/// wire RFC 3986-encoded (which is already canonical), `form_body` is sent `application/x-www-form-urlencoded`
/// Python-style. `date` is converted to UTC.
#[allow(clippy::too_many_arguments)] // the shape the merchant client, load generator and tests share
pub fn sign_acs3(
    method: &str,
    host: &str,
    action: &str,
    version: &str,
    query: &BTreeMap<String, String>,
    form_body: &BTreeMap<String, String>,
    access_key_id: &str,
    access_key_secret: &str,
    date: OffsetDateTime,
    nonce: &str,
) -> SignedHttpRequest {
    let body = canon::form_encode(form_body).into_bytes();
    let body_sha256 = sha256_hex(&body);
    let mut headers: Vec<(String, String)> = vec![
        ("host".to_owned(), host.to_owned()),
        ("x-acs-version".to_owned(), version.to_owned()),
        ("x-acs-action".to_owned(), action.to_owned()),
        ("x-acs-date".to_owned(), canon::format_timestamp(date)),
        ("x-acs-signature-nonce".to_owned(), nonce.to_owned()),
        ("accept".to_owned(), "application/json".to_owned()),
    ];
    if !body.is_empty() {
        headers.push(("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned()));
    }
    headers.push(("x-acs-content-sha256".to_owned(), body_sha256.clone()));

    let mut names: Vec<String> = headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    names.sort_unstable();
    names.dedup();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // Every name comes from `headers` itself, so no name can be absent.
    let canonical_headers = canonical_headers(&headers, &name_refs).unwrap_or_default();
    let raw_query = canon::canonical_query(query);
    let canonical_request =
        format!("{method}\n/\n{raw_query}\n{canonical_headers}\n{}\n{body_sha256}", name_refs.join(";"));
    let signature = hmac_sha256(access_key_secret.as_bytes(), string_to_sign(&canonical_request).as_bytes())
        .map(hex::encode)
        .unwrap_or_default();
    headers.push((
        "Authorization".to_owned(),
        format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={},Signature={signature}", name_refs.join(";")),
    ));
    SignedHttpRequest { raw_query, headers, body }
}

//! Typed access to the flat string parameter map of an RPC request, with the validation rules shared by every
//! action. Every failure names the parameter, so a merchant can fix the call from the message alone.

use std::collections::BTreeMap;

use crate::error::{ApiError, ErrorCode};

/// A parameter map being consumed by an action's parser.
pub struct Params<'a> {
    map: &'a BTreeMap<String, String>,
}

impl<'a> Params<'a> {
    pub fn new(map: &'a BTreeMap<String, String>) -> Self {
        Params { map }
    }

    /// The value, with empty strings treated as absent (the SDKs send `None` as absent, but hand-written clients
    /// often send `X=`).
    pub fn opt(&self, name: &str) -> Option<&'a str> {
        self.map.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&'a str, ApiError> {
        self.opt(name).ok_or_else(|| ApiError::missing(name))
    }

    /// An optional value of at most `max` characters.
    pub fn text(&self, name: &str, max: usize) -> Result<Option<&'a str>, ApiError> {
        match self.opt(name) {
            Some(v) if v.chars().count() > max => Err(ApiError::invalid(name, format!("longer than {max} characters"))),
            Some(v) if v.chars().any(|c| c.is_control()) => Err(ApiError::invalid(name, "contains control characters")),
            other => Ok(other),
        }
    }

    /// One of a fixed set of values, or the default when absent.
    pub fn one_of(
        &self,
        name: &str,
        allowed: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str, ApiError> {
        match self.opt(name) {
            None => Ok(default),
            Some(v) => allowed
                .iter()
                .find(|a| **a == v)
                .copied()
                .ok_or_else(|| ApiError::invalid(name, format!("must be one of {}", allowed.join(", ")))),
        }
    }

    /// A `Y`/`N` flag.
    pub fn yes_no(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        Ok(self.one_of(name, &["Y", "N"], if default { "Y" } else { "N" })? == "Y")
    }

    /// A `1`/`0` flag.
    pub fn one_zero(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        Ok(self.one_of(name, &["1", "0"], if default { "1" } else { "0" })? == "1")
    }
}

/// MerchantBizId: 1-32 letters and digits (`docs/wire-facts.md#initialize`).
pub fn merchant_biz_id(p: &Params) -> Result<String, ApiError> {
    let v = p.required("MerchantBizId")?;
    if v.len() > 32 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid("MerchantBizId", "must be 1-32 letters and digits"));
    }
    Ok(v.to_owned())
}

/// A TransactionId as issued by this server: 32 lowercase hex characters. Anything else is unknown by definition,
/// and gets the same answer as a well-formed id that does not exist.
pub fn transaction_id(p: &Params) -> Result<String, ApiError> {
    let v = p.required("TransactionId")?;
    if v.len() != 32 || !v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(unknown_transaction());
    }
    Ok(v.to_owned())
}

/// The one answer for a TransactionId the caller may not see, whether it does not exist, belongs to another
/// merchant or is malformed: identical text, so the answer leaks nothing.
pub fn unknown_transaction() -> ApiError {
    ApiError::new(ErrorCode::TransactionIdInvalid, "The TransactionId is invalid or does not exist.")
}

/// An http(s) URL of bounded length. `https_only` is relaxed for loopback hosts so local integrations can be tested.
pub fn url(p: &Params, name: &str, https_only: bool) -> Result<Option<String>, ApiError> {
    let Some(v) = p.text(name, 1024)? else { return Ok(None) };
    let (scheme, rest) = v.split_once("://").ok_or_else(|| ApiError::invalid(name, "not an absolute URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_only = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host_name = if host_only.starts_with('[') {
        host_only.split(']').next().map(|h| &h[1..]).unwrap_or("")
    } else {
        host_only.split(':').next().unwrap_or("")
    };
    if host_name.is_empty() || v.contains(char::is_whitespace) {
        return Err(ApiError::invalid(name, "not a valid URL"));
    }
    let loopback = matches!(host_name, "localhost" | "127.0.0.1" | "::1") || host_name.starts_with("127.");
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if !https_only || loopback => {}
        _ => {
            return Err(ApiError::invalid(
                name,
                if https_only { "must be an https URL" } else { "must be an http(s) URL" },
            ));
        }
    }
    Ok(Some(v.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn biz_id_rules() {
        let ok = map(&[("MerchantBizId", "abcXYZ019")]);
        assert_eq!(merchant_biz_id(&Params::new(&ok)).unwrap(), "abcXYZ019");
        for bad in ["a-b", &"a".repeat(33), "ä"] {
            let m = map(&[("MerchantBizId", bad)]);
            let e = merchant_biz_id(&Params::new(&m)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameter);
            assert!(e.message.contains("MerchantBizId"));
        }
        let e = merchant_biz_id(&Params::new(&map(&[("MerchantBizId", "")]))).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingParameter);
    }

    #[test]
    fn url_rules() {
        let m = map(&[
            ("A", "https://x.example/cb?a=1"),
            ("B", "http://x.example/cb"),
            ("C", "http://127.0.0.1:9/cb"),
            ("D", "ftp://x"),
        ]);
        let p = Params::new(&m);
        assert!(url(&p, "A", true).unwrap().is_some());
        assert!(url(&p, "B", true).is_err());
        assert!(url(&p, "B", false).unwrap().is_some());
        assert!(url(&p, "C", true).unwrap().is_some());
        assert!(url(&p, "D", false).is_err());
        assert_eq!(url(&p, "Z", true).unwrap(), None);
    }

    #[test]
    fn malformed_transaction_ids_look_unknown() {
        let m = map(&[("TransactionId", "../../etc/passwd")]);
        assert_eq!(transaction_id(&Params::new(&m)).unwrap_err(), unknown_transaction());
    }
}

/// An image parameter pair (`X` Base64 in the form body, or `XUrl`).
#[derive(Clone, PartialEq, Eq)]
pub enum ImageSource {
    Bytes(Vec<u8>),
    Url(String),
}

impl std::fmt::Debug for ImageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            ImageSource::Url(u) => write!(f, "Url({u})"),
        }
    }
}

/// Reads an image given as Base64 (`b64_name`) or URL (`url_name`): both → DataDuplication, Base64 over
/// `max_bytes` → ToolargeImage (checked on the encoded length, before decoding).
pub fn image(p: &Params, b64_name: &str, url_name: &str, max_bytes: usize) -> Result<Option<ImageSource>, ApiError> {
    let (b64, url) = (p.opt(b64_name), p.opt(url_name));
    match (b64, url) {
        (Some(_), Some(_)) => {
            Err(ApiError::new(ErrorCode::DataDuplication, format!("Give {b64_name} or {url_name}, not both.")))
        }
        (None, None) => Ok(None),
        (None, Some(_)) => Ok(url_param(p, url_name)?.map(ImageSource::Url)),
        (Some(v), None) => {
            if v.len() > max_bytes.div_ceil(3) * 4 + 4 {
                return Err(ApiError::new(
                    ErrorCode::ToolargeImage,
                    format!("{b64_name} is larger than {max_bytes} bytes."),
                ));
            }
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, v.trim())
                .map_err(|_| ApiError::invalid(b64_name, "not valid Base64"))?;
            if bytes.is_empty() {
                return Err(ApiError::invalid(b64_name, "empty image"));
            }
            Ok(Some(ImageSource::Bytes(bytes)))
        }
    }
}

fn url_param(p: &Params, name: &str) -> Result<Option<String>, ApiError> {
    url(p, name, false)
}

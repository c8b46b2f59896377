//! Typed access to the flat string parameter map of an RPC request, with the validation rules shared by every
//! action. Every failure names the parameter, so a merchant can fix the call from the message alone.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

/// An http(s) URL of bounded length, parsed with the WHATWG parser (`url`) the HTTP client uses, so the host checked
/// here is the host connected to. `https_only` (URLs this server fetches: CallbackUrl) is relaxed for loopback
/// hosts so local integrations can be tested; whether a literal private address may be used at all is the server's
/// decision (an operator flag), and names are checked after resolution, at delivery.
pub fn url(p: &Params, name: &str, https_only: bool) -> Result<Option<String>, ApiError> {
    let Some(v) = p.text(name, 1024)? else { return Ok(None) };
    if v.contains(char::is_whitespace) {
        return Err(ApiError::invalid(name, "not a valid URL"));
    }
    // Parsers disagree on `\` (WHATWG reads it as `/` in http URLs, RFC 3986 parsers as part of the user
    // information): refused so no reader of the stored URL can see another host.
    if v.contains('\\') {
        return Err(ApiError::invalid(name, "must not contain a backslash"));
    }
    let parsed = url::Url::parse(v).map_err(|_| ApiError::invalid(name, "not a valid absolute URL"))?;
    let scheme_error =
        || ApiError::invalid(name, if https_only { "must be an https URL" } else { "must be an http(s) URL" });
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(scheme_error());
    }
    // The WHATWG parser repairs `https:/host`, `https:///host` into a host other readers do not see: only the plain
    // `scheme://host` form is taken.
    let written =
        v.split_once("://").filter(|(s, _)| s.eq_ignore_ascii_case(parsed.scheme())).map(|(_, r)| authority(r));
    let Some(written) = written.filter(|a| !a.is_empty()) else {
        return Err(ApiError::invalid(name, "has no host (expected scheme://host/…)"));
    };
    // `user@host` hides the real host from a human reader and has no use in a notification or redirect.
    if !parsed.username().is_empty() || parsed.password().is_some() || written.contains('@') {
        return Err(ApiError::invalid(name, "must not contain user information (user@host)"));
    }
    let loopback = match parsed.host() {
        None => return Err(ApiError::invalid(name, "has no host")),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
    };
    if parsed.scheme() == "http" && https_only && !loopback {
        return Err(scheme_error());
    }
    Ok(Some(v.to_owned()))
}

/// The authority as written: what follows `scheme://` up to the first `/`, `?` or `#`.
fn authority(rest: &str) -> &str {
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// The literal IP address of a URL's host (`http://127.1/`, `http://0x7f.1/`, `http://[::1]/` all count, in the
/// parser's reading), or `None` for a name or an unparsable URL.
pub fn literal_ip(v: &str) -> Option<IpAddr> {
    match url::Url::parse(v).ok()?.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Why an address is not a public unicast one a server-side request may go to (loopback, private, link-local,
/// CGNAT, multicast, documentation, IPv4-mapped…), or `None` for a public address. Embedded IPv4 addresses
/// (NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the address they embed.
pub fn special_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified or \"this network\" address (0.0.0.0/8)",
        (10, _, _) => "a private address (10.0.0.0/8)",
        (100, 64..=127, _) => "a shared (CGNAT) address (100.64.0.0/10)",
        (127, _, _) => "a loopback address (127.0.0.0/8)",
        (169, 254, _) => "a link-local address (169.254.0.0/16)",
        (172, 16..=31, _) => "a private address (172.16.0.0/12)",
        (192, 0, 0) => "an IETF protocol address (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (192, 88, 99) => "a 6to4 relay address (192.88.99.0/24)",
        (192, 168, _) => "a private address (192.168.0.0/16)",
        (198, 18..=19, _) => "a benchmarking address (198.18.0.0/15)",
        (224..=239, _, _) => "a multicast address (224.0.0.0/4)",
        (240..=255, _, _) => "a reserved or broadcast address (240.0.0.0/4)",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if ip.is_unspecified() {
        return Some("the unspecified address (::)");
    }
    if ip.is_loopback() {
        return Some("a loopback address (::1)");
    }
    // Mapped and compatible forms reach the embedded IPv4 address through dual-stack sockets; a merchant has no
    // reason to write them, so they are refused whatever they embed.
    if s[..5] == [0; 5] && s[5] == 0xffff {
        return Some("an IPv4-mapped address (::ffff:0:0/96)");
    }
    if s[..6] == [0; 6] {
        return Some("an IPv4-compatible address (::/96)");
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return special_v4(embedded).map(|_| "a NAT64 form of a special IPv4 address (64:ff9b::/96)");
    }
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return special_v4(v4).map(|_| "a 6to4 form of a special IPv4 address (2002::/16)");
    }
    Some(match s[0] {
        0xfe80..=0xfebf => "a link-local address (fe80::/10)",
        0xfec0..=0xfeff => "a site-local address (fec0::/10)",
        0xfc00..=0xfdff => "a unique local address (fc00::/7)",
        0xff00..=0xffff => "a multicast address (ff00::/8)",
        0x2001 if s[1] == 0x0db8 => "a documentation address (2001:db8::/32)",
        0x2001 if s[1] < 0x0200 => "an IETF protocol address (2001::/23)",
        0x3fff if s[1] < 0x1000 => "a documentation address (3fff::/20)",
        // Everything outside global unicast 2000::/3 (NAT64 aside, above) is reserved, discard-only or local.
        0x2000..=0x3fff => return None,
        _ => "a reserved address (outside 2000::/3)",
    })
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

    /// The hand-made host check disagreed with the URL parser: each of these reached another host than the one
    /// it was checked as, or passed as loopback over http.
    #[test]
    fn url_bypass_forms_are_refused() {
        for (bad, why) in [
            ("http://127.evil.example/cb", "https"),
            ("http://evil.example\\@127.0.0.1/cb", "backslash"),
            ("https://user:pw@merchant.example/cb", "user information"),
            ("https://user@merchant.example/cb", "user information"),
            ("https://@merchant.example/cb", "user information"),
            ("http://localhost.evil.example/cb", "https"),
            ("gopher://127.0.0.1/", "https"),
            ("https:///cb", "host"),
            ("https:/merchant.example/cb", "host"),
            ("//merchant.example/cb", "URL"),
        ] {
            let m = map(&[("CallbackUrl", bad)]);
            let e = url(&Params::new(&m), "CallbackUrl", true).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameter, "{bad}");
            assert!(e.message.contains("CallbackUrl") && e.message.contains(why), "{bad}: {}", e.message);
        }
        for ok in ["http://localhost:8080/cb", "http://127.0.0.1:9/cb", "http://[::1]:9/cb", "https://127.1/"] {
            let m = map(&[("CallbackUrl", ok)]);
            assert!(url(&Params::new(&m), "CallbackUrl", true).is_ok(), "{ok}: loopback is the server's decision");
        }
    }

    #[test]
    fn literal_ip_follows_the_parser() {
        for (v, ip) in [
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://%31%32%37.0.0.1/", "127.0.0.1"),
            ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("http://[::1]:8/", "::1"),
        ] {
            assert_eq!(literal_ip(v), Some(ip.parse().unwrap()), "{v}");
        }
        assert_eq!(literal_ip("https://127.evil.example/"), None);
    }

    #[test]
    fn special_addresses() {
        for special in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "100::1",
        ] {
            let ip: IpAddr = special.parse().unwrap();
            assert!(special_address(ip).is_some(), "{special} passed as public");
        }
        for public in ["8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "64:ff9b::808:808"] {
            let ip: IpAddr = public.parse().unwrap();
            assert_eq!(special_address(ip), None, "{public}");
        }
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

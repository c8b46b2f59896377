//! `MetaInfo`: the JSON string the client SDK produces on the device (`get_meta_info()`), which the merchant server
//! passes verbatim to Initialize. Initialize refuses a device that cannot run the requested product, naming what is
//! missing, instead of creating a transaction that would fail on the phone.
//!
//! Shape (`docs/wire-facts.md#metainfo`):
//! `{"bioMetaInfo":"<sdk version>:<capability bits>,<flag>","deviceType":"android|ios|web|h5",
//! "ua":"<browser user agent, web/h5 only>", "appName", "appVersion", "deviceModel", "osVersion", "zimVer", …}`.
//! The capability bits are idv's own (the official SDK's mask is undocumented): see [`Capabilities`].

use std::fmt;

use serde::Deserialize;

use idv_flow::Product;

/// The oldest client SDK the server still speaks to.
pub const MIN_SDK_VERSION: SdkVersion = SdkVersion(1, 0, 0);
/// Oldest mobile OS releases the SDK supports (camera2 on Android 7; AVFoundation depth APIs on iOS 12).
pub const MIN_ANDROID_MAJOR: u32 = 7;
pub const MIN_IOS_MAJOR: u32 = 12;
/// MetaInfo is small; anything bigger is not from our SDK.
pub const MAX_META_INFO_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SdkVersion(pub u32, pub u32, pub u32);

impl fmt::Display for SdkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl SdkVersion {
    pub fn parse(s: &str) -> Option<SdkVersion> {
        let mut it = s.trim().split('.');
        let mut next = || -> Option<u32> {
            match it.next() {
                None => Some(0),
                Some(p) if !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok(),
                Some(_) => None,
            }
        };
        let v = SdkVersion(next()?, next()?, next()?);
        if it.next().is_some() {
            return None;
        }
        Some(v)
    }
}

/// What the client SDK can do, as declared in `bioMetaInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities(pub u64);

impl Capabilities {
    pub const DOCUMENT: Capabilities = Capabilities(1 << 0);
    pub const FACE: Capabilities = Capabilities(1 << 1);
    pub const ACTIONS: Capabilities = Capabilities(1 << 2);
    pub const COLOUR_FLASH: Capabilities = Capabilities(1 << 3);
    pub const NFC: Capabilities = Capabilities(1 << 4);

    const NAMES: [(Capabilities, &'static str); 5] = [
        (Capabilities::DOCUMENT, "document capture"),
        (Capabilities::FACE, "face capture"),
        (Capabilities::ACTIONS, "liveness actions"),
        (Capabilities::COLOUR_FLASH, "colour-flash liveness"),
        (Capabilities::NFC, "NFC chip reading"),
    ];

    pub const fn empty() -> Self {
        Capabilities(0)
    }
    pub fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }
    /// Human names of the bits of `self` that `have` lacks.
    pub fn missing_from(self, have: Capabilities) -> Vec<&'static str> {
        Self::NAMES.iter().filter(|(c, _)| self.contains(*c) && !have.contains(*c)).map(|(_, n)| *n).collect()
    }
}

impl std::ops::BitOr for Capabilities {
    type Output = Capabilities;
    fn bitor(self, rhs: Self) -> Self {
        Capabilities(self.0 | rhs.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    Android,
    Ios,
    Web,
    H5,
}

impl DeviceType {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Android => "android",
            DeviceType::Ios => "ios",
            DeviceType::Web => "web",
            DeviceType::H5 => "h5",
        }
    }
    /// Web and H5 devices run the hosted capture page at TransactionUrl.
    pub fn is_browser(self) -> bool {
        matches!(self, DeviceType::Web | DeviceType::H5)
    }
}

/// A parsed, checked MetaInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaInfo {
    pub device_type: DeviceType,
    pub sdk_version: SdkVersion,
    pub capabilities: Capabilities,
    pub user_agent: Option<String>,
    pub os_version: Option<String>,
    pub device_model: Option<String>,
    pub app_name: Option<String>,
}

/// Why a MetaInfo was refused. The message names the field and, for an unsupported device, what is unsupported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaInfoError {
    #[error("MetaInfo is longer than {MAX_META_INFO_BYTES} bytes")]
    TooLong,
    #[error("MetaInfo is not a JSON object: {0}")]
    NotJson(String),
    #[error("MetaInfo lacks {0}")]
    MissingField(&'static str),
    #[error("MetaInfo field {field} is malformed: {why}")]
    Malformed { field: &'static str, why: String },
    #[error("MetaInfo deviceType \"{0}\" is not supported (supported: android, ios, web, h5)")]
    UnsupportedDeviceType(String),
    #[error("MetaInfo SDK version {found} is older than the minimum supported {MIN_SDK_VERSION}; update the idv SDK")]
    SdkTooOld { found: SdkVersion },
    #[error("MetaInfo osVersion {found} is older than the minimum supported {min} for {device}")]
    OsTooOld { device: &'static str, found: String, min: u32 },
    #[error("MetaInfo deviceType {0} needs the browser user agent in \"ua\" (a web flow runs in a browser)")]
    NotABrowser(&'static str),
    #[error("the client SDK cannot run product {product}: it lacks {missing} (bioMetaInfo capability bits)")]
    MissingCapabilities { product: &'static str, missing: String },
    #[error(
        "the browser in MetaInfo \"ua\" cannot run the capture page: {0} (supported: Chrome/Chromium {MIN_CHROMIUM}+, \
         Firefox {MIN_FIREFOX}+, Safari {MIN_SAFARI}+, any browser on iOS {MIN_IOS_WEB_MAJOR}.{MIN_IOS_WEB_MINOR}+)"
    )]
    BrowserUnsupported(String),
}

/// Oldest browsers the hosted capture page runs in: `navigator.mediaDevices.getUserMedia`, WebCrypto's HMAC and
/// SHA-256, and the JavaScript of 2020 (optional chaining, async/await). Chromium 80 and Firefox 78 have all of it;
/// Safari 14 too. Every browser on iOS is WebKit, and WebKit gave the camera to browsers other than Safari
/// (and to in-app web views) only with iOS 14.3.
pub const MIN_CHROMIUM: u32 = 80;
pub const MIN_FIREFOX: u32 = 78;
pub const MIN_SAFARI: u32 = 14;
pub const MIN_IOS_WEB_MAJOR: u32 = 14;
pub const MIN_IOS_WEB_MINOR: u32 = 3;

/// A browser recognised from its user agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserEngine {
    Chromium(u32),
    Firefox(u32),
    Safari(u32),
    /// Any browser on iOS (WebKit), by iOS version.
    Ios(u32, u32),
}

/// The major version after `token` (`Chrome/120.0.1` → 120).
fn version_after(ua: &str, token: &str) -> Option<u32> {
    let rest = &ua[ua.find(token)? + token.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).take(6).collect();
    digits.parse().ok()
}

/// Whether the browser of user agent `ua` can run the capture page: the engine and version, or why not.
pub fn browser_support(ua: &str) -> Result<BrowserEngine, MetaInfoError> {
    let refuse = |why: String| Err(MetaInfoError::BrowserUnsupported(why));
    if ua.contains("MSIE ") || ua.contains("Trident/") {
        return refuse("Internet Explorer has no camera API".into());
    }
    if ua.contains(" Edge/") {
        return refuse("EdgeHTML (Edge before version 79) is not supported".into());
    }
    if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
        // "CPU iPhone OS 17_4 like Mac OS X"
        let os = ua.find(" OS ").map(|i| &ua[i + 4..]).unwrap_or("");
        let mut parts = os.split(|c: char| !c.is_ascii_digit());
        let major = parts.next().and_then(|m| m.parse::<u32>().ok());
        let minor = parts.next().and_then(|m| m.parse::<u32>().ok()).unwrap_or(0);
        return match major {
            Some(m) if (m, minor) >= (MIN_IOS_WEB_MAJOR, MIN_IOS_WEB_MINOR) => Ok(BrowserEngine::Ios(m, minor)),
            Some(m) => refuse(format!("iOS {m}.{minor} is too old")),
            None => refuse("the iOS version is not in the user agent".into()),
        };
    }
    if let Some(v) = version_after(ua, "Firefox/") {
        return if v >= MIN_FIREFOX {
            Ok(BrowserEngine::Firefox(v))
        } else {
            refuse(format!("Firefox {v} is too old"))
        };
    }
    // Edge, Opera, Samsung Internet and Android web views all carry the Chromium version as Chrome/N.
    if let Some(v) = version_after(ua, "Chrome/").or_else(|| version_after(ua, "Chromium/")) {
        return if v >= MIN_CHROMIUM {
            Ok(BrowserEngine::Chromium(v))
        } else {
            refuse(format!("Chromium {v} is too old"))
        };
    }
    if ua.contains("Safari/")
        && let Some(v) = version_after(ua, "Version/")
    {
        return if v >= MIN_SAFARI { Ok(BrowserEngine::Safari(v)) } else { refuse(format!("Safari {v} is too old")) };
    }
    refuse("the browser is not recognised".into())
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "deviceType")]
    device_type: Option<serde_json::Value>,
    #[serde(rename = "bioMetaInfo")]
    bio_meta_info: Option<serde_json::Value>,
    ua: Option<serde_json::Value>,
    #[serde(rename = "osVersion")]
    os_version: Option<serde_json::Value>,
    #[serde(rename = "deviceModel")]
    device_model: Option<serde_json::Value>,
    #[serde(rename = "appName")]
    app_name: Option<serde_json::Value>,
}

fn opt_string(v: Option<serde_json::Value>, field: &'static str) -> Result<Option<String>, MetaInfoError> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(MetaInfoError::Malformed { field, why: "not a string".into() }),
    }
}

impl MetaInfo {
    /// Parses the MetaInfo string. Unknown fields are ignored: the SDK may add facts without breaking old servers.
    pub fn parse(s: &str) -> Result<MetaInfo, MetaInfoError> {
        if s.len() > MAX_META_INFO_BYTES {
            return Err(MetaInfoError::TooLong);
        }
        let raw: Raw = serde_json::from_str(s).map_err(|e| MetaInfoError::NotJson(e.to_string()))?;
        let device_type =
            opt_string(raw.device_type, "deviceType")?.ok_or(MetaInfoError::MissingField("deviceType"))?;
        let device_type = match device_type.as_str() {
            "android" => DeviceType::Android,
            "ios" => DeviceType::Ios,
            "web" => DeviceType::Web,
            "h5" => DeviceType::H5,
            other => return Err(MetaInfoError::UnsupportedDeviceType(other.chars().take(32).collect())),
        };
        let bio = opt_string(raw.bio_meta_info, "bioMetaInfo")?.ok_or(MetaInfoError::MissingField("bioMetaInfo"))?;
        let (version, rest) = bio.split_once(':').ok_or_else(|| MetaInfoError::Malformed {
            field: "bioMetaInfo",
            why: "expected \"<version>:<capabilities>,<flag>\"".into(),
        })?;
        let sdk_version = SdkVersion::parse(version).ok_or_else(|| MetaInfoError::Malformed {
            field: "bioMetaInfo",
            why: format!(
                "version \"{}\" is not of the form major.minor.patch",
                version.chars().take(16).collect::<String>()
            ),
        })?;
        let caps = rest.split(',').next().unwrap_or("");
        let capabilities = caps.trim().parse::<u64>().map(Capabilities).map_err(|_| MetaInfoError::Malformed {
            field: "bioMetaInfo",
            why: "capabilities are not a decimal bit mask".into(),
        })?;
        Ok(MetaInfo {
            device_type,
            sdk_version,
            capabilities,
            user_agent: opt_string(raw.ua, "ua")?,
            os_version: opt_string(raw.os_version, "osVersion")?,
            device_model: opt_string(raw.device_model, "deviceModel")?,
            app_name: opt_string(raw.app_name, "appName")?,
        })
    }

    /// The usability check of Initialize: can this device run `product` (with colour flash if `needs_flash`)?
    pub fn check_usable(&self, product: Product, needs_flash: bool) -> Result<(), MetaInfoError> {
        if self.sdk_version < MIN_SDK_VERSION {
            return Err(MetaInfoError::SdkTooOld { found: self.sdk_version });
        }
        let min_os = match self.device_type {
            DeviceType::Android => Some(("android", MIN_ANDROID_MAJOR)),
            DeviceType::Ios => Some(("ios", MIN_IOS_MAJOR)),
            _ => None,
        };
        if let (Some((device, min)), Some(os)) = (min_os, &self.os_version) {
            let major = os.split('.').next().and_then(|m| m.trim().parse::<u32>().ok());
            match major {
                Some(m) if m < min => {
                    return Err(MetaInfoError::OsTooOld { device, found: os.chars().take(16).collect(), min });
                }
                Some(_) => {}
                None => {
                    return Err(MetaInfoError::Malformed { field: "osVersion", why: "not a version number".into() });
                }
            }
        }
        if self.device_type.is_browser() {
            let ua = self.user_agent.as_deref().unwrap_or("");
            if !ua.starts_with("Mozilla/") {
                return Err(MetaInfoError::NotABrowser(self.device_type.as_str()));
            }
            // The capture runs on idv's own page, whatever the web SDK declares: what matters is whether this
            // browser has the camera (getUserMedia), WebCrypto and the JavaScript the page uses.
            return browser_support(ua).map(|_| ());
        }
        let mut need = required_capabilities(product);
        if needs_flash {
            need = need | Capabilities::COLOUR_FLASH;
        }
        let missing = need.missing_from(self.capabilities);
        if !missing.is_empty() {
            return Err(MetaInfoError::MissingCapabilities { product: product.code(), missing: missing.join(", ") });
        }
        Ok(())
    }
}

/// What the client SDK must be able to do for `product`.
pub fn required_capabilities(product: Product) -> Capabilities {
    let mut c = Capabilities::empty();
    if product.needs_document() {
        c = c | Capabilities::DOCUMENT;
    }
    if product.needs_face() {
        c = c | Capabilities::FACE | Capabilities::ACTIONS;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(device: &str, bio: &str, extra: &str) -> String {
        format!(r#"{{"deviceType":"{device}","bioMetaInfo":"{bio}"{extra}}}"#)
    }

    #[test]
    fn accepts_a_capable_phone() {
        let m =
            MetaInfo::parse(&meta("android", "1.2.0:15,0", r#","osVersion":"14","deviceModel":"Pixel 7""#)).unwrap();
        assert_eq!(m.device_type, DeviceType::Android);
        assert_eq!(m.sdk_version, SdkVersion(1, 2, 0));
        m.check_usable(Product::Ekyc, true).unwrap();
    }

    #[test]
    fn names_what_is_unsupported() {
        let e = MetaInfo::parse("not json").unwrap_err();
        assert!(matches!(e, MetaInfoError::NotJson(_)));
        let e = MetaInfo::parse(&meta("symbian", "1.0.0:15,0", "")).unwrap_err();
        assert!(e.to_string().contains("symbian"), "{e}");
        let old = MetaInfo::parse(&meta("ios", "0.9.9:15,0", "")).unwrap();
        assert_eq!(
            old.check_usable(Product::IdOcr, false),
            Err(MetaInfoError::SdkTooOld { found: SdkVersion(0, 9, 9) })
        );
        let web = MetaInfo::parse(&meta("web", "1.0.0:15,0", "")).unwrap();
        assert_eq!(web.check_usable(Product::Ekyc, false), Err(MetaInfoError::NotABrowser("web")));
        let web = MetaInfo::parse(&meta("h5", "1.0.0:15,0", r#","ua":"Mozilla/5.0 (iPhone)""#)).unwrap();
        assert!(matches!(web.check_usable(Product::Ekyc, false), Err(MetaInfoError::BrowserUnsupported(_))));
        let doc_only = MetaInfo::parse(&meta("android", "1.0.0:1,0", "")).unwrap();
        doc_only.check_usable(Product::IdOcr, false).unwrap();
        let e = doc_only.check_usable(Product::FaceLiveness, false).unwrap_err();
        assert!(e.to_string().contains("face capture"), "{e}");
        let no_flash = MetaInfo::parse(&meta("android", "1.0.0:7,0", "")).unwrap();
        assert!(no_flash.check_usable(Product::Ekyc, true).unwrap_err().to_string().contains("colour-flash"));
        let old_os = MetaInfo::parse(&meta("android", "1.0.0:15,0", r#","osVersion":"6.0""#)).unwrap();
        assert!(matches!(old_os.check_usable(Product::Ekyc, false), Err(MetaInfoError::OsTooOld { .. })));
        assert_eq!(MetaInfo::parse(r#"{"bioMetaInfo":"1.0.0:1,0"}"#), Err(MetaInfoError::MissingField("deviceType")));
        assert!(MetaInfo::parse(&meta("android", "1.0.0", "")).is_err());
        assert!(MetaInfo::parse(&meta("android", "x.y:1,0", "")).is_err());
        assert!(MetaInfo::parse(&"x".repeat(MAX_META_INFO_BYTES + 1)).is_err());
    }

    /// The official web SDK's MetaInfo: its capability bits mean nothing to idv, the browser decides.
    #[test]
    fn web_devices_are_judged_by_their_browser() {
        let chrome = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/124.0.6367.82 Mobile Safari/537.36";
        for (device, product) in [("h5", Product::Ekyc), ("web", Product::FaceLiveness), ("h5", Product::IdOcr)] {
            let m = MetaInfo::parse(&meta(device, "4.1.0:2916352,0", &format!(r#","ua":"{chrome}""#))).unwrap();
            m.check_usable(product, true).unwrap();
        }
        let cases = [
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
              CriOS/124.0 Mobile/15E148 Safari/604.1",
                Ok(BrowserEngine::Ios(17, 4)),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 14_2 like Mac OS X) AppleWebKit/605.1.15 Version/14.0 Safari/604.1",
                Err("iOS 14.2"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 \
              Safari/605.1.15",
                Ok(BrowserEngine::Safari(17)),
            ),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", Ok(BrowserEngine::Firefox(125))),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36 Edg/124.0",
                Ok(BrowserEngine::Chromium(124)),
            ),
            (
                "Mozilla/5.0 (Linux; Android 6.0) AppleWebKit/537.36 Chrome/49.0.2623 Mobile Safari/537.36",
                Err("Chromium 49"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/70.0 Safari/537.36 Edge/18.19041",
                Err("EdgeHTML"),
            ),
            ("Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko", Err("Internet Explorer")),
            ("Mozilla/5.0 (compatible; Googlebot/2.1)", Err("not recognised")),
        ];
        for (ua, want) in cases {
            match (browser_support(ua), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{ua}"),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{ua}: {e}"),
                (got, w) => panic!("{ua}: got {got:?}, want {w:?}"),
            }
        }
        let old =
            MetaInfo::parse(&meta("h5", "4.1.0:2916352,0", r#","ua":"Mozilla/5.0 (Windows NT 6.1; Trident/7.0)""#));
        let e = old.unwrap().check_usable(Product::Ekyc, false).unwrap_err();
        assert!(
            e.to_string().contains("cannot run the capture page") && e.to_string().contains("Chrome/Chromium 80+"),
            "{e}"
        );
    }

    #[test]
    fn version_parsing() {
        assert_eq!(SdkVersion::parse("4.1"), Some(SdkVersion(4, 1, 0)));
        assert_eq!(SdkVersion::parse("4.1.0.1"), None);
        assert_eq!(SdkVersion::parse("-1.0.0"), None);
        assert!(SdkVersion(1, 10, 0) > SdkVersion(1, 9, 9));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,300}") {
            let _ = MetaInfo::parse(&s).map(|m| m.check_usable(Product::Ekyc, true));
        }

        #[test]
        fn browser_support_never_panics(s in "(Mozilla/5\\.0 )?(\\(|iPhone| OS |_|Chrome/|Firefox/|Version/|Safari/|Edge/|[0-9]{1,8}|\\.| |.){0,40}") {
            let _ = browser_support(&s);
        }
    }
}

//! `get_meta_info()`: what the app sends to its merchant server before a transaction exists, so that Initialize can
//! refuse a device that could not finish the flow instead of creating a transaction that fails on the phone.

use idv_protocol::meta::Capabilities;
use idv_protocol::{DeviceType, SdkVersion};

/// The device-protocol version this SDK speaks (not the crate version): the server compares it with its minimum.
pub const SDK_VERSION: &str = "1.0.0";

/// What this SDK can capture: document pages, face frames, liveness actions and the colour flash.
pub const CAPABILITIES: Capabilities = Capabilities(
    Capabilities::DOCUMENT.0 | Capabilities::FACE.0 | Capabilities::ACTIONS.0 | Capabilities::COLOUR_FLASH.0,
);

/// Facts about the device the app knows and the SDK cannot find out portably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFacts {
    pub device_type: DeviceType,
    /// e.g. `Pixel 7`, `iPhone15,2`.
    pub device_model: String,
    /// OS release, e.g. `14` (Android) or `17.4` (iOS); empty for browsers.
    pub os_version: String,
    /// Application id, e.g. `com.example.shop`.
    pub app_name: String,
    pub app_version: String,
    /// The browser's `navigator.userAgent`; required for `web` / `h5`, ignored otherwise.
    pub user_agent: Option<String>,
}

/// Bounds each free-text fact so the whole MetaInfo stays under the server's size limit whatever the app passes.
const MAX_FACT_CHARS: usize = 256;
const MAX_UA_CHARS: usize = 1024;

fn bounded(s: &str, max: usize) -> String {
    s.trim().chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The MetaInfo JSON string (shape: `docs/wire-facts.md#metainfo`) the merchant server passes verbatim to Initialize.
pub fn get_meta_info(device: DeviceFacts) -> String {
    let mut m = serde_json::Map::new();
    m.insert("bioMetaInfo".into(), format!("{SDK_VERSION}:{},0", CAPABILITIES.0).into());
    m.insert("deviceType".into(), device.device_type.as_str().into());
    // Empty facts are left out rather than sent as "": the server parses osVersion as a number when present.
    for (key, value) in [
        ("deviceModel", &device.device_model),
        ("osVersion", &device.os_version),
        ("appName", &device.app_name),
        ("appVersion", &device.app_version),
    ] {
        let v = bounded(value, MAX_FACT_CHARS);
        if !v.is_empty() {
            m.insert(key.into(), v.into());
        }
    }
    if device.device_type.is_browser()
        && let Some(ua) = device.user_agent.as_deref().map(|ua| bounded(ua, MAX_UA_CHARS)).filter(|ua| !ua.is_empty())
    {
        m.insert("ua".into(), ua.into());
    }
    serde_json::Value::Object(m).to_string()
}

/// [`SDK_VERSION`] as a comparable version.
pub fn sdk_version() -> SdkVersion {
    SdkVersion::parse(SDK_VERSION).expect("SDK_VERSION is a valid version")
}

#[cfg(test)]
mod tests {
    use idv_protocol::meta::{MAX_META_INFO_BYTES, MIN_SDK_VERSION};
    use idv_protocol::{MetaInfo, Product};

    use super::*;

    fn phone(device_type: DeviceType, os: &str) -> DeviceFacts {
        DeviceFacts {
            device_type,
            device_model: "Pixel 7".into(),
            os_version: os.into(),
            app_name: "com.example.shop".into(),
            app_version: "2.3.1".into(),
            user_agent: None,
        }
    }

    #[test]
    fn every_product_accepts_this_sdk() {
        assert_eq!(CAPABILITIES.0, 15);
        assert!(sdk_version() >= MIN_SDK_VERSION);
        let mut web = phone(DeviceType::Web, "");
        web.user_agent = Some(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36".into(),
        );
        for facts in [phone(DeviceType::Android, "14"), phone(DeviceType::Ios, "17.4"), web] {
            let json = get_meta_info(facts.clone());
            let meta = MetaInfo::parse(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(meta.device_type, facts.device_type);
            assert_eq!(meta.sdk_version, sdk_version());
            assert_eq!(meta.capabilities, CAPABILITIES);
            for product in Product::ALL {
                for flash in [false, true] {
                    meta.check_usable(product, flash).unwrap_or_else(|e| panic!("{json} / {product:?}: {e}"));
                }
            }
        }
    }

    #[test]
    fn facts_are_bounded_and_empty_ones_left_out() {
        let mut facts = phone(DeviceType::Android, "");
        facts.device_model = "x\n".repeat(10_000);
        facts.user_agent = Some("Mozilla/5.0".into());
        let json = get_meta_info(facts);
        assert!(json.len() < MAX_META_INFO_BYTES, "{} bytes", json.len());
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(v.get("osVersion").is_none(), "{json}");
        assert!(v.get("ua").is_none(), "a phone sends no user agent: {json}");
        assert_eq!(v["deviceModel"].as_str().unwrap().chars().count(), MAX_FACT_CHARS);
        assert_eq!(v["bioMetaInfo"], "1.0.0:15,0");
        MetaInfo::parse(&json).unwrap().check_usable(Product::Ekyc, true).unwrap();
    }
}

//! The hosted web flow's page options of Initialize: `LanguageConfig` and `StyleConfig`. They are checked at
//! Initialize so a merchant learns of a language or colour idv cannot show when it asks, not when a user opens
//! the page.

use serde::{Deserialize, Serialize};

/// A language the capture page has strings for (`crates/idv-server/web/i18n/<code>.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    /// Simplified Chinese.
    Zh,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Zh];

    /// `LanguageConfig` values: `en` and `zh` with their common regional spellings. Traditional Chinese (`zh-TW`,
    /// `zh-HK`) is refused: the page has no table for it, and showing simplified characters instead is wrong.
    pub fn parse(s: &str) -> Option<Language> {
        let s = s.trim().replace('_', "-").to_ascii_lowercase();
        match s.as_str() {
            "en" | "en-us" | "en-gb" => Some(Language::En),
            "zh" | "cn" | "zh-cn" | "zh-hans" | "zh-hans-cn" => Some(Language::Zh),
            _ => None,
        }
    }

    /// The table's name and the page's own code.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Zh => "zh",
        }
    }

    /// The `lang` attribute of the page (BCP 47).
    pub fn html_lang(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Zh => "zh-CN",
        }
    }
}

/// The colours of `StyleConfig` the page honours, each `#rrggbb`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebStyle {
    /// Buttons and progress (white text on it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// WCAG 2 contrast minimums: body text 4.5:1; a button (a user-interface component with large text) 3:1.
pub const MIN_TEXT_CONTRAST: f64 = 4.5;
pub const MIN_BUTTON_CONTRAST: f64 = 3.0;
const DEFAULT_BACKGROUND: [u8; 3] = [0xff, 0xff, 0xff];
const DEFAULT_TEXT: [u8; 3] = [0x1f, 0x23, 0x28];

/// The keys of `StyleConfig` idv reads (a JSON object; the official SDK's page sections are not idv's pages).
pub const STYLE_KEYS: [&str; 3] = ["primaryColor", "backgroundColor", "textColor"];

fn rgb(s: &str) -> Option<[u8; 3]> {
    let hex = s.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

fn luminance(c: [u8; 3]) -> f64 {
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.03928 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
    };
    0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
}

/// The WCAG contrast ratio of two colours (1 to 21).
pub fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

impl WebStyle {
    /// Parses `StyleConfig`: an object with any of [`STYLE_KEYS`], each `#rrggbb`. Another key is refused by name
    /// (idv cannot apply it), and so are colours the page could not be read in.
    pub fn parse(json: &str) -> Result<WebStyle, String> {
        let v: serde_json::Value = serde_json::from_str(json).map_err(|_| "not valid JSON".to_owned())?;
        let obj = v.as_object().ok_or("not a JSON object")?;
        let mut style = WebStyle::default();
        for (k, v) in obj {
            let slot = match k.as_str() {
                "primaryColor" => &mut style.primary,
                "backgroundColor" => &mut style.background,
                "textColor" => &mut style.text,
                _ => {
                    let k: String = k.chars().take(40).collect();
                    return Err(format!("key \"{k}\" is not supported (supported: {})", STYLE_KEYS.join(", ")));
                }
            };
            let s = v.as_str().filter(|s| rgb(s).is_some()).ok_or_else(|| format!("{k} must be a colour #rrggbb"))?;
            *slot = Some(s.to_ascii_lowercase());
        }
        let colour = |c: &Option<String>, default| c.as_deref().and_then(rgb).unwrap_or(default);
        let (bg, text) = (colour(&style.background, DEFAULT_BACKGROUND), colour(&style.text, DEFAULT_TEXT));
        let c = contrast(bg, text);
        if c < MIN_TEXT_CONTRAST {
            return Err(format!("the text on the background has contrast {c:.1}:1 (at least {MIN_TEXT_CONTRAST}:1)"));
        }
        if let Some(p) = style.primary.as_deref().and_then(rgb) {
            let c = contrast(p, [0xff, 0xff, 0xff]);
            if c < MIN_BUTTON_CONTRAST {
                return Err(format!(
                    "white button text on primaryColor has contrast {c:.1}:1 (at least {MIN_BUTTON_CONTRAST}:1)"
                ));
            }
        }
        Ok(style)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_and_their_spellings() {
        assert_eq!(Language::parse("en"), Some(Language::En));
        assert_eq!(Language::parse("zh_CN"), Some(Language::Zh));
        assert_eq!(Language::parse("ZH-Hans"), Some(Language::Zh));
        assert_eq!(Language::parse("zh-TW"), None);
        assert_eq!(Language::parse("id"), None);
    }

    #[test]
    fn styles_are_checked_for_keys_format_and_contrast() {
        let s = WebStyle::parse(r##"{"primaryColor":"#1A73E8","textColor":"#000000"}"##).unwrap();
        assert_eq!(s.primary.as_deref(), Some("#1a73e8"));
        assert!(WebStyle::parse(r##"{"facePage":{}}"##).unwrap_err().contains("facePage"));
        assert!(WebStyle::parse(r##"{"primaryColor":"red"}"##).unwrap_err().contains("#rrggbb"));
        assert!(WebStyle::parse(r##"{"primaryColor":"#fff;}body{"}"##).is_err());
        assert!(WebStyle::parse(r##"{"textColor":"#eeeeee"}"##).unwrap_err().contains("contrast"));
        assert!(WebStyle::parse(r##"{"primaryColor":"#ffff00"}"##).unwrap_err().contains("button"));
        assert!(WebStyle::parse("[]").is_err());
        assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
    }
}

//! Products a merchant can request through Initialize, and the ordered capture steps each one runs on the device.

use serde::{Deserialize, Serialize};

use crate::meta::Capabilities;

/// Products served by this server through the device flow. Other cloudauth-intl product codes are known but
/// refused with a clear error by the API layer rather than accepted and silently mis-served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Product {
    #[serde(rename = "eKYC")]
    Ekyc,
    #[serde(rename = "eKYC_PRO")]
    EkycPro,
    #[serde(rename = "ID_OCR")]
    IdOcr,
    #[serde(rename = "FACE_LIVENESS")]
    FaceLiveness,
}

impl Product {
    pub const ALL: [Product; 4] = [Product::Ekyc, Product::EkycPro, Product::IdOcr, Product::FaceLiveness];

    pub fn code(self) -> &'static str {
        match self {
            Product::Ekyc => "eKYC",
            Product::EkycPro => "eKYC_PRO",
            Product::IdOcr => "ID_OCR",
            Product::FaceLiveness => "FACE_LIVENESS",
        }
    }

    pub fn from_code(code: &str) -> Option<Product> {
        Product::ALL.into_iter().find(|p| p.code() == code)
    }

    pub fn needs_document(self) -> bool {
        !matches!(self, Product::FaceLiveness)
    }

    pub fn needs_face(self) -> bool {
        !matches!(self, Product::IdOcr)
    }

    /// What the client SDK must be able to do for this product.
    pub fn required_capabilities(self) -> Capabilities {
        let mut c = Capabilities::empty();
        if self.needs_document() {
            c = c | Capabilities::DOCUMENT;
        }
        if self.needs_face() {
            c = c | Capabilities::FACE | Capabilities::ACTIONS;
        }
        c
    }

    /// The ordered capture steps. `back_page` is true when the merchant asked for both document pages.
    pub fn steps(self, back_page: bool) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.needs_document() {
            steps.push(Step::DocFront);
            if back_page {
                steps.push(Step::DocBack);
            }
        }
        if self.needs_face() {
            steps.push(Step::Face);
        }
        steps
    }
}

/// One capture step of the device flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Step {
    DocFront,
    DocBack,
    Face,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_roundtrip_and_steps_follow_the_product() {
        for p in Product::ALL {
            assert_eq!(Product::from_code(p.code()), Some(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.code()));
        }
        assert_eq!(Product::from_code("FACE_GUARD"), None);
        assert_eq!(Product::Ekyc.steps(true), vec![Step::DocFront, Step::DocBack, Step::Face]);
        assert_eq!(Product::IdOcr.steps(false), vec![Step::DocFront]);
        assert_eq!(Product::FaceLiveness.steps(true), vec![Step::Face]);
        assert!(!Product::IdOcr.required_capabilities().contains(Capabilities::FACE));
    }
}

//! Products a merchant can request, and the ordered capture steps each one runs.

use serde::{Deserialize, Serialize};

/// Products served through the device flow. Other cloudauth-intl product codes are known to the API layer and
/// refused there by name rather than accepted and silently mis-served.
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

impl Step {
    /// The step's name in logs and round records, as on the wire (`DOC_FRONT`, `DOC_BACK`, `FACE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::DocFront => "DOC_FRONT",
            Step::DocBack => "DOC_BACK",
            Step::Face => "FACE",
        }
    }
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
        assert_eq!(Product::EkycPro.steps(false), vec![Step::DocFront, Step::Face]);
        assert_eq!(Product::IdOcr.steps(false), vec![Step::DocFront]);
        assert_eq!(Product::FaceLiveness.steps(true), vec![Step::Face]);
        assert_eq!(serde_json::to_string(&Step::DocBack).unwrap(), "\"DOC_BACK\"");
    }
}

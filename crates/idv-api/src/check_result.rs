//! CheckResult: its request, the verdict a finished transaction stores, and how that verdict is rendered on the
//! wire (every value a string; the Ext* objects serialised JSON inside strings, spec §5).

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::params::{self, Params};

/// Result sub-codes. The international SubCode table is not public (spec §5.2 / §9); `200` and `205` are
/// confirmed, the rest follow the sister product's table where it has an equivalent and are idv's own otherwise.
/// `docs/subcodes.md` is the merchant-facing table.
pub mod subcode {
    /// Every check passed.
    pub const PASSED: &str = "200";
    /// The document failed a check: unreadable MRZ, wrong check digit, MRZ and printed fields disagree, wrong type.
    pub const DOCUMENT_INVALID: &str = "201";
    /// The document is expired or not yet valid.
    pub const DOCUMENT_EXPIRED: &str = "202";
    /// No usable document portrait or reference face to compare against.
    pub const NO_REFERENCE_FACE: &str = "203";
    /// The selfie does not match the document portrait / reference face.
    pub const FACE_MISMATCH: &str = "204";
    /// Liveness failed or an attack was detected.
    pub const LIVENESS_FAILED: &str = "205";
    /// The transaction expired (30 minutes, or the device went quiet) before the flow completed.
    pub const TIMED_OUT: &str = "207";
    /// The user cancelled the flow on the device.
    pub const CANCELLED: &str = "208";
    /// Captured images were unusable after the allowed retakes.
    pub const POOR_QUALITY: &str = "209";
    /// The requested check cannot be performed on this server (e.g. passive liveness from one picture): not a
    /// pass, not an attack.
    pub const CHECK_UNAVAILABLE: &str = "210";
}

/// Images a verdict can carry, by their wire key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ImageKind {
    /// ExtFaceInfo.faceImg: the best selfie frame.
    FaceImg,
    /// ExtIdInfo.idImage: the document front.
    IdImage,
    /// ExtIdInfo.idBackImage: the document back.
    IdBackImage,
    /// ExtIdInfo.croppedFaceFromDoc (ExtraImageControlList CROPPED_FACE_FROM_DOC): the document portrait.
    CroppedFaceFromDoc,
}

impl ImageKind {
    fn key(self) -> &'static str {
        match self {
            ImageKind::FaceImg => "faceImg",
            ImageKind::IdImage => "idImage",
            ImageKind::IdBackImage => "idBackImage",
            ImageKind::CroppedFaceFromDoc => "croppedFaceFromDoc",
        }
    }
    fn in_face_info(self) -> bool {
        matches!(self, ImageKind::FaceImg)
    }
    /// Returned with IsReturnImage=Y alone; the others must also be listed in ExtraImageControlList.
    fn is_default(self) -> bool {
        !matches!(self, ImageKind::CroppedFaceFromDoc)
    }
}

const EXTRA_IMAGES: &[(&str, Option<ImageKind>)] = &[
    ("CROPPED_FACE_FROM_DOC", Some(ImageKind::CroppedFaceFromDoc)),
    // Known ZOLOZ values this server never captures: accepted (they are valid requests) but nothing is returned.
    ("DOC_FRONT_ANGLE", None),
    ("DOC_FRONT_FLASH", None),
    ("DOC_BACK_ANGLE", None),
    ("DOC_BACK_FLASH", None),
    ("FACE_EYE_CLOSE", None),
    ("FACE_ID", None),
    ("DOC", None),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResultRequest {
    pub merchant_biz_id: String,
    pub transaction_id: String,
    pub return_image: bool,
    pub extra_images: Vec<ImageKind>,
}

impl CheckResultRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let merchant_biz_id = params::merchant_biz_id(&p)?;
        let transaction_id = params::transaction_id(&p)?;
        let return_image = p.yes_no("IsReturnImage", false)?;
        p.yes_no("ReturnFiveCategorySpoofResult", false)?;
        let mut extra_images = Vec::new();
        if let Some(list) = p.text("ExtraImageControlList", 512)? {
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let known = EXTRA_IMAGES.iter().find(|(n, _)| *n == item).ok_or_else(|| {
                    ApiError::invalid(
                        "ExtraImageControlList",
                        format!("unknown image \"{}\"", item.chars().take(32).collect::<String>()),
                    )
                })?;
                if let Some(k) = known.1 {
                    extra_images.push(k);
                }
            }
        }
        Ok(CheckResultRequest { merchant_biz_id, transaction_id, return_image, extra_images })
    }
}

/// The stored outcome of a finished transaction. Images are referenced, not embedded: they live in the blob store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub passed: bool,
    pub sub_code: String,
    /// Human-readable reasons behind the verdict (also rendered in ExtInfo).
    pub reasons: Vec<String>,
    pub ext_basic_info: Map<String, Value>,
    pub ext_id_info: Map<String, Value>,
    pub ext_face_info: Map<String, Value>,
    pub ext_risk_info: Map<String, Value>,
    pub ext_info: Map<String, Value>,
    /// Image kind → blob id.
    pub images: BTreeMap<ImageKind, String>,
}

impl Verdict {
    /// A failure with no evidence beyond its reason (timeouts, cancellations).
    pub fn failed(sub_code: &str, reason: impl Into<String>) -> Verdict {
        Verdict {
            passed: false,
            sub_code: sub_code.to_owned(),
            reasons: vec![reason.into()],
            ext_basic_info: Map::new(),
            ext_id_info: Map::new(),
            ext_face_info: Map::new(),
            ext_risk_info: Map::new(),
            ext_info: Map::new(),
            images: BTreeMap::new(),
        }
    }

    /// The images to return for a request, by kind.
    pub fn wanted_images(&self, req: &CheckResultRequest) -> Vec<(ImageKind, String)> {
        if !req.return_image {
            return Vec::new();
        }
        self.images
            .iter()
            .filter(|(k, _)| k.is_default() || req.extra_images.contains(k))
            .map(|(k, id)| (*k, id.clone()))
            .collect()
    }

    /// Renders the wire `Result`. `images` are the decoded bytes of [`Verdict::wanted_images`].
    pub fn render(&self, images: &[(ImageKind, Vec<u8>)]) -> CheckResultResult {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut id = self.ext_id_info.clone();
        let mut face = self.ext_face_info.clone();
        for (kind, bytes) in images {
            let target = if kind.in_face_info() { &mut face } else { &mut id };
            target.insert(kind.key().to_owned(), Value::String(b64.encode(bytes)));
        }
        let mut ext_info = self.ext_info.clone();
        ext_info.insert("reasons".into(), Value::from(self.reasons.clone()));
        let s = |m: &Map<String, Value>| Value::Object(m.clone()).to_string();
        CheckResultResult {
            passed: if self.passed { "Y" } else { "N" }.to_owned(),
            sub_code: self.sub_code.clone(),
            ext_basic_info: s(&self.ext_basic_info),
            ext_id_info: s(&id),
            ext_face_info: s(&face),
            ext_risk_info: s(&self.ext_risk_info),
            ext_info: s(&ext_info),
        }
    }
}

/// CheckResult's `Result` object (every value a string).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CheckResultResult {
    pub passed: String,
    pub sub_code: String,
    pub ext_basic_info: String,
    pub ext_id_info: String,
    pub ext_face_info: String,
    pub ext_risk_info: String,
    pub ext_info: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, &str)]) -> Result<CheckResultRequest, ApiError> {
        CheckResultRequest::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn request_rules() {
        let tid = "0123456789abcdef0123456789abcdef";
        let r = req(&[
            ("MerchantBizId", "b1"),
            ("TransactionId", tid),
            ("IsReturnImage", "Y"),
            ("ExtraImageControlList", "CROPPED_FACE_FROM_DOC,FACE_ID"),
        ])
        .unwrap();
        assert!(r.return_image);
        assert_eq!(r.extra_images, vec![ImageKind::CroppedFaceFromDoc]);
        assert_eq!(req(&[("MerchantBizId", "b1")]).unwrap_err().code, crate::ErrorCode::MissingParameter);
        assert_eq!(
            req(&[("MerchantBizId", "b1"), ("TransactionId", tid), ("IsReturnImage", "yes")]).unwrap_err().code,
            crate::ErrorCode::InvalidParameter
        );
        assert!(req(&[("MerchantBizId", "b1"), ("TransactionId", tid), ("ExtraImageControlList", "ALL")]).is_err());
    }

    #[test]
    fn render_is_strings_and_images_only_on_request() {
        let mut v = Verdict::failed(subcode::FACE_MISMATCH, "face score 12.0 below threshold 70.0");
        v.ext_face_info.insert("faceComparisonScore".into(), Value::from(12.0));
        v.images.insert(ImageKind::FaceImg, "blob1".into());
        v.images.insert(ImageKind::CroppedFaceFromDoc, "blob2".into());
        let tid = "0123456789abcdef0123456789abcdef";
        let no = req(&[("MerchantBizId", "b1"), ("TransactionId", tid)]).unwrap();
        assert!(v.wanted_images(&no).is_empty());
        let yes = req(&[("MerchantBizId", "b1"), ("TransactionId", tid), ("IsReturnImage", "Y")]).unwrap();
        assert_eq!(v.wanted_images(&yes), vec![(ImageKind::FaceImg, "blob1".to_string())]);
        let out = v.render(&[(ImageKind::FaceImg, b"jpeg".to_vec())]);
        assert_eq!(out.passed, "N");
        assert_eq!(out.sub_code, "204");
        let face: Value = serde_json::from_str(&out.ext_face_info).unwrap();
        assert_eq!(face["faceComparisonScore"], 12.0);
        assert_eq!(face["faceImg"], "anBlZw==");
        let json = serde_json::to_value(&out).unwrap();
        assert!(json.as_object().unwrap().values().all(Value::is_string));
        assert!(json.get("ExtIdInfo").is_some() && json.get("SubCode").is_some());
    }
}

#[cfg(test)]
mod doc_tests {
    #[test]
    fn every_subcode_is_documented() {
        let doc = include_str!("../../../docs/subcodes.md");
        for code in [
            super::subcode::PASSED,
            super::subcode::DOCUMENT_INVALID,
            super::subcode::DOCUMENT_EXPIRED,
            super::subcode::NO_REFERENCE_FACE,
            super::subcode::FACE_MISMATCH,
            super::subcode::LIVENESS_FAILED,
            super::subcode::TIMED_OUT,
            super::subcode::CANCELLED,
            super::subcode::POOR_QUALITY,
            super::subcode::CHECK_UNAVAILABLE,
        ] {
            assert!(doc.contains(&format!("| {code} |")), "docs/subcodes.md lacks {code}");
        }
    }
}

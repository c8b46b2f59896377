//! CheckResult: its request and its `Result` object (every value a string; the Ext* objects serialised JSON inside
//! strings, `docs/wire-facts.md#checkresult`). The verdict is `idv-flow`'s; [`crate::render`] puts it on the wire.

use std::collections::BTreeMap;

pub use idv_flow::ImageKind;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::params::{self, Params};

const EXTRA_IMAGES: &[(&str, Option<ImageKind>)] = &[
    ("CROPPED_FACE_FROM_DOC", Some(ImageKind::DocPortrait)),
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
        assert_eq!(r.extra_images, vec![ImageKind::DocPortrait]);
        assert_eq!(req(&[("MerchantBizId", "b1")]).unwrap_err().code, crate::ErrorCode::MissingParameter);
        assert_eq!(
            req(&[("MerchantBizId", "b1"), ("TransactionId", tid), ("IsReturnImage", "yes")]).unwrap_err().code,
            crate::ErrorCode::InvalidParameter
        );
        assert!(req(&[("MerchantBizId", "b1"), ("TransactionId", tid), ("ExtraImageControlList", "ALL")]).is_err());
    }
}

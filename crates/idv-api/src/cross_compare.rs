//! FaceCrossCompareIntl: two or three face pictures compared pairwise (A with B, B with C, C with A).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::face::MAX_FACE_IMAGE_BYTES;
use crate::params::{self, ImageSource, Params};

/// The pictures, A, B and optionally C.
#[derive(Debug, Clone)]
pub struct FaceCrossCompareRequest {
    pub merchant_biz_id: String,
    pub pictures: Vec<ImageSource>,
    /// `FaceVerifyThreshold` on the FaceComparisonScore scale (0–100); `None`: the engine's calibrated threshold.
    pub threshold: Option<f32>,
}

/// The wire names of the pictures, in order.
pub const PICTURES: [(&str, &str); 3] = [
    ("SourceAFacePicture", "SourceAFacePictureUrl"),
    ("SourceBFacePicture", "SourceBFacePictureUrl"),
    ("SourceCFacePicture", "SourceCFacePictureUrl"),
];

impl FaceCrossCompareRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let merchant_biz_id = params::merchant_biz_id(&p)?;
        if p.required("ProductCode")? != "FACE_CROSS_COMPARE" {
            return Err(ApiError::invalid("ProductCode", "FaceCrossCompareIntl serves FACE_CROSS_COMPARE"));
        }
        p.text("SceneCode", 64)?;
        // 0 is the only CompareModel value known (the SDK's example); another would ask for a model idv lacks.
        p.one_of("CompareModel", &["0"], "0")?;
        // The one FaceVerifyThreshold rule, shared with the face-library searches.
        let threshold = crate::face_library::threshold(&p)?;
        let mut pictures = Vec::new();
        for (i, (b64, url)) in PICTURES.into_iter().enumerate() {
            match params::image(&p, b64, url, MAX_FACE_IMAGE_BYTES)? {
                Some(src) if pictures.len() == i => pictures.push(src),
                Some(_) => {
                    return Err(ApiError::invalid(b64, "given without the pictures before it (A, then B, then C)"));
                }
                None => {}
            }
        }
        match pictures.len() {
            0 => return Err(ApiError::missing("SourceAFacePicture")),
            1 => return Err(ApiError::missing("SourceBFacePicture")),
            _ => {}
        }
        Ok(FaceCrossCompareRequest { merchant_biz_id, pictures, threshold })
    }
}

/// FaceCrossCompareIntl's `Result`. Scores are FaceComparisonScore's 0–100; a pair that was not compared (no
/// picture C) is absent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct FaceCrossCompareResult {
    #[serde(rename = "FaceComparisonScoreA2B")]
    pub face_comparison_score_a2b: f32,
    #[serde(rename = "FaceComparisonScoreB2C", skip_serializing_if = "Option::is_none")]
    pub face_comparison_score_b2c: Option<f32>,
    #[serde(rename = "FaceComparisonScoreC2A", skip_serializing_if = "Option::is_none")]
    pub face_comparison_score_c2a: Option<f32>,
    /// Y when every compared pair reaches the threshold.
    pub face_passed: String,
    pub transaction_id: String,
    /// idv extension: the threshold applied and why FacePassed is what it is.
    pub reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const BASE: [(&str, &str); 2] = [("MerchantBizId", "x1"), ("ProductCode", "FACE_CROSS_COMPARE")];

    fn with(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut m = map(&BASE);
        m.extend(map(extra));
        m
    }

    #[test]
    fn two_or_three_pictures_in_order() {
        let two = with(&[("SourceAFacePicture", "aGk="), ("SourceBFacePicture", "aGk=")]);
        assert_eq!(FaceCrossCompareRequest::parse(&two).unwrap().pictures.len(), 2);
        let gap = with(&[("SourceAFacePicture", "aGk="), ("SourceCFacePicture", "aGk=")]);
        assert!(FaceCrossCompareRequest::parse(&gap).unwrap_err().message.contains("SourceCFacePicture"));
        let one = with(&[("SourceAFacePicture", "aGk=")]);
        assert_eq!(FaceCrossCompareRequest::parse(&one).unwrap_err().code, ErrorCode::MissingParameter);
        for (k, v) in [
            ("FaceVerifyThreshold", "-"),
            ("FaceVerifyThreshold", "101"),
            ("FaceVerifyThreshold", "0.5"),
            ("CompareModel", "1"),
        ] {
            let mut m = two.clone();
            m.insert(k.into(), v.into());
            assert!(FaceCrossCompareRequest::parse(&m).unwrap_err().message.contains(k), "{k}={v}");
        }
        let mut m = two.clone();
        m.insert("FaceVerifyThreshold".into(), "82.5".into());
        assert_eq!(FaceCrossCompareRequest::parse(&m).unwrap().threshold, Some(82.5));
        m.remove("ProductCode");
        assert_eq!(FaceCrossCompareRequest::parse(&m).unwrap_err().code, ErrorCode::MissingParameter);
    }
}

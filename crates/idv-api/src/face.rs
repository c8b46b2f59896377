//! The server-side face actions: FaceCompare (1:1) and FaceLiveness (one picture).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::params::{self, ImageSource, Params};

/// Largest face picture accepted (decoded bytes).
pub const MAX_FACE_IMAGE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct FaceCompareRequest {
    pub merchant_biz_id: Option<String>,
    pub source: ImageSource,
    pub target: ImageSource,
    /// FaceQualityCheck=Y: a picture with quality problems fails the comparison.
    pub quality_check: bool,
}

fn optional_biz_id(p: &Params) -> Result<Option<String>, ApiError> {
    match p.opt("MerchantBizId") {
        None => Ok(None),
        Some(_) => params::merchant_biz_id(p).map(Some),
    }
}

impl FaceCompareRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let merchant_biz_id = optional_biz_id(&p)?;
        let source = params::image(&p, "SourceFacePicture", "SourceFacePictureUrl", MAX_FACE_IMAGE_BYTES)?
            .ok_or_else(|| ApiError::missing("SourceFacePicture"))?;
        let target = params::image(&p, "TargetFacePicture", "TargetFacePictureUrl", MAX_FACE_IMAGE_BYTES)?
            .ok_or_else(|| ApiError::missing("TargetFacePicture"))?;
        let quality_check = p.yes_no("FaceQualityCheck", false)?;
        p.yes_no("FacePictureQualityCheck", false)?;
        Ok(FaceCompareRequest { merchant_biz_id, source, target, quality_check })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct FaceCompareExtFaceInfo {
    pub face_quality_score: f32,
    pub illumination_score: f32,
    pub sharpness_score: f32,
    pub target_face_quality_score: f32,
    pub target_illumination_score: f32,
    pub target_sharpness_score: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct FaceCompareResult {
    pub passed: String,
    pub face_comparison_score: f32,
    pub transaction_id: String,
    pub ext_face_info: FaceCompareExtFaceInfo,
    /// idv extension: why Passed is what it is, and the threshold used.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FaceLivenessRequest {
    pub merchant_biz_id: Option<String>,
    pub picture: ImageSource,
    pub multi_face_check: bool,
}

impl FaceLivenessRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let merchant_biz_id = optional_biz_id(&p)?;
        if let Some(code) = p.opt("ProductCode")
            && code != "FACE_LIVENESS_MIN"
        {
            return Err(ApiError::invalid("ProductCode", "FaceLiveness serves FACE_LIVENESS_MIN"));
        }
        p.text("MerchantUserId", 128)?;
        let picture = params::image(&p, "FacePictureBase64", "FacePictureUrl", MAX_FACE_IMAGE_BYTES)?
            .ok_or_else(|| ApiError::missing("FacePictureBase64"))?;
        for flag in ["FaceQualityCheck", "NeedMultiFaceCheck"] {
            p.yes_no(flag, false)?;
        }
        // The official SDK documents T/F for these; accept both spellings.
        for flag in ["FaceQuality", "Occlusion", "FaceAttributeCheck", "Crop"] {
            p.one_of(flag, &["T", "F", "Y", "N"], "F")?;
        }
        Ok(FaceLivenessRequest { merchant_biz_id, picture, multi_face_check: p.yes_no("NeedMultiFaceCheck", false)? })
    }
}

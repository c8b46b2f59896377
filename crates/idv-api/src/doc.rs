//! DocOcr: reading one document picture on the server (ID_OCR_MIN).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::doctype::DocType;
use crate::error::ApiError;
use crate::params::{self, ImageSource, Params};

/// Largest document picture accepted (decoded bytes).
pub const MAX_DOC_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// `IdThreshold`: how much of the reading must be complete for Passed=Y, on top of every consistency check
/// (check digits, MRZ vs printed fields, validity dates, document type), which always applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdThreshold {
    /// `0`: the portrait must have been found.
    Standard,
    /// `1`: the portrait must have been located by the face detector and every printed field of the layout read.
    Strict,
    /// `2`: the consistency checks only.
    Loose,
    /// `3` (default): the consistency checks only.
    Off,
}

impl IdThreshold {
    /// `IdThreshold`, `3` when absent (DocOcr and EkycVerify).
    pub fn parse(p: &Params) -> Result<Self, ApiError> {
        Ok(match p.one_of("IdThreshold", &["0", "1", "2", "3"], "3")? {
            "0" => IdThreshold::Standard,
            "1" => IdThreshold::Strict,
            "2" => IdThreshold::Loose,
            _ => IdThreshold::Off,
        })
    }
}

#[derive(Debug, Clone)]
pub struct DocOcrRequest {
    pub merchant_biz_id: Option<String>,
    pub doc_type: DocType,
    /// True for `CardSide=OCR_ID_BACK`.
    pub back_side: bool,
    pub picture: ImageSource,
    pub threshold: IdThreshold,
    pub face_quality: bool,
}

impl DocOcrRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let merchant_biz_id = match p.opt("MerchantBizId") {
            None => None,
            Some(_) => Some(params::merchant_biz_id(&p)?),
        };
        if let Some(code) = p.opt("ProductCode")
            && code != "ID_OCR_MIN"
        {
            return Err(ApiError::invalid("ProductCode", "DocOcr serves ID_OCR_MIN"));
        }
        p.text("MerchantUserId", 128)?;
        let doc_type = DocType::parse(p.required("DocType")?).map_err(|why| ApiError::invalid("DocType", why))?;
        let back_side = p.one_of("CardSide", &["OCR_ID_FACE", "OCR_ID_BACK"], "OCR_ID_FACE")? == "OCR_ID_BACK";
        if back_side && !doc_type.has_back_page() {
            return Err(ApiError::invalid("CardSide", format!("document type {} has no back side", doc_type.code())));
        }
        if matches!(p.opt("Spoof"), Some("T" | "Y")) {
            return Err(ApiError::invalid(
                "Spoof",
                "document anti-spoofing (screen/copy/tamper detection) is not available on this server",
            ));
        }
        p.one_of("Spoof", &["T", "F", "Y", "N"], "F")?;
        p.one_of("Ocr", &["T", "F", "Y", "N"], "T")?;
        let face_quality = matches!(p.one_of("IdFaceQuality", &["T", "F", "Y", "N"], "F")?, "T" | "Y");
        let threshold = IdThreshold::parse(&p)?;
        let picture = params::image(&p, "IdOcrPictureBase64", "IdOcrPictureUrl", MAX_DOC_IMAGE_BYTES)?
            .ok_or_else(|| ApiError::missing("IdOcrPictureBase64"))?;
        Ok(DocOcrRequest { merchant_biz_id, doc_type, back_side, picture, threshold, face_quality })
    }
}

/// DocOcr's `Result`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DocOcrResult {
    pub passed: String,
    pub sub_code: String,
    /// JSON object serialised into a string (`docs/wire-facts.md#ext-json`).
    pub ext_id_info: String,
    pub transaction_id: String,
}

//! EkycVerify and EkycVerifyV2: server-only eKYC (eKYC_MIN), a document picture and a face picture in one call.

use std::collections::BTreeMap;

use idv_flow::ClaimedIdentity;
use serde::{Deserialize, Serialize};

use crate::doc::{IdThreshold, MAX_DOC_IMAGE_BYTES};
use crate::doctype::DocType;
use crate::error::ApiError;
use crate::face::MAX_FACE_IMAGE_BYTES;
use crate::params::{self, ImageSource, Params};
use crate::v2::refuse_file_field;

#[derive(Debug, Clone)]
pub struct EkycVerifyRequest {
    pub merchant_biz_id: Option<String>,
    pub doc_type: DocType,
    pub document: ImageSource,
    pub face: ImageSource,
    pub threshold: IdThreshold,
    /// FaceQualityCheck=Y: a face picture with quality problems fails the verification.
    pub quality_check: bool,
    /// DocName and DocNo, held against the reading.
    pub claimed: ClaimedIdentity,
}

/// A `T`/`F` flag as the SDK documents it, `Y`/`N` accepted too.
fn true_false(p: &Params, name: &str) -> Result<bool, ApiError> {
    Ok(matches!(p.one_of(name, &["T", "F", "Y", "N"], "F")?, "T" | "Y"))
}

impl EkycVerifyRequest {
    /// `v2`: EkycVerifyV2, whose `*File` fields are refused ([`crate::v2`]).
    pub fn parse(map: &BTreeMap<String, String>, v2: bool) -> Result<Self, ApiError> {
        let p = Params::new(map);
        if v2 {
            refuse_file_field(&p, "IdOcrPictureFile", "IdOcrPictureBase64")?;
            refuse_file_field(&p, "FacePictureFile", "FacePictureBase64")?;
        }
        let merchant_biz_id = match p.opt("MerchantBizId") {
            None => None,
            Some(_) => Some(params::merchant_biz_id(&p)?),
        };
        if let Some(code) = p.opt("ProductCode")
            && code != "eKYC_MIN"
        {
            return Err(ApiError::invalid("ProductCode", "EkycVerify serves eKYC_MIN"));
        }
        p.text("MerchantUserId", 128)?;
        let doc_type = DocType::parse(p.required("DocType")?).map_err(|why| ApiError::invalid("DocType", why))?;
        if true_false(&p, "Authorize")? {
            return Err(ApiError::invalid(
                "Authorize",
                "verification against an authoritative source (a government database) is not available on this server",
            ));
        }
        if true_false(&p, "IdSpoof")? {
            return Err(ApiError::invalid(
                "IdSpoof",
                "document anti-spoofing (screen/copy/tamper detection) is not available on this server",
            ));
        }
        // The face is always found and aligned by the detector, in a crop or a whole picture alike, so both
        // values of Crop are honoured by the same processing.
        true_false(&p, "Crop")?;
        let claimed = ClaimedIdentity {
            name: p.text("DocName", 128)?.map(str::to_owned),
            number: p.text("DocNo", 64)?.map(str::to_owned),
        };
        let threshold = IdThreshold::parse(&p)?;
        let quality_check = p.yes_no("FaceQualityCheck", false)?;
        let document = params::image(&p, "IdOcrPictureBase64", "IdOcrPictureUrl", MAX_DOC_IMAGE_BYTES)?
            .ok_or_else(|| ApiError::missing("IdOcrPictureBase64"))?;
        let face = params::image(&p, "FacePictureBase64", "FacePictureUrl", MAX_FACE_IMAGE_BYTES)?
            .ok_or_else(|| ApiError::missing("FacePictureBase64"))?;
        Ok(EkycVerifyRequest { merchant_biz_id, doc_type, document, face, threshold, quality_check, claimed })
    }
}

/// EkycVerify's `Result`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct EkycVerifyResult {
    pub passed: String,
    pub sub_code: String,
    /// JSON objects serialised into strings (`docs/wire-facts.md#ext-json`), as CheckResult's.
    pub ext_id_info: String,
    pub ext_face_info: String,
    /// idv extension, as in CheckResult: `{"reasons": [...]}`.
    pub ext_info: String,
    pub transaction_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn base() -> BTreeMap<String, String> {
        [("DocType", "GLB03002"), ("IdOcrPictureBase64", "aGk="), ("FacePictureBase64", "aGk=")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn with(k: &str, v: &str) -> BTreeMap<String, String> {
        let mut m = base();
        m.insert(k.into(), v.into());
        m
    }

    #[test]
    fn honoured_and_refused_parameters() {
        let r = EkycVerifyRequest::parse(&with("DocNo", "L898902C3"), false).unwrap();
        assert_eq!(r.claimed.number.as_deref(), Some("L898902C3"));
        assert_eq!(r.threshold, IdThreshold::Off);
        for (k, v) in [
            ("Authorize", "T"),
            ("IdSpoof", "Y"),
            ("ProductCode", "eKYC"),
            ("Crop", "maybe"),
            ("IdThreshold", "9"),
            ("FaceQualityCheck", "T"),
            ("DocType", "00000006"),
        ] {
            let e = EkycVerifyRequest::parse(&with(k, v), false).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameter, "{k}={v}");
            assert!(e.message.contains(k), "{k}: {}", e.message);
        }
        let e = EkycVerifyRequest::parse(&with("FacePictureUrl", "https://x.example/f.jpg"), false).unwrap_err();
        assert_eq!(e.code, ErrorCode::DataDuplication);
        let mut m = base();
        m.remove("FacePictureBase64");
        assert!(EkycVerifyRequest::parse(&m, false).unwrap_err().message.contains("FacePictureBase64"));
        let file = with("FacePictureFile", "http://bucket.oss.example/k");
        assert!(EkycVerifyRequest::parse(&file, true).unwrap_err().message.contains("FacePictureFile"));
    }
}

//! The `*V2` variants of the served actions (FaceCompareV2, FaceLivenessV2, DocOcrV2, InitializeV2): the same
//! parameters as the first version plus `*File` fields. The official SDKs fill a `*File` field only in their
//! `*Advance` methods, with the URL of an object they first uploaded to the vendor's OSS
//! (`http://{bucket}.{endpoint}/{key}`); this server neither receives such uploads nor fetches URLs, so a `*File`
//! field is refused by name, pointing at the Base64 parameter that carries the same picture.

use std::collections::BTreeMap;

use crate::doc::DocOcrRequest;
use crate::error::ApiError;
use crate::face::{FaceCompareRequest, FaceLivenessRequest};
use crate::params::Params;

/// Refuses a `*File` parameter that was given, naming it and the Base64 parameter to use instead.
pub fn refuse_file_field(p: &Params, file: &str, base64: &str) -> Result<(), ApiError> {
    match p.opt(file) {
        None => Ok(()),
        Some(_) => Err(ApiError::invalid(
            file,
            format!(
                "file streams reach this API only as objects uploaded to the vendor's OSS (the SDK's *Advance \
                 methods), which this server does not use; send the picture as Base64 in {base64}"
            ),
        )),
    }
}

pub fn face_compare(map: &BTreeMap<String, String>) -> Result<FaceCompareRequest, ApiError> {
    let p = Params::new(map);
    refuse_file_field(&p, "SourceFacePictureFile", "SourceFacePicture")?;
    refuse_file_field(&p, "TargetFacePictureFile", "TargetFacePicture")?;
    FaceCompareRequest::parse(map)
}

/// FaceLivenessV2 names its product FACE_LIVENESS_MIN_PRO (required): the same one-picture check as
/// FaceLiveness's FACE_LIVENESS_MIN, answered the same way (quality only, passive anti-spoofing unavailable).
pub fn face_liveness(map: &BTreeMap<String, String>) -> Result<FaceLivenessRequest, ApiError> {
    let p = Params::new(map);
    refuse_file_field(&p, "FacePictureFile", "FacePictureBase64")?;
    p.required("ProductCode")?;
    p.one_of("ProductCode", &["FACE_LIVENESS_MIN_PRO", "FACE_LIVENESS_MIN"], "FACE_LIVENESS_MIN_PRO")?;
    let mut first = map.clone();
    first.insert("ProductCode".into(), "FACE_LIVENESS_MIN".into());
    FaceLivenessRequest::parse(&first)
}

pub fn doc_ocr(map: &BTreeMap<String, String>) -> Result<DocOcrRequest, ApiError> {
    refuse_file_field(&Params::new(map), "IdOcrPictureFile", "IdOcrPictureBase64")?;
    DocOcrRequest::parse(map)
}

/// InitializeV2's parameters are Initialize's plus `FacePictureFile` and `TargetFacePictureFile`; checked here,
/// the rest is Initialize's parser.
pub fn initialize_files(map: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let p = Params::new(map);
    refuse_file_field(&p, "FacePictureFile", "FacePictureBase64")?;
    refuse_file_field(&p, "TargetFacePictureFile", "TargetFacePicture")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn file_fields_are_refused_by_name() {
        let oss = "http://bucket.oss.example/key.jpg";
        let e = face_compare(&map(&[("SourceFacePictureFile", oss), ("TargetFacePicture", "aGk=")])).unwrap_err();
        assert!(e.message.contains("SourceFacePictureFile") && e.message.contains("SourceFacePicture"), "{e:?}");
        let e = doc_ocr(&map(&[("IdOcrPictureFile", oss), ("DocType", "GLB03002")])).unwrap_err();
        assert!(e.message.contains("IdOcrPictureFile"), "{e:?}");
        let e = initialize_files(&map(&[("TargetFacePictureFile", oss)])).unwrap_err();
        assert!(e.message.contains("TargetFacePictureFile"), "{e:?}");
        assert!(initialize_files(&map(&[("ProductCode", "eKYC")])).is_ok());
    }

    #[test]
    fn liveness_v2_needs_its_product_code() {
        let pic = [("FacePictureBase64", "aGk=")];
        assert_eq!(face_liveness(&map(&pic)).unwrap_err().code, ErrorCode::MissingParameter);
        let mut m = map(&pic);
        m.insert("ProductCode".into(), "FACE_LIVENESS".into());
        assert!(face_liveness(&m).unwrap_err().message.contains("ProductCode"));
        m.insert("ProductCode".into(), "FACE_LIVENESS_MIN_PRO".into());
        assert!(face_liveness(&m).is_ok());
    }
}

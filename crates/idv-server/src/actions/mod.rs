//! The merchant actions. Each takes the verified parameter map and the calling merchant and returns the `Result`
//! object of its success body.

mod check_result;
mod cross_compare;
mod delete;
pub(crate) mod doc;
mod ekyc;
mod face;
mod face_library;
mod initialize;
mod v2;
mod verify_log;

use idv_api::params::ImageSource;
use idv_api::sign::SignedRequest;
use idv_api::{ApiError, ErrorCode};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ServerError;

/// A success body still missing its RequestId.
pub struct Success(pub serde_json::Value);

/// Marks an answer whose fields sit beside `RequestId` instead of inside `Result` (the face-group and
/// face-record actions). Only this server's own handlers build it; no request data can name it.
pub(crate) const TOP_LEVEL: &str = "\u{1}top-level";

impl Success {
    pub(crate) fn top_level(fields: serde_json::Map<String, serde_json::Value>) -> Success {
        Success(serde_json::json!({ TOP_LEVEL: fields }))
    }
}

/// Image URLs would make this server fetch arbitrary addresses on a merchant's behalf (SSRF); until an operator
/// option with an allow-list exists, only inline pictures are accepted.
pub(crate) fn inline(param: &str, src: ImageSource) -> Result<Vec<u8>, ServerError> {
    match src {
        ImageSource::Bytes(b) => Ok(b),
        ImageSource::Url(_) => Err(ApiError::invalid(
            param,
            "fetching images from URLs is disabled on this server; send the picture as Base64 in the form body",
        )
        .into()),
    }
}

/// Actions of cloudauth-intl 2022-08-09 that this server does not serve (yet): named in the error so a merchant
/// knows it is a deliberate gap, not a typo.
const KNOWN_ACTIONS: &[&str] = &[
    "AddressCompareIntl",
    "AddressVerifyIntl",
    "AddressVerifyV2Intl",
    "BankMetaVerifyIntl",
    "CardOcr",
    "CredentialGetResultIntl",
    "CredentialRecognitionIntl",
    "CredentialRecognitionIntlV2",
    "CredentialSubmitIntl",
    "CredentialSubmitIntlV2",
    "CredentialVerifyIntl",
    "DeepfakeDetectIntl",
    "DeepfakeDetectIntlStream",
    "DocOcr",
    "DocOcrMax",
    "DocOcrMaxV2",
    "DownloadVerifyRecordIntl",
    "FaceCompare",
    "FaceGuardRisk",
    "FaceLiveness",
    "FraudResultCallBack",
    "Id2MetaPeriodVerifyIntl",
    "Id2MetaVerifyIntl",
    "IdnAuthorityVerifyIntl",
    "Mobile2MetaVerifyIntl",
    "Mobile3MetaVerifyIntl",
    "TempAccessTokenIntl",
    "TempOssUrlIntl",
];

pub async fn dispatch(
    state: &AppState,
    req: &SignedRequest,
    caller: &Caller,
) -> (&'static str, Result<Success, ServerError>) {
    match req.action.as_str() {
        "Initialize" => ("Initialize", initialize::handle(state, &req.params, caller).await),
        "CheckResult" => ("CheckResult", check_result::handle(state, &req.params, caller).await),
        "DeleteVerifyResult" => ("DeleteVerifyResult", delete::handle(state, &req.params, caller).await),
        "CheckVerifyLog" => ("CheckVerifyLog", verify_log::handle(state, &req.params, caller).await),
        "FaceCompare" => ("FaceCompare", face::compare(state, &req.params, caller).await),
        "FaceLiveness" => ("FaceLiveness", face::liveness(state, &req.params, caller).await),
        "DocOcr" => ("DocOcr", doc::ocr(state, &req.params, caller).await),
        "AddFaceRecord" => ("AddFaceRecord", face_library::add_record(state, &req.params, caller).await),
        "QueryFaceRecord" => ("QueryFaceRecord", face_library::query_records(state, &req.params, caller).await),
        "DeleteFaceRecord" => ("DeleteFaceRecord", face_library::delete_record(state, &req.params, caller).await),
        "DeleteFaceRecordV2" => {
            ("DeleteFaceRecordV2", face_library::delete_record_v2(state, &req.params, caller).await)
        }
        "ModifyFaceRecord" => ("ModifyFaceRecord", face_library::modify_record(&req.params)),
        "QueryFaceGroup" => ("QueryFaceGroup", face_library::query_groups(state, &req.params, caller).await),
        "ModifyFaceGroup" => ("ModifyFaceGroup", face_library::modify_group(state, &req.params, caller).await),
        "DeleteFaceGroup" => ("DeleteFaceGroup", face_library::delete_group(state, &req.params, caller).await),
        "FaceVerifyIntl" => ("FaceVerifyIntl", face_library::verify(state, &req.params, caller, false).await),
        "FaceDuplicationCheckIntl" => {
            ("FaceDuplicationCheckIntl", face_library::verify(state, &req.params, caller, true).await)
        }
        "EkycVerify" => ("EkycVerify", ekyc::verify(state, &req.params, caller, false).await),
        "EkycVerifyV2" => ("EkycVerifyV2", ekyc::verify(state, &req.params, caller, true).await),
        "FaceCrossCompareIntl" => ("FaceCrossCompareIntl", cross_compare::compare(state, &req.params, caller).await),
        "KeepaliveIntl" => ("KeepaliveIntl", v2::keepalive()),
        "FaceCompareV2" => ("FaceCompareV2", v2::face_compare(state, &req.params, caller).await),
        "FaceLivenessV2" => ("FaceLivenessV2", v2::face_liveness(state, &req.params, caller).await),
        "DocOcrV2" => ("DocOcrV2", v2::doc_ocr(state, &req.params, caller).await),
        "InitializeV2" => ("InitializeV2", v2::initialize(state, &req.params, caller).await),
        other => {
            let known = KNOWN_ACTIONS.contains(&other);
            let msg = if known {
                format!("The action {other} is not supported by this idv server.")
            } else {
                format!("Specified api is not found: {}.", other.chars().take(64).collect::<String>())
            };
            ("unknown", Err(ApiError::new(ErrorCode::InvalidActionNotFound, msg).into()))
        }
    }
}

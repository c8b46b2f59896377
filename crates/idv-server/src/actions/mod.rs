//! The merchant actions. Each takes the verified parameter map and the calling merchant and returns the `Result`
//! object of its success body.

mod check_result;
mod delete;
pub(crate) mod doc;
mod face;
mod initialize;
mod verify_log;

use idv_api::params::ImageSource;
use idv_api::sign::SignedRequest;
use idv_api::{ApiError, ErrorCode};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ServerError;

/// A success body still missing its RequestId.
pub struct Success(pub serde_json::Value);

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
    "AddFaceRecord",
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
    "DeleteFaceGroup",
    "DeleteFaceRecord",
    "DeleteFaceRecordV2",
    "DocOcr",
    "DocOcrMax",
    "DocOcrMaxV2",
    "DocOcrV2",
    "DownloadVerifyRecordIntl",
    "EkycVerify",
    "EkycVerifyV2",
    "FaceCompare",
    "FaceCompareV2",
    "FaceCrossCompareIntl",
    "FaceDuplicationCheckIntl",
    "FaceGuardRisk",
    "FaceLiveness",
    "FaceLivenessV2",
    "FaceVerifyIntl",
    "FraudResultCallBack",
    "Id2MetaPeriodVerifyIntl",
    "Id2MetaVerifyIntl",
    "IdnAuthorityVerifyIntl",
    "InitializeV2",
    "KeepaliveIntl",
    "Mobile2MetaVerifyIntl",
    "Mobile3MetaVerifyIntl",
    "ModifyFaceGroup",
    "ModifyFaceRecord",
    "QueryFaceGroup",
    "QueryFaceRecord",
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

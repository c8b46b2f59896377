use std::collections::BTreeMap;

use idv_api::doc::{DocOcrRequest, DocOcrResult, IdThreshold};
use idv_api::{ApiError, ErrorCode, render};
use idv_doc::{CardSide, DocError, DocRequest};
use idv_flow::DocRequirement;
use serde_json::{Value, json};

use crate::AppState;
use crate::actions::Success;
use crate::auth::Caller;
use crate::error::ServerError;
use crate::steps::{doc_spec, today};

/// Maps a document-engine failure on a merchant's picture to the API's picture errors.
pub(crate) fn doc_error(e: DocError) -> ServerError {
    match e {
        DocError::TooLarge(why) => {
            ApiError::new(ErrorCode::ToolargeImage, format!("IdOcrPictureBase64: {why}.")).into()
        }
        DocError::UnqualifiedPhoto(why) => {
            ApiError::new(ErrorCode::UnqualifiedPhoto, format!("IdOcrPictureBase64: {why}.")).into()
        }
        DocError::Retake(why) => ApiError::new(
            ErrorCode::UnqualifiedPhoto,
            format!(
                "The document could not be read ({why}); take the picture again, flat, in focus and fully in frame."
            ),
        )
        .into(),
        other => ServerError::internal(other),
    }
}

/// What `IdThreshold` asks of the document beyond its checks, and how the reasons name it.
pub(crate) fn requirement(threshold: IdThreshold) -> (DocRequirement, &'static str) {
    match threshold {
        IdThreshold::Standard => (DocRequirement::Portrait, "IdThreshold=0"),
        IdThreshold::Strict => (DocRequirement::Complete, "IdThreshold=1"),
        IdThreshold::Loose => (DocRequirement::ChecksOnly, "IdThreshold=2"),
        IdThreshold::Off => (DocRequirement::ChecksOnly, "IdThreshold=3"),
    }
}

pub async fn ocr(state: &AppState, params: &BTreeMap<String, String>, caller: &Caller) -> Result<Success, ServerError> {
    ocr_parsed(state, DocOcrRequest::parse(params)?, caller).await
}

/// DocOcr and DocOcrV2 once their parameters are parsed.
pub(crate) async fn ocr_parsed(state: &AppState, req: DocOcrRequest, caller: &Caller) -> Result<Success, ServerError> {
    let picture = super::inline("IdOcrPictureUrl", req.picture)?;
    let side = if req.back_side { CardSide::Back } else { CardSide::Front };
    let doc_req = DocRequest::new(doc_spec(&req.doc_type), today(state.now())).with_side(side);
    let reading = state.engines.run(move |e| e.doc.read_bytes(&picture, &doc_req)).await?.map_err(doc_error)?;
    let reading = crate::steps::doc_reading(&reading);
    let (requirement, label) = requirement(req.threshold);
    let outcome = idv_flow::read_document(&reading, requirement, req.back_side, label);
    let mut ext = render::doc_ext_id_info(&reading);
    ext.insert("reasons".into(), json!(outcome.reasons));
    ext.insert("idThreshold".into(), json!(req.threshold));
    if req.face_quality {
        // The portrait's face quality is not measured by the document engine; say so instead of inventing it.
        ext.insert("idFaceQualityScore".into(), Value::Null);
        ext.insert(
            "idFaceQuality".into(),
            json!({"status": "NOT_AVAILABLE", "reason": "document portrait quality scoring is not implemented"}),
        );
    }
    let transaction_id = idv_crypto::random_hex(16);
    let (passed, sub_code) = (outcome.passed, outcome.sub_code.code());
    tracing::info!(merchant = %caller.merchant.id, transaction_id, passed, sub_code, biz = ?req.merchant_biz_id, "DocOcr");
    let detail = json!({"kind": "DocOcr", "passed": passed, "subCode": sub_code});
    crate::audit::audit_key(state, caller, "image.processed", &transaction_id, detail).await;
    let result = DocOcrResult {
        passed: if passed { "Y" } else { "N" }.into(),
        sub_code: sub_code.into(),
        ext_id_info: Value::Object(ext).to_string(),
        transaction_id,
    };
    Ok(Success(serde_json::to_value(result).map_err(ServerError::internal)?))
}

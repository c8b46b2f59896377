use std::collections::BTreeMap;

use idv_api::doc::{DocOcrRequest, DocOcrResult, IdThreshold};
use idv_api::{ApiError, ErrorCode, subcode};
use idv_doc::{CardSide, DocError, DocRequest, Field};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ServerError;
use crate::rpc::Success;

pub(crate) fn today() -> mrz::Date {
    let now = time::OffsetDateTime::now_utc();
    mrz::Date::new(now.year(), now.month() as u32, now.day() as u32)
}

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
        DocError::UnsupportedDocType(code) => ApiError::invalid("DocType", format!("{code} is not supported")).into(),
        other => ServerError::Internal(format!("document engine: {other}")),
    }
}

pub async fn ocr(state: &AppState, params: &BTreeMap<String, String>, caller: &Caller) -> Result<Success, ServerError> {
    let req = DocOcrRequest::parse(params)?;
    let picture = super::inline("IdOcrPictureUrl", req.picture)?;
    let side = if req.back_side { CardSide::Back } else { CardSide::Front };
    let doc_req = DocRequest::new(req.doc_type.code(), today()).map_err(doc_error)?.with_side(side);
    let reading = state.engines.run(move |e| e.doc.read_bytes(&picture, &doc_req)).await?.map_err(doc_error)?;

    let mut reasons: Vec<String> =
        reading.failed_checks().iter().map(|c| format!("{}: {}", c.name, c.reason)).collect();
    let expired = reading.failed_checks().iter().any(|c| c.name == "not_expired" || c.name == "already_valid");
    match req.threshold {
        IdThreshold::Standard if reading.portrait.is_none() && !req.back_side => {
            reasons.push("IdThreshold=0: no portrait was found on the document".into());
        }
        IdThreshold::Strict => {
            if !req.back_side && !reading.portrait.as_ref().is_some_and(|p| p.face_refined) {
                reasons.push("IdThreshold=1: the portrait was not confirmed by the face detector".into());
            }
            for f in [Field::Surname, Field::GivenNames, Field::DocumentNumber, Field::BirthDate, Field::ExpiryDate] {
                if !req.back_side && !reading.printed.contains_key(&f) {
                    reasons.push(format!("IdThreshold=1: printed field {} was not read", f.as_str()));
                }
            }
        }
        _ => {}
    }
    let passed = reasons.is_empty() && reading.passed();
    let sub_code = if passed {
        subcode::PASSED
    } else if expired {
        subcode::DOCUMENT_EXPIRED
    } else {
        subcode::DOCUMENT_INVALID
    };
    let mut ext = reading.ext_id_info();
    if let Value::Object(m) = &mut ext {
        m.insert("reasons".into(), json!(reasons));
        m.insert("idThreshold".into(), json!(req.threshold));
        if req.face_quality {
            // The portrait's face quality is not measured by the document engine; say so instead of inventing it.
            m.insert("idFaceQualityScore".into(), Value::Null);
            m.insert(
                "idFaceQuality".into(),
                json!({"status": "NOT_AVAILABLE", "reason": "document portrait quality scoring is not implemented"}),
            );
        }
    }
    let transaction_id = idv_crypto::random_hex(16);
    tracing::info!(merchant = %caller.merchant.id, transaction_id, passed, sub_code, biz = ?req.merchant_biz_id, "DocOcr");
    let result = DocOcrResult {
        passed: if passed { "Y" } else { "N" }.into(),
        sub_code: sub_code.into(),
        ext_id_info: ext.to_string(),
        transaction_id,
    };
    Ok(Success(serde_json::to_value(result).map_err(|e| ServerError::Internal(e.to_string()))?))
}

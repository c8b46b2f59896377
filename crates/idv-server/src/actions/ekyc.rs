//! EkycVerify / EkycVerifyV2 (eKYC_MIN): the document read as DocOcr reads it, the face analysed and compared with
//! the document's portrait as the device flow's face step does, decided by `idv_flow::decide_document_face` and
//! rendered as CheckResult renders a transaction.

use std::collections::BTreeMap;

use idv_api::ekyc::{EkycVerifyRequest, EkycVerifyResult};
use idv_api::render;
use idv_doc::DocRequest;
use idv_face::{FaceError, MultiFace};
use idv_flow::SubCode;
use serde_json::{Value, json};

use crate::AppState;
use crate::actions::Success;
use crate::auth::Caller;
use crate::engines::face_error;
use crate::error::ServerError;
use crate::steps::{compare_with_reference, doc_reading, doc_spec, selfie_analysis, today};

use super::doc::{doc_error, requirement};
use super::inline;

pub async fn verify(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
    v2: bool,
) -> Result<Success, ServerError> {
    let req = EkycVerifyRequest::parse(params, v2)?;
    let document = inline("IdOcrPictureUrl", req.document)?;
    let face = inline("FacePictureUrl", req.face)?;
    let doc_req = DocRequest::new(doc_spec(&req.doc_type), today(state.now()));
    let read = state.engines.run(move |e| e.doc.read_bytes(&document, &doc_req)).await?.map_err(doc_error)?;
    let reading = doc_reading(&read);
    let portrait = read.portrait.map(|p| p.image);
    let (selfie, reference) = state
        .engines
        .run(move |e| {
            let img = e.face.decode(&face).map_err(|er| face_error("FacePictureBase64", er))?;
            let selfie = e.face.analyze(&img, MultiFace::Largest).map_err(|er| face_error("FacePictureBase64", er))?;
            let reference = portrait.map(|p| {
                let (w, h) = p.dimensions();
                idv_vision::DecodedImage::from_rgb(w, h, p.into_raw())
                    .map_err(FaceError::from)
                    .and_then(|img| e.face.analyze(&img, MultiFace::Largest))
            });
            Ok::<_, ServerError>((selfie, reference))
        })
        .await??;
    let face_issues: Vec<String> =
        if req.quality_check { selfie.quality.issues().iter().map(|i| format!("{i:?}")).collect() } else { Vec::new() };
    let analysis = selfie_analysis(state, &selfie);
    let comparison = compare_with_reference(state, &selfie, reference);
    let (requirement, label) = requirement(req.threshold);
    let document = idv_flow::read_document(&reading, requirement, false, label);
    let outcome = idv_flow::decide_document_face(document, &reading, &req.claimed, &comparison, &face_issues);
    // Document failures come first in the SubCode order, so the document part passed unless the SubCode is one.
    let document_passed = !matches!(outcome.sub_code, SubCode::DocumentInvalid | SubCode::DocumentExpired);
    let (mut ext_id, ext_face) = render::ekyc_min_ext(&reading, document_passed, &analysis, &comparison);
    ext_id.insert("idThreshold".into(), json!(req.threshold));
    let transaction_id = idv_crypto::random_hex(16);
    let (passed, sub_code) = (outcome.passed, outcome.sub_code.code());
    tracing::info!(merchant = %caller.merchant.id, transaction_id, passed, sub_code, biz = ?req.merchant_biz_id, "EkycVerify");
    let detail = json!({"kind": "EkycVerify", "passed": passed, "subCode": sub_code});
    crate::audit::audit_key(state, caller, "image.processed", &transaction_id, detail).await;
    let result = EkycVerifyResult {
        passed: if passed { "Y" } else { "N" }.into(),
        sub_code: sub_code.into(),
        ext_id_info: Value::Object(ext_id).to_string(),
        ext_face_info: Value::Object(ext_face).to_string(),
        ext_info: json!({"reasons": outcome.reasons}).to_string(),
        transaction_id,
    };
    Ok(Success(serde_json::to_value(result).map_err(ServerError::internal)?))
}

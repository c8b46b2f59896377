use std::collections::BTreeMap;

use idv_api::face::{FaceCompareExtFaceInfo, FaceCompareRequest, FaceCompareResult, FaceLivenessRequest};
use idv_face::{Decision, MultiFace};
use serde_json::json;

use crate::AppState;
use crate::actions::Success;
use crate::auth::Caller;
use crate::engines::face_error;
use crate::error::ServerError;

use super::inline;

pub(super) fn r2(x: f32) -> f32 {
    (x * 100.0).round() / 100.0
}

pub async fn compare(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    compare_parsed(state, FaceCompareRequest::parse(params)?, caller).await
}

/// FaceCompare and FaceCompareV2 once their parameters are parsed.
pub(super) async fn compare_parsed(
    state: &AppState,
    req: FaceCompareRequest,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let source = inline("SourceFacePictureUrl", req.source)?;
    let target = inline("TargetFacePictureUrl", req.target)?;
    let cmp = state
        .engines
        .run(move |e| {
            let face = &e.face;
            let a = face.decode(&source).map_err(|e| face_error("SourceFacePicture", e))?;
            let a = face.analyze(&a, MultiFace::Largest).map_err(|e| face_error("SourceFacePicture", e))?;
            let b = face.decode(&target).map_err(|e| face_error("TargetFacePicture", e))?;
            let b = face.analyze(&b, MultiFace::Largest).map_err(|e| face_error("TargetFacePicture", e))?;
            Ok::<_, ServerError>(face.compare(&a, &b))
        })
        .await??;
    let mut reasons = vec![format!(
        "FaceComparisonScore {:.2} {} the match threshold {:.2} (cosine {:.3}, threshold {:.3})",
        cmp.face_comparison_score,
        if cmp.decision == Decision::Match { "reaches" } else { "is below" },
        cmp.thresholds.decision_score,
        cmp.cosine,
        cmp.thresholds.decision_cosine,
    )];
    let mut passed = cmp.decision == Decision::Match;
    if req.quality_check {
        for (which, q) in [("source", &cmp.source_quality), ("target", &cmp.target_quality)] {
            let issues = q.issues();
            if !issues.is_empty() {
                passed = false;
                reasons.push(format!("FaceQualityCheck: the {which} picture has quality issues {issues:?}"));
            }
        }
    }
    let transaction_id = idv_crypto::random_hex(16);
    tracing::info!(merchant = %caller.merchant.id, transaction_id, passed, score = cmp.face_comparison_score, biz = ?req.merchant_biz_id, "FaceCompare");
    let detail = json!({"kind": "FaceCompare", "passed": passed});
    crate::audit::audit_key(state, caller, "image.processed", &transaction_id, detail).await;
    let result = FaceCompareResult {
        passed: if passed { "Y" } else { "N" }.into(),
        face_comparison_score: r2(cmp.face_comparison_score),
        transaction_id,
        ext_face_info: FaceCompareExtFaceInfo {
            face_quality_score: r2(cmp.source_quality.face_quality_score),
            illumination_score: r2(cmp.source_quality.illumination_score),
            sharpness_score: r2(cmp.source_quality.sharpness_score),
            target_face_quality_score: r2(cmp.target_quality.face_quality_score),
            target_illumination_score: r2(cmp.target_quality.illumination_score),
            target_sharpness_score: r2(cmp.target_quality.sharpness_score),
        },
        reasons,
    };
    Ok(Success(serde_json::to_value(result).map_err(ServerError::internal)?))
}

pub async fn liveness(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    liveness_parsed(state, FaceLivenessRequest::parse(params)?, caller).await
}

/// FaceLiveness and FaceLivenessV2 once their parameters are parsed.
pub(super) async fn liveness_parsed(
    state: &AppState,
    req: FaceLivenessRequest,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let picture = inline("FacePictureUrl", req.picture)?;
    let multi = if req.multi_face_check { MultiFace::Reject } else { MultiFace::Largest };
    let a = state
        .engines
        .run(move |e| {
            let face = &e.face;
            let img = face.decode(&picture).map_err(|e| face_error("FacePictureBase64", e))?;
            face.liveness(&img, multi).map_err(|e| face_error("FacePictureBase64", e))
        })
        .await??;
    let transaction_id = idv_crypto::random_hex(16);
    tracing::info!(merchant = %caller.merchant.id, transaction_id, biz = ?req.merchant_biz_id, "FaceLiveness (quality only)");
    let not_measured: Vec<_> = a.not_measured.iter().map(|n| json!({"Field": n.field, "Reason": n.reason})).collect();
    // Passed is N with SubCode 210: nothing here shows the face is live, and saying "no attack" without a
    // check would be a lie. FaceAttack is deliberately absent.
    let result = json!({
        "Passed": "N",
        "SubCode": idv_flow::SubCode::CheckUnavailable.code(),
        "TransactionId": transaction_id,
        "ExtFaceInfo": {
            "FaceQualityScore": r2(a.quality.face_quality_score),
            "SharpnessScore": r2(a.quality.sharpness_score),
            "IlluminationScore": r2(a.quality.illumination_score),
            "FaceAttributeInfo": json!({"faceCount": a.face_count, "yaw": r2(a.pose.yaw_deg), "roll": r2(a.pose.roll_deg)}).to_string(),
            "PassiveAntiSpoofing": a.passive_anti_spoofing,
            "NotMeasured": not_measured,
        },
    });
    Ok(Success(result))
}

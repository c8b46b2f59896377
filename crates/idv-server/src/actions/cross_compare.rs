//! FaceCrossCompareIntl: each pair of two or three faces compared as FaceCompare compares two.

use std::collections::BTreeMap;

use idv_api::cross_compare::{FaceCrossCompareRequest, FaceCrossCompareResult, PICTURES};
use idv_face::{Decision, MultiFace};
use serde_json::json;

use crate::AppState;
use crate::actions::Success;
use crate::auth::Caller;
use crate::engines::face_error;
use crate::error::ServerError;

use super::face::r2;
use super::inline;

pub async fn compare(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let req = FaceCrossCompareRequest::parse(params)?;
    let mut pictures = Vec::new();
    for (src, (b64, url)) in req.pictures.into_iter().zip(PICTURES) {
        pictures.push((b64, inline(url, src)?));
    }
    let faces = state
        .engines
        .run(move |e| {
            pictures
                .iter()
                .map(|(name, bytes)| {
                    let img = e.face.decode(bytes).map_err(|er| face_error(name, er))?;
                    e.face.analyze(&img, MultiFace::Largest).map_err(|er| face_error(name, er))
                })
                .collect::<Result<Vec<_>, ServerError>>()
        })
        .await??;
    let engine = state.engines.face();
    let calibrated = engine.info().thresholds.decision_score;
    let threshold = req.threshold.unwrap_or(calibrated);
    // A2B, B2C, C2A: with two faces only A2B exists.
    let pairs: &[(usize, usize, &str)] =
        if faces.len() == 3 { &[(0, 1, "A2B"), (1, 2, "B2C"), (2, 0, "C2A")] } else { &[(0, 1, "A2B")] };
    let mut scores = Vec::new();
    let mut reasons = Vec::new();
    let mut passed = true;
    for &(a, b, name) in pairs {
        let cmp = engine.compare(&faces[a], &faces[b]);
        // The engine's own decision at its calibrated threshold, the merchant's threshold on the score otherwise.
        let matched = match req.threshold {
            None => cmp.decision == Decision::Match,
            Some(t) => cmp.face_comparison_score >= t,
        };
        passed &= matched;
        reasons.push(format!(
            "{name}: FaceComparisonScore {:.2} {} the threshold {threshold:.2}",
            cmp.face_comparison_score,
            if matched { "reaches" } else { "is below" }
        ));
        scores.push(r2(cmp.face_comparison_score));
    }
    let source = if req.threshold.is_some() { "FaceVerifyThreshold" } else { "the engine's calibrated threshold" };
    reasons.push(format!("threshold {threshold:.2} from {source}"));
    let transaction_id = idv_crypto::random_hex(16);
    tracing::info!(merchant = %caller.merchant.id, transaction_id, passed, faces = faces.len(), biz = %req.merchant_biz_id, "FaceCrossCompareIntl");
    let detail = json!({"kind": "FaceCrossCompareIntl", "passed": passed});
    crate::audit::audit_key(state, caller, "image.processed", &transaction_id, detail).await;
    let result = FaceCrossCompareResult {
        face_comparison_score_a2b: scores[0],
        face_comparison_score_b2c: scores.get(1).copied(),
        face_comparison_score_c2a: scores.get(2).copied(),
        face_passed: if passed { "Y" } else { "N" }.into(),
        transaction_id,
        reasons,
    };
    Ok(Success(serde_json::to_value(result).map_err(ServerError::internal)?))
}

//! What the server checks in each capture step, and how the checks combine into the verdict (the decision
//! policy). Engines measure; this module decides.

use std::collections::BTreeMap;

use idv_api::{ImageKind, TransactionOptions, Verdict, subcode};
use idv_doc::{CardSide, DocError, DocRequest};
use idv_face::{Decision, FaceError, MultiFace};
use idv_protocol::Step;
use idv_protocol::device::Challenge;
use idv_store::Transaction;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::actions::today;
use crate::device::Refusal;

/// Evidence gathered by the accepted rounds, kept (sealed) in the flow state until the decision.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Evidence {
    pub doc_front: Option<DocEvidence>,
    pub doc_back: Option<DocEvidence>,
    pub face: Option<FaceEvidence>,
}

impl Evidence {
    pub fn merge(&mut self, other: Evidence) {
        if other.doc_front.is_some() {
            self.doc_front = other.doc_front;
        }
        if other.doc_back.is_some() {
            self.doc_back = other.doc_back;
        }
        if other.face.is_some() {
            self.face = other.face;
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocEvidence {
    pub image_blob: String,
    pub portrait_blob: Option<String>,
    /// ExtIdInfo as the engine reports it (fields, checks, MRZ, models).
    pub ext_id_info: Value,
    pub ocr_id_info: BTreeMap<String, String>,
    /// (check name, reason) of every failed check.
    pub failed: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaceEvidence {
    pub image_blob: String,
    /// Quality, comparison and liveness measurements for ExtFaceInfo.
    pub info: Value,
    /// None when there was nothing to compare with.
    pub matched: Option<bool>,
    pub liveness: LivenessOutcome,
}

/// The liveness result of the face step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LivenessOutcome {
    Passed { reasons: Vec<String> },
    Attack { reasons: Vec<String> },
}

/// Frames of the face step analysed as selfie candidates.
const SELFIE_CANDIDATES: usize = 3;

pub enum StepResult {
    Accepted { evidence: Box<Evidence>, detail: Value },
    Retake { reason_code: String, reason: String },
}

fn png(img: &image::RgbImage) -> Result<Vec<u8>, Refusal> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).map_err(Refusal::internal)?;
    Ok(out.into_inner())
}

pub async fn process_step(
    state: &AppState,
    tx: &Transaction,
    options: &TransactionOptions,
    step: Step,
    frames: Vec<(Vec<u8>, u32)>,
    challenge: Option<Challenge>,
    so_far: &Evidence,
) -> Result<StepResult, Refusal> {
    match step {
        Step::DocFront | Step::DocBack => doc_step(state, tx, options, step, frames).await,
        Step::Face => face_step(state, tx, options, frames, challenge, so_far).await,
    }
}

async fn doc_step(
    state: &AppState,
    tx: &Transaction,
    options: &TransactionOptions,
    step: Step,
    mut frames: Vec<(Vec<u8>, u32)>,
) -> Result<StepResult, Refusal> {
    let doc_type = options.doc_type.ok_or_else(|| Refusal::internal("document step without a DocType"))?;
    let side = if step == Step::DocBack { CardSide::Back } else { CardSide::Front };
    let image = frames.swap_remove(0).0;
    let req = DocRequest::new(doc_type.code(), today()).map_err(Refusal::internal)?.with_side(side);
    let bytes = image.clone();
    let read = state.engines.run(move |e| e.doc.read_bytes(&bytes, &req)).await?;
    let reading = match read {
        Ok(r) => r,
        Err(DocError::Retake(why)) => {
            return Ok(StepResult::Retake { reason_code: "DOC_UNREADABLE".into(), reason: why });
        }
        Err(DocError::UnqualifiedPhoto(why)) => {
            return Ok(StepResult::Retake { reason_code: "UNQUALIFIED_PHOTO".into(), reason: why });
        }
        Err(DocError::TooLarge(why)) => return Ok(StepResult::Retake { reason_code: "TOO_LARGE".into(), reason: why }),
        Err(e) => return Err(Refusal::internal(e)),
    };
    let kind = if step == Step::DocBack { "doc_back" } else { "doc_front" };
    let image_blob = state.store.put_blob(&tx.id, kind, &image).await?;
    let portrait_blob = match &reading.portrait {
        Some(p) => Some(state.store.put_blob(&tx.id, "doc_portrait", &png(&p.image)?).await?),
        None => None,
    };
    let failed: Vec<(String, String)> =
        reading.failed_checks().iter().map(|c| (c.name.clone(), c.reason.clone())).collect();
    let detail =
        json!({"locatedBy": reading.located_by, "failedChecks": failed.len(), "elapsedMs": reading.elapsed_ms});
    let ev = DocEvidence {
        image_blob,
        portrait_blob,
        ext_id_info: reading.ext_id_info(),
        ocr_id_info: reading.ocr_id_info.clone(),
        failed,
    };
    let mut evidence = Evidence::default();
    if step == Step::DocBack {
        evidence.doc_back = Some(ev);
    } else {
        evidence.doc_front = Some(ev);
    }
    Ok(StepResult::Accepted { evidence: Box::new(evidence), detail })
}

/// The face to compare the selfie with: the document portrait for document products, the merchant's reference
/// picture for FACE_LIVENESS with one.
async fn reference_face(state: &AppState, tx: &Transaction, so_far: &Evidence) -> Result<Option<Vec<u8>>, Refusal> {
    let portrait = so_far.doc_front.as_ref().and_then(|d| d.portrait_blob.clone());
    let blob = match portrait {
        Some(b) => Some(b),
        None => state.store.blob_of_kind(&tx.id, "reference_face").await?,
    };
    match blob {
        Some(id) => Ok(Some(state.store.get_blob(&tx.id, &id).await?)),
        None => Ok(None),
    }
}

async fn face_step(
    state: &AppState,
    tx: &Transaction,
    options: &TransactionOptions,
    frames: Vec<(Vec<u8>, u32)>,
    challenge: Option<Challenge>,
    so_far: &Evidence,
) -> Result<StepResult, Refusal> {
    if let Some(evidence) = reused_frames(state, tx, &frames).await? {
        return Ok(StepResult::Accepted { evidence: Box::new(evidence), detail: json!({"frames": frames.len()}) });
    }
    let reference = reference_face(state, tx, so_far).await?;
    let multi = if options.need_multi_face_check { MultiFace::Reject } else { MultiFace::Largest };
    let images: Vec<Vec<u8>> = frames.iter().map(|(b, _)| b.clone()).collect();
    let analysed = state
        .engines
        .run(move |e| {
            // The best of a few frames spread over the capture stands for the selfie: analysing every frame would
            // repeat what the liveness check does anyway, at ~45 ms a frame.
            let mut best: Option<(usize, idv_face::FaceAnalysis)> = None;
            let mut last_err = None;
            let n = images.len();
            let mut picks: Vec<usize> =
                (0..SELFIE_CANDIDATES).map(|k| k * (n - 1) / (SELFIE_CANDIDATES - 1).max(1)).collect();
            picks.dedup();
            for i in picks {
                let bytes = &images[i];
                match e.face.decode(bytes).and_then(|img| e.face.analyze(&img, multi)) {
                    Ok(a) => {
                        if best
                            .as_ref()
                            .is_none_or(|(_, b)| a.quality.face_quality_score > b.quality.face_quality_score)
                        {
                            best = Some((i, a));
                        }
                    }
                    Err(err) => last_err = Some(err),
                }
            }
            let reference =
                reference.map(|r| e.face.decode(&r).and_then(|img| e.face.analyze(&img, MultiFace::Largest)));
            (best, last_err, reference)
        })
        .await?;
    let (best, last_err, reference) = analysed;
    let Some((index, selfie)) = best else {
        let (code, why) = match last_err {
            Some(FaceError::NoFace) | None => ("NO_FACE", "no face was found in the frames".to_owned()),
            Some(FaceError::MultipleFaces { count }) => {
                ("MULTIPLE_FACES", format!("{count} faces in view; only the user may be in the picture"))
            }
            Some(other) if other.is_bad_input() => ("UNQUALIFIED_PHOTO", other.to_string()),
            Some(other) => return Err(Refusal::internal(other)),
        };
        return Ok(StepResult::Retake { reason_code: code.into(), reason: why });
    };
    let issues = selfie.quality.issues();
    if !issues.is_empty() {
        return Ok(StepResult::Retake {
            reason_code: "POOR_QUALITY".into(),
            reason: format!("face picture quality: {issues:?}"),
        });
    }
    let thresholds = state.engines.face().info().thresholds;
    let mut info = json!({
        "faceQualityScore": selfie.quality.face_quality_score,
        "sharpnessScore": selfie.quality.sharpness_score,
        "illuminationScore": selfie.quality.illumination_score,
        "thresholds": thresholds,
        "models": {"detector": state.engines.face().info().detector, "recognizer": state.engines.face().info().recognizer},
    });
    let matched = match reference {
        None => None,
        Some(Err(e)) => {
            info["referenceFace"] = json!(format!("unusable: {e}"));
            Some(false)
        }
        Some(Ok(reference)) => {
            let cmp = state.engines.face().compare(&selfie, &reference);
            info["faceComparisonScore"] = json!((cmp.face_comparison_score * 100.0).round() / 100.0);
            info["faceComparisonCosine"] = json!(cmp.cosine);
            Some(cmp.decision == Decision::Match)
        }
    };
    let challenge = challenge.ok_or_else(|| Refusal::internal("face step without a challenge"))?;
    let spec = idv_liveness::ChallengeSpec::from_protocol(&challenge).map_err(Refusal::internal)?;
    let frame_times: Vec<u32> = frames.iter().map(|(_, t)| *t).collect();
    let images: Vec<Vec<u8>> = frames.iter().map(|(b, _)| b.clone()).collect();
    let verdict = state
        .engines
        .run(move |e| {
            let mut inputs = Vec::with_capacity(images.len());
            for (bytes, t_ms) in images.iter().zip(frame_times) {
                inputs.push(idv_liveness::FrameInput { image: e.face.decode(bytes)?, t_ms });
            }
            e.liveness.verify(&spec, &inputs, None)
        })
        .await?;
    let verdict = match verdict {
        Ok(v) => v,
        Err(idv_liveness::LivenessError::Face(f)) if f.is_bad_input() => {
            return Ok(StepResult::Retake { reason_code: "LIVENESS_UNQUALIFIED_PHOTO".into(), reason: f.to_string() });
        }
        Err(idv_liveness::LivenessError::Vision(v)) if v.is_bad_input() => {
            return Ok(StepResult::Retake { reason_code: "LIVENESS_UNQUALIFIED_PHOTO".into(), reason: v.to_string() });
        }
        Err(e) => return Err(Refusal::internal(e)),
    };
    let reasons: Vec<String> = verdict.reasons.iter().map(|r| format!("{}: {}", r.code.as_str(), r.detail)).collect();
    info["liveness"] = json!({"model": "challenge-response", "challenge": challenge, "scores": verdict.scores});
    let liveness = if verdict.passed {
        LivenessOutcome::Passed {
            reasons: vec![format!("challenge {:?} performed in order by the same live face", challenge.actions)],
        }
    } else if verdict.attack {
        LivenessOutcome::Attack { reasons }
    } else {
        // Not evidence of an attack (an action not seen, too few frames): the user tries again with a new challenge.
        let code = verdict.reasons.first().map_or("unknown", |r| r.code.as_str());
        return Ok(StepResult::Retake {
            reason_code: format!("LIVENESS_{}", code.to_ascii_uppercase()),
            reason: reasons.join("; "),
        });
    };
    let image_blob = state.store.put_blob(&tx.id, "face", &frames[index].0).await?;
    let detail = json!({"frames": frames.len(), "matched": matched});
    let evidence = Evidence { face: Some(FaceEvidence { image_blob, info, matched, liveness }), ..Default::default() };
    Ok(StepResult::Accepted { evidence: Box::new(evidence), detail })
}

/// How long frame digests are remembered: a capture replayed within this time into another transaction is
/// caught by its bytes (a re-encoded replay is left to the challenge: new colours and actions every round).
pub const FRAME_DIGEST_TTL_S: i64 = 30 * 24 * 3600;

/// Registers the digests of the face frames; frames already submitted in another transaction are an injection
/// (a capture replayed with this session's credential), decided as an attack without running the engines.
async fn reused_frames(
    state: &AppState,
    tx: &Transaction,
    frames: &[(Vec<u8>, u32)],
) -> Result<Option<Evidence>, Refusal> {
    let digests: Vec<[u8; 32]> = frames.iter().map(|(b, _)| idv_liveness::frame_digest(b)).collect();
    let now = crate::auth::unix_now();
    let Some(_other) = state.store.register_frame_digests(&tx.id, &digests, now, now + FRAME_DIGEST_TTL_S).await?
    else {
        return Ok(None);
    };
    // The other transaction's id is not named: it may belong to another merchant.
    let reason = "frames_reused: frames of this capture were already submitted in another transaction".to_owned();
    let image_blob = state.store.put_blob(&tx.id, "face", &frames[0].0).await?;
    let info = json!({"liveness": {"model": "challenge-response", "reasons": [reason.clone()]}});
    let face =
        FaceEvidence { image_blob, info, matched: None, liveness: LivenessOutcome::Attack { reasons: vec![reason] } };
    Ok(Some(Evidence { face: Some(face), ..Default::default() }))
}

/// Combines the evidence into the verdict. Every failed check contributes a reason; the SubCode names the first
/// failure in the order a merchant would act on it (document, expiry, reference, face match, liveness).
pub async fn decide(
    _state: &AppState,
    _tx: &Transaction,
    options: &TransactionOptions,
    ev: &Evidence,
) -> Result<Verdict, Refusal> {
    let mut v = Verdict::failed(subcode::PASSED, "");
    v.reasons.clear();
    let mut failures: Vec<&'static str> = Vec::new();
    let product = options.product;
    if product.needs_document() {
        let mut ocr = BTreeMap::new();
        for (page, d) in [("front", &ev.doc_front), ("back", &ev.doc_back)] {
            let Some(d) = d else { continue };
            ocr.extend(d.ocr_id_info.clone());
            for (name, reason) in &d.failed {
                v.reasons.push(format!("document {page}: {name}: {reason}"));
                failures.push(if name == "not_expired" || name == "already_valid" {
                    subcode::DOCUMENT_EXPIRED
                } else {
                    subcode::DOCUMENT_INVALID
                });
            }
            v.images.insert(
                if page == "front" { ImageKind::IdImage } else { ImageKind::IdBackImage },
                d.image_blob.clone(),
            );
            if let Some(p) = &d.portrait_blob {
                v.images.insert(ImageKind::CroppedFaceFromDoc, p.clone());
            }
        }
        if ev.doc_front.is_none() {
            v.reasons.push("no document page was accepted".into());
            failures.push(subcode::DOCUMENT_INVALID);
        }
        let doc_ok = !failures.iter().any(|f| *f == subcode::DOCUMENT_INVALID || *f == subcode::DOCUMENT_EXPIRED);
        v.ext_id_info.insert("ocrIdInfo".into(), json!(ocr));
        v.ext_id_info.insert("ocrIdPassed".into(), json!(if doc_ok { "Y" } else { "N" }));
        if let Some(d) = &ev.doc_front {
            v.ext_id_info.insert("front".into(), d.ext_id_info.clone());
        }
        if let Some(d) = &ev.doc_back {
            v.ext_id_info.insert("back".into(), d.ext_id_info.clone());
        }
        if let Some(dt) = options.doc_type {
            v.ext_basic_info.insert("docType".into(), json!(dt.code()));
        }
    }
    if product.needs_face() {
        match &ev.face {
            None => {
                v.reasons.push("no face step was accepted".into());
                failures.push(subcode::LIVENESS_FAILED);
            }
            Some(f) => {
                v.images.insert(ImageKind::FaceImg, f.image_blob.clone());
                if let Value::Object(m) = &f.info {
                    v.ext_face_info.extend(m.clone());
                }
                match f.matched {
                    Some(true) => {}
                    Some(false) => {
                        v.reasons.push("the face does not match the reference portrait".into());
                        failures.push(subcode::FACE_MISMATCH);
                    }
                    None if product.needs_document() => {
                        v.reasons.push("no portrait could be cut from the document to compare with".into());
                        failures.push(subcode::NO_REFERENCE_FACE);
                    }
                    None => {}
                }
                match &f.liveness {
                    LivenessOutcome::Passed { reasons } => {
                        v.ext_face_info.insert("faceAttack".into(), json!("N"));
                        v.ext_face_info.insert("livenessReasons".into(), json!(reasons));
                    }
                    LivenessOutcome::Attack { reasons } => {
                        v.ext_face_info.insert("faceAttack".into(), json!("Y"));
                        v.ext_face_info.insert("livenessReasons".into(), json!(reasons));
                        v.reasons.extend(reasons.iter().map(|r| format!("liveness: {r}")));
                        failures.push(subcode::LIVENESS_FAILED);
                    }
                }
                let face_ok = f.matched != Some(false) && matches!(f.liveness, LivenessOutcome::Passed { .. });
                v.ext_face_info.insert("facePassed".into(), json!(if face_ok { "Y" } else { "N" }));
            }
        }
    }
    v.passed = failures.is_empty();
    v.sub_code = failures.first().copied().unwrap_or(subcode::PASSED).to_owned();
    if v.passed {
        v.reasons.push("every check passed".into());
    }
    Ok(v)
}

//! One capture step on the engines: runs the document, face and liveness engines on the worker pool, keeps the
//! evidence images, and turns the measurements into `idv-flow`'s typed evidence or a retake reason. It decides
//! nothing: whether the transaction passes is `idv_flow::decide`'s call.
//! [`doc_reading`] is public so the CLI reports a picture as DocOcr would.

use std::collections::BTreeSet;

use idv_api::doctype::MrzLayout;
use idv_api::{DocType, TransactionOptions};
use idv_doc::{CardSide, DocError, DocRequest, DocTypeSpec, Field};
use idv_face::{Decision, FaceError, MultiFace};
use idv_flow::{
    BlobId, ChallengeRecord, CheckClass, Comparison, DocCheck, DocEvidence, DocField, DocReading, Evidence,
    FaceEvidence, FaceQuality, FaceThresholds, ImageKind, LivenessCheck, LivenessEvidence, LivenessOutcome, ModelRef,
    MrzEvidence, Page, RetakeReason, SelfieAnalysis, Step, StepEvidence, StepOutcome,
};
use idv_liveness::{ChallengeSpec, ReasonCode};
use idv_protocol::device::Challenge;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ServerError;

/// Frames of the face step analysed as selfie candidates.
const SELFIE_CANDIDATES: usize = 3;

/// Largest face frame, by the pixel count its header claims: a phone's Full HD video frame. The liveness engine
/// works at a fraction of it ([`LIVENESS_MAX_SIDE`]); a larger canvas is refused before any pixel is decoded, so a
/// small file claiming a huge one (a decompression bomb) costs a header parse.
pub const FRAME_MAX_PIXELS: u64 = 1920 * 1080;
/// All face frames of one round together, by their headers: bounds the decoding work of a round whatever the
/// frame count (120 frames of 640x480 are 37 MP; 60 of 1280x720, 55 MP).
pub const ROUND_MAX_PIXELS: u64 = 64_000_000;
/// Longest side liveness frames are kept at once decoded. The engine needs every frame at once (duplicates,
/// continuity), so each is downscaled right after its decode: the detector letterboxes to 640 and the mesh and
/// iris crops are far smaller, so nothing it measures needs more, and a round holds at most
/// 120 x 960 x 540 x 3 bytes (187 MiB).
const LIVENESS_MAX_SIDE: u32 = 960;

/// How long frame digests and capture fingerprints are remembered: a capture replayed within this time into
/// another transaction is caught by its bytes, or, re-encoded, by its fingerprint's motion.
pub const FRAME_DIGEST_TTL_S: i64 = 30 * 24 * 3600;

/// One round's capture, as the device sent it.
pub(crate) struct Capture<'a> {
    pub transaction_id: &'a str,
    pub merchant_id: &'a str,
    pub options: &'a TransactionOptions,
    pub step: Step,
    /// Image bytes and capture time (ms since the instruction arrived).
    pub frames: Vec<(Vec<u8>, u32)>,
    /// The liveness challenge the face step answers.
    pub challenge: Option<&'a Challenge>,
    pub now: i64,
}

/// The outcome of a step and a small record of it for the round log (no personal data).
pub(crate) struct Measured {
    pub outcome: StepOutcome,
    pub detail: Value,
    /// The accepted selfie's embedding, kept out of the evidence: registered in a face library once the
    /// transaction passes (Initialize's `AutoRegistration`), never stored otherwise.
    pub selfie_embedding: Option<Vec<f32>>,
}

fn retake(reason: RetakeReason, detail: impl Into<String>) -> Measured {
    let detail = detail.into();
    Measured {
        detail: json!({"retake": reason.code(), "reason": detail}),
        outcome: StepOutcome::Retake { reason, detail },
        selfie_embedding: None,
    }
}

fn png(img: &image::RgbImage) -> Result<Vec<u8>, ServerError> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).map_err(ServerError::internal)?;
    Ok(out.into_inner())
}

pub(crate) async fn run(state: &AppState, c: Capture<'_>, so_far: &Evidence) -> Result<Measured, ServerError> {
    match c.step {
        Step::DocFront | Step::DocBack => doc_step(state, c).await,
        Step::Face => face_step(state, c, so_far).await,
    }
}

/// The calendar day of `now` (Unix seconds, UTC), for the documents' validity checks.
pub(crate) fn today(now: i64) -> mrz::Date {
    let t = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    mrz::Date::new(t.year(), t.month() as u32, t.day() as u32)
}

/// The engine's view of a DocType the API accepted: the document class and, for a state's own code, its country.
pub fn doc_spec(dt: &DocType) -> DocTypeSpec {
    let code = dt.code();
    let mut spec = match dt.layout() {
        MrzLayout::Td3 => DocTypeSpec::passport(code),
        MrzLayout::Td1 => DocTypeSpec::id_card(code),
        MrzLayout::Td2 => DocTypeSpec::td2_card(code),
        MrzLayout::MrvA => DocTypeSpec::visa(code, idv_doc::MrzFormat::MrvA),
        MrzLayout::MrvB => DocTypeSpec::visa(code, idv_doc::MrzFormat::MrvB),
        MrzLayout::Any => DocTypeSpec::any(code),
    };
    spec.country = (code.len() == 8 && code[..3].bytes().all(|b| b.is_ascii_uppercase()) && &code[..3] != "GLB")
        .then(|| code[..3].to_owned());
    spec
}

fn field(f: Field) -> Option<DocField> {
    Some(match f {
        Field::DocumentType => return None,
        Field::IssuingCountry => DocField::IssuingCountry,
        Field::DocumentNumber => DocField::DocumentNumber,
        Field::Surname => DocField::Surname,
        Field::GivenNames => DocField::GivenNames,
        Field::Nationality => DocField::Nationality,
        Field::BirthDate => DocField::BirthDate,
        Field::Sex => DocField::Sex,
        Field::PlaceOfBirth => DocField::PlaceOfBirth,
        Field::IssueDate => DocField::IssueDate,
        Field::Authority => DocField::Authority,
        Field::ExpiryDate => DocField::ExpiryDate,
        Field::PersonalNumber => DocField::PersonalNumber,
        Field::Address => DocField::Address,
    })
}

/// The document engine's reading as the flow's evidence.
pub fn doc_reading(r: &idv_doc::DocReading) -> DocReading {
    DocReading {
        doc_type: r.doc_type.code.clone(),
        class: match r.doc_type.class {
            idv_doc::DocClass::Passport => idv_flow::DocClass::Passport,
            idv_doc::DocClass::IdCard => idv_flow::DocClass::IdCard,
            idv_doc::DocClass::Visa => idv_flow::DocClass::Visa,
            idv_doc::DocClass::Any => idv_flow::DocClass::Any,
        },
        fields: r.fields.iter().filter_map(|(f, v)| Some((field(*f)?, v.clone()))).collect(),
        printed: r.printed.keys().filter_map(|f| field(*f)).collect::<BTreeSet<_>>(),
        unread: r.unread.iter().filter_map(|(f, why)| Some((field(*f)?, why.clone()))).collect(),
        checks: r
            .checks
            .iter()
            .map(|c| DocCheck {
                name: c.name.clone(),
                class: match c.kind {
                    idv_doc::CheckKind::Consistency => CheckClass::Consistency,
                    idv_doc::CheckKind::Validity => CheckClass::Validity,
                },
                passed: c.passed,
                reason: c.reason.clone(),
            })
            .collect(),
        mrz: r.mrz.as_ref().map(|m| MrzEvidence {
            format: m.format.as_str().to_owned(),
            lines: m.lines.clone(),
            valid: m.valid,
            repairs: m.repairs.clone(),
        }),
        located_by: r.located_by.to_owned(),
        models: r
            .models
            .iter()
            .map(|m| ModelRef { name: None, file: m.path.clone(), sha256: m.sha256.clone(), package: None })
            .collect(),
        portrait_found: r.portrait.is_some(),
        portrait_face_refined: r.portrait.as_ref().is_some_and(|p| p.face_refined),
    }
}

async fn doc_step(state: &AppState, mut c: Capture<'_>) -> Result<Measured, ServerError> {
    let doc_type = c.options.doc_type.ok_or_else(|| ServerError::internal("document step without a DocType"))?;
    let (page, side, kind) = match c.step {
        Step::DocBack => (Page::Back, CardSide::Back, ImageKind::DocBack),
        _ => (Page::Front, CardSide::Front, ImageKind::DocFront),
    };
    let image = c.frames.swap_remove(0).0;
    let req = DocRequest::new(doc_spec(&doc_type), today(c.now)).with_side(side);
    let bytes = image.clone();
    let read = state.engines.run(move |e| e.doc.read_bytes(&bytes, &req)).await?;
    let reading = match read {
        Ok(r) => r,
        Err(DocError::Retake(why)) => return Ok(retake(RetakeReason::DocUnreadable, why)),
        Err(DocError::UnqualifiedPhoto(why)) => return Ok(retake(RetakeReason::UnqualifiedPhoto, why)),
        Err(DocError::TooLarge(why)) => return Ok(retake(RetakeReason::TooLarge, why)),
        Err(e) => return Err(ServerError::internal(e)),
    };
    let image_blob = state.store.put_blob(c.transaction_id, kind.as_str(), &image, c.now).await?;
    let portrait = match &reading.portrait {
        Some(p) => Some(BlobId(
            state.store.put_blob(c.transaction_id, ImageKind::DocPortrait.as_str(), &png(&p.image)?, c.now).await?,
        )),
        None => None,
    };
    let evidence = DocEvidence { page, image: BlobId(image_blob), portrait, reading: doc_reading(&reading) };
    // Where the page and its MRZ were found, for the console's picture.
    crate::console::keep_doc_outline(state, c.transaction_id, page == Page::Back, &image, &reading, c.now).await?;
    let detail = json!({
        "locatedBy": reading.located_by,
        "failedChecks": evidence.reading.failed_checks().count(),
        "elapsedMs": reading.elapsed_ms,
    });
    Ok(Measured {
        outcome: StepOutcome::Accepted(Box::new(StepEvidence::Document(evidence))),
        detail,
        selfie_embedding: None,
    })
}

/// The face to compare the selfie with: the document portrait for document products, the merchant's reference
/// picture for FACE_LIVENESS with one.
async fn reference_face(state: &AppState, tx: &str, so_far: &Evidence) -> Result<Option<Vec<u8>>, ServerError> {
    let blob = match so_far.doc_front.as_ref().and_then(|d| d.portrait.clone()) {
        Some(b) => Some(b.0),
        None => state.store.blob_of_kind(tx, ImageKind::ReferenceFace.as_str()).await?,
    };
    match blob {
        Some(id) => Ok(Some(state.store.get_blob(tx, &id).await?)),
        None => Ok(None),
    }
}

/// The liveness engine's word for why a capture was inconclusive, as the flow's retake reason.
fn liveness_retake(code: Option<ReasonCode>) -> RetakeReason {
    match code {
        Some(ReasonCode::TooFewFrames) => RetakeReason::LivenessTooFewFrames,
        Some(ReasonCode::NoFace) => RetakeReason::LivenessNoFace,
        Some(ReasonCode::FaceLost) => RetakeReason::LivenessFaceLost,
        Some(ReasonCode::MultipleFaces) => RetakeReason::LivenessMultipleFaces,
        Some(ReasonCode::ActionMissing) => RetakeReason::LivenessActionMissing,
        Some(ReasonCode::ActionOrder) => RetakeReason::LivenessActionOrder,
        Some(ReasonCode::ActionLate) => RetakeReason::LivenessActionLate,
        _ => RetakeReason::LivenessUnknown,
    }
}

fn model_ref(m: &idv_face::ModelRecord) -> ModelRef {
    ModelRef {
        name: Some(m.name.to_owned()),
        file: m.file.clone(),
        sha256: m.sha256.clone(),
        package: Some(m.package.clone()),
    }
}

/// The decode limits of a face frame: the face engine's, with the frame pixel budget.
fn frame_limits(state: &AppState) -> idv_vision::DecodeLimits {
    let limits = state.engines.face().config().decode_limits;
    idv_vision::DecodeLimits { max_pixels: limits.max_pixels.min(FRAME_MAX_PIXELS), ..limits }
}

/// Checks the frames' claimed sizes from their headers, before anything is decoded or stored: `Some(detail)`
/// when a frame or the round is over budget. Frames whose header cannot be read are left to the decoder, which
/// names what is wrong with them.
fn over_budget(frames: &[(Vec<u8>, u32)], limits: &idv_vision::DecodeLimits) -> Option<String> {
    let mut total: u64 = 0;
    for (i, (bytes, _)) in frames.iter().enumerate() {
        match idv_vision::probe(bytes, limits) {
            Ok((_, w, h)) => total += u64::from(w) * u64::from(h),
            Err(e) if e.is_too_large() => return Some(format!("frame {i}: {e}")),
            Err(_) => {}
        }
    }
    (total > ROUND_MAX_PIXELS)
        .then(|| format!("the round's frames claim {total} pixels, more than the limit of {ROUND_MAX_PIXELS}"))
}

/// Decodes a face frame within `limits` and downscales it to what the liveness engine works at.
fn liveness_frame(bytes: &[u8], limits: &idv_vision::DecodeLimits) -> idv_vision::Result<idv_vision::DecodedImage> {
    let img = idv_vision::decode(bytes, limits)?;
    if img.width().max(img.height()) <= LIVENESS_MAX_SIDE {
        return Ok(img);
    }
    Ok(idv_vision::fit_within(&img, LIVENESS_MAX_SIDE)?.0)
}

/// A face picture's analysis as the flow's evidence, with the thresholds and models it was measured with.
pub(crate) fn selfie_analysis(state: &AppState, selfie: &idv_face::FaceAnalysis) -> SelfieAnalysis {
    let info = state.engines.face().info();
    let t = info.thresholds;
    SelfieAnalysis {
        quality: FaceQuality {
            face_quality_score: selfie.quality.face_quality_score,
            sharpness_score: selfie.quality.sharpness_score,
            illumination_score: selfie.quality.illumination_score,
        },
        thresholds: FaceThresholds {
            decision_cosine: t.decision_cosine,
            decision_score: t.decision_score,
            detector_score: t.detector_score,
        },
        detector: model_ref(&info.detector),
        recognizer: model_ref(&info.recognizer),
    }
}

/// The face compared with the reference (the document portrait or the merchant's face): `None` when there was no
/// reference, an error when no face could be analysed in it.
pub(crate) fn compare_with_reference(
    state: &AppState,
    selfie: &idv_face::FaceAnalysis,
    reference: Option<Result<idv_face::FaceAnalysis, FaceError>>,
) -> Comparison {
    match reference {
        None => Comparison::NotCompared,
        Some(Err(e)) => Comparison::ReferenceUnusable { why: e.to_string() },
        Some(Ok(reference)) => {
            let cmp = state.engines.face().compare(selfie, &reference);
            Comparison::Compared {
                score: (cmp.face_comparison_score * 100.0).round() / 100.0,
                cosine: cmp.cosine,
                matched: cmp.decision == Decision::Match,
            }
        }
    }
}

async fn face_step(state: &AppState, c: Capture<'_>, so_far: &Evidence) -> Result<Measured, ServerError> {
    let frames = c.frames;
    let limits = frame_limits(state);
    if let Some(why) = over_budget(&frames, &limits) {
        return Ok(retake(RetakeReason::CaptureOverBudget, why));
    }
    if let Some(evidence) = reused_frames(state, c.transaction_id, &frames, c.now).await? {
        return Ok(Measured {
            outcome: StepOutcome::Accepted(Box::new(evidence)),
            detail: json!({"frames": frames.len()}),
            selfie_embedding: None,
        });
    }
    let reference = reference_face(state, c.transaction_id, so_far).await?;
    let multi = if c.options.need_multi_face_check { MultiFace::Reject } else { MultiFace::Largest };
    let images: Vec<Vec<u8>> = frames.iter().map(|(b, _)| b.clone()).collect();
    let (best, last_err, reference) = state
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
                let img = idv_vision::decode(&images[i], &limits).map_err(FaceError::from);
                match img.and_then(|img| e.face.analyze(&img, multi)) {
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
    let Some((index, selfie)) = best else {
        return match last_err {
            Some(FaceError::NoFace) | None => Ok(retake(RetakeReason::NoFace, "no face was found in the frames")),
            Some(FaceError::MultipleFaces { count }) => Ok(retake(
                RetakeReason::MultipleFaces,
                format!("{count} faces in view; only the user may be in the picture"),
            )),
            Some(other) if other.is_bad_input() => Ok(retake(RetakeReason::UnqualifiedPhoto, other.to_string())),
            Some(other) => Err(ServerError::internal(other)),
        };
    };
    let issues = selfie.quality.issues();
    if !issues.is_empty() {
        return Ok(retake(RetakeReason::PoorQuality, format!("face picture quality: {issues:?}")));
    }
    let analysis = selfie_analysis(state, &selfie);
    // The liveness check compares the live face with the reference too (its `reference_mismatch`), frame by frame.
    let reference_embedding = match &reference {
        Some(Ok(r)) => Some(r.embedding.clone()),
        _ => None,
    };
    let comparison = compare_with_reference(state, &selfie, reference);
    let challenge = c.challenge.ok_or_else(|| ServerError::internal("face step without a challenge"))?;
    let spec = challenge_spec(challenge).map_err(ServerError::internal)?;
    let frame_times: Vec<u32> = frames.iter().map(|(_, t)| *t).collect();
    let images: Vec<Vec<u8>> = frames.iter().map(|(b, _)| b.clone()).collect();
    let verdict = state
        .engines
        .run(move |e| {
            // One frame decoded at a time, each downscaled before the next is decoded.
            let mut inputs = Vec::with_capacity(images.len());
            for (bytes, t_ms) in images.iter().zip(frame_times) {
                inputs.push(idv_liveness::FrameInput { image: liveness_frame(bytes, &limits)?, t_ms });
            }
            e.liveness.verify_fingerprinted(&spec, &inputs, reference_embedding.as_ref())
        })
        .await?;
    let verdict = match verdict {
        // Checked whatever the engine decided: a replay that happens to fail the challenge is still an attack to
        // report as such, and every capture is registered so that its own copies are caught later.
        Ok((v, Some(f))) => {
            idv_liveness::fingerprint::judge_replay(v, nearest_replayed(state, c.transaction_id, &f, c.now).await?)
        }
        Ok((v, None)) => v,
        Err(idv_liveness::LivenessError::Face(f)) if f.is_bad_input() => {
            return Ok(retake(RetakeReason::LivenessUnqualifiedPhoto, f.to_string()));
        }
        Err(idv_liveness::LivenessError::Vision(v)) if v.is_bad_input() => {
            return Ok(retake(RetakeReason::LivenessUnqualifiedPhoto, v.to_string()));
        }
        Err(e) => return Err(ServerError::internal(e)),
    };
    let reasons: Vec<String> = verdict.reasons.iter().map(|r| format!("{}: {}", r.code.as_str(), r.detail)).collect();
    let (outcome, reasons) = if verdict.passed {
        (
            LivenessOutcome::Passed,
            vec![format!(
                "challenge {:?} performed by the same live face, each in its window after its cue at {:?} ms",
                challenge.actions, challenge.cues_ms
            )],
        )
    } else if verdict.attack {
        (LivenessOutcome::Attack, reasons)
    } else {
        // Not evidence of an attack (an action not seen, too few frames): the user tries again with a new challenge.
        return Ok(retake(liveness_retake(verdict.reasons.first().map(|r| r.code)), reasons.join("; ")));
    };
    let scores = serde_json::to_value(&verdict.scores).map_err(ServerError::internal)?;
    let record = ChallengeRecord {
        actions: challenge.actions.clone(),
        cues_ms: challenge.cues_ms.clone(),
        colours: challenge.colours.clone(),
        colour_ms: challenge.colour_ms,
        frame_interval_ms: challenge.frame_interval_ms,
        action_window_ms: challenge.action_window_ms,
    };
    let image = state.store.put_blob(c.transaction_id, ImageKind::Selfie.as_str(), &frames[index].0, c.now).await?;
    // A filmstrip of the capture, for the console.
    crate::console::keep_frames(state, c.transaction_id, &frames, &scores, c.now).await?;
    let matched = comparison.matched();
    // The merchant's face libraries, when Initialize named them: another user's face here is a second account.
    let duplicates = match &c.options.face_library {
        Some(fl) => crate::face_library::search(
            state,
            c.merchant_id,
            &fl.group_codes,
            selfie.embedding.as_slice(),
            fl.threshold().unwrap_or(idv_face::SCORE_AT_THRESHOLD),
        )
        .await?
        .into_iter()
        .filter(|d| d.merchant_user_id != c.options.merchant_user_id)
        .map(|d| idv_flow::DuplicateFaceRef {
            group_code: d.face_group_code,
            face_id: d.face_id,
            merchant_user_id: d.merchant_user_id,
            score: d.score,
        })
        .collect(),
        None => Vec::new(),
    };
    let face = FaceEvidence {
        image: BlobId(image),
        selfie: Some(analysis),
        comparison,
        liveness: LivenessEvidence { outcome, reasons, check: LivenessCheck::Challenge { challenge: record, scores } },
        duplicates,
    };
    Ok(Measured {
        outcome: StepOutcome::Accepted(Box::new(StepEvidence::Face(face))),
        detail: json!({"frames": frames.len(), "matched": matched}),
        selfie_embedding: c.options.face_library.as_ref().map(|_| selfie.embedding.as_slice().to_vec()),
    })
}

/// Registers the digests of the face frames; frames already submitted in another transaction are an injection
/// (a capture replayed with this session's credential), decided as an attack without running the engines.
async fn reused_frames(
    state: &AppState,
    tx: &str,
    frames: &[(Vec<u8>, u32)],
    now: i64,
) -> Result<Option<StepEvidence>, ServerError> {
    let digests: Vec<[u8; 32]> = frames.iter().map(|(b, _)| idv_liveness::frame_digest(b)).collect();
    let Some(_other) = state.store.register_frame_digests(tx, &digests, now, now + FRAME_DIGEST_TTL_S).await? else {
        return Ok(None);
    };
    // The other transaction's id is not named: it may belong to another merchant.
    let reason = "frames_reused: frames of this capture were already submitted in another transaction".to_owned();
    let image = state.store.put_blob(tx, ImageKind::Selfie.as_str(), &frames[0].0, now).await?;
    Ok(Some(StepEvidence::Face(FaceEvidence {
        duplicates: Vec::new(),
        image: BlobId(image),
        selfie: None,
        comparison: Comparison::NotCompared,
        liveness: LivenessEvidence {
            outcome: LivenessOutcome::Attack,
            reasons: vec![reason],
            check: LivenessCheck::FramesReused,
        },
    })))
}

/// Registers the capture's fingerprint, then returns the motion distance of the nearest capture of another
/// transaction whose frames look alike (the store's band-indexed lookup), infinite when there is none: one that
/// moves frame for frame as another did is a replay of it re-encoded past the frame digests. Registering first
/// means two copies submitted at once still see each other. The other transaction is not named anywhere: it may
/// belong to another merchant.
async fn nearest_replayed(
    state: &AppState,
    tx: &str,
    f: &idv_liveness::CaptureFingerprint,
    now: i64,
) -> Result<f32, ServerError> {
    // A round carries at most as many frames as the store takes hashes; a longer one is fingerprinted on its
    // first frames, which a replay shares all the same.
    let mut f = f.clone();
    f.frames.truncate(idv_store::MAX_CAPTURE_HASHES_PER_CALL);
    let hashes = f.hashes();
    state.store.register_capture_fingerprint(tx, &hashes, &f.to_bytes(), now, now + FRAME_DIGEST_TTL_S).await?;
    let others =
        state.store.similar_capture_fingerprints(tx, &hashes, idv_store::MAX_CAPTURE_HASH_DISTANCE, now).await?;
    Ok(others
        .iter()
        .filter_map(|b| idv_liveness::CaptureFingerprint::from_bytes(b))
        .map(|o| idv_liveness::fingerprint::distance(&f, &o))
        .fold(f32::INFINITY, f32::min))
}

/// The engine's challenge from its wire form.
pub fn challenge_spec(c: &Challenge) -> idv_liveness::Result<ChallengeSpec> {
    ChallengeSpec::from_names(&c.actions, &c.cues_ms, &c.colours, c.colour_ms, c.frame_interval_ms, c.action_window_ms)
}

/// A challenge's wire form.
pub(crate) fn challenge_wire(spec: &ChallengeSpec) -> Challenge {
    let (actions, colours) = spec.names();
    Challenge {
        actions,
        cues_ms: spec.cues_ms.clone(),
        colours,
        colour_ms: spec.colour_ms,
        frame_interval_ms: spec.frame_interval_ms,
        action_window_ms: spec.action_window_ms,
    }
}

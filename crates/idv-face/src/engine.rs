//! [`FaceEngine`]: both models loaded once, shared by every request.

use std::sync::Arc;

use idv_vision::{
    Assets, DecodeLimits, DecodedImage, InferenceBackend, ModelOptions, ONNXRUNTIME_LIBRARY, OrtBackend, VerifiedAsset,
    VisionError,
};
use serde::Serialize;

use crate::align::{TEMPLATE, similarity_transform, warp};
use crate::detect::{Detection, DetectorConfig, YuNet};
use crate::embed::{Embedding, SFace};
use crate::error::{FaceError, Result};
use crate::quality::{FaceQuality, Pose, assess};
use crate::score::{DEFAULT_DECISION_COSINE, SCORE_AT_THRESHOLD, Thresholds, comparison_score};

/// Asset path (see `scripts/assets.lock`) of the detector.
pub const YUNET_ASSET: &str = "models/face_detection_yunet_2023mar.onnx";
/// Asset path (see `scripts/assets.lock`) of the recogniser.
pub const SFACE_ASSET: &str = "models/face_recognition_sface_2021dec.onnx";

/// With [`MultiFace::Reject`], a second face counts only if its box has at least this fraction of the
/// largest face's area, so a face on a poster far behind the subject does not fail the check.
pub const MULTI_FACE_MIN_RELATIVE_AREA: f32 = 1.0 / 9.0;

/// Engine settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceEngineConfig {
    pub detector: DetectorConfig,
    pub model_options: ModelOptions,
    pub decode_limits: DecodeLimits,
    /// Cosine at and above which two faces match.
    pub decision_cosine: f32,
}

impl Default for FaceEngineConfig {
    fn default() -> Self {
        Self {
            detector: DetectorConfig::default(),
            model_options: ModelOptions::default(),
            decode_limits: DecodeLimits::default(),
            decision_cosine: DEFAULT_DECISION_COSINE,
        }
    }
}

/// What to do when a picture holds several faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultiFace {
    /// Analyse the largest face (the default).
    #[default]
    Largest,
    /// Fail with [`FaceError::MultipleFaces`] (the API's NeedMultiFaceCheck).
    Reject,
}

/// Identification of one model file, for the decision record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelRecord {
    pub name: &'static str,
    pub file: String,
    pub sha256: String,
    pub package: String,
}

/// Models, runtime and thresholds in use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineInfo {
    pub runtime: String,
    pub detector: ModelRecord,
    pub recognizer: ModelRecord,
    pub thresholds: Thresholds,
}

/// One analysed face: where it is, how good the picture of it is, and its embedding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceAnalysis {
    /// The analysed face (the largest one).
    pub face: Detection,
    /// Faces found in the picture.
    pub face_count: usize,
    pub image_width: u32,
    pub image_height: u32,
    pub quality: FaceQuality,
    pub embedding: Embedding,
    /// The 112x112 aligned RGB crop the embedding was computed from (e.g. to store as the face image).
    #[serde(skip)]
    pub aligned_rgb: Vec<u8>,
}

/// Outcome of a 1:1 comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    Match,
    NoMatch,
}

/// A 1:1 comparison with everything the decision rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// `FaceComparisonScore`, 0..100, see [`comparison_score`].
    pub face_comparison_score: f32,
    pub cosine: f32,
    pub decision: Decision,
    pub thresholds: Thresholds,
    /// Quality of the source face (`FaceQualityScore`, `SharpnessScore`, `IlluminationScore`).
    pub source_quality: FaceQuality,
    /// Quality of the target face (`TargetFaceQualityScore`, `TargetSharpnessScore`, ...).
    pub target_quality: FaceQuality,
}

/// A check this engine cannot perform, stated instead of faked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum PassiveAntiSpoofing {
    /// No trustworthy passive anti-spoofing model is installed: the API's `FaceAttack` must not be
    /// reported as "N" on the strength of this analysis.
    NotAvailable { reason: &'static str },
}

/// Attributes the API names but this engine does not estimate, with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NotMeasured {
    /// API field name.
    pub field: &'static str,
    pub reason: &'static str,
}

const NO_ANTISPOOF_REASON: &str = "no passive anti-spoofing model is installed; liveness rests on the \
     challenge-response flow";

/// API fields a single-picture analysis leaves unreported.
pub const NOT_MEASURED: &[NotMeasured] = &[
    NotMeasured { field: "FaceAttack", reason: NO_ANTISPOOF_REASON },
    NotMeasured { field: "FaceAge", reason: "no age estimation model is installed" },
    NotMeasured { field: "FaceGender", reason: "no gender estimation model is installed" },
    NotMeasured {
        field: "OcclusionResult",
        reason: "occlusion (masks, hands, glasses) is not measurable from five landmarks; only a face cut \
                 off by the picture's edge is reported, as the FACE_CUT_OFF quality issue",
    },
    NotMeasured { field: "OcclusionScore", reason: "see OcclusionResult" },
    NotMeasured { field: "KaOcclusionScore", reason: "see OcclusionResult" },
];

/// What a FaceLiveness-style request can honestly get from one picture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivenessAnalysis {
    pub face: Detection,
    pub face_count: usize,
    pub image_width: u32,
    pub image_height: u32,
    /// `FaceQualityScore`, `SharpnessScore`, `IlluminationScore` and the sub-scores.
    pub quality: FaceQuality,
    /// Face attributes that are measured: head pose.
    pub pose: Pose,
    pub passive_anti_spoofing: PassiveAntiSpoofing,
    pub not_measured: &'static [NotMeasured],
}

/// The face engine. Cheap to share (`Send + Sync`); every method takes `&self`.
pub struct FaceEngine {
    detector: YuNet,
    recognizer: SFace,
    config: FaceEngineConfig,
    info: EngineInfo,
}

struct Located {
    face: Detection,
    face_count: usize,
    aligned_rgb: Vec<u8>,
    quality: FaceQuality,
}

impl FaceEngine {
    /// Verifies the runtime library and both models against `scripts/assets.lock` under `assets`, then loads
    /// them with ONNX Runtime. Every missing or mismatched file is reported in one error message, with the
    /// command that fixes it.
    pub fn load(assets: &Assets, config: FaceEngineConfig) -> Result<Self> {
        let [lib, yunet, sface]: [VerifiedAsset; 3] = assets
            .verify_all(&[ONNXRUNTIME_LIBRARY, YUNET_ASSET, SFACE_ASSET])?
            .try_into()
            .map_err(|_| VisionError::Runtime("asset verification returned a short list".into()))?;
        let backend = OrtBackend::global(&lib.path)?;
        Self::from_verified(backend.as_ref(), yunet, sface, config)
    }

    /// Loads both models (verified against the lock file) through any inference backend.
    pub fn with_backend(backend: &dyn InferenceBackend, assets: &Assets, config: FaceEngineConfig) -> Result<Self> {
        let [yunet, sface]: [VerifiedAsset; 2] = assets
            .verify_all(&[YUNET_ASSET, SFACE_ASSET])?
            .try_into()
            .map_err(|_| VisionError::Runtime("asset verification returned a short list".into()))?;
        Self::from_verified(backend, yunet, sface, config)
    }

    fn from_verified(
        backend: &dyn InferenceBackend,
        yunet: VerifiedAsset,
        sface: VerifiedAsset,
        config: FaceEngineConfig,
    ) -> Result<Self> {
        let detector = YuNet::load(backend, &yunet.path, &config.model_options)?;
        let recognizer = SFace::new(backend.load(&sface.path, &config.model_options)?)?;
        let record = |name, a: VerifiedAsset| ModelRecord {
            name,
            file: a.entry.dest,
            sha256: a.entry.sha256,
            package: a.entry.package,
        };
        Ok(Self {
            detector,
            recognizer,
            info: EngineInfo {
                runtime: backend.describe(),
                detector: record("YuNet 2023mar", yunet),
                recognizer: record("SFace 2021dec", sface),
                thresholds: Thresholds {
                    decision_cosine: config.decision_cosine,
                    decision_score: SCORE_AT_THRESHOLD,
                    detector_score: config.detector.score_threshold,
                },
            },
            config,
        })
    }

    /// Models, runtime and thresholds, for the decision record.
    pub fn info(&self) -> &EngineInfo {
        &self.info
    }

    pub fn config(&self) -> &FaceEngineConfig {
        &self.config
    }

    /// Decodes an uploaded picture with the engine's limits.
    pub fn decode(&self, bytes: &[u8]) -> Result<DecodedImage> {
        Ok(idv_vision::decode(bytes, &self.config.decode_limits)?)
    }

    /// All faces in the picture, best detector score first.
    pub fn detect(&self, img: &DecodedImage) -> Result<Vec<Detection>> {
        self.detector.detect(img, &self.config.detector)
    }

    /// Faces in a still photo. When none is found the picture is searched again inside a grey border of
    /// [`TIGHT_CROP_PAD`] of its larger side on every side: a tight crop whose face fills the picture (an ID photo,
    /// a cut-out portrait) gives the detector no context around the face, and it misses 4 of the 55 real 150×150
    /// crops in `../shared/realdata/faces` without it. Positions are returned in the picture's own pixels. Only
    /// for photos analysed one at a time: a liveness frame without a face is an answer, not worth a second run.
    fn detect_in_photo(&self, img: &DecodedImage) -> Result<Vec<Detection>> {
        let faces = self.detect(img)?;
        if !faces.is_empty() {
            return Ok(faces);
        }
        let pad = ((img.width().max(img.height()) as f32) * TIGHT_CROP_PAD).round() as u32;
        let padded = pad_grey(img, pad)?;
        let shift = pad as f32;
        Ok(self
            .detector
            .detect(&padded, &self.config.detector)?
            .into_iter()
            .map(|mut d| {
                d.bbox.x -= shift;
                d.bbox.y -= shift;
                for p in d.landmarks.iter_mut() {
                    p[0] -= shift;
                    p[1] -= shift;
                }
                d
            })
            .collect())
    }

    fn locate(&self, img: &DecodedImage, multi: MultiFace) -> Result<Located> {
        let mut faces = self.detect_in_photo(img)?;
        faces.sort_by(|a, b| b.bbox.area().total_cmp(&a.bbox.area()));
        let face = *faces.first().ok_or(FaceError::NoFace)?;
        if multi == MultiFace::Reject {
            let big = faces.iter().filter(|f| f.bbox.area() >= face.bbox.area() * MULTI_FACE_MIN_RELATIVE_AREA).count();
            if big > 1 {
                return Err(FaceError::MultipleFaces { count: big });
            }
        }
        let m = similarity_transform(&face.landmarks, &TEMPLATE);
        let aligned_rgb = warp(img, &m);
        let quality = assess(&aligned_rgb, &face, img.width(), img.height());
        Ok(Located { face, face_count: faces.len(), aligned_rgb, quality })
    }

    /// Detects, aligns, embeds and measures the quality of the face in the picture (the largest one,
    /// or an error when `multi` is [`MultiFace::Reject`] and there are several).
    pub fn analyze(&self, img: &DecodedImage, multi: MultiFace) -> Result<FaceAnalysis> {
        let l = self.locate(img, multi)?;
        let embedding = self.recognizer.embed(&l.aligned_rgb)?;
        Ok(FaceAnalysis {
            face: l.face,
            face_count: l.face_count,
            image_width: img.width(),
            image_height: img.height(),
            quality: l.quality,
            embedding,
            aligned_rgb: l.aligned_rgb,
        })
    }

    /// Compares two analysed faces.
    pub fn compare(&self, source: &FaceAnalysis, target: &FaceAnalysis) -> Comparison {
        let cosine = source.embedding.cosine(&target.embedding);
        let t = self.config.decision_cosine;
        Comparison {
            face_comparison_score: comparison_score(cosine, t),
            cosine,
            decision: if cosine >= t { Decision::Match } else { Decision::NoMatch },
            thresholds: self.info.thresholds,
            source_quality: source.quality.clone(),
            target_quality: target.quality.clone(),
        }
    }

    /// Analyses both pictures and compares them (FaceCompare).
    pub fn compare_images(&self, source: &DecodedImage, target: &DecodedImage, multi: MultiFace) -> Result<Comparison> {
        let a = self.analyze(source, multi)?;
        let b = self.analyze(target, multi)?;
        Ok(self.compare(&a, &b))
    }

    /// Single-picture analysis for FaceLiveness: the face, its quality and pose, and an explicit statement
    /// of what is not measured (passive anti-spoofing above all). No embedding is computed.
    pub fn liveness(&self, img: &DecodedImage, multi: MultiFace) -> Result<LivenessAnalysis> {
        let l = self.locate(img, multi)?;
        Ok(LivenessAnalysis {
            face: l.face,
            face_count: l.face_count,
            image_width: img.width(),
            image_height: img.height(),
            pose: l.quality.pose,
            quality: l.quality,
            passive_anti_spoofing: PassiveAntiSpoofing::NotAvailable { reason: NO_ANTISPOOF_REASON },
            not_measured: NOT_MEASURED,
        })
    }

    /// The embedding of an aligned 112x112 RGB crop (for callers that align themselves).
    pub fn embed_aligned(&self, aligned_rgb: &[u8]) -> Result<Embedding> {
        self.recognizer.embed(aligned_rgb)
    }
}

// Compile-time guarantee that the engine can sit in an Arc shared by worker threads.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FaceEngine>();
    assert_send_sync::<Arc<FaceEngine>>();
};

/// The border a tight crop is searched in again, as a fraction of its larger side (`FaceEngine::detect_in_photo`).
pub const TIGHT_CROP_PAD: f32 = 0.3;

/// `img` inside a mid-grey border of `pad` pixels on every side.
fn pad_grey(img: &DecodedImage, pad: u32) -> Result<DecodedImage> {
    let (w, h) = (img.width(), img.height());
    let (pw, ph) = (w + 2 * pad, h + 2 * pad);
    let mut rgb = vec![128u8; (pw * ph * 3) as usize];
    let src = img.rgb();
    for y in 0..h {
        let from = (y * w * 3) as usize;
        let to = (((y + pad) * pw + pad) * 3) as usize;
        rgb[to..to + (w * 3) as usize].copy_from_slice(&src[from..from + (w * 3) as usize]);
    }
    Ok(DecodedImage::from_rgb(pw, ph, rgb)?)
}

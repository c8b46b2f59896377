//! [`LivenessEngine`]: the face mesh loaded once next to the face engine, shared by every request.

use std::sync::Arc;

use idv_face::{Detection, Embedding, FaceEngine, MULTI_FACE_MIN_RELATIVE_AREA, TEMPLATE, similarity_transform, warp};
use idv_vision::{Assets, DecodedImage, InferenceBackend, ModelOptions, ONNXRUNTIME_LIBRARY, OrtBackend};
use serde::Serialize;

use crate::challenge::ChallengeSpec;
use crate::decide::{Thresholds, decide};
use crate::error::{LivenessError, Result};
use crate::fingerprint::CaptureFingerprint;
use crate::flash::sample;
use crate::injection::{DuplicateRules, TimingRules, check_duplicates, check_timestamps};
use crate::iris::Iris;
use crate::measure::measure;
use crate::mesh::{Crop, FaceMesh};
use crate::observation::{FaceObservation, FrameObservation};
use crate::verdict::{LivenessScores, LivenessVerdict, Reason};

/// Asset path (see `scripts/assets.lock`) of the face mesh, committed in this crate.
pub const FACE_MESH_ASSET: &str = "crates/idv-liveness/models/face_landmark.onnx";
/// sha256 this engine was built and tested with; the lock entry must carry the same.
pub const FACE_MESH_SHA256: &str = "727bc089215c94138ac8f1e1faaad254fa3e1d958fac78d046d9f8ad7607204f";
/// The MediaPipe iris model, committed alongside: it measures eye openness (see the crate README).
pub const IRIS_ASSET: &str = "crates/idv-liveness/models/iris_landmark.onnx";
pub const IRIS_SHA256: &str = "588883da589f4be524d31019b4ea6ff5288344bec0790b404cc933111a56b7a7";

/// Engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LivenessEngineConfig {
    #[serde(skip)]
    pub model_options: ModelOptions,
    pub thresholds: Thresholds,
    pub timing: TimingRules,
    pub duplicates: DuplicateRules,
    /// An SFace embedding is computed on every n-th frame (and the last): the recogniser costs about ten
    /// times the mesh, and a face swap shorter than n frames still shows as a discontinuity.
    pub embed_every: usize,
}

impl Default for LivenessEngineConfig {
    fn default() -> Self {
        Self {
            model_options: ModelOptions::default(),
            thresholds: Thresholds::default(),
            timing: TimingRules::default(),
            duplicates: DuplicateRules::default(),
            embed_every: 3,
        }
    }
}

/// One captured frame: decoded, upright, not mirrored, with its capture time in milliseconds.
#[derive(Debug, Clone)]
pub struct FrameInput {
    pub image: DecodedImage,
    pub t_ms: u32,
}

/// The liveness engine. `Send + Sync`; every method takes `&self` and blocks (tens of milliseconds per frame):
/// run it on a worker pool.
pub struct LivenessEngine {
    face: Arc<FaceEngine>,
    mesh: FaceMesh,
    iris: Iris,
    config: LivenessEngineConfig,
    runtime: String,
}

impl LivenessEngine {
    /// Verifies the face mesh against `scripts/assets.lock` (and the lock entry against the sha256 this crate
    /// was built for), then loads it with ONNX Runtime next to the given face engine.
    pub fn load(assets: &Assets, face: Arc<FaceEngine>, config: LivenessEngineConfig) -> Result<Self> {
        for (dest, sha) in [(FACE_MESH_ASSET, FACE_MESH_SHA256), (IRIS_ASSET, IRIS_SHA256)] {
            let locked = &assets.entry(dest)?.sha256;
            if locked != sha {
                return Err(LivenessError::ModelPin {
                    what: dest.into(),
                    locked: locked.clone(),
                    expected: sha.into(),
                });
            }
        }
        let verified = assets.verify_all(&[ONNXRUNTIME_LIBRARY, FACE_MESH_ASSET, IRIS_ASSET])?;
        let backend = OrtBackend::global(&verified[0].path)?;
        Self::with_backend(backend.as_ref(), &verified[1].path, &verified[2].path, face, config)
    }

    /// Loads the (already verified) face mesh and iris files through any inference backend.
    pub fn with_backend(
        backend: &dyn InferenceBackend,
        face_mesh: &std::path::Path,
        iris: &std::path::Path,
        face: Arc<FaceEngine>,
        config: LivenessEngineConfig,
    ) -> Result<Self> {
        let mesh = FaceMesh::new(backend.load(face_mesh, &config.model_options)?)?;
        let iris = Iris::new(backend.load(iris, &config.model_options)?)?;
        Ok(Self { face, mesh, iris, config, runtime: backend.describe() })
    }

    pub fn config(&self) -> &LivenessEngineConfig {
        &self.config
    }

    pub fn face_engine(&self) -> &FaceEngine {
        &self.face
    }

    /// Runtime name and version, for the decision record.
    pub fn runtime(&self) -> &str {
        &self.runtime
    }

    /// Detects the largest face, runs the mesh on it and measures pose, eyes, mouth, scale and colour.
    pub fn analyse_frame(&self, img: &DecodedImage, t_ms: u32) -> Result<FrameObservation> {
        let mut faces = self.face.detect(img)?;
        faces.sort_by(|a, b| b.bbox.area().total_cmp(&a.bbox.area()));
        let Some(det) = faces.first().copied() else {
            return Ok(FrameObservation { t_ms, face_count: 0, large_faces: 0, face: None, embedding: None });
        };
        let large = faces.iter().filter(|f| f.bbox.area() >= det.bbox.area() * MULTI_FACE_MIN_RELATIVE_AREA).count();
        let m = self.mesh.run(img, Crop::from_detection(&det))?;
        let face = if m.presence >= self.config.thresholds.min_presence {
            let eyes = self.iris.eye_openness(img, &m.points)?;
            let measures = measure(&m.points, img.width(), img.height(), Some(eyes));
            let colour = sample(img, &m.points, measures.iod_px);
            Some(FaceObservation { detection: det, presence: m.presence, mesh: m.points, measures, colour })
        } else {
            None
        };
        Ok(FrameObservation { t_ms, face_count: faces.len(), large_faces: large, face, embedding: None })
    }

    /// The SFace embedding of the detected face (aligned on YuNet's five landmarks, as idv-face does).
    pub fn embed(&self, img: &DecodedImage, det: &Detection) -> Result<Embedding> {
        let aligned = warp(img, &similarity_transform(&det.landmarks, &TEMPLATE));
        Ok(self.face.embed_aligned(&aligned)?)
    }

    /// Checks a captured sequence against the challenge: timing and duplicates first (no model runs when they
    /// fail), then every frame is analysed and the actions, continuity, identity (against the first frame and
    /// the optional reference), 3-D structure and colour flash are decided. Frames must be in capture order.
    pub fn verify(
        &self,
        challenge: &ChallengeSpec,
        frames: &[FrameInput],
        reference: Option<&Embedding>,
    ) -> Result<LivenessVerdict> {
        Ok(self.verify_fingerprinted(challenge, frames, reference)?.0)
    }

    /// [`Self::verify`], with the capture's fingerprint for the caller's replay registry (see
    /// [`crate::fingerprint`]): computed from the frames the check analysed, so it costs no model run. `None`
    /// when the timing or duplicate checks refused the frames before any analysis.
    pub fn verify_fingerprinted(
        &self,
        challenge: &ChallengeSpec,
        frames: &[FrameInput],
        reference: Option<&Embedding>,
    ) -> Result<(LivenessVerdict, Option<CaptureFingerprint>)> {
        challenge.validate()?;
        let t_ms: Vec<u32> = frames.iter().map(|f| f.t_ms).collect();
        let mut reasons: Vec<Reason> = check_timestamps(challenge, &t_ms, &self.config.timing);
        let raw: Vec<(u32, u32, &[u8])> =
            frames.iter().map(|f| (f.image.width(), f.image.height(), f.image.rgb())).collect();
        let (dup, min_diff) = check_duplicates(&raw, &self.config.duplicates);
        reasons.extend(dup);
        if !reasons.is_empty() {
            let scores = LivenessScores { frames: frames.len(), min_frame_difference: min_diff, ..Default::default() };
            return Ok((LivenessVerdict::from_reasons(reasons, scores), None));
        }
        let mut obs = frames.iter().map(|f| self.analyse_frame(&f.image, f.t_ms)).collect::<Result<Vec<_>>>()?;
        let last = obs.len().saturating_sub(1);
        let every = self.config.embed_every.max(1);
        for (i, (o, f)) in obs.iter_mut().zip(frames).enumerate() {
            if (i % every == 0 || i == last)
                && let Some(face) = &o.face
            {
                o.embedding = Some(self.embed(&f.image, &face.detection)?);
            }
        }
        let mut verdict =
            decide(challenge, &obs, reference, &self.config.thresholds, self.face.config().decision_cosine);
        verdict.scores.min_frame_difference = min_diff;
        let images: Vec<&DecodedImage> = frames.iter().map(|f| &f.image).collect();
        Ok((verdict, Some(CaptureFingerprint::of(&images, &obs))))
    }
}

// Compile-time guarantee that the engine can sit in an Arc shared by worker threads.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LivenessEngine>();
};

//! [`LivenessEngine`]: the face mesh loaded once next to the face engine, shared by every request.

use std::sync::Arc;

use idv_face::{
    BoundingBox, Detection, Embedding, FaceEngine, Landmarks, MULTI_FACE_MIN_RELATIVE_AREA, TEMPLATE, apply,
    similarity_transform, warp,
};
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
    /// times the mesh, and a face swap shorter than n frames still shows as a discontinuity. The detector runs
    /// on the same frames; in between, the face is followed by the mesh (see [`LivenessEngine::verify`]).
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
        let face = self.observe(img, det)?;
        Ok(FrameObservation { t_ms, face_count: faces.len(), large_faces: large, face, embedding: None })
    }

    /// The mesh and the measures on the crop `det` gives; `None` when the mesh sees no face there.
    fn observe(&self, img: &DecodedImage, det: Detection) -> Result<Option<FaceObservation>> {
        let m = self.mesh.run(img, Crop::from_detection(&det))?;
        if m.presence < self.config.thresholds.min_presence {
            return Ok(None);
        }
        let eyes = self.iris.eye_openness(img, &m.points)?;
        let measures = measure(&m.points, img.width(), img.height(), Some(eyes));
        let colour = sample(img, &m.points, measures.iod_px);
        Ok(Some(FaceObservation { detection: det, presence: m.presence, mesh: m.points, measures, colour }))
    }

    /// A frame between detector runs: the previous frame's detection, carried along by the mesh's motion since
    /// the detector frame, places the crop; the face counts are the detector frame's. `None` when the mesh
    /// loses the face there (the caller then runs the detector).
    fn follow(&self, img: &DecodedImage, t_ms: u32, from: &Followed) -> Result<Option<FrameObservation>> {
        let Some(face) = self.observe(img, from.detection)? else { return Ok(None) };
        Ok(Some(FrameObservation {
            t_ms,
            face_count: from.face_count,
            large_faces: from.large_faces,
            face: Some(face),
            embedding: None,
        }))
    }

    /// Every frame analysed as [`Self::verify`] sees it, in capture order: the detector on every
    /// `embed_every`-th frame and the last (whose SFace embeddings it aligns), the face followed by the mesh on
    /// the frames between (see the crate README, "Per frame").
    pub fn analyse_sequence(&self, frames: &[FrameInput]) -> Result<Vec<FrameObservation>> {
        let last = frames.len().saturating_sub(1);
        let every = self.config.embed_every.max(1);
        let key = |i: usize| i.is_multiple_of(every) || i == last;
        // The detector (about half of a frame's model time) runs on the frames that are embedded anyway, where
        // its landmarks align the face for SFace; on the frames between, the face is followed.
        let mut obs: Vec<FrameObservation> = Vec::with_capacity(frames.len());
        let mut followed: Option<Followed> = None;
        for (i, f) in frames.iter().enumerate() {
            let tracked = match &followed {
                Some(from) if !key(i) => self.follow(&f.image, f.t_ms, from)?,
                _ => None,
            };
            let (o, was_followed) = match tracked {
                Some(o) => (o, true),
                None => (self.analyse_frame(&f.image, f.t_ms)?, false),
            };
            followed = match (&o.face, &followed) {
                (None, _) => None,
                (Some(face), Some(from)) if was_followed => Some(from.moved(face)),
                (Some(face), _) => Some(Followed::at(face, o.face_count, o.large_faces)),
            };
            obs.push(o);
        }
        for (i, (o, f)) in obs.iter_mut().zip(frames).enumerate() {
            if key(i)
                && let Some(face) = &o.face
            {
                o.embedding = Some(self.embed(&f.image, &face.detection)?);
            }
        }
        Ok(obs)
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
        let obs = self.analyse_sequence(frames)?;
        let mut verdict =
            decide(challenge, &obs, reference, &self.config.thresholds, self.face.config().decision_cosine);
        verdict.scores.min_frame_difference = min_diff;
        let images: Vec<&DecodedImage> = frames.iter().map(|f| &f.image).collect();
        Ok((verdict, Some(CaptureFingerprint::of(&images, &obs))))
    }
}

/// The face as last seen, for the frames between detector runs.
struct Followed {
    /// Where the next crop goes: the detector frame's detection, moved as the mesh moved since.
    detection: Detection,
    /// The detector frame's detection and mesh anchors, the reference of the motion.
    detected: Detection,
    anchors: Landmarks,
    face_count: usize,
    large_faces: usize,
}

/// Mesh points that move rigidly with the head (eye corners, nose tip, mouth corners), whose similarity motion
/// carries the detection from frame to frame.
const ANCHORS: [usize; 5] = [33, 263, 1, 61, 291];

fn anchors(mesh: &[[f32; 3]]) -> Landmarks {
    ANCHORS.map(|i| [mesh[i][0], mesh[i][1]])
}

impl Followed {
    fn at(face: &FaceObservation, face_count: usize, large_faces: usize) -> Self {
        Self {
            detection: face.detection,
            detected: face.detection,
            anchors: anchors(&face.mesh),
            face_count,
            large_faces,
        }
    }

    /// The detection moved by the similarity taking the detector frame's anchors onto `face`'s.
    fn moved(&self, face: &FaceObservation) -> Self {
        let m = similarity_transform(&self.anchors, &anchors(&face.mesh));
        let scale = m[0][0].hypot(m[1][0]) as f32;
        let d = self.detected;
        let [cx, cy] = apply(&m, [d.bbox.x + d.bbox.width / 2.0, d.bbox.y + d.bbox.height / 2.0]);
        let (w, h) = (d.bbox.width * scale, d.bbox.height * scale);
        let detection = Detection {
            bbox: BoundingBox { x: cx - w / 2.0, y: cy - h / 2.0, width: w, height: h },
            landmarks: d.landmarks.map(|p| apply(&m, p)),
            score: d.score,
        };
        Self { detection, ..*self }
    }
}

// Compile-time guarantee that the engine can sit in an Arc shared by worker threads.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LivenessEngine>();
};

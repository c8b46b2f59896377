//! Face engine for idv, pure compute: YuNet detection (5 landmarks), similarity alignment to 112x112, SFace
//! embeddings, cosine similarity mapped to the API's `FaceComparisonScore`, picture quality, and a
//! single-picture analysis for FaceLiveness that states what it cannot measure. It knows nothing of HTTP,
//! storage, merchants or decision policy beyond the match threshold.
//!
//! ```no_run
//! use idv_face::{FaceEngine, FaceEngineConfig, MultiFace};
//! use idv_vision::Assets;
//! # fn main() -> idv_face::Result<()> {
//! // Once at start-up: verifies libonnxruntime and both models against scripts/assets.lock.
//! let engine = FaceEngine::load(&Assets::from_env(), FaceEngineConfig::default())?;
//! let a = engine.decode(&std::fs::read("a.jpg").unwrap())?;
//! let b = engine.decode(&std::fs::read("b.jpg").unwrap())?;
//! let c = engine.compare_images(&a, &b, MultiFace::Largest)?;
//! println!("{} {:?} (cosine {:.3})", c.face_comparison_score, c.decision, c.cosine);
//! # Ok(()) }
//! ```
//!
//! Every method is CPU-bound and blocking (tens of milliseconds): call it from a bounded worker pool, never
//! on an async runtime's threads. One engine serves all threads; each model keeps one ONNX Runtime session
//! per concurrent run (up to `ModelOptions::max_concurrent_runs`), single-threaded by default.
//!
//! # Pipeline
//!
//! * **Detection.** YuNet 2023mar's file declares a 640x640 input, but its graph runs at any multiple of 32:
//!   the picture is scaled so its longer side is 640 (area-averaging when shrinking), padded right/bottom with
//!   black to multiples of 32 (640x480 for a 4:3 picture, as OpenCV's `FaceDetectorYN` pads it; a square
//!   letterbox would cost a third more), and fed as planar BGR in 0..255.
//!   The three output scales (strides 8, 16, 32) are decoded as OpenCV's `FaceDetectorYN` does (score
//!   `sqrt(cls·obj)`, box centre `(cell + offset)·stride`, size `exp(·)·stride`, landmarks
//!   `(cell + offset)·stride`), followed by greedy NMS at IoU 0.3 and mapping back to picture pixels.
//!   Checked against opencv-python 4.14 on the same files (`bench/face_golden.py`, golden file in
//!   `tests/golden`): same faces, scores within 0.001, landmarks within 0.005 eye distances for faces inside
//!   the picture.
//! * **Detection threshold** 0.75 (`DEFAULT_SCORE_THRESHOLD`). Real faces in the test photos score
//!   0.916-0.951 (the 13-pixel-eye-distance face in messi5.jpg: 0.916); the best spurious candidates
//!   (background players' blobs in messi5.jpg) score 0.55-0.58. OpenCV's samples use 0.9, which leaves
//!   little room for small or blurred faces.
//! * **Several faces.** The largest box is analysed; `MultiFace::Reject` (NeedMultiFaceCheck) fails with
//!   `FaceError::MultipleFaces` when a second face has at least 1/9 of the largest one's area.
//! * **Alignment.** Least-squares similarity transform (Umeyama without reflection) from the five
//!   landmarks to the standard template, bilinear warp with a black border (OpenCV's `alignCrop`).
//! * **Embedding.** SFace takes planar **RGB** in 0..255, no mean, no scaling: OpenCV's
//!   `FaceRecognizerSF::feature` calls `blobFromImage(crop, 1, Size(112,112), Scalar(), swapRB=true)` on a
//!   BGR crop. Our embeddings have cosine 0.998-0.999 with opencv-python's on the same photos (0.989 and
//!   0.93 for the two crops whose face touches or crosses the picture's edge, where landmarks are less
//!   stable). The 128 values are L2-normalised; similarity is their dot product.
//!
//! # Calibration
//!
//! Measured with `cargo run --release -p idv-eval --example face_eval` over `testdata/faces` (9 photos,
//! 5 identities; see `scripts/assets.lock`):
//!
//! | pairs | n | cosine |
//! |---|---|---|
//! | same person, different photos (obama, obama2, obama3) | 3 | 0.738, 0.752, 0.792 |
//! | same person, an edge-cut crop of obama.jpg vs obama2/obama3 | 4 | 0.652-0.708 |
//! | same photo, cropped (obama.jpg vs its two crops, crop vs crop) | 3 | 0.813-0.892 |
//! | different people (obama ×5, biden, grace_hopper, astronaut, messi5) | 26 | -0.119..0.272, mean 0.063 |
//!
//! Genuine pairs under degradation (obama3.jpg altered, against obama.jpg / obama2.jpg): Gaussian blur
//! σ=4 0.759/0.702; downscaled to 16 px between the eyes 0.757/0.721, to 11 px 0.693/0.695; JPEG quality 10
//! 0.771/0.700; exposure ×0.35 0.743/0.705. An impostor pair blurred (biden σ=3 vs obama2) fell from 0.272
//! to 0.222. OpenCV's default SFace threshold (0.363) is tuned for balanced accuracy on LFW; in
//! identity verification a false match (someone else passes) costs far more than a false non-match (a
//! retake), so the threshold sits higher in the gap: **0.50** (`DEFAULT_DECISION_COSINE`), 0.23 above the
//! highest impostor and 0.15 below the lowest genuine pair measured, 0.19 below the lowest degraded
//! genuine pair. At 0.50 the set has 0 false matches of 26 and 0 false non-matches of 10. The set is small
//! (one identity has several photos) and no larger labelled face set ships in the registries this project
//! uses, so treat the value as provisional: re-run the evaluation on a larger labelled folder and set
//! `FaceEngineConfig::decision_cosine` from it.
//!
//! **Score.** `FaceComparisonScore` is piecewise linear in the cosine c (threshold t): 0 for c ≤ 0,
//! `70·c/t` below t, `70 + 30·(c − t)/(1 − t)` from t to 1; so "score ≥ 70" and "cosine ≥ t" are the same
//! decision. At t = 0.50 the genuine pairs above score 79-94 and the impostors at most 38.
//!
//! # Quality
//!
//! Measured on the aligned crop's inner face (grey, 64x68 px) and on the landmarks; all 0..100:
//!
//! * `SharpnessScore` = `100·(1 − exp(−v/100))`, v the variance of the 4-neighbour Laplacian. Sharp test
//!   portraits measure v = 590-3600 (score ≥ 99.7); obama.jpg blurred with σ=6 (about σ=1.8 at crop scale)
//!   v = 16 (score 15); the 13-px-eye-distance face of messi5.jpg, upscaled by the alignment, v = 115 (68).
//! * `IlluminationScore` = product of exposure (mean luma ramps 25→90 and 170→235), contrast (std ramps
//!   5→35), clipping (fraction of pixels ≤ 8 or ≥ 247 ramps 0.05→0.35) and left/right balance
//!   (asymmetry ramps 0.25→0.75). The test portraits score 79-100; ×0.2 exposure scores 0.6, ×1.8 scores 0.
//! * Face size: eye distance ramps 10→35 px (35 px is the template's, i.e. no upscaling).
//! * Pose: yaw and roll from the landmarks (see [`estimate_pose`]); each ramps from 15° to 45°.
//! * `FaceQualityScore` = geometric mean of the four, times the fraction of the face box inside the picture.
//! * Occlusion (masks, hands, glasses) is **not** reported: five landmarks cannot measure it honestly. A
//!   face cut by the picture's edge is measured (`in_frame`, `QualityIssue::FaceCutOff`).
//! * [`FaceQuality::issues`] turns the measures into retake reasons with fixed cut-offs.
//!
//! # Liveness
//!
//! There is no passive anti-spoofing model (none trustworthy ships in a registry package):
//! [`FaceEngine::liveness`] returns quality and pose, `PassiveAntiSpoofing::NotAvailable` with the reason,
//! and the list of API fields it does not measure ([`NOT_MEASURED`]: FaceAttack, FaceAge, FaceGender,
//! occlusion). It never claims "no attack".

mod align;
mod detect;
mod embed;
mod engine;
mod error;
pub mod index;
mod quality;
mod score;

pub use align::{ALIGNED_SIZE, Affine, TEMPLATE, apply, similarity_transform, warp};
pub use detect::{BoundingBox, DEFAULT_SCORE_THRESHOLD, Detection, DetectorConfig, Landmarks, YUNET_INPUT, YuNet};
pub use embed::{EMBEDDING_DIM, Embedding, SFace};
pub use engine::{
    Comparison, Decision, EngineInfo, FaceAnalysis, FaceEngine, FaceEngineConfig, LivenessAnalysis,
    MULTI_FACE_MIN_RELATIVE_AREA, ModelRecord, MultiFace, NOT_MEASURED, NotMeasured, PassiveAntiSpoofing, SFACE_ASSET,
    YUNET_ASSET,
};
pub use error::{FaceError, Result};
pub use quality::{FaceQuality, Pose, QualityIssue, QualityMeasures, estimate_pose};
pub use score::{DEFAULT_DECISION_COSINE, SCORE_AT_THRESHOLD, Thresholds, comparison_score};

pub use idv_vision::{DecodeLimits, DecodedImage};

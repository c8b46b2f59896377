//! Liveness engine for idv, pure compute. See the crate README for what it checks, how, and what it cannot stop.

mod challenge;
mod decide;
mod engine;
mod error;
pub mod fingerprint;
pub mod flash;
mod geom;
mod injection;
mod iris;
mod issue;
pub mod measure;
pub mod mesh;
mod observation;
mod planar;
mod verdict;

pub use challenge::{
    ACTION_WINDOW_MS, Action, ChallengeSpec, FRAME_INTERVAL_MS, MAX_CUE_MS, MIN_REACTION_MS, colour_hex, parse_colour,
};
pub use decide::{Thresholds, decide};
pub use engine::{
    FACE_MESH_ASSET, FACE_MESH_SHA256, FrameInput, IRIS_ASSET, IRIS_SHA256, LivenessEngine, LivenessEngineConfig,
};
pub use error::{LivenessError, Result};
pub use fingerprint::CaptureFingerprint;
pub use injection::frame_digest;
pub use issue::{ChallengePlan, FIRST_CUE_MAX_MS, FIRST_CUE_MIN_MS, REST_MAX_MS, REST_MIN_MS, draw_cues};
pub use measure::{FaceMeasures, HeadPose};
pub use observation::{FaceObservation, FrameObservation};
pub use verdict::{ActionScore, LivenessScores, LivenessVerdict, Reason, ReasonCode};

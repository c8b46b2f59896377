//! Liveness engine for idv, pure compute. See the crate README for what it checks, how, and what it cannot stop.

mod challenge;
mod decide;
mod engine;
mod error;
mod eval;
pub mod flash;
pub mod geom;
pub mod injection;
pub mod iris;
pub mod measure;
pub mod mesh;
pub mod planar;
pub mod synth;
mod verdict;

pub use challenge::{Action, ChallengeSpec, colour_hex, parse_colour};
pub use decide::{Thresholds, decide};
pub use engine::{
    FACE_MESH_ASSET, FACE_MESH_SHA256, FaceObservation, FrameInput, FrameObservation, IRIS_ASSET, IRIS_SHA256,
    LivenessEngine, LivenessEngineConfig,
};
pub use error::{LivenessError, Result};
pub use eval::{AttackStats, EvalCase, EvalReport, challenge_sets, evaluate};
pub use injection::frame_digest;
pub use measure::{FaceMeasures, HeadPose};
pub use verdict::{ActionScore, LivenessScores, LivenessVerdict, Reason, ReasonCode};

use idv_face::FaceError;
use idv_vision::VisionError;

/// Failures of the liveness engine itself. A challenge that is not met is never an error: it is a
/// [`crate::LivenessVerdict`] with `passed = false` and its reasons.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LivenessError {
    #[error(transparent)]
    Vision(#[from] VisionError),
    #[error(transparent)]
    Face(#[from] FaceError),
    /// The challenge itself is malformed (unknown action, bad colour): a server bug, not the user's fault.
    #[error("invalid challenge: {0}")]
    InvalidChallenge(String),
    /// A pinned model's lock entry does not carry the sha256 this crate was built and tested with.
    #[error("model {what}: assets.lock pins sha256 {locked}, this engine was built for {expected}")]
    ModelPin { what: String, locked: String, expected: String },
}

pub type Result<T, E = LivenessError> = std::result::Result<T, E>;

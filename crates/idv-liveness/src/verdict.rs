//! The verdict and its reasons.

use serde::Serialize;

use crate::challenge::Action;
use crate::flash::ColourScore;
use crate::planar::PlanarityScore;

/// Why a sequence did not pass. The string form (`code.as_str()`) is stable: the server stores and maps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// Fewer frames than a decision needs.
    TooFewFrames,
    /// Capture times go backwards or repeat.
    TimestampsOutOfOrder,
    /// Frame spacing does not match the requested cadence (too fast, too slow, bursts, long gaps).
    FrameRateMismatch,
    /// The frames span far more or far less time than the challenge allows.
    DurationImplausible,
    /// Two frames are bit-identical.
    DuplicateFrames,
    /// Consecutive frames differ by less than sensor noise: a still picture repeated.
    FrozenFrames,
    /// No face in the frames.
    NoFace,
    /// The face left the frame mid-sequence.
    FaceLost,
    /// More than one face in a frame.
    MultipleFaces,
    /// The face's shape or position jumps between two frames (a cut).
    Discontinuity,
    /// Another person's face appears during the sequence.
    IdentityChanged,
    /// The face does not match the reference face.
    ReferenceMismatch,
    /// A requested action was not performed.
    ActionMissing,
    /// The actions were performed in another order than requested.
    ActionOrder,
    /// An action was performed outside its window.
    ActionLate,
    /// The face moved like a flat picture (one homography explains the landmark motion).
    PlanarMotion,
    /// The face did not follow the flashed colours.
    ColourMismatch,
    /// The capture moves as another transaction's capture did, frame for frame: a copy of it, re-encoded
    /// (the caller compares [`crate::CaptureFingerprint`]s; the engine never sees other sessions).
    CaptureReplayed,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooFewFrames => "too_few_frames",
            Self::TimestampsOutOfOrder => "timestamps_out_of_order",
            Self::FrameRateMismatch => "frame_rate_mismatch",
            Self::DurationImplausible => "duration_implausible",
            Self::DuplicateFrames => "duplicate_frames",
            Self::FrozenFrames => "frozen_frames",
            Self::NoFace => "no_face",
            Self::FaceLost => "face_lost",
            Self::MultipleFaces => "multiple_faces",
            Self::Discontinuity => "discontinuity",
            Self::IdentityChanged => "identity_changed",
            Self::ReferenceMismatch => "reference_mismatch",
            Self::ActionMissing => "action_missing",
            Self::ActionOrder => "action_order",
            Self::ActionLate => "action_late",
            Self::PlanarMotion => "planar_motion",
            Self::ColourMismatch => "colour_mismatch",
            Self::CaptureReplayed => "capture_replayed",
        }
    }

    /// True for evidence of an attack (injected or manipulated frames, a flat picture, a face swap, a replay
    /// under another challenge); false for a user who simply did not complete the challenge.
    pub fn is_attack(self) -> bool {
        matches!(
            self,
            Self::TimestampsOutOfOrder
                | Self::FrameRateMismatch
                | Self::DurationImplausible
                | Self::DuplicateFrames
                | Self::FrozenFrames
                | Self::Discontinuity
                | Self::IdentityChanged
                | Self::ReferenceMismatch
                | Self::PlanarMotion
                | Self::ColourMismatch
                | Self::CaptureReplayed
        )
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason with a human-readable detail (numbers, frame indices).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub detail: String,
}

impl Reason {
    pub fn new(code: ReasonCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into() }
    }
}

/// How one action was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionScore {
    pub action: Action,
    /// When the action was asked for and where it had to be complete, ms after the first frame (the
    /// challenge's cue and window, copied so the record explains a verdict on its own).
    pub cue_ms: u32,
    pub window_ms: (u32, u32),
    /// Frame index and capture time at which the action was complete inside its window, or, when it was not,
    /// the completion nearest after the window opened (late, or in another action's window), if any.
    pub frame: Option<usize>,
    pub t_ms: Option<u32>,
    /// Time from the cue to that completion: the user's reaction plus the movement.
    pub elapsed_ms: Option<u32>,
    /// The extreme value of the action's signal over the sequence: lowest eye aspect ratio (blink), highest
    /// mouth aspect ratio (open_mouth), largest yaw change in the requested direction in degrees (head turns),
    /// face-scale ratio to the start (farther: smallest, closer: largest).
    pub peak: f32,
}

/// The numbers behind a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct LivenessScores {
    pub frames: usize,
    /// Frames in which a face was measured.
    pub faces: usize,
    pub actions: Vec<ActionScore>,
    /// Open-eye eye aspect ratio of this sequence (its 75th percentile).
    pub ear_open: f32,
    /// Yaw at the start, degrees.
    pub yaw_start_deg: f32,
    /// Largest shape change between consecutive frames (rigid points after a similarity fit), in eye distances.
    pub max_shape_jump: f32,
    /// Largest position change between consecutive frames, in eye distances.
    pub max_position_jump: f32,
    /// Lowest cosine between a frame's SFace embedding and the first frame's.
    pub min_identity_cosine: Option<f32>,
    /// Median cosine between the frames and the reference face.
    pub reference_cosine: Option<f32>,
    pub planarity: Option<PlanarityScore>,
    pub colour: Option<ColourScore>,
    /// Smallest mean grey difference between consecutive frames.
    pub min_frame_difference: f32,
}

/// Outcome of a liveness check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivenessVerdict {
    /// Every check passed.
    pub passed: bool,
    /// At least one reason is evidence of an attack (see [`ReasonCode::is_attack`]).
    pub attack: bool,
    pub reasons: Vec<Reason>,
    pub scores: LivenessScores,
}

impl LivenessVerdict {
    pub fn from_reasons(reasons: Vec<Reason>, scores: LivenessScores) -> Self {
        Self { passed: reasons.is_empty(), attack: reasons.iter().any(|r| r.code.is_attack()), reasons, scores }
    }

    /// True when a reason with this code was given.
    pub fn has(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }
}

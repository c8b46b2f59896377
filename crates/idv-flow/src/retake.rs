//! Why a capture must be taken again: a closed set, named on the wire by [`RetakeReason::code`].

use serde::{Deserialize, Serialize};

/// Why a capture must be taken again. Closed: the device protocol's `reason_code` is [`RetakeReason::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetakeReason {
    /// A usable picture in which the document could not be read.
    DocUnreadable,
    /// The picture is unusable as data (not an image, truncated, too small).
    UnqualifiedPhoto,
    /// Over the byte or pixel limit.
    TooLarge,
    NoFace,
    MultipleFaces,
    /// The selfie is blurred, dark or badly framed.
    PoorQuality,
    /// A liveness frame is unusable as data.
    LivenessUnqualifiedPhoto,
    /// The liveness capture was inconclusive (not evidence of an attack):
    LivenessTooFewFrames,
    LivenessNoFace,
    LivenessFaceLost,
    LivenessMultipleFaces,
    LivenessActionMissing,
    LivenessActionOrder,
    LivenessActionLate,
    /// Inconclusive without a reason the engine named.
    LivenessUnknown,
    /// A face frame's header claims more pixels than a liveness frame needs, or the round's frames together do:
    /// refused from the headers before any pixel is decoded (a small file can claim a huge canvas).
    CaptureOverBudget,
}

impl RetakeReason {
    pub const ALL: [RetakeReason; 16] = [
        RetakeReason::DocUnreadable,
        RetakeReason::UnqualifiedPhoto,
        RetakeReason::TooLarge,
        RetakeReason::NoFace,
        RetakeReason::MultipleFaces,
        RetakeReason::PoorQuality,
        RetakeReason::LivenessUnqualifiedPhoto,
        RetakeReason::LivenessTooFewFrames,
        RetakeReason::LivenessNoFace,
        RetakeReason::LivenessFaceLost,
        RetakeReason::LivenessMultipleFaces,
        RetakeReason::LivenessActionMissing,
        RetakeReason::LivenessActionOrder,
        RetakeReason::LivenessActionLate,
        RetakeReason::LivenessUnknown,
        RetakeReason::CaptureOverBudget,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RetakeReason::DocUnreadable => "DOC_UNREADABLE",
            RetakeReason::UnqualifiedPhoto => "UNQUALIFIED_PHOTO",
            RetakeReason::TooLarge => "TOO_LARGE",
            RetakeReason::NoFace => "NO_FACE",
            RetakeReason::MultipleFaces => "MULTIPLE_FACES",
            RetakeReason::PoorQuality => "POOR_QUALITY",
            RetakeReason::LivenessUnqualifiedPhoto => "LIVENESS_UNQUALIFIED_PHOTO",
            RetakeReason::LivenessTooFewFrames => "LIVENESS_TOO_FEW_FRAMES",
            RetakeReason::LivenessNoFace => "LIVENESS_NO_FACE",
            RetakeReason::LivenessFaceLost => "LIVENESS_FACE_LOST",
            RetakeReason::LivenessMultipleFaces => "LIVENESS_MULTIPLE_FACES",
            RetakeReason::LivenessActionMissing => "LIVENESS_ACTION_MISSING",
            RetakeReason::LivenessActionOrder => "LIVENESS_ACTION_ORDER",
            RetakeReason::LivenessActionLate => "LIVENESS_ACTION_LATE",
            RetakeReason::LivenessUnknown => "LIVENESS_UNKNOWN",
            RetakeReason::CaptureOverBudget => "CAPTURE_OVER_BUDGET",
        }
    }

    /// The fixed sentence sent to the device with [`RetakeReason::code`]. The measured values behind a retake
    /// (eye openness, angles, cosines) stay in the server's round record: told to the device, they would help tune
    /// a spoof against the thresholds.
    pub fn message(self) -> &'static str {
        match self {
            RetakeReason::DocUnreadable => "The document could not be read; hold it flat, fully in the frame.",
            RetakeReason::UnqualifiedPhoto => "The picture could not be used; take it again.",
            RetakeReason::TooLarge => "The picture is too large; take it again.",
            RetakeReason::NoFace => "No face was found; look at the camera.",
            RetakeReason::MultipleFaces => "Only you may be in the picture.",
            RetakeReason::PoorQuality => "The picture of your face is blurred, dark or badly framed; take it again.",
            RetakeReason::LivenessUnqualifiedPhoto => "A frame could not be used; take it again.",
            RetakeReason::LivenessTooFewFrames => "Too few frames were captured; follow the instructions again.",
            RetakeReason::LivenessNoFace => "No face was found; look at the screen.",
            RetakeReason::LivenessFaceLost => "Keep your face in the frame throughout.",
            RetakeReason::LivenessMultipleFaces => "Only you may be in view.",
            RetakeReason::LivenessActionMissing => "An action was not seen; follow the instructions.",
            RetakeReason::LivenessActionOrder => "Perform the actions in the order shown.",
            RetakeReason::LivenessActionLate => "Perform each action while it is shown.",
            RetakeReason::LivenessUnknown => "The check was inconclusive; try again.",
            RetakeReason::CaptureOverBudget => "The frames are too large; capture at a lower resolution.",
        }
    }

    /// The liveness check (not the picture) asked for the retake.
    pub fn is_liveness(self) -> bool {
        matches!(
            self,
            RetakeReason::LivenessUnqualifiedPhoto
                | RetakeReason::LivenessTooFewFrames
                | RetakeReason::LivenessNoFace
                | RetakeReason::LivenessFaceLost
                | RetakeReason::LivenessMultipleFaces
                | RetakeReason::LivenessActionMissing
                | RetakeReason::LivenessActionOrder
                | RetakeReason::LivenessActionLate
                | RetakeReason::LivenessUnknown
        )
    }
}

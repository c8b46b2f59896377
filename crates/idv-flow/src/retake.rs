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
}

impl RetakeReason {
    pub const ALL: [RetakeReason; 15] = [
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

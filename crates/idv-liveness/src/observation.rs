//! What the engine saw in each frame: the measurements the decision rules (`decide`) work on.

use idv_face::{Detection, Embedding};
use serde::Serialize;

use crate::flash::ColourSample;
use crate::measure::FaceMeasures;
use crate::mesh::Mesh;

/// What the engine saw in one frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceObservation {
    pub detection: Detection,
    /// The mesh's face-presence probability.
    pub presence: f32,
    #[serde(skip)]
    pub mesh: Mesh,
    pub measures: FaceMeasures,
    pub colour: ColourSample,
}

/// One analysed frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameObservation {
    pub t_ms: u32,
    /// Faces YuNet found (any size).
    pub face_count: usize,
    /// Faces at least [`idv_face::MULTI_FACE_MIN_RELATIVE_AREA`] the size of the largest.
    pub large_faces: usize,
    /// The largest face, when one was found and the mesh confirmed it.
    pub face: Option<FaceObservation>,
    #[serde(skip)]
    pub embedding: Option<Embedding>,
}

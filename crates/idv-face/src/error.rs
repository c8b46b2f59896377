use idv_vision::VisionError;

/// Failures of the face engine. [`FaceError::NoFace`] and [`FaceError::MultipleFaces`] are verdicts about
/// the picture (the API's `NoFaceDetected` / multi-face errors); [`FaceError::Vision`] wraps intake errors
/// (bad picture) and installation errors (missing models), told apart by [`VisionError::is_bad_input`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaceError {
    #[error(transparent)]
    Vision(#[from] VisionError),
    #[error("no face detected")]
    NoFace,
    #[error("{count} faces detected where exactly one is required")]
    MultipleFaces { count: usize },
}

impl FaceError {
    /// True when the picture, not the server, is at fault.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Vision(v) => v.is_bad_input(),
            Self::NoFace | Self::MultipleFaces { .. } => true,
        }
    }
}

pub type Result<T, E = FaceError> = std::result::Result<T, E>;

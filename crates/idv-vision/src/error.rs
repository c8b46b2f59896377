use std::path::PathBuf;

/// Every failure of the vision foundations. Image-intake variants are what a caller maps to the API's
/// picture errors (e.g. `UnqualifiedPhoto`, `ToolargeImage`); model variants mean the installation is
/// incomplete and carry the command that repairs it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VisionError {
    #[error("image is empty")]
    EmptyImage,
    #[error("image is {bytes} bytes, more than the limit of {limit} bytes")]
    TooManyBytes { bytes: usize, limit: usize },
    #[error("image is {width}x{height} pixels, more than the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("image is {width}x{height} pixels, smaller than the minimum side of {min_side} pixels")]
    TooSmall { width: u32, height: u32, min_side: u32 },
    #[error("data is not a supported image (JPEG, PNG or WebP expected)")]
    NotAnImage,
    #[error("image data is truncated")]
    Truncated,
    #[error("image data is corrupt: {0}")]
    Corrupt(String),

    #[error("{what} is missing at {path}; run scripts/fetch-assets.sh")]
    AssetMissing { what: String, path: PathBuf },
    #[error("{what} at {path} has sha256 {actual}, expected {expected}; run scripts/fetch-assets.sh")]
    AssetMismatch { what: String, path: PathBuf, expected: String, actual: String },
    #[error("{}", join(.0))]
    AssetProblems(Vec<VisionError>),
    #[error("{what} is not listed in scripts/assets.lock")]
    AssetUnknown { what: String },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("inference runtime: {0}")]
    Runtime(String),
    #[error("model {model}: {detail}")]
    ModelContract { model: String, detail: String },
    #[error("malformed ONNX model: {0}")]
    MalformedModel(String),
}

impl VisionError {
    /// True for errors caused by the submitted picture (as opposed to the server's installation).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::EmptyImage
                | Self::TooManyBytes { .. }
                | Self::TooManyPixels { .. }
                | Self::TooSmall { .. }
                | Self::NotAnImage
                | Self::Truncated
                | Self::Corrupt(_)
        )
    }

    /// True when the picture was rejected for being too big (bytes or pixels), the API's `ToolargeImage`.
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::TooManyBytes { .. } | Self::TooManyPixels { .. })
    }
}

fn join(errors: &[VisionError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

pub type Result<T, E = VisionError> = std::result::Result<T, E>;

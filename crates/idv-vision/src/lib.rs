//! Engine foundations for idv, pure compute: untrusted image intake (size limits before decoding, EXIF
//! orientation), resizing, an inference-runtime seam with an ONNX Runtime implementation, and the registry of
//! pinned model files. It knows nothing of HTTP, storage or merchants.
//!
//! ```no_run
//! use idv_vision::{Assets, DecodeLimits, InferenceBackend, ModelOptions, OrtBackend, decode};
//! # fn main() -> idv_vision::Result<()> {
//! let assets = Assets::from_env();
//! let lib = assets.verify(idv_vision::ONNXRUNTIME_LIBRARY)?;
//! let backend = OrtBackend::global(&lib.path)?;
//! let model = backend.load(&assets.verify("models/face_detection_yunet_2023mar.onnx")?.path,
//!                          &ModelOptions::default())?;
//! let img = decode(&std::fs::read("photo.jpg").unwrap(), &DecodeLimits::default())?;
//! # let _ = (model, img); Ok(()) }
//! ```

mod assets;
mod error;
mod image;
pub mod onnx;
pub mod onnx_metadata;
mod ort_backend;
mod resize;
mod runtime;

pub use assets::{ASSETS_LOCK, AssetEntry, Assets, ONNXRUNTIME_LIBRARY, VerifiedAsset, lock_entries, sha256_file};
pub use error::{Result, VisionError};
pub use image::{DecodeLimits, DecodedImage, SourceFormat, decode, probe};
pub use ort_backend::OrtBackend;
pub use resize::{fit_within, resize, to_gray};
pub use runtime::{InferenceBackend, Model, ModelOptions, Outputs, Tensor, TensorView};

//! Shared fixtures: the repository root and one engine of each kind per test binary.

use std::path::PathBuf;
use std::sync::OnceLock;

use idv_doc::DocEngine;
use idv_eval::specimen::Assets as SpecAssets;
use idv_face::{FaceEngine, FaceEngineConfig};
use idv_vision::Assets;

/// The repository root, where `scripts/fetch-assets.sh` puts models and test photos.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fail_missing(e: impl std::fmt::Display) -> ! {
    panic!("test assets unavailable: {e} (scripts/fetch-assets.sh, run from the repository root, fetches them)")
}

pub fn face_engine() -> &'static FaceEngine {
    static E: OnceLock<FaceEngine> = OnceLock::new();
    E.get_or_init(|| {
        FaceEngine::load(&Assets::new(root()), FaceEngineConfig::default()).unwrap_or_else(|e| fail_missing(e))
    })
}

pub fn doc_engine() -> &'static DocEngine {
    static E: OnceLock<DocEngine> = OnceLock::new();
    E.get_or_init(|| DocEngine::load(&Assets::new(root())).unwrap_or_else(|e| fail_missing(e)))
}

pub fn spec_assets() -> &'static SpecAssets {
    static A: OnceLock<SpecAssets> = OnceLock::new();
    A.get_or_init(|| SpecAssets::load(&root()).unwrap_or_else(|e| fail_missing(e)))
}

//! Shared fixtures: the engine, the test portraits, synthetic portraits framed as selfies.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use idv_eval::liveness::synth::Portrait;
use idv_face::{DecodedImage, FaceEngine, FaceEngineConfig};
use idv_liveness::{LivenessEngine, LivenessEngineConfig, LivenessVerdict};
use idv_vision::Assets;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fail_missing(e: impl std::fmt::Display) -> ! {
    panic!("test assets unavailable: {e}. Run scripts/fetch-assets.sh from the repository root.")
}

pub fn engine() -> &'static LivenessEngine {
    static ENGINE: OnceLock<LivenessEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let assets = Assets::new(root());
        let face = FaceEngine::load(&assets, FaceEngineConfig::default()).unwrap_or_else(|e| fail_missing(e));
        LivenessEngine::load(&assets, Arc::new(face), LivenessEngineConfig::default())
            .unwrap_or_else(|e| fail_missing(e))
    })
}

pub fn photo(name: &str) -> DecodedImage {
    let asset = Assets::new(root()).verify(&format!("testdata/faces/{name}")).unwrap_or_else(|e| fail_missing(e));
    engine().face_engine().decode(&std::fs::read(asset.path).unwrap()).unwrap()
}

/// Portraits framed as 480x640 selfies, built once per test binary.
pub fn portrait(name: &str) -> &'static Portrait {
    static CACHE: OnceLock<std::sync::Mutex<Vec<&'static Portrait>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = c.iter().find(|p| p.name == name) {
        return p;
    }
    let p: &'static Portrait = Box::leak(Box::new(
        Portrait::new(engine(), name, &photo(name), 480, 640).unwrap_or_else(|e| panic!("{name}: {e}")),
    ));
    c.push(p);
    p
}

pub fn show(v: &LivenessVerdict) -> String {
    format!("reasons {:?}\nscores {}", v.reasons, serde_json::to_string(&v.scores).unwrap())
}

//! Runs the synthetic evaluation and prints APCER per attack kind and BPCER.
//!
//! `cargo run --release -p idv-eval --example liveness_eval -- [portrait ...]` from the repository root
//! (after `scripts/fetch-assets.sh`); default portraits: astronaut, obama, obama2, obama3, grace_hopper, biden.

use std::sync::Arc;

use idv_eval::liveness::evaluate;
use idv_face::{FaceEngine, FaceEngineConfig};
use idv_liveness::{LivenessEngine, LivenessEngineConfig};
use idv_vision::Assets;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let assets = Assets::from_env();
    let face = Arc::new(FaceEngine::load(&assets, FaceEngineConfig::default())?);
    let engine = LivenessEngine::load(&assets, face, LivenessEngineConfig::default())?;
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names = ["astronaut.png", "obama.jpg", "obama2.jpg", "obama3.jpg", "grace_hopper.jpg", "biden.jpg"]
            .map(String::from)
            .to_vec();
    }
    let mut stills = Vec::new();
    for n in names {
        let asset = assets.verify(&format!("testdata/faces/{n}"))?;
        stills.push((n, engine.face_engine().decode(&std::fs::read(asset.path)?)?));
    }
    let report = evaluate(&engine, &stills, 2026, 2)?;
    println!("{report}");
    Ok(())
}

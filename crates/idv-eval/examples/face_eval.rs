//! Prints the evaluation report over a folder of labelled photos (default `testdata/faces`), with every
//! detection when `--detections` is given. Run from the repository root after `scripts/fetch-assets.sh`:
//! `cargo run --release -p idv-eval --example face_eval [-- [--detections] [DIR]]`.

use std::path::PathBuf;

use idv_eval::face::evaluate;
use idv_face::{FaceEngine, FaceEngineConfig};
use idv_vision::Assets;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut detections = false;
    let mut dir = PathBuf::from("testdata/faces");
    for arg in std::env::args().skip(1) {
        if arg == "--detections" {
            detections = true;
        } else {
            dir = PathBuf::from(arg);
        }
    }
    let mut config = FaceEngineConfig::default();
    if detections {
        // List weak candidates too, to see what the threshold cuts.
        config.detector.score_threshold = 0.3;
    }
    let engine = FaceEngine::load(&Assets::from_env(), config)?;
    if detections {
        let mut files: Vec<_> = std::fs::read_dir(&dir)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for path in files.iter().filter(|p| p.is_file()) {
            let img = engine.decode(&std::fs::read(path)?)?;
            println!("{} ({}x{})", path.display(), img.width(), img.height());
            for d in engine.detect(&img)? {
                println!(
                    "  score {:.3} box {:.0},{:.0} {:.0}x{:.0} eyes {:.1}px",
                    d.score,
                    d.bbox.x,
                    d.bbox.y,
                    d.bbox.width,
                    d.bbox.height,
                    d.inter_eye_distance()
                );
            }
            if let Ok(a) = engine.analyze(&img, idv_face::MultiFace::Largest) {
                println!("  quality {}", serde_json::to_string(&a.quality)?);
            }
        }
        return Ok(());
    }
    print!("{}", evaluate(&engine, &dir)?);
    Ok(())
}

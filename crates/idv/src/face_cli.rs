//! `idv face …`: the face engine from the command line.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use idv_face::{Decision, FaceEngine, FaceEngineConfig, MultiFace};

#[derive(Subcommand)]
pub enum FaceCommand {
    /// Compare the faces in two pictures; prints the score and the decision.
    Compare {
        a: PathBuf,
        b: PathBuf,
        /// Folder holding `models/` (see scripts/fetch-assets.sh).
        #[arg(long, env = "IDV_ASSETS_DIR", default_value = ".")]
        assets: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Genuine/impostor score distributions over every pair of pictures in a folder (identity from file names).
    Eval {
        #[arg(long, default_value = "testdata/faces")]
        dir: PathBuf,
        #[arg(long, env = "IDV_ASSETS_DIR", default_value = ".")]
        assets: PathBuf,
    },
}

fn engine(assets: &Path) -> Result<FaceEngine> {
    Ok(FaceEngine::load(&idv_vision::Assets::new(assets), FaceEngineConfig::default())?)
}

pub fn run(cmd: FaceCommand) -> Result<()> {
    match cmd {
        FaceCommand::Compare { a, b, assets, json } => {
            let engine = engine(&assets)?;
            let load = |p: &Path| -> Result<_> {
                let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                engine.decode(&bytes).with_context(|| format!("{}", p.display()))
            };
            let (ia, ib) = (load(&a)?, load(&b)?);
            let c = engine.compare_images(&ia, &ib, MultiFace::Largest)?;
            let matched = c.decision == Decision::Match;
            if json {
                println!("{}", serde_json::to_string(&c)?);
            } else {
                println!(
                    "FaceComparisonScore {:.2} (cosine {:.3}) -> {} (threshold: score {:.0}, cosine {:.2})",
                    c.face_comparison_score,
                    c.cosine,
                    if matched { "MATCH" } else { "NO MATCH" },
                    c.thresholds.decision_score,
                    c.thresholds.decision_cosine
                );
            }
        }
        FaceCommand::Eval { dir, assets } => {
            let engine = engine(&assets)?;
            let report = idv_eval::face::evaluate(&engine, &dir)?;
            println!("{report}");
        }
    }
    Ok(())
}

//! `idv liveness …`: the liveness engine's synthetic evaluation from the command line.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum LivenessCommand {
    /// Render genuine sessions and every attack kind from still portraits, verify each, and print BPCER and
    /// APCER per attack kind. The data is synthetic (said in the report): the figures show that each rule works
    /// on the attack it was built for, not real-world error rates.
    Eval {
        /// Portraits under testdata/faces (at least two; the impostor of a swap is another person).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "astronaut.png,obama.jpg,obama2.jpg,obama3.jpg,grace_hopper.jpg,biden.jpg"
        )]
        portraits: Vec<String>,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Worker threads (portraits are shared out).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Print the report as JSON (every case with its reasons).
        #[arg(long)]
        json: bool,
        #[arg(long, env = "IDV_ASSETS_DIR", default_value = ".")]
        assets: PathBuf,
    },
}

pub fn run(cmd: LivenessCommand) -> Result<()> {
    match cmd {
        LivenessCommand::Eval { portraits, seed, threads, json, assets } => {
            if portraits.len() < 2 {
                bail!("--portraits needs at least two pictures");
            }
            if !(1..=64).contains(&threads) {
                bail!("--threads must be 1-64");
            }
            let assets = idv_vision::Assets::new(&assets);
            let face = Arc::new(idv_face::FaceEngine::load(&assets, Default::default())?);
            let engine = idv_liveness::LivenessEngine::load(&assets, face, Default::default())?;
            let mut stills = Vec::new();
            for name in portraits {
                if name.contains('/') || name.contains("..") {
                    bail!("{name}: give a file name under testdata/faces");
                }
                let asset = assets.verify(&format!("testdata/faces/{name}"))?;
                let bytes = std::fs::read(&asset.path).with_context(|| format!("reading {}", asset.path.display()))?;
                stills.push((name, engine.face_engine().decode(&bytes)?));
            }
            let report = idv_eval::liveness::evaluate(&engine, &stills, seed, threads)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
        }
    }
    Ok(())
}

//! `idv doc …`: the document engine from the command line.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum DocCommand {
    /// Read one document picture: fields, MRZ, checks (the DocOcr result as JSON).
    Read {
        file: PathBuf,
        /// DocType: 01000000 / GLB03002 (passport), GLB01001 (TD1 ID card, MRZ on the back), GLB01002 (TD2 card),
        /// GLB07001 / GLB07002 (MRV-A / MRV-B visa), GLB00000 (any ICAO MRZ document); see docs/doctypes.md.
        #[arg(long, default_value = "01000000")]
        doc_type: String,
        /// The picture shows the back of an ID card.
        #[arg(long)]
        back: bool,
        #[arg(long, env = "IDV_ASSETS_DIR", default_value = ".")]
        assets: PathBuf,
    },
    /// Render N synthetic identities × every distortion, read them back, and print field accuracy, MRZ exact-read
    /// rate and the rate of wrong-but-valid reads.
    Eval {
        #[arg(long, default_value_t = 10)]
        n: usize,
        #[arg(long, default_value_t = 1000)]
        seed: u64,
        /// Instead of synthetic documents, read every picture of this folder that has its MRZ ground truth beside
        /// it (`NAME.mrz.txt`), e.g. `../shared/realdata/docs`, and count per format: exact, wrong-but-valid,
        /// reported invalid, unread, unsupported.
        #[arg(long)]
        real: Option<PathBuf>,
        /// Print the real-data report as JSON.
        #[arg(long)]
        json: bool,
        /// Read every real picture as GLB00000 (any ICAO MRZ document), so the engine must detect each format.
        #[arg(long)]
        any: bool,
        #[arg(long, env = "IDV_ASSETS_DIR", default_value = ".")]
        assets: PathBuf,
    },
}

pub fn run(cmd: DocCommand) -> Result<()> {
    match cmd {
        DocCommand::Read { file, doc_type, back, assets } => {
            let engine = idv_doc::DocEngine::load(&idv_vision::Assets::new(&assets))?;
            let now = time::OffsetDateTime::now_utc();
            let today = mrz::Date::new(now.year(), now.month() as u32, now.day() as u32);
            let side = if back { idv_doc::CardSide::Back } else { idv_doc::CardSide::Front };
            let doc_type = idv_api::DocType::parse(&doc_type).map_err(|e| anyhow!(e))?;
            let req = idv_doc::DocRequest::new(idv_server::doc_spec(&doc_type), today).with_side(side);
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let reading = engine.read_bytes(&bytes, &req)?;
            let ext = idv_api::render::doc_ext_id_info(&idv_server::doc_reading(&reading));
            println!("{}", serde_json::to_string_pretty(&ext)?);
        }
        DocCommand::Eval { real: Some(dir), json, any, assets, .. } => {
            let engine = idv_doc::DocEngine::load(&idv_vision::Assets::new(&assets))?;
            let now = time::OffsetDateTime::now_utc();
            let today = mrz::Date::new(now.year(), now.month() as u32, now.day() as u32);
            let report = idv_eval::doc_real::evaluate_real(&engine, &dir, today, any)
                .with_context(|| format!("reading {}", dir.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
        }
        DocCommand::Eval { n, seed, .. } => {
            if n == 0 || n > 1000 {
                return Err(anyhow!("--n must be 1-1000"));
            }
            println!("{}", idv_eval::doc::evaluate(n, seed)?);
        }
    }
    Ok(())
}

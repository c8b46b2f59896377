//! Where small zones stop being trustworthy: rendered passports (clean, seeds 120..) at falling resolutions, read by
//! the document engine, counted as exact, wrong-but-valid (the dangerous failure), misread invalid, or refused
//! (retake). The engine's small-zone rule (`idv_doc::SMALL_ZONE_PX`, `SMALL_ZONE_NAME_CONFIDENCE`) was set from this
//! table; without it every row under 6 px shows wrong-but-valid name lines.
//!
//!   cargo run --release -p idv-eval --example doc_lowres [SEEDS=12]

use idv_doc::{DocEngine, DocError, DocRequest, DocTypeSpec};
use idv_specimen::{Assets as SpecAssets, DocKind, SpecimenSpec, Ymd};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seeds: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(12);
    let assets = idv_vision::Assets::from_env();
    let engine = DocEngine::load(&assets)?;
    let spec_assets = SpecAssets::load(assets.root())?;
    let today = Ymd::new(2026, 5, 1);
    let req = DocRequest::new(DocTypeSpec::passport("GLB03002"), mrz::Date::new(2026, 5, 1));
    println!("| px/mm | MRZ char px | exact | wrong-but-valid | misread invalid | retake |");
    println!("|---|---|---|---|---|---|");
    for ppm in [2.0f32, 2.1, 2.2, 2.25, 2.3, 2.35, 2.5, 3.0, 4.0] {
        let (mut exact, mut wrong, mut invalid, mut retake) = (0, 0, 0, 0);
        for seed in 120..120 + seeds {
            let mut spec = SpecimenSpec::new(DocKind::Td3, seed, today);
            spec.px_per_mm = ppm;
            let sp = idv_specimen::render(&spec, &spec_assets)?;
            match engine.read_image(&sp.image, &req) {
                Err(DocError::Retake(_)) => retake += 1,
                Err(e) => return Err(e.into()),
                Ok(r) => match r.mrz {
                    Some(m) if m.lines == sp.truth.mrz => exact += 1,
                    Some(m) if m.valid => wrong += 1,
                    _ => invalid += 1,
                },
            }
        }
        println!("| {ppm} | {:.1} | {exact} | {wrong} | {invalid} | {retake} |", ppm * idv_doc::MRZ_CHAR_MM);
    }
    Ok(())
}

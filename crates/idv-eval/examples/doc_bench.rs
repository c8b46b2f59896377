//! Benchmark driver for bench/doc.sh (not a test).
//!
//!   doc_bench render DIR N SEED [PRESET]
//!                                   write N passport photos (+ ground truth JSON) into DIR, distorted by
//!                                   PRESET (default `phone`: a phone-like 1280×960 photo)
//!   doc_bench read DIR [--mrz-only] read every DIR/*.jpg|png once (after one warm-up), print per-image lines
//!                                   `ms<TAB>mrz_exact<TAB>fields_right/fields` and a summary line; with
//!                                   --mrz-only the engine reads the MRZ alone (no printed fields, no portrait)
//!   doc_bench eval N SEED           print the evaluation report over every distortion preset
//!
//! Assets come from IDV_ASSETS_DIR (default: the current directory).

use std::path::{Path, PathBuf};
use std::time::Instant;

use idv_doc::{DocEngine, DocError, DocRequest, DocTypeSpec};
use idv_eval::specimen::{self, Assets as SpecAssets, Distortion, DocKind, GroundTruth, SpecimenSpec, Ymd};

const TODAY: Ymd = Ymd::new(2026, 5, 1);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let assets = idv_vision::Assets::from_env();
    let result = match args.first().map(String::as_str) {
        Some("render") if args.len() == 4 || args.len() == 5 => render(
            &assets,
            Path::new(&args[1]),
            parse(&args[2]),
            parse(&args[3]),
            args.get(4).map_or("phone", String::as_str),
        ),
        Some("read") if args.len() == 2 => read(&assets, Path::new(&args[1]), false),
        Some("read") if args.len() == 3 && args[2] == "--mrz-only" => read(&assets, Path::new(&args[1]), true),
        Some("eval") if args.len() == 3 => idv_eval::doc::evaluate(parse(&args[1]) as usize, parse(&args[2]))
            .map(|r| print!("{r}"))
            .map_err(|e| e.to_string()),
        _ => Err("usage: doc_bench render DIR N SEED [PRESET] | read DIR [--mrz-only] | eval N SEED".into()),
    };
    if let Err(e) = result {
        eprintln!("doc_bench: {e}");
        std::process::exit(1);
    }
}

fn parse(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| {
        eprintln!("doc_bench: {s:?} is not a number");
        std::process::exit(2)
    })
}

fn render(assets: &idv_vision::Assets, dir: &Path, n: u64, seed: u64, preset: &str) -> Result<(), String> {
    let sa = SpecAssets::load(assets.root()).map_err(|e| e.to_string())?;
    for i in 0..n {
        let mut spec = SpecimenSpec::new(DocKind::Td3, seed + i, TODAY);
        spec.distortion = Distortion::preset(preset).ok_or_else(|| format!("no distortion preset {preset:?}"))?;
        let sp = specimen::render(&spec, &sa).map_err(|e| e.to_string())?;
        sp.write(dir, &format!("passport-{:04}", seed + i)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The API error a server reports for a failed read, as the per-image line names it.
fn error_name(e: &DocError) -> &'static str {
    match e {
        DocError::UnqualifiedPhoto(_) => "UnqualifiedPhoto",
        DocError::TooLarge(_) => "ToolargeImage",
        DocError::Retake(_) => "Retake",
        DocError::Model(_) => "InternalError",
    }
}

fn read(assets: &idv_vision::Assets, dir: &Path, mrz_only: bool) -> Result<(), String> {
    let engine = DocEngine::load(assets).map_err(|e| e.to_string())?;
    let mut req =
        DocRequest::new(DocTypeSpec::passport("GLB03002"), mrz::Date::new(TODAY.year, TODAY.month, TODAY.day));
    req.mrz_only = mrz_only;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("jpg" | "png")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no images in {}", dir.display()));
    }
    // Warm-up: first runs allocate ONNX Runtime's buffers.
    let first = std::fs::read(&files[0]).map_err(|e| e.to_string())?;
    let _ = engine.read_bytes(&first, &req);
    let (mut ms, mut exact, mut fields, mut right) = (Vec::new(), 0usize, 0usize, 0usize);
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| e.to_string())?;
        let truth: GroundTruth = serde_json::from_str(
            &std::fs::read_to_string(f.with_extension("json")).map_err(|e| format!("{}: {e}", f.display()))?,
        )
        .map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        let r = engine.read_bytes(&bytes, &req);
        let dt = t0.elapsed().as_secs_f64() * 1e3;
        ms.push(dt);
        let how = match &r {
            Ok(r) => r.located_by.to_string(),
            Err(e) => error_name(e).to_string(),
        };
        let (ok, fr) = match &r {
            Ok(r) => {
                let ok = r.mrz.as_ref().is_some_and(|m| m.lines == truth.mrz);
                let fr = truth
                    .printed
                    .iter()
                    .filter(|(k, v)| {
                        idv_doc::Field::ALL
                            .into_iter()
                            .find(|f| f.as_str() == k.as_str())
                            .and_then(|f| r.printed.get(&f))
                            .is_some_and(|g| g == *v)
                    })
                    .count();
                (ok, fr)
            }
            Err(_) => (false, 0),
        };
        if !ok {
            let got = r.as_ref().ok().and_then(|r| r.mrz.as_ref()).map(|m| (m.lines.clone(), m.valid));
            let corners = r.as_ref().ok().map(|r| r.corners);
            eprintln!(
                "miss {}: read {got:?}, truth {:?}; corners {corners:?} vs {:?}",
                f.display(),
                truth.mrz,
                truth.corners
            );
        }
        exact += usize::from(ok);
        right += fr;
        fields += truth.printed.len();
        println!("{dt:.1}\t{}\t{fr}/{}\t{how}\t{}", u8::from(ok), truth.printed.len(), f.display());
    }
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    let name = if mrz_only {
        "idv-doc MRZ only (Rust, PP-OCRv6 small, 1 thread)"
    } else {
        "idv-doc DocOcr (Rust, PP-OCRv6 small, 1 thread)"
    };
    let fields_pct =
        if mrz_only { "-".to_string() } else { format!("{:.1}", 100.0 * right as f64 / fields.max(1) as f64) };
    println!(
        "SUMMARY\t{name}\t{}\t{:.1}\t{:.1}\t{:.1}\t{fields_pct}",
        ms.len(),
        q(0.5),
        q(0.99),
        100.0 * exact as f64 / ms.len() as f64,
    );
    Ok(())
}

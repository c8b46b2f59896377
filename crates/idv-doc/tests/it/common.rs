//! Shared fixtures: the engine, the specimen assets, specimens rendered at test time.

use std::path::PathBuf;
use std::sync::OnceLock;

use idv_doc::DocEngine;
use idv_doc::mrz_read::LineRead;
use idv_specimen::{Assets as SpecAssets, Distortion, DocKind, SpecimenSpec, Ymd};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn engine() -> &'static DocEngine {
    static E: OnceLock<DocEngine> = OnceLock::new();
    E.get_or_init(|| {
        DocEngine::load(&idv_vision::Assets::new(repo_root()))
            .unwrap_or_else(|e| panic!("document models missing ({e}); run scripts/fetch-assets.sh"))
    })
}

pub fn spec_assets() -> &'static SpecAssets {
    static A: OnceLock<SpecAssets> = OnceLock::new();
    A.get_or_init(|| {
        SpecAssets::load(&repo_root())
            .unwrap_or_else(|e| panic!("specimen assets missing ({e}); run scripts/fetch-assets.sh"))
    })
}

pub const TODAY: Ymd = Ymd::new(2026, 5, 1);

pub fn today() -> mrz::Date {
    mrz::Date::new(TODAY.year, TODAY.month, TODAY.day)
}

pub fn specimen(kind: DocKind, seed: u64, distortion: &str) -> idv_specimen::Specimen {
    let mut spec = SpecimenSpec::new(kind, seed, TODAY);
    spec.distortion = Distortion::preset(distortion).unwrap();
    idv_specimen::render(&spec, spec_assets()).unwrap()
}

pub fn lines(text: &[String]) -> Vec<LineRead> {
    text.iter().map(|l| LineRead::from_text(l)).collect()
}

pub fn swap_at(s: &str, i: usize, c: char) -> String {
    s.chars().enumerate().map(|(k, x)| if k == i { c } else { x }).collect()
}

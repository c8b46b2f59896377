//! The specimen assets (loaded once) and the fixed "today" of every test.

use std::path::PathBuf;
use std::sync::OnceLock;

use idv_specimen::{Assets, Ymd};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn assets() -> &'static Assets {
    static A: OnceLock<Assets> = OnceLock::new();
    A.get_or_init(|| {
        Assets::load(&repo_root())
            .unwrap_or_else(|e| panic!("specimen assets missing ({e}); run scripts/fetch-assets.sh"))
    })
}

pub const TODAY: Ymd = Ymd::new(2026, 5, 1);

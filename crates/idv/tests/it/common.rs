//! Helpers shared by the topic modules: where the repository is, running `idv` for its JSON, the Python SDKs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Runs `idv` with `args`, which must succeed and print JSON.
pub fn idv(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_idv")).args(args).output().unwrap();
    assert!(out.status.success(), "idv {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("idv {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

pub fn python() -> PathBuf {
    let py = repo_root().join(".venv/bin/python");
    assert!(py.exists(), "{} is missing: run scripts/setup-python.sh (the README's test command does)", py.display());
    py
}

//! Model and data files listed in `scripts/assets.lock`, checked by path and sha256 before use.
//!
//! The lock file is compiled in, so a binary always checks against the manifest it was built with; a
//! missing or changed file is reported with the command that repairs it instead of being loaded.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Result, VisionError};

/// The manifest read by `scripts/fetch-assets.sh`.
pub const ASSETS_LOCK: &str = include_str!("../../../scripts/assets.lock");

/// Where the ONNX Runtime library goes, relative to the assets root.
pub const ONNXRUNTIME_LIBRARY: &str = "models/lib/libonnxruntime.so.1.32.0";

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetEntry {
    pub kind: String,
    /// Registry package (`name==version`, a Debian package name, or `-`).
    pub package: String,
    pub member: String,
    /// Destination relative to the assets root, e.g. `models/face_detection_yunet_2023mar.onnx`.
    pub dest: String,
    pub sha256: String,
}

/// Parses the compiled-in manifest. Lines that are not five TAB-separated columns are skipped here;
/// the fetch script rejects them loudly.
pub fn lock_entries() -> Vec<AssetEntry> {
    parse_lock(ASSETS_LOCK)
}

fn parse_lock(text: &str) -> Vec<AssetEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            match cols.as_slice() {
                [kind, package, member, dest, sha] if sha.len() == 64 => Some(AssetEntry {
                    kind: kind.to_string(),
                    package: package.to_string(),
                    member: member.to_string(),
                    dest: dest.to_string(),
                    sha256: sha.to_string(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// A file that exists and matches its pinned sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAsset {
    pub path: PathBuf,
    pub entry: AssetEntry,
}

/// The assets root (the repository root in development; any folder holding `models/` in a deployment).
#[derive(Debug, Clone)]
pub struct Assets {
    root: PathBuf,
    entries: Vec<AssetEntry>,
}

impl Assets {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), entries: lock_entries() }
    }

    /// `$IDV_ASSETS_DIR` when set, else the current directory.
    pub fn from_env() -> Self {
        Self::new(std::env::var_os("IDV_ASSETS_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn entries(&self) -> &[AssetEntry] {
        &self.entries
    }

    /// The manifest line for `dest`.
    pub fn entry(&self, dest: &str) -> Result<&AssetEntry> {
        self.entries.iter().find(|e| e.dest == dest).ok_or_else(|| VisionError::AssetUnknown { what: dest.to_string() })
    }

    /// Checks that `dest` exists under the root with its pinned sha256.
    pub fn verify(&self, dest: &str) -> Result<VerifiedAsset> {
        let entry = self.entry(dest)?.clone();
        let path = self.root.join(&entry.dest);
        let actual = match sha256_file(&path) {
            Ok(s) => s,
            Err(VisionError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(VisionError::AssetMissing { what: dest.to_string(), path });
            }
            Err(e) => return Err(e),
        };
        if actual != entry.sha256 {
            return Err(VisionError::AssetMismatch { what: dest.to_string(), path, expected: entry.sha256, actual });
        }
        Ok(VerifiedAsset { path, entry })
    }

    /// Verifies several files; on failure the error lists every problem at once, so a start-up report names
    /// everything that needs fixing rather than the first failure.
    pub fn verify_all(&self, dests: &[&str]) -> Result<Vec<VerifiedAsset>> {
        let mut ok = Vec::new();
        let mut problems = Vec::new();
        for d in dests {
            match self.verify(d) {
                Ok(a) => ok.push(a),
                Err(e) => problems.push(e),
            }
        }
        match problems.len() {
            0 => Ok(ok),
            1 => Err(problems.remove(0)),
            _ => Err(VisionError::AssetProblems(problems)),
        }
    }
}

/// Hex sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let io = |source| VisionError::Io { path: path.to_path_buf(), source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_lock_lists_runtime_and_face_models() {
        let entries = lock_entries();
        for dest in [
            ONNXRUNTIME_LIBRARY,
            "models/face_detection_yunet_2023mar.onnx",
            "models/face_recognition_sface_2021dec.onnx",
        ] {
            assert!(entries.iter().any(|e| e.dest == dest), "{dest} not in assets.lock");
        }
        assert!(entries.iter().all(|e| e.sha256.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn parse_skips_comments_and_malformed_lines() {
        let text = format!("# comment\n\nwheel\tp==1\tm\td/x\t{}\nbroken line\n", "a".repeat(64));
        let e = parse_lock(&text);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].dest, "d/x");
    }
}

//! The committed bindings (`bindings/`) are the ones `scripts/bindings.sh` produces from this library: regenerated
//! here with the workspace's uniffi-bindgen, the same way, into a temporary directory, and compared file by file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The cdylib cargo built for this test's `idv-mobile` dev-dependency (in `deps/`, or next to it).
fn cdylib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let name = format!("{}idv_mobile{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    [deps.join(&name), deps.parent().unwrap().join(&name)]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} was not built next to {}", deps.display()))
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_owned(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn committed_bindings_match_the_generator() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = cdylib();
    for lang in ["kotlin", "swift", "python"] {
        let out = Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
            .args(["generate", "--no-format", "--library"])
            .arg(&lib)
            .args(["--language", lang, "--out-dir"])
            .arg(tmp.path().join(lang))
            .current_dir(repo_root())
            .output()
            .unwrap();
        assert!(out.status.success(), "uniffi-bindgen {lang}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let (want, have) = (files(tmp.path()), files(&repo_root().join("bindings")));
    let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&have), names(&want), "bindings/ holds other files than the generator writes");
    for (name, bytes) in &want {
        assert!(
            have[name] == *bytes,
            "bindings/{} differs from what the library generates: run scripts/bindings.sh",
            name.display()
        );
    }
}

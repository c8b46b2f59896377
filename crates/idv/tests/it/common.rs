//! Helpers shared by the topic modules: where the repository is, running `idv` for its JSON, the Python SDKs.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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

/// A running `idv` process (server, merchant demo) whose first stdout line is its address; its log is kept.
pub struct Proc {
    child: Child,
    pub addr: String,
    log: std::thread::JoinHandle<String>,
}

impl Proc {
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_idv"));
        cmd.args(args)
            .env("IDV_ASSETS_DIR", repo_root())
            .env("IDV_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let mut err = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        assert!(!line.trim().is_empty(), "{args:?} printed no address");
        Proc { child, addr: line.trim().to_owned(), log }
    }

    pub fn stop(mut self) -> String {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        self.log.join().unwrap()
    }
}

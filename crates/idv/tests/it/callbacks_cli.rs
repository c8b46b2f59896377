//! Durable, signed callbacks across a crash, with the real binary and the official SDK
//! (`tests/interop/callbacks_restart.py`): SIGKILL with callbacks owed, restart, every one delivered once, signed.

use std::process::Command;

use crate::common::{python, repo_root};

#[test]
fn callbacks_owed_at_a_sigkill_are_delivered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(repo_root().join("tests/interop/callbacks_restart.py"))
        .args(["--idv", env!("CARGO_BIN_EXE_idv"), "--data", dir.path().join("data").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    assert!(out.status.success() && text.contains("PASS callbacks_survive_sigkill"), "{text}");
}

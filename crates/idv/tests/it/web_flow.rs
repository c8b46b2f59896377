//! The hosted web flow in a real browser: `idv serve` (not in test mode: the page's frames are camera captures),
//! headless Chromium driven over WebDriver by `tests/web/web_flow.py`, its camera fed from y4m videos made by
//! `idv video`, the merchant side played by the official Python SDK. Screenshots of each step are written to
//! `target/web-flow/`.

use std::process::Command;

use crate::common::{Proc, idv, python, repo_root};

#[test]
fn a_person_in_a_browser_completes_the_web_flow_and_attacks_and_reuse_fail() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let m = idv(&["admin", "merchant", "create", "--data", d, "--name", "Web shop", "--json"]);
    let key =
        idv(&["admin", "accesskey", "create", "--data", d, "--merchant", m["MerchantId"].as_str().unwrap(), "--json"]);
    let server = Proc::start(&["serve", "--listen", "127.0.0.1:0", "--data", d], &[]);
    let keys = dir.path().join("keys.json");
    let pair = serde_json::json!({"ak_id": key["AccessKeyId"], "ak_secret": key["AccessKeySecret"]});
    std::fs::write(&keys, pair.to_string()).unwrap();
    let shots = repo_root().join("target/web-flow");
    let out = Command::new(python())
        .arg(repo_root().join("tests/web/web_flow.py"))
        .args(["--endpoint", &server.addr, "--config", keys.to_str().unwrap()])
        .args(["--idv", env!("CARGO_BIN_EXE_idv"), "--shots", shots.to_str().unwrap()])
        .args(["--work", dir.path().join("work").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let log = server.stop();
    println!("{text}");
    assert!(out.status.success() && text.contains(" 0 failed"), "browser tests failed:\n{text}\nserver log:\n{log}");
    let secret = key["AccessKeySecret"].as_str().unwrap();
    assert!(!log.contains(secret), "an AccessKey secret appeared in the server log");
}

//! The merchant console in a real browser: `idv serve` with transactions made by the phone simulator through the
//! merchant demo (a passed and a failed one for merchant A, one for merchant B), users created with
//! `idv admin user create`, and `tests/console/console_flow.py` driving headless Chromium over WebDriver, the
//! official Python SDK reading CheckResult. Screenshots of each page are written to `target/console/`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{Proc, idv, python, repo_root};

fn specimen(out: &Path, seed: &str) -> PathBuf {
    let o = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["specimen", "--out", out.to_str().unwrap(), "--kind", "td3", "--seed", seed])
        .args(["--set", "portrait=astronaut.png"])
        .env("IDV_ASSETS_DIR", repo_root())
        .output()
        .unwrap();
    assert!(o.status.success(), "idv specimen: {}", String::from_utf8_lossy(&o.stderr));
    PathBuf::from(String::from_utf8(o.stdout).unwrap().lines().next().unwrap())
}

fn device(merchant: &str, doc: &Path, face: &str) -> Value {
    let portrait = repo_root().join("testdata/faces").join(face);
    let o = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["device", "--merchant", merchant, "--doc-front", doc.to_str().unwrap()])
        .args(["--face-portrait", portrait.to_str().unwrap(), "--json"])
        .env("IDV_ASSETS_DIR", repo_root())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "idv device failed: {err}");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("device printed no JSON ({e}): {err}"))
}

/// `idv admin user create` with the password on standard input.
fn user(data: &str, merchant: &str, name: &str, role: &str, password: &str) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["admin", "user", "create", "--data", data, "--merchant", merchant, "--username", name])
        .args(["--role", role, "--password-stdin", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "user create: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("Password").is_none(), "a given password is not echoed");
    v
}

#[test]
fn a_reviewer_reads_decides_and_sees_the_summary_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let mut merchants = Vec::new();
    for name in ["Shop A", "Shop B"] {
        let m = idv(&["admin", "merchant", "create", "--data", d, "--name", name, "--json"]);
        let id = m["MerchantId"].as_str().unwrap().to_owned();
        let key = idv(&["admin", "accesskey", "create", "--data", d, "--merchant", &id, "--json"]);
        merchants.push((id, key));
    }
    let (a, key_a) = &merchants[0];
    let (b, _) = &merchants[1];
    let password = "correct horse battery staple";
    user(d, a, "anna.reviewer", "reviewer", password);
    user(d, b, "bob.viewer", "viewer", "another long password");
    // Every failure, and no band: the passed transaction stays out of the queue whatever its score.
    let rule = ["--face-band", "0", "--all-failures", "true", "--json"];
    idv(&[&["admin", "merchant", "set-review", "--data", d, "--merchant", a][..], &rule[..]].concat());
    let generated = idv(&["admin", "user", "create", "--data", d, "--merchant", a, "--username", "carl", "--json"]);
    assert!(generated["Password"].as_str().is_some_and(|p| p.len() >= 20), "a generated password is shown once");
    let users = idv(&["admin", "user", "list", "--data", d, "--merchant", a, "--json"]);
    assert_eq!(users["Users"].as_array().unwrap().len(), 2);
    assert!(!users.to_string().contains("argon2"), "no hash is listed");

    let server = Proc::start(
        &["serve", "--test-mode", "--allow-private-callbacks", "--listen", "127.0.0.1:0", "--data", d],
        &[],
    );
    let docs = dir.path().join("docs");
    let doc = specimen(&docs, "21");
    let mut tids = Vec::new();
    let mut demos = Vec::new();
    for (i, (id, key)) in merchants.iter().enumerate() {
        let (ak, sk) = (key["AccessKeyId"].as_str().unwrap(), key["AccessKeySecret"].as_str().unwrap());
        let cb = idv(&["admin", "merchant", "callback-secret", "--data", d, "--merchant", id, "--json"]);
        let demo = Proc::start(
            &["merchant-demo", "--listen", "127.0.0.1:0", "--idv-endpoint", &server.addr, "--access-key-id", ak],
            &[("IDV_MERCHANT_AK_SECRET", sk), ("IDV_MERCHANT_CALLBACK_SECRET", cb["CallbackSecret"].as_str().unwrap())],
        );
        let url = format!("http://{}", demo.addr);
        let faces: &[&str] = if i == 0 { &["astronaut.png", "grace_hopper.jpg"] } else { &["astronaut.png"] };
        for face in faces {
            let r = device(&url, &doc, face);
            tids.push(r["transactionId"].as_str().unwrap().to_owned());
            let want = if *face == "astronaut.png" { "200" } else { "204" };
            assert_eq!(r["subCode"].as_str(), Some(want), "{r}");
        }
        demos.push(demo);
    }
    let config = serde_json::json!({
        "reviewer": {"username": "anna.reviewer", "password": password},
        "ak_id": key_a["AccessKeyId"], "ak_secret": key_a["AccessKeySecret"],
        "passed": tids[0], "failed": tids[1], "foreign": tids[2],
    });
    let config_path = dir.path().join("console.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let shots = repo_root().join("target/console");
    let out = Command::new(python())
        .arg(repo_root().join("tests/console/console_flow.py"))
        .args(["--endpoint", &server.addr, "--config", config_path.to_str().unwrap()])
        .args(["--shots", shots.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");

    // The review re-sent the callback: the failed transaction's outbox entry has a second delivery.
    let mut attempts = 0;
    for _ in 0..100 {
        let cbs = idv(&["admin", "callbacks", "--data", d, "--json"]);
        attempts = cbs["Callbacks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["TransactionId"] == tids[1])
            .map_or(0, |c| c["Log"].as_array().unwrap().len());
        if attempts >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut demo_logs = String::new();
    for demo in demos {
        demo_logs.push_str(&demo.stop());
    }
    let log = server.stop();
    assert!(
        out.status.success() && text.contains(" 0 failed"),
        "console browser tests failed:\n{text}\nserver log:\n{log}"
    );
    assert_eq!(attempts, 2, "the review called the CallbackUrl again");
    assert!(
        demo_logs.lines().filter(|l| l.contains(" callback") && l.contains(&tids[1])).count() >= 2,
        "the merchant demo received the callback twice:\n{demo_logs}"
    );
    assert!(!log.contains(password), "a password appeared in the server log");

    // Every picture the browser was shown is in the audit log, by the reviewer, for merchant A only.
    let audit =
        Command::new(env!("CARGO_BIN_EXE_idv")).args(["admin", "audit", "verify", "--data", d]).output().unwrap();
    assert!(audit.status.success(), "the audit chain is intact: {}", String::from_utf8_lossy(&audit.stdout));
    for shot in
        ["01-login", "02-list", "04-passed", "05-failed", "06-review-queue", "08-reviewed", "09-foreign", "10-summary"]
    {
        assert!(shots.join(format!("{shot}.png")).exists(), "screenshot {shot}");
    }
}

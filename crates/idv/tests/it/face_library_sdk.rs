//! Face libraries through the official Python SDK (`tests/interop/face_library.py`) against the real server
//! process on port 0 with a fresh data directory: five real people (`../shared/realdata/faces`, read from there)
//! registered, a second photo of each found as a duplicate under its first account, a stranger not, records and
//! groups queried, modified and deleted, another merchant isolated.

use std::process::Command;

use crate::common::{Proc, idv, python, repo_root};

#[test]
fn face_library_through_the_official_python_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let key = |name: &str| {
        let merchant = idv(&["admin", "merchant", "create", "--data", d, "--name", name, "--json"]);
        let mid = merchant["MerchantId"].as_str().unwrap().to_owned();
        idv(&["admin", "accesskey", "create", "--data", d, "--merchant", &mid, "--json"])
    };
    let (a, b) = (key("Merchant A"), key("Merchant B"));
    let real = repo_root().join("../shared/realdata/faces");
    let people: serde_json::Map<String, serde_json::Value> =
        ["john_salley", "john_savage", "john_schneider", "john_shimkus", "john_simm"]
            .iter()
            .map(|p| {
                (p.to_string(), serde_json::json!([real.join(format!("{p}01.jpg")), real.join(format!("{p}09.jpg"))]))
            })
            .collect();
    let config = serde_json::json!({
        "ak_id": a["AccessKeyId"], "ak_secret": a["AccessKeySecret"],
        "other_ak_id": b["AccessKeyId"], "other_ak_secret": b["AccessKeySecret"],
        "people": people, "stranger": repo_root().join("testdata/faces/grace_hopper.jpg"),
    });
    let config_path = dir.path().join("faces.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let server = Proc::start(&["serve", "--test-mode", "--listen", "127.0.0.1:0", "--data", d], &[]);
    let out = Command::new(python())
        .arg(repo_root().join("tests/interop/face_library.py"))
        .args(["--endpoint", &server.addr, "--config", config_path.to_str().unwrap()])
        .output()
        .unwrap();
    let log = server.stop();
    let report = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "official SDK face library failed:\n{report}\nserver log:\n{log}");
    assert!(report.contains("PASS face_library\n") && report.contains("1 passed, 0 failed"), "{report}");
}

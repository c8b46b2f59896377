//! The server-only actions (EkycVerify(V2), FaceCrossCompareIntl, KeepaliveIntl, the V2 variants) through the
//! official Python SDK (`tests/interop/server_actions.py`) against the real server process on port 0 with a fresh
//! data directory, with real photos (`testdata/faces`, `../shared/realdata/faces`) on rendered passports.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Proc, idv, python, repo_root};

/// A passport page rendered with `portrait` as its holder's picture, written under `dir`.
fn passport(dir: &Path, seed: u64, portrait: &Path, tamper: idv_eval::specimen::Tamper) -> PathBuf {
    let kind = idv_eval::specimen::DocKind::Td3;
    let cmd = idv_eval::specimen::SpecimenCommand {
        distortions: vec!["phone".into()],
        tamper,
        set: vec![("portrait".into(), portrait.to_str().unwrap().into())],
        ..idv_eval::specimen::SpecimenCommand::one(dir.join(format!("doc{seed}")), repo_root(), kind, seed)
    };
    idv_eval::specimen::run_command(&cmd).unwrap().remove(0)
}

#[test]
fn server_actions_through_the_official_python_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let merchant = idv(&["admin", "merchant", "create", "--data", d, "--name", "Merchant A", "--json"]);
    let key = idv(&[
        "admin",
        "accesskey",
        "create",
        "--data",
        d,
        "--merchant",
        merchant["MerchantId"].as_str().unwrap(),
        "--json",
    ]);
    let real = repo_root().join("../shared/realdata/faces");
    let faces = repo_root().join("testdata/faces");
    let tamper = || idv_eval::specimen::Tamper {
        wrong_check_digits: vec![idv_eval::specimen::CheckDigit::DocumentNumber],
        ..Default::default()
    };
    let mut ekyc = Vec::new();
    for (seed, holder, same, stranger) in [
        (81, real.join("john_savage02.jpg"), real.join("john_savage08.jpg"), real.join("john_simm04.jpg")),
        (82, faces.join("obama.jpg"), faces.join("obama3.jpg"), faces.join("grace_hopper.jpg")),
    ] {
        ekyc.push(serde_json::json!({
            "who": holder.file_name().unwrap().to_str().unwrap(),
            "doc": passport(dir.path(), seed, &holder, Default::default()),
            "tampered": passport(dir.path(), seed + 100, &holder, tamper()),
            "same": same, "stranger": stranger,
        }));
    }
    let people: serde_json::Map<String, serde_json::Value> =
        ["john_salley", "john_savage", "john_schneider", "john_shimkus", "john_simm"]
            .iter()
            .map(|p| {
                let photos: Vec<PathBuf> =
                    ["01", "06", "11"].iter().map(|n| real.join(format!("{p}{n}.jpg"))).collect();
                (p.to_string(), serde_json::json!(photos))
            })
            .collect();
    let config = serde_json::json!({
        "ak_id": key["AccessKeyId"], "ak_secret": key["AccessKeySecret"], "ekyc": ekyc, "people": people,
    });
    let config_path = dir.path().join("actions.json");
    std::fs::write(&config_path, config.to_string()).unwrap();

    let server = Proc::start(&["serve", "--test-mode", "--listen", "127.0.0.1:0", "--data", d], &[]);
    let out = Command::new(python())
        .arg(repo_root().join("tests/interop/server_actions.py"))
        .args(["--endpoint", &server.addr, "--config", config_path.to_str().unwrap()])
        .output()
        .unwrap();
    let log = server.stop();
    let report = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{report}");
    assert!(out.status.success(), "official SDK server actions failed:\n{report}\nserver log:\n{log}");
    for scenario in [
        "ekyc_verify",
        "ekyc_refusals",
        "ekyc_verify_v2",
        "advance_upload",
        "cross_compare",
        "keepalive",
        "v2_variants",
    ] {
        assert!(report.contains(&format!("PASS {scenario}\n")), "{scenario} did not pass:\n{report}");
    }
    assert!(report.contains("7 passed, 0 failed"), "{report}");
}

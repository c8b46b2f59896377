//! The engines' command-line tools: `idv face compare|eval` and `idv liveness eval`.

use std::process::Command;

use serde_json::Value;

use crate::common::repo_root;

#[test]
fn face_cli_compares_and_evaluates() {
    let root = repo_root();
    let faces = root.join("testdata/faces");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_idv")).args(args).env("IDV_ASSETS_DIR", &root).output().unwrap();
        assert!(out.status.success(), "idv {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let f = |n: &str| faces.join(n).to_str().unwrap().to_owned();
    let same = run(&["face", "compare", &f("obama.jpg"), &f("obama3.jpg")]);
    assert!(same.contains("-> MATCH"), "{same}");
    let other = run(&["face", "compare", &f("obama2.jpg"), &f("grace_hopper.jpg")]);
    assert!(other.contains("NO MATCH"), "{other}");
    let json: Value =
        serde_json::from_str(&run(&["face", "compare", "--json", &f("obama.jpg"), &f("biden.jpg")])).unwrap();
    assert_eq!(json["decision"], "NO_MATCH");
    let eval = run(&["face", "eval", "--dir", faces.to_str().unwrap()]);
    assert!(eval.contains("false matches: 0 of"), "{eval}");
    assert!(eval.contains("false non-matches: 0 of"), "{eval}");
}

/// Real photos (`../shared/realdata/faces`, 55 tight 150×150 crops of 5 people; never copied into the repository):
/// every face is found, including those that fill their picture, and no pair is decided wrongly at the threshold.
#[test]
fn face_eval_on_real_tight_crops_finds_every_face_and_decides_every_pair() {
    let root = repo_root();
    let real = root.join("../shared/realdata/faces");
    assert!(real.is_dir(), "{} is missing (CI and every development machine have it)", real.display());
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["face", "eval", "--dir", real.to_str().unwrap()])
        .env("IDV_ASSETS_DIR", &root)
        .output()
        .unwrap();
    let eval = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let analysed = eval.lines().filter(|l| l.contains(" faces  1 ")).count();
    assert_eq!(analysed, 55, "every real face is found:\n{eval}");
    assert!(!eval.contains("not analysed"), "{eval}");
    assert!(eval.contains("false matches: 0 of 1210"), "{eval}");
    assert!(eval.contains("false non-matches: 0 of 275"), "{eval}");
}

/// The liveness evaluation command on two portraits (a quarter of the default set, to keep CI short): every
/// genuine session passes and no attack is accepted; the report says the data is synthetic.
#[test]
fn liveness_eval_cli_rejects_every_attack_and_no_genuine_user() {
    let root = repo_root();
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["liveness", "eval", "--json", "--portraits", "astronaut.png,biden.jpg", "--threads", "2"])
        .env("IDV_ASSETS_DIR", &root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["data"].as_str().unwrap().starts_with("SYNTHETIC"), "{report}");
    assert_eq!(report["genuine_attempts"], 12, "{report}");
    assert_eq!(report["genuine_rejected"], 0, "genuine sessions rejected: {report:#}");
    let attacks = report["attacks"].as_array().unwrap();
    assert_eq!(attacks.len(), idv_eval::liveness::synth::AttackKind::ALL.len(), "every attack kind is reported");
    for a in attacks {
        assert!(a["attempts"].as_u64().unwrap() >= 1, "{a}");
        assert_eq!(a["accepted"], 0, "attack accepted: {a} in {report:#}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["liveness", "eval", "--portraits", "astronaut.png"])
        .env("IDV_ASSETS_DIR", &root)
        .output()
        .unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("at least two"));
}

/// Real specimen documents (`../shared/realdata/docs`, 19 with MRZ ground truth in all five ICAO layouts; never
/// copied into the repository), read once with each format's own DocType and once as `GLB00000` (the layout
/// detected, not told): no zone is ever read wrong while passing its check digits, every zone valid as printed is
/// read exactly, small pictures (250-283 px) included, and the one printed with invalid check digits is reported
/// invalid, never repaired.
#[test]
fn doc_eval_on_real_documents_reads_every_format_exactly_and_never_a_wrong_but_valid_zone() {
    let root = repo_root();
    let real = root.join("../shared/realdata/docs");
    assert!(real.is_dir(), "{} is missing (CI and every development machine have it)", real.display());
    for any in [false, true] {
        let mut args = vec!["doc", "eval", "--real", real.to_str().unwrap(), "--json"];
        if any {
            args.push("--any");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_idv")).args(&args).env("IDV_ASSETS_DIR", &root).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let cases = report["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 19, "every picture with ground truth is read: {report}");
        for format in ["TD1", "TD2", "TD3", "MRV-A", "MRV-B"] {
            assert!(cases.iter().any(|c| c["format"] == format), "the real set covers {format}");
        }
        for c in cases {
            let want = if c["printed_valid"] == true { "exact" } else { "reported_invalid" };
            assert_eq!(c["outcome"], want, "any={any}: {c}");
        }
    }
}

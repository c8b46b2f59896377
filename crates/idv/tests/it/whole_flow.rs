//! The seed flow with three real processes over loopback: `idv serve`, `idv merchant-demo` and the phone
//! simulator `idv device`, with synthetic documents and a synthetic live head.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{Proc, idv, python, repo_root};

fn specimen(out: &Path, seed: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec![
        "specimen",
        "--out",
        out.to_str().unwrap(),
        "--kind",
        "td3",
        "--seed",
        seed,
        "--set",
        "portrait=astronaut.png",
    ];
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_idv")).args(&args).env("IDV_ASSETS_DIR", repo_root()).output().unwrap();
    assert!(o.status.success(), "idv specimen: {}", String::from_utf8_lossy(&o.stderr));
    PathBuf::from(String::from_utf8(o.stdout).unwrap().lines().next().unwrap())
}

fn device(merchant: &str, doc: &Path, face: &str, extra: &[&str]) -> Value {
    let portrait = repo_root().join("testdata/faces").join(face);
    let mut args = vec![
        "device",
        "--merchant",
        merchant,
        "--doc-front",
        doc.to_str().unwrap(),
        "--face-portrait",
        portrait.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_idv")).args(&args).env("IDV_ASSETS_DIR", repo_root()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "idv device failed: {err}");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("device printed no JSON ({e}): {err}"))
}

/// What the app may see: a verdict summary, never an image, embedding or score.
fn assert_app_safe(answer: &Value) {
    let allowed = ["transactionId", "passed", "subCode", "resultCode", "documentType", "status", "error", "message"];
    for (k, v) in answer.as_object().unwrap() {
        assert!(allowed.contains(&k.as_str()), "the app received {k}: {answer}");
        assert!(v.to_string().len() < 300, "the app received a large value in {k}");
    }
}

#[test]
fn genuine_impostor_expired_tampered_and_unsupported_devices() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let m = idv(&["admin", "merchant", "create", "--data", d, "--name", "Shop", "--json"]);
    let key =
        idv(&["admin", "accesskey", "create", "--data", d, "--merchant", m["MerchantId"].as_str().unwrap(), "--json"]);
    let (ak, sk) = (key["AccessKeyId"].as_str().unwrap(), key["AccessKeySecret"].as_str().unwrap());
    let server = Proc::start(
        &["serve", "--test-mode", "--allow-private-callbacks", "--listen", "127.0.0.1:0", "--data", d],
        &[],
    );
    let cb = idv(&[
        "admin",
        "merchant",
        "callback-secret",
        "--data",
        d,
        "--merchant",
        m["MerchantId"].as_str().unwrap(),
        "--json",
    ]);
    let merchant = Proc::start(
        &["merchant-demo", "--listen", "127.0.0.1:0", "--idv-endpoint", &server.addr, "--access-key-id", ak],
        &[("IDV_MERCHANT_AK_SECRET", sk), ("IDV_MERCHANT_CALLBACK_SECRET", cb["CallbackSecret"].as_str().unwrap())],
    );
    let murl = format!("http://{}", merchant.addr);
    let docs = dir.path().join("docs");
    let valid = specimen(&docs, "11", &[]);
    let expired = specimen(&docs, "12", &["--validity", "expired"]);
    let tampered = specimen(&docs, "13", &["--wrong-check-digit", "birth_date"]);

    let genuine = device(&murl, &valid, "astronaut.png", &[]);
    assert_app_safe(&genuine);
    assert_eq!(
        (genuine["passed"].as_str(), genuine["subCode"].as_str(), genuine["resultCode"].as_u64()),
        (Some("Y"), Some("200"), Some(1000)),
        "{genuine}"
    );
    let impostor = device(&murl, &valid, "grace_hopper.jpg", &[]);
    assert_app_safe(&impostor);
    assert_eq!(
        (impostor["passed"].as_str(), impostor["subCode"].as_str(), impostor["resultCode"].as_u64()),
        (Some("N"), Some("204"), Some(1001)),
        "{impostor}"
    );
    let old = device(&murl, &expired, "astronaut.png", &[]);
    assert_eq!((old["passed"].as_str(), old["subCode"].as_str()), (Some("N"), Some("202")), "{old}");
    let bad = device(&murl, &tampered, "astronaut.png", &[]);
    assert_eq!((bad["passed"].as_str(), bad["subCode"].as_str()), (Some("N"), Some("201")), "{bad}");
    let ocr_only = device(&murl, &valid, "astronaut.png", &["--product", "ID_OCR"]);
    assert_eq!((ocr_only["passed"].as_str(), ocr_only["resultCode"].as_u64()), (Some("Y"), Some(1000)), "{ocr_only}");
    let unsupported = device(&murl, &valid, "astronaut.png", &["--os-version", "6"]);
    assert_eq!(unsupported["resultCode"], 1003, "{unsupported}");
    assert!(
        unsupported["error"].as_str().unwrap().contains("osVersion"),
        "the failure names what is unsupported: {unsupported}"
    );

    // The merchant server, through the official SDK, sees everything the app does not.
    let tid = genuine["transactionId"].as_str().unwrap();
    // idv's signed callback reached the demo and passed its signature and token checks.
    for _ in 0..50 {
        if idv(&["admin", "callbacks", "--data", d, "--state", "delivered", "--json"])["Callbacks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["TransactionId"] == tid)
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mlog = merchant.stop();
    assert!(
        mlog.lines().any(|l| l.contains(" callback") && l.contains(tid) && !l.contains("refused")),
        "the demo accepted the genuine transaction's callback:\n{mlog}"
    );
    assert!(!mlog.contains("callback refused"), "no callback was refused:\n{mlog}");
    let biz = mlog
        .lines()
        .find(|l| l.contains("Initialize") && l.contains(tid))
        .and_then(|l| l.split("merchant_biz_id=").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .expect("the merchant demo logs each transaction's MerchantBizId")
        .to_owned();
    let out = Command::new(python())
        .arg(repo_root().join("tests/interop/check_result.py"))
        .args(["--endpoint", &server.addr, "--transaction-id", tid, "--biz-id", &biz, "--return-image"])
        .env("IDV_AK_ID", ak)
        .env("IDV_AK_SECRET", sk)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((result["Passed"].as_str(), result["SubCode"].as_str()), (Some("Y"), Some("200")));
    let face: Value = serde_json::from_str(result["ExtFaceInfo"].as_str().unwrap()).unwrap();
    assert!(face["faceComparisonScore"].as_f64().unwrap() >= 70.0, "{face}");
    assert_eq!(face["faceAttack"], "N");
    assert!(face["faceImg"].as_str().is_some_and(|s| s.len() > 1000), "images with IsReturnImage=Y");
    let id: Value = serde_json::from_str(result["ExtIdInfo"].as_str().unwrap()).unwrap();
    assert_eq!(id["ocrIdPassed"], "Y", "{id}");
    assert!(id["ocrIdInfo"].as_object().is_some_and(|o| !o.is_empty()), "{id}");
    let log = server.stop();
    assert!(!log.contains(sk), "the AccessKey secret appeared in the server log");
}

//! End-to-end tests of the `idv` binary: the real server process on port 0 with a fresh data directory, set up
//! through the admin CLI, and driven by the official Alibaba Cloud Python SDKs (installed by
//! `scripts/setup-python.sh` into `.venv`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn idv(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_idv")).args(args).output().unwrap();
    assert!(out.status.success(), "idv {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("idv {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

struct ServerProcess {
    child: Child,
    addr: String,
    stderr: std::thread::JoinHandle<String>,
}

fn start_server(data: &Path) -> ServerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data.to_str().unwrap()])
        .env("IDV_LOG", "info")
        .env("IDV_ASSETS_DIR", repo_root())
        .env_remove("IDV_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.trim().to_owned();
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "first stdout line must be the bound address, got {addr:?}"
    );
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    ServerProcess { child, addr, stderr }
}

impl ServerProcess {
    /// SIGTERM, then the exit status and everything the server logged.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server did not stop after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.stderr.join().unwrap())
    }
}

fn python() -> PathBuf {
    let py = repo_root().join(".venv/bin/python");
    assert!(py.exists(), "{} is missing: run scripts/setup-python.sh (the README's test command does)", py.display());
    py
}

#[test]
fn official_python_sdks_against_the_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();

    // Activation works on the data directory before the server ever ran.
    let a = idv(&["admin", "merchant", "create", "--data", d, "--name", "Merchant A", "--json"]);
    let a_id = a["MerchantId"].as_str().unwrap();
    let b = idv(&["admin", "merchant", "create", "--data", d, "--name", "Merchant B", "--json"]);
    let b_id = b["MerchantId"].as_str().unwrap();
    let key_a = idv(&["admin", "accesskey", "create", "--data", d, "--merchant", a_id, "--json"]);
    let key_b = idv(&["admin", "accesskey", "create", "--data", d, "--merchant", b_id, "--json"]);
    let server = start_server(&data);
    // ... and while it runs.
    let key_off = idv(&["admin", "accesskey", "create", "--data", d, "--merchant", a_id, "--json"]);
    let off_id = key_off["AccessKeyId"].as_str().unwrap();
    idv(&["admin", "accesskey", "disable", "--data", d, "--id", off_id, "--json"]);
    let list = idv(&["admin", "accesskey", "list", "--data", d, "--merchant", a_id, "--json"]);
    let keys = list["AccessKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.get("AccessKeySecret").is_none()), "listing never shows secrets");
    assert!(keys.iter().any(|k| k["AccessKeyId"] == off_id && k["Enabled"] == false));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("master.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "master.key must not be readable by others");
    }

    let pair = |k: &Value| serde_json::json!({"ak_id": k["AccessKeyId"], "ak_secret": k["AccessKeySecret"]});
    let config = serde_json::json!({
        "merchant_a": pair(&key_a), "merchant_b": pair(&key_b), "disabled": pair(&key_off),
        "unknown_ak_id": "IDVnosuchkey000000000000",
    });
    let config_path = dir.path().join("interop.json");
    std::fs::write(&config_path, config.to_string()).unwrap();

    let script = repo_root().join("tests/interop/sdk_interop.py");
    let run = |extra: &[&str]| {
        let out = Command::new(python())
            .arg(&script)
            .args(["--endpoint", &server.addr, "--config", config_path.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        println!("{text}");
        assert!(out.status.success(), "official SDK interop failed:\n{text}");
        text
    };
    let report = run(&[]);
    assert!(report.contains("PASS legacy_core") && report.contains(" 0 failed"), "{report}");
    // Last, because it leaves merchant A throttled.
    let report = run(&["--only", "throttling"]);
    assert!(report.contains("PASS throttling"), "{report}");

    let (status, log) = server.terminate();
    assert!(status.success(), "graceful shutdown on SIGTERM must exit 0: {status:?}\n{log}");
    assert!(log.contains("request_id="), "request ids are logged");
    for k in [&key_a, &key_b, &key_off] {
        let secret = k["AccessKeySecret"].as_str().unwrap();
        assert!(!log.contains(secret), "an AccessKey secret appeared in the server log");
    }
    let master = std::fs::read_to_string(data.join("master.key")).unwrap();
    assert!(!log.contains(master.trim()), "the master key appeared in the server log");
}

#[test]
fn admin_cli_rejects_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["admin", "accesskey", "create", "--data", d, "--merchant", "mch_nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("mch_nope"));
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["admin", "merchant", "create", "--data", d, "--name", " "])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["admin", "merchant", "list", "--data", d])
        .env("IDV_MASTER_KEY", "00".repeat(32))
        .output()
        .unwrap();
    assert!(!out.status.success(), "a master key that does not match the data directory is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key does not match"));
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["serve", "--data", d, "--listen", "127.0.0.1:0", "--rate-limit", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "invalid configuration is refused at start");
    assert!(String::from_utf8_lossy(&out.stderr).contains("rate limit"));
}

#[test]
fn the_server_refuses_to_start_without_its_models() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["serve", "--data", dir.path().to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("IDV_ASSETS_DIR", empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a server without models must not start");
    assert!(out.stdout.is_empty(), "nothing may be listening: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scripts/fetch-assets.sh") && err.contains("face_detection_yunet"), "{err}");
}

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
    assert_eq!(attacks.len(), 9);
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

/// `idv device` and `idv merchant-demo` as processes: the contracts scripts rely on (first stdout line, exit
/// codes). The three-process flow against a real server lives with the server's device API tests.
mod app_flow_cli {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};

    fn idv(args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_idv")).args(args).env_remove("IDV_MERCHANT_AK_SECRET").output().unwrap()
    }

    #[test]
    fn the_simulator_fails_setup_errors_with_a_message() {
        let face = super::repo_root().join("testdata/faces/obama.jpg");
        let face = face.to_str().unwrap();
        let out = idv(&["device", "--merchant", "http://127.0.0.1:1", "--face", face]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--doc-front is required"), "{out:?}");
        let out = idv(&["device", "--merchant", "http://127.0.0.1:1", "--product", "FACE_LIVENESS", "--face", face]);
        assert!(!out.status.success(), "an unreachable merchant server is a setup error");
        assert!(String::from_utf8_lossy(&out.stderr).contains("/app/start"), "{out:?}");
        assert!(out.stdout.is_empty());
    }

    /// One HTTP/1.1 exchange on a fresh connection; returns the status code.
    fn post(addr: &str, path: &str, json: &str) -> u16 {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{json}",
            json.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status in {answer:?}"))
    }

    #[test]
    fn the_merchant_demo_prints_its_address_and_validates_input() {
        let out =
            idv(&["merchant-demo", "--listen", "127.0.0.1:0", "--idv-endpoint", "127.0.0.1:1", "--access-key-id", "A"]);
        assert!(!out.status.success(), "the secret is required (flag or IDV_MERCHANT_AK_SECRET)");

        let mut child = Command::new(env!("CARGO_BIN_EXE_idv"))
            .args(["merchant-demo", "--listen", "127.0.0.1:0", "--idv-endpoint", "127.0.0.1:1", "--access-key-id", "A"])
            .env("IDV_MERCHANT_AK_SECRET", "not-printed-anywhere")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let addr = first.trim().to_owned();
        assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"), "{addr:?}");

        let bad = r#"{"metaInfo":"{}","productCode":"FACE_GUARD","userId":"u1"}"#;
        assert_eq!(post(&addr, "/app/start", bad), 400, "refused before any call to idv");
        let ok = r#"{"metaInfo":"{}","productCode":"eKYC","docType":"01000000","userId":"u1"}"#;
        assert_eq!(post(&addr, "/app/start", ok), 502, "idv unreachable is the server's problem, not the app's");
        let unknown = format!(r#"{{"transactionId":"{}","resultCode":1000}}"#, "0".repeat(32));
        assert_eq!(post(&addr, "/app/finish", &unknown), 404);

        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        let status = child.wait().unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(status.success(), "SIGTERM is a clean stop: {err}");
        assert!(!err.contains("not-printed-anywhere"), "the AccessKey secret must never be logged");
    }
}

/// The seed flow with three real processes over loopback: `idv serve`, `idv merchant-demo` and the phone
/// simulator `idv device`, with synthetic documents and a synthetic live head.
mod whole_flow {
    use super::*;

    struct Proc {
        child: Child,
        addr: String,
        log: std::thread::JoinHandle<String>,
    }

    impl Proc {
        fn start(args: &[&str], envs: &[(&str, &str)]) -> Proc {
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

        fn stop(mut self) -> String {
            let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
            let _ = self.child.wait();
            self.log.join().unwrap()
        }
    }

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
        let o =
            Command::new(env!("CARGO_BIN_EXE_idv")).args(&args).env("IDV_ASSETS_DIR", repo_root()).output().unwrap();
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
        let o =
            Command::new(env!("CARGO_BIN_EXE_idv")).args(&args).env("IDV_ASSETS_DIR", repo_root()).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "idv device failed: {err}");
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("device printed no JSON ({e}): {err}"))
    }

    /// What the app may see: a verdict summary, never an image, embedding or score.
    fn assert_app_safe(answer: &Value) {
        let allowed =
            ["transactionId", "passed", "subCode", "resultCode", "documentType", "status", "error", "message"];
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
        let key = idv(&[
            "admin",
            "accesskey",
            "create",
            "--data",
            d,
            "--merchant",
            m["MerchantId"].as_str().unwrap(),
            "--json",
        ]);
        let (ak, sk) = (key["AccessKeyId"].as_str().unwrap(), key["AccessKeySecret"].as_str().unwrap());
        let server = Proc::start(&["serve", "--listen", "127.0.0.1:0", "--data", d], &[]);
        let merchant = Proc::start(
            &["merchant-demo", "--listen", "127.0.0.1:0", "--idv-endpoint", &server.addr, "--access-key-id", ak],
            &[("IDV_MERCHANT_AK_SECRET", sk)],
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
        assert_eq!(
            (ocr_only["passed"].as_str(), ocr_only["resultCode"].as_u64()),
            (Some("Y"), Some(1000)),
            "{ocr_only}"
        );
        let unsupported = device(&murl, &valid, "astronaut.png", &["--os-version", "6"]);
        assert_eq!(unsupported["resultCode"], 1003, "{unsupported}");
        assert!(
            unsupported["error"].as_str().unwrap().contains("osVersion"),
            "the failure names what is unsupported: {unsupported}"
        );

        // The merchant server, through the official SDK, sees everything the app does not.
        let mlog = merchant.stop();
        let tid = genuine["transactionId"].as_str().unwrap();
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
}

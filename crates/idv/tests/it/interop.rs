//! The real server process on port 0 with a fresh data directory, set up through the admin CLI, and driven by the
//! official Alibaba Cloud Python SDKs (`tests/interop/sdk_interop.py`).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{idv, python, repo_root};

struct ServerProcess {
    child: Child,
    addr: String,
    stderr: std::thread::JoinHandle<String>,
}

fn start_server(data: &Path) -> ServerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["serve", "--test-mode", "--listen", "127.0.0.1:0", "--data", data.to_str().unwrap()])
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

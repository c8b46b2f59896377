//! The mobile SDK as an app uses it: `tests/mobile/mobile_flow.py` loads the `idv-mobile` cdylib through the
//! committed Python bindings (`bindings/python`, checked against the generator by `idv-mobile-bindgen`'s drift
//! test) and drives whole verifications against `idv serve` (not in test mode: the SDK's frames are camera
//! frames), pushing camera frames one by one. Device calls go through the script's proxy (`--public-url`), which
//! cuts connections on demand.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{Proc, idv, python, repo_root};

/// The cdylib cargo built for this test binary's `idv-mobile` dev-dependency.
fn mobile_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let name = format!("{}idv_mobile{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    [deps.join(&name), deps.parent().unwrap().join(&name)]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} was not built next to {}", deps.display()))
}

#[test]
fn an_app_verifies_through_the_mobile_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let m = idv(&["admin", "merchant", "create", "--data", d, "--name", "App shop", "--json"]);
    let key =
        idv(&["admin", "accesskey", "create", "--data", d, "--merchant", m["MerchantId"].as_str().unwrap(), "--json"]);
    // A free port for the script's proxy, named to the server as the device API's address.
    let proxy_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let public = format!("http://127.0.0.1:{proxy_port}");
    let server = Proc::start(&["serve", "--listen", "127.0.0.1:0", "--data", d, "--public-url", &public], &[]);
    let keys = dir.path().join("keys.json");
    let pair = serde_json::json!({"ak_id": key["AccessKeyId"], "ak_secret": key["AccessKeySecret"]});
    std::fs::write(&keys, pair.to_string()).unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(python())
        .arg(repo_root().join("tests/mobile/mobile_flow.py"))
        .args(["--endpoint", &server.addr, "--config", keys.to_str().unwrap()])
        .args(["--idv", env!("CARGO_BIN_EXE_idv")])
        .arg("--lib")
        .arg(mobile_library())
        .args(["--proxy-port", &proxy_port.to_string()])
        .args(["--work", dir.path().join("work").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let log = server.stop();
    println!("{text}\n(mobile flow: {:.0} s)", started.elapsed().as_secs_f64());
    assert!(out.status.success() && text.contains(" 0 failed"), "mobile tests failed:\n{text}\nserver log:\n{log}");
}

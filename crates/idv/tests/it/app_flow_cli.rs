//! `idv device` and `idv merchant-demo` as processes: the contracts scripts rely on (first stdout line, exit
//! codes). The three-process flow against a real server lives with the server's device API tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use crate::common::repo_root;

fn idv(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_idv")).args(args).env_remove("IDV_MERCHANT_AK_SECRET").output().unwrap()
}

#[test]
fn the_simulator_fails_setup_errors_with_a_message() {
    let face = repo_root().join("testdata/faces/obama.jpg");
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

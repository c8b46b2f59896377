//! The real `idv serve` log at debug level after failures of every kind: bad signatures (ACS3 and V1), an unknown
//! AccessKey, bad parameters, device API errors and a callback that cannot be delivered. None of the secrets or
//! personal data the requests carried may appear in it; the log keeps codes and fixed summaries.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use idv_api::sign::{SignedHttpRequest, sign_acs3, sign_rpc_v1_form};
use serde_json::{Value, json};

use crate::common::{idv, repo_root};

const CALLBACK_TOKEN: &str = "cbtokSECRET0a1b2c3d4e5f";
const MERCHANT_USER_ID: &str = "userSECRET9f8e7d";
const META_MARKER: &str = "com.metaSECRET.app";

fn meta() -> String {
    format!(r#"{{"deviceType":"android","bioMetaInfo":"1.0.0:15,0","osVersion":"14","appName":"{META_MARKER}"}}"#)
}

/// `idv serve` at `IDV_LOG=debug`, its stderr collected line by line so the test can wait for a line.
struct Server {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl Server {
    fn start(data: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_idv"))
            .args(["serve", "--test-mode", "--listen", "127.0.0.1:0", "--data", data])
            .args(extra)
            .env("IDV_LOG", "debug")
            .env("IDV_ASSETS_DIR", repo_root())
            .env_remove("IDV_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            while let Ok(n) = err.read_until(b'\n', &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf));
                buf.clear();
            }
        });
        assert!(!line.trim().is_empty(), "idv serve printed no address");
        Server { child, addr: line.trim().to_owned(), log, reader }
    }

    /// Waits (bounded) until the log has a line containing `what`.
    async fn wait_for(&self, what: &str) {
        for _ in 0..300 {
            if self.log.lock().unwrap().contains(what) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {what:?} in the server log:\n{}", self.log.lock().unwrap());
    }

    fn stop(mut self) -> String {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = self.reader.join();
        self.log.lock().unwrap().clone()
    }
}

fn b64_encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// URL-safe Base64 without padding (the device credential's form).
fn b64url_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => panic!("not base64url"),
    };
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for &c in s.as_bytes() {
        acc = (acc << 6) | u32::from(val(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

async fn send(addr: &str, wire: SignedHttpRequest) -> Value {
    let mut rb = reqwest::Client::new().post(format!("http://{addr}/?{}", wire.raw_query));
    for (k, v) in &wire.headers {
        rb = rb.header(k, v);
    }
    rb.body(wire.body).send().await.unwrap().json().await.unwrap()
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn device_post(
    api: &str,
    endpoint: &str,
    cfg: &str,
    session: &str,
    mac: Option<&str>,
    cred: &[u8],
    body: &[u8],
) -> Value {
    let url = format!("{api}/{endpoint}");
    let path = url.split_once("://").and_then(|(_, r)| r.find('/').map(|i| r[i..].to_owned())).unwrap();
    let good = idv_protocol::device::request_mac(cred, "POST", &path, session, body);
    let r = reqwest::Client::new()
        .post(&url)
        .header("x-idv-config", cfg)
        .header("x-idv-session", session)
        .header("x-idv-signature", mac.unwrap_or(&good))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    r.json().await.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_of_every_kind_leave_no_secret_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    let m = idv(&["admin", "merchant", "create", "--data", d, "--name", "Shop", "--json"]);
    let key =
        idv(&["admin", "accesskey", "create", "--data", d, "--merchant", m["MerchantId"].as_str().unwrap(), "--json"]);
    let (ak, sk) =
        (key["AccessKeyId"].as_str().unwrap().to_owned(), key["AccessKeySecret"].as_str().unwrap().to_owned());
    let s = Server::start(d, &["--allow-private-callbacks"]);
    let host = s.addr.clone();
    let face = b64_encode(&idv_crypto::random_bytes::<3000>());
    // A loopback port with nothing listening: the callback fails to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let callback_url = format!("http://127.0.0.1:{closed}/cb");
    let meta = meta();
    let query = |product: &str| {
        let doc_type = if product == "ID_OCR" { "01000000" } else { "" };
        params(&[
            ("ProductCode", product),
            ("DocType", doc_type),
            ("MerchantBizId", "biz0001"),
            ("MerchantUserId", MERCHANT_USER_ID),
            ("MetaInfo", &meta),
            ("CallbackUrl", &callback_url),
            ("CallbackToken", CALLBACK_TOKEN),
        ])
    };
    let body = params(&[("FacePictureBase64", &face)]);
    let now = time::OffsetDateTime::now_utc;
    let nonce = || idv_crypto::random_hex(16);
    let mut codes = Vec::new();

    // Bad signatures: the answer carries the string to sign (as the official API does), the log must not.
    let wire = sign_acs3(
        "POST",
        &host,
        "Initialize",
        "2022-08-09",
        &query("FACE_VERIFY"),
        &body,
        &ak,
        "wrong",
        now(),
        &nonce(),
    );
    codes.push(send(&host, wire).await);
    let wire = sign_rpc_v1_form(
        "POST",
        "Initialize",
        "2022-08-09",
        &query("FACE_VERIFY"),
        &body,
        &ak,
        "wrong",
        now(),
        &nonce(),
    );
    codes.push(send(&host, wire).await);
    // An unknown AccessKey.
    let wire = sign_acs3(
        "POST",
        &host,
        "Initialize",
        "2022-08-09",
        &query("FACE_VERIFY"),
        &body,
        "NOSUCHKEY000000000000000",
        &sk,
        now(),
        &nonce(),
    );
    codes.push(send(&host, wire).await);
    // Bad parameters around the secret ones: a reference face where it has no use, a malformed MetaInfo.
    let wire = sign_acs3("POST", &host, "Initialize", "2022-08-09", &query("ID_OCR"), &body, &ak, &sk, now(), &nonce());
    codes.push(send(&host, wire).await);
    let mut bad_meta = query("FACE_LIVENESS");
    bad_meta.insert("MetaInfo".into(), format!(r#"{{"deviceType":"android","appName":"{META_MARKER}""#));
    let wire =
        sign_acs3("POST", &host, "Initialize", "2022-08-09", &bad_meta, &BTreeMap::new(), &ak, &sk, now(), &nonce());
    codes.push(send(&host, wire).await);
    let codes: Vec<&str> = codes.iter().map(|r| r["Code"].as_str().unwrap_or("?")).collect();
    assert_eq!(
        codes,
        [
            "SignatureDoesNotMatch",
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId.NotFound",
            "InvalidParameter",
            "InvalidParameter"
        ]
    );

    // A transaction whose device makes mistakes, then cancels: the callback to the closed port fails.
    let wire = sign_acs3(
        "POST",
        &host,
        "Initialize",
        "2022-08-09",
        &query("FACE_LIVENESS"),
        &BTreeMap::new(),
        &ak,
        &sk,
        now(),
        &nonce(),
    );
    let init = send(&host, wire).await;
    let cfg = init["Result"]["ClientCfg"].as_str().unwrap_or_else(|| panic!("{init}")).to_owned();
    let client = idv_protocol::ClientConfig::read_unverified(&cfg).unwrap();
    let cred = b64url_decode(&client.cred);
    let start = serde_json::to_vec(&json!({"meta_info": meta, "device_time_ms": 0})).unwrap();
    let e = device_post(&client.api, "start", &cfg, "", Some(&"0".repeat(64)), &cred, &start).await;
    assert!(e["error"].is_string() || e["code"].is_string() || !e.is_null(), "bad MAC: {e}");
    let tampered = format!("{}A", &cfg[..cfg.len() - 1]);
    device_post(&client.api, "start", &tampered, "", None, &cred, &start).await;
    // serde quotes a wrong-typed value in its message: the device API must not pass it on.
    let wrong = serde_json::to_vec(&json!({"meta_info": meta, "device_time_ms": MERCHANT_USER_ID})).unwrap();
    device_post(&client.api, "start", &cfg, "", None, &cred, &wrong).await;
    let started = device_post(&client.api, "start", &cfg, "", None, &cred, &start).await;
    let session = started["session_id"].as_str().unwrap_or_else(|| panic!("{started}")).to_owned();
    device_post(&client.api, "round", &cfg, &session, None, &cred, b"{not json").await;
    device_post(&client.api, "status", &cfg, "wrong-session", None, &cred, b"{}").await;
    let cancelled = device_post(&client.api, "cancel", &cfg, &session, None, &cred, b"{}").await;
    assert_eq!(cancelled["result_code"], 1006, "{cancelled}");
    s.wait_for("callback failed").await;

    let log = s.stop();
    assert!(
        log.contains("SignatureDoesNotMatch") && log.contains("InvalidParameter"),
        "the refusals are logged:\n{log}"
    );
    for (what, secret) in [
        ("the AccessKeySecret", sk.as_str()),
        ("the CallbackToken", CALLBACK_TOKEN),
        ("the MerchantUserId", MERCHANT_USER_ID),
        ("the MetaInfo", META_MARKER),
        ("the reference face", &face[1000..1100]),
        ("the device credential", client.cred.as_str()),
        ("the client configuration (it carries the credential)", cfg.split('.').nth(1).unwrap()),
    ] {
        // As sent and as it appears percent-encoded in a query or string to sign.
        for form in [secret.to_owned(), idv_api::sign::canon::pct(secret)] {
            let line = log.lines().find(|l| l.contains(&form));
            assert!(line.is_none(), "{what} appeared in the server log: {line:?}");
        }
    }
}

/// Without `--allow-private-callbacks` a CallbackUrl naming a host that resolves to loopback is not called; the
/// refusal is logged with its reason, without the URL's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_callback_is_logged_without_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    let m = idv(&["admin", "merchant", "create", "--data", d, "--name", "Shop", "--json"]);
    let key =
        idv(&["admin", "accesskey", "create", "--data", d, "--merchant", m["MerchantId"].as_str().unwrap(), "--json"]);
    let (ak, sk) = (key["AccessKeyId"].as_str().unwrap(), key["AccessKeySecret"].as_str().unwrap());
    let s = Server::start(d, &[]);
    let meta = meta();
    let query = params(&[
        ("ProductCode", "FACE_LIVENESS"),
        ("MerchantBizId", "biz0001"),
        ("MerchantUserId", MERCHANT_USER_ID),
        ("MetaInfo", &meta),
        ("CallbackUrl", "http://localhost:9/cb"),
        ("CallbackToken", CALLBACK_TOKEN),
    ]);
    let now = time::OffsetDateTime::now_utc();
    let wire =
        sign_acs3("POST", &s.addr, "Initialize", "2022-08-09", &query, &BTreeMap::new(), ak, sk, now, "nonce0001");
    let init = send(&s.addr, wire).await;
    let cfg = init["Result"]["ClientCfg"].as_str().unwrap_or_else(|| panic!("{init}")).to_owned();
    let client = idv_protocol::ClientConfig::read_unverified(&cfg).unwrap();
    let cred = b64url_decode(&client.cred);
    let start = serde_json::to_vec(&json!({"meta_info": meta, "device_time_ms": 0})).unwrap();
    let started = device_post(&client.api, "start", &cfg, "", None, &cred, &start).await;
    let session = started["session_id"].as_str().unwrap_or_else(|| panic!("{started}")).to_owned();
    device_post(&client.api, "cancel", &cfg, &session, None, &cred, b"{}").await;
    s.wait_for("callback not sent").await;
    let log = s.stop();
    let line = log.lines().find(|l| l.contains("callback not sent")).unwrap();
    assert!(line.contains("loopback"), "the reason is logged: {line}");
    for secret in [CALLBACK_TOKEN, MERCHANT_USER_ID, META_MARKER, sk, client.cred.as_str()] {
        assert!(!log.contains(secret), "{secret} appeared in the server log:\n{log}");
    }
}

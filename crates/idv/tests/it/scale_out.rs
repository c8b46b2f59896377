//! Several instances on shared infrastructure: two `idv serve` processes on one PostgreSQL 15 database (a
//! throwaway cluster, `scripts/pg.sh`) with the blobs and key epochs in one S3-compatible bucket (`s3s-fs`, which
//! checks SigV4 signatures, served from this test process). An eKYC transaction is initialised on one
//! instance, its device rounds run on the other, and its verdict is read from the first; per-key rate limits hold
//! across the instances; and the load harness SIGKILLs an instance under load and finds everything acknowledged.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{Proc, repo_root};

const S3_KEY: &str = "idvtestaccesskey";
const S3_SECRET: &str = "idvtestsecretkey0123456789";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An S3-compatible server over a directory, checking SigV4 signatures with one key pair: `s3s-fs`'s file system
/// behind `s3s`'s service, in this test process on its own thread and runtime, on a port of its own. The idv
/// instances under test are separate processes and reach it only over HTTP, as they would a real bucket.
struct S3 {
    port: u16,
    root: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3 {
    fn start(root: &Path) -> S3 {
        std::fs::create_dir_all(root.join("idv")).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(s3s_fs::FileSystem::new(root).unwrap());
        builder.set_auth(s3s::auth::SimpleAuth::from_single(S3_KEY, S3_SECRET));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let socket = tokio::select! {
                        r = listener.accept() => match r {
                            Ok((socket, _)) => socket,
                            Err(_) => continue,
                        },
                        _ = &mut stopped => break,
                    };
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone());
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
            // Open connections are dropped with the runtime: the bucket is gone, as when its server dies.
            rt.shutdown_background();
        });
        S3 { port, root: root.to_path_buf(), stop: Some(stop), thread: Some(thread) }
    }

    fn env(&self, secret: &str) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), S3_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), secret.into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ENDPOINT".into(), format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
        ]
    }

    /// Every object under the bucket's prefix, as paths relative to it.
    fn objects(&self, prefix: &str) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, base, out);
                } else if let Ok(rel) = p.strip_prefix(base) {
                    out.push(rel.display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        let base = self.root.join("idv").join(prefix);
        walk(&base, &base, &mut out);
        out.sort();
        out
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.stop();
    }
}

fn database() -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(idv_store::contract::fresh_postgres_database())
}

/// `idv` with the shared backend's environment; must succeed and print JSON.
fn idv_env(args: &[&str], env: &[(String, String)]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_idv")).args(args).envs(env.iter().cloned()).output().unwrap();
    assert!(out.status.success(), "idv {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    env: Vec<(String, String)>,
    merchant: String,
    ak: String,
    sk: String,
    s3: S3,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3::start(&dir.path().join("s3"));
    let mut env = s3.env(S3_SECRET);
    env.push(("IDV_MASTER_KEY".into(), idv_crypto::random_hex(32)));
    env.push(("IDV_DATABASE_URL".into(), database()));
    env.push(("IDV_BLOB_URL".into(), "s3://idv/prod".into()));
    let admin = dir.path().join("admin");
    let a = admin.to_str().unwrap();
    let m = idv_env(&["admin", "merchant", "create", "--data", a, "--name", "Shop", "--json"], &env);
    let merchant = m["MerchantId"].as_str().unwrap().to_owned();
    let k = idv_env(&["admin", "accesskey", "create", "--data", a, "--merchant", &merchant, "--json"], &env);
    Setup {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        env,
        merchant,
        ak: k["AccessKeyId"].as_str().unwrap().to_owned(),
        sk: k["AccessKeySecret"].as_str().unwrap().to_owned(),
        s3,
    }
}

/// An instance listening on `port` whose devices are sent to `public_port`, with data dir `name`.
fn instance(s: &Setup, name: &str, port: u16, public_port: u16, extra: &[&str]) -> Proc {
    instance_with(&s.dir, &s.env, name, port, public_port, extra)
}

fn instance_with(
    base: &Path,
    env: &[(String, String)],
    name: &str,
    port: u16,
    public_port: u16,
    extra: &[&str],
) -> Proc {
    let dir = base.join(name);
    let listen = format!("127.0.0.1:{port}");
    let public = format!("http://127.0.0.1:{public_port}");
    let mut args = vec![
        "serve",
        "--test-mode",
        "--allow-private-callbacks",
        "--listen",
        &listen,
        "--public-url",
        &public,
        "--data",
        dir.to_str().unwrap(),
        "--workers",
        "1",
    ];
    args.extend_from_slice(extra);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Proc::start(&args, &env)
}

fn specimen(out: &Path) -> PathBuf {
    let o = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["specimen", "--out", out.to_str().unwrap(), "--kind", "td3", "--seed", "11"])
        .args(["--set", "portrait=astronaut.png"])
        .env("IDV_ASSETS_DIR", repo_root())
        .output()
        .unwrap();
    assert!(o.status.success(), "idv specimen: {}", String::from_utf8_lossy(&o.stderr));
    PathBuf::from(String::from_utf8(o.stdout).unwrap().lines().next().unwrap())
}

/// A whole eKYC flow through a merchant demo that calls `initialize_on`; the devices go wherever that instance
/// sends them.
fn flow(s: &Setup, initialize_on: &str, doc: &Path) -> Value {
    let cb = idv_env(
        &[
            "admin",
            "merchant",
            "callback-secret",
            "--data",
            s.dir.join("admin").to_str().unwrap(),
            "--merchant",
            &s.merchant,
            "--json",
        ],
        &s.env,
    );
    let demo = Proc::start(
        &["merchant-demo", "--listen", "127.0.0.1:0", "--idv-endpoint", initialize_on, "--access-key-id", &s.ak],
        &[("IDV_MERCHANT_AK_SECRET", &s.sk), ("IDV_MERCHANT_CALLBACK_SECRET", cb["CallbackSecret"].as_str().unwrap())],
    );
    let portrait = repo_root().join("testdata/faces/astronaut.png");
    let o = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["device", "--merchant", &format!("http://{}", demo.addr), "--json", "--doc-front"])
        .arg(doc)
        .arg("--face-portrait")
        .arg(&portrait)
        .env("IDV_ASSETS_DIR", repo_root())
        .output()
        .unwrap();
    let log = demo.stop();
    assert!(o.status.success(), "idv device: {}\n{log}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// How many of a transaction's device rounds an instance ran, from its log.
fn rounds_served(log: &str, tid: &str) -> usize {
    log.lines().filter(|l| l.contains(tid) && l.contains("round accepted")).count()
}

/// `GET path` on loopback: the status and body.
fn get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    c.read_to_string(&mut raw).unwrap();
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

#[test]
fn two_instances_on_postgres_and_s3_share_every_transaction() {
    let s = setup();
    let (pa, pb) = (free_port(), free_port());
    // Each instance sends devices to the other: Initialize and CheckResult on one, every device round on the other.
    let a = instance(&s, "a", pa, pb, &[]);
    let b = instance(&s, "b", pb, pa, &[]);
    let doc = specimen(&s.dir.join("docs"));
    let one = flow(&s, &a.addr, &doc);
    let two = flow(&s, &b.addr, &doc);
    for v in [&one, &two] {
        assert_eq!((v["passed"].as_str(), v["resultCode"].as_u64()), (Some("Y"), Some(1000)), "{v}");
    }
    let (la, lb) = (a.stop(), b.stop());
    let (t1, t2) = (one["transactionId"].as_str().unwrap(), two["transactionId"].as_str().unwrap());
    assert!(
        rounds_served(&lb, t1) >= 2 && rounds_served(&la, t2) >= 2,
        "each ran the other's rounds:\nA:\n{la}\nB:\n{lb}"
    );
    assert_eq!((rounds_served(&la, t1), rounds_served(&lb, t2)), (0, 0), "and none of its own");
    // The images went to the bucket, sealed; neither instance's directory holds any.
    let objects = s.s3.objects("prod");
    assert!(objects.iter().any(|o| o.starts_with("blobs/")), "images in the bucket: {objects:?}");
    assert!(objects.iter().any(|o| o.starts_with("keys/")), "key epochs in the bucket: {objects:?}");
    for name in ["a", "b"] {
        assert!(!s.dir.join(name).join("blobs").exists(), "instance {name} kept no blob locally");
    }
    // Sealed means no stored object begins as a picture or holds any 64-byte run of the uploaded document (a
    // short signature would turn up in random ciphertext by chance: three bytes do about once in 16 MiB).
    let uploaded = std::fs::read(&doc).unwrap();
    let probes: Vec<&[u8]> = uploaded.chunks_exact(64).step_by(97).take(4).collect();
    let mut sealed = 0;
    for o in objects.iter().filter(|o| o.starts_with("blobs/")) {
        let bytes = std::fs::read(s.s3.root.join("idv/prod").join(o)).unwrap();
        assert!(
            !bytes.starts_with(&[0xff, 0xd8, 0xff]) && !bytes.starts_with(b"\x89PNG"),
            "{o} holds a picture in the clear"
        );
        assert!(!probes.iter().any(|p| bytes.windows(64).any(|w| w == *p)), "{o} holds the document in the clear");
        sealed += 1;
    }
    assert!(sealed >= 2, "a document and face frames were stored: {objects:?}");

    // A wrong bucket secret (s3s-fs checks the signatures): refused at start, naming the blob store.
    let mut wrong = s.s3.env("not-the-secret");
    wrong.extend(s.env.iter().filter(|(k, _)| k.starts_with("IDV_")).cloned());
    let c = s.dir.join("c");
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["admin", "migrate", "--data", c.to_str().unwrap()])
        .envs(wrong.iter().cloned())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("blob store"), "{err}");
    // The health check names what it reached, and which store is down when the bucket goes away.
    let d = instance(&s, "d", free_port(), free_port(), &[]);
    assert_eq!(get(&d.addr, "/healthz"), (200, "ok\ndatabase: ok\nblobs: ok\n".into()));
    let mut s3 = s.s3;
    s3.stop();
    let (status, body) = get(&d.addr, "/healthz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("database: ok") && body.contains("blobs: unavailable"), "{body}");
    d.stop();
}

#[test]
fn per_key_rate_limits_hold_across_instances() {
    let s = setup();
    let (pa, pb) = (free_port(), free_port());
    let limit = ["--rate-limit", "0.01", "--rate-burst", "4"];
    let a = instance(&s, "a", pa, pa, &limit);
    let b = instance(&s, "b", pb, pb, &limit);
    let py = crate::common::python();
    // Eight Initialize calls through the official SDK, alternating instances: the key's burst of 4 is shared.
    let script = r#"
import json, sys
from alibabacloud_tea_openapi.models import Config
from alibabacloud_cloudauth_intl20220809.client import Client
from alibabacloud_cloudauth_intl20220809 import models
ak, sk, eps = sys.argv[1], sys.argv[2], sys.argv[3:]
meta = '{"deviceType":"android","bioMetaInfo":"1.0.0:15,0","osVersion":"14"}'
codes = []
for i in range(8):
    c = Client(Config(access_key_id=ak, access_key_secret=sk, endpoint=eps[i % 2], protocol="http"))
    try:
        c.initialize(models.InitializeRequest(product_code="eKYC", merchant_biz_id=f"b{i}", merchant_user_id="u", meta_info=meta, doc_type="01000000"))
        codes.append("ok")
    except Exception as e:
        codes.append(getattr(e, "code", str(e)))
print(json.dumps(codes))
"#;
    let out = Command::new(py).arg("-c").arg(script).args([&s.ak, &s.sk, &a.addr, &b.addr]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let codes: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(codes.iter().filter(|c| *c == "ok").count(), 4, "one burst of 4 for both instances: {codes:?}");
    assert!(codes.iter().filter(|c| *c != "ok").all(|c| c == "Throttling.User"), "{codes:?}");
    a.stop();
    b.stop();
}

#[test]
fn an_instance_killed_under_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3::start(&dir.path().join("s3"));
    let url = database();
    let o = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["bench", "load", "--instances", "2", "--seconds", "12", "--concurrency", "4", "--flows", "2"])
        .args(["--kill-one-after", "5", "--blob-url", "s3://idv/load", "--json", "--database-url", &url])
        .env("IDV_ASSETS_DIR", repo_root())
        .envs(s3.env(S3_SECRET))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(o.status.success(), "idv bench load failed");
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(s3.objects("load").iter().any(|o| o.starts_with("blobs/")), "the flows' images are in the bucket");
    assert!(r["killedAtSeconds"].as_f64().is_some(), "{r}");
    assert!(r["acknowledgedTransactions"].as_u64().unwrap() > 20, "the load ran: {r}");
    assert_eq!(r["lostTransactions"], serde_json::json!([]), "every acknowledged Initialize is found: {r}");
    assert_eq!(r["lostVerdicts"], serde_json::json!([]), "every verdict a device was told is stored: {r}");
    assert!(r["flows"]["completed"].as_u64().unwrap() >= 1, "a whole flow completed: {r}");
    let after = r["initialize"]["okAfterKill"].as_u64().unwrap() + r["checkResult"]["okAfterKill"].as_u64().unwrap();
    assert!(after > 10, "the other instance kept serving: {r}");
    assert_eq!(r["initialize"]["errors"].as_u64(), Some(0), "no call failed but those the kill cut: {r}");
    assert_eq!(r["checkResult"]["errors"].as_u64(), Some(0), "{r}");
}

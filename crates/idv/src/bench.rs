//! `idv bench rpc`: throughput and latency of the merchant API on loopback, measured from this process (the load
//! generator) against a real `idv serve` child process with signature verification and durable SQLite writes, and
//! against a bare axum handler child process in the same run, so the ratio between the two is the figure that
//! survives a noisy machine.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idv_api::sign::sign_acs3;

pub struct RpcBenchArgs {
    pub seconds: u64,
    pub concurrency: usize,
}

struct Proc {
    child: Child,
    addr: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Result<Proc> {
    let exe = std::env::current_exe()?;
    let mut child =
        Command::new(exe).args(args).env("IDV_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("child stdout")?).read_line(&mut line)?;
    let addr = line.trim().to_owned();
    if addr.is_empty() {
        bail!("child {args:?} printed no address");
    }
    Ok(Proc { child, addr })
}

fn admin_json(args: &[&str]) -> Result<serde_json::Value> {
    let out = Command::new(std::env::current_exe()?).args(args).output()?;
    if !out.status.success() {
        bail!("idv {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The baseline: an axum handler that reads the body and answers a small JSON, nothing else.
pub async fn bare_server() -> Result<()> {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/",
        post(|body: axum::body::Bytes| async move {
            (
                [("content-type", "application/json;charset=utf-8")],
                format!("{{\"RequestId\":\"X\",\"Code\":\"Success\",\"Len\":{}}}", body.len()),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    Bare,
    Initialize,
    CheckResult,
}

struct Target {
    addr: String,
    ak: String,
    secret: String,
    transaction_id: String,
}

const META: &str = r#"{"deviceType":"android","bioMetaInfo":"1.0.0:15,0","osVersion":"14","deviceModel":"Pixel 7"}"#;

fn request(kind: Kind, t: &Target) -> (String, Vec<(String, String)>, Vec<u8>) {
    let nonce = idv_crypto::random_hex(16);
    let now = time::OffsetDateTime::now_utc();
    let q: BTreeMap<String, String> = match kind {
        Kind::Bare => return (String::new(), vec![], b"ping=1".to_vec()),
        Kind::Initialize => [
            ("ProductCode", "eKYC"),
            ("MerchantBizId", "bench0001"),
            ("MerchantUserId", "user-1"),
            ("MetaInfo", META),
            ("DocType", "01000000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        Kind::CheckResult => [("MerchantBizId", "bench0001"), ("TransactionId", t.transaction_id.as_str())]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let action = if matches!(kind, Kind::Initialize) { "Initialize" } else { "CheckResult" };
    let w = sign_acs3("POST", &t.addr, action, "2022-08-09", &q, &BTreeMap::new(), &t.ak, &t.secret, now, &nonce);
    (w.raw_query, w.headers, w.body)
}

struct Stats {
    ok: usize,
    unexpected: usize,
    /// The unexpected answers by HTTP status (0: no answer), so an error count says what it counts.
    by_status: BTreeMap<u16, usize>,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

async fn run(kind: Kind, target: Arc<Target>, seconds: u64, concurrency: usize) -> Result<Stats> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut unexpected, mut lat) = (0usize, 0usize, Vec::new());
            let mut by_status = BTreeMap::<u16, usize>::new();
            while Instant::now() < deadline {
                let (query, headers, body) = request(kind, &target);
                let url = if query.is_empty() {
                    format!("http://{}/", target.addr)
                } else {
                    format!("http://{}/?{query}", target.addr)
                };
                let mut rb = client.post(url);
                for (k, v) in &headers {
                    if k != "host" && k != "content-length" {
                        rb = rb.header(k, v);
                    }
                }
                let t0 = Instant::now();
                let resp = rb.body(body).send().await;
                let status = match resp {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                lat.push(t0.elapsed());
                // CheckResult on a transaction whose flow has not run answers 404 ProcessNotCompleted by design.
                let expected = match kind {
                    Kind::CheckResult => 404,
                    _ => 200,
                };
                if status == expected {
                    ok += 1
                } else {
                    unexpected += 1;
                    *by_status.entry(status).or_default() += 1;
                }
            }
            (ok, unexpected, lat, by_status)
        }));
    }
    let mut stats =
        Stats { ok: 0, unexpected: 0, by_status: BTreeMap::new(), latencies: Vec::new(), elapsed: Duration::ZERO };
    for t in tasks {
        let (ok, bad, lat, by_status) = t.await?;
        stats.ok += ok;
        stats.unexpected += bad;
        for (status, n) in by_status {
            *stats.by_status.entry(status).or_default() += n;
        }
        stats.latencies.extend(lat);
    }
    stats.elapsed = started.elapsed();
    stats.latencies.sort();
    Ok(stats)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

pub async fn rpc(args: RpcBenchArgs) -> Result<()> {
    let dir = tempdir()?;
    let d = dir.to_str().context("temp dir path")?;
    let m = admin_json(&["admin", "merchant", "create", "--data", d, "--name", "bench", "--json"])?;
    let k = admin_json(&[
        "admin",
        "accesskey",
        "create",
        "--data",
        d,
        "--merchant",
        m["MerchantId"].as_str().unwrap_or(""),
        "--json",
    ])?;
    // The limiter is not what is measured: allow far more than loopback can carry.
    let idv = spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        d,
        "--rate-limit",
        "1000000",
        "--rate-burst",
        "1000000",
    ])?;
    let bare = spawn(&["bench", "bare-server"])?;
    let mut target = Target {
        addr: idv.addr.clone(),
        ak: k["AccessKeyId"].as_str().unwrap_or("").to_owned(),
        secret: k["AccessKeySecret"].as_str().unwrap_or("").to_owned(),
        transaction_id: String::new(),
    };
    // One real transaction for CheckResult to look up.
    let client = reqwest::Client::new();
    let (q, h, b) = request(Kind::Initialize, &target);
    let mut rb = client.post(format!("http://{}/?{q}", target.addr));
    for (k, v) in &h {
        if k != "host" && k != "content-length" {
            rb = rb.header(k, v);
        }
    }
    let init: serde_json::Value = rb.body(b).send().await?.json().await?;
    target.transaction_id =
        init["Result"]["TransactionId"].as_str().context("Initialize failed in bench setup")?.to_owned();
    let target = Arc::new(target);
    let bare_target = Arc::new(Target {
        addr: bare.addr.clone(),
        ak: String::new(),
        secret: String::new(),
        transaction_id: String::new(),
    });

    println!(
        "idv bench rpc: {} s per scenario, {} concurrent keep-alive connections, load generator in this process, servers in child processes",
        args.seconds, args.concurrency
    );
    println!("{:<34} {:>10} {:>10} {:>10} {:>8}", "scenario", "req/s", "p50 ms", "p99 ms", "errors");
    let mut bare_rps = f64::NAN;
    for (name, kind, t) in [
        ("bare axum handler (baseline)", Kind::Bare, bare_target.clone()),
        ("Initialize (sign+verify, 3 writes)", Kind::Initialize, target.clone()),
        ("CheckResult (sign+verify, 2 writes)", Kind::CheckResult, target.clone()),
    ] {
        let s = run(kind, t, args.seconds, args.concurrency).await?;
        let rps = s.ok as f64 / s.elapsed.as_secs_f64();
        if matches!(kind, Kind::Bare) {
            bare_rps = rps;
        }
        println!(
            "{:<34} {:>10.0} {:>10.2} {:>10.2} {:>8}   ({:.1}% of bare)",
            name,
            rps,
            pct(&s.latencies, 0.50),
            pct(&s.latencies, 0.99),
            s.unexpected,
            100.0 * rps / bare_rps
        );
        if !s.by_status.is_empty() {
            let list: Vec<String> = s.by_status.iter().map(|(status, n)| format!("{n} × HTTP {status}")).collect();
            println!("{:<34} unexpected answers: {} (HTTP 0: no answer)", "", list.join(", "));
        }
    }
    drop(idv);
    drop(bare);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempdir() -> Result<std::path::PathBuf> {
    let p = std::env::temp_dir().join(format!("idv-bench-{}", idv_crypto::random_hex(6)));
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

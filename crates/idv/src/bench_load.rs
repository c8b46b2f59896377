//! `idv bench load`: one or two `idv serve` instances on one PostgreSQL database (and, with `--blob-url`, one
//! bucket), behind a round-robin TCP load balancer in this process, under a mix of merchant calls (Initialize,
//! CheckResult) and whole eKYC flows (the phone simulator through the merchant demo: device rounds on the engines).
//! Bounded in time and requests, loopback only. With `--kill-one-after S` the first instance is SIGKILLed S seconds
//! in; the load goes on through the survivors, and afterwards every transaction whose Initialize was acknowledged
//! and every verdict a device was told is read back from a surviving instance: the report says how many were lost
//! (the crash test asserts none) and how the survivors answered after the kill.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idv_api::sign::sign_acs3;
use serde_json::{Value, json};

pub struct LoadArgs {
    pub database_url: String,
    pub blob_url: Option<String>,
    pub instances: usize,
    pub seconds: u64,
    pub max_requests: usize,
    pub concurrency: usize,
    pub flows: usize,
    pub kill_one_after: Option<f64>,
    pub assets: PathBuf,
    pub json: bool,
}

const META: &str = r#"{"deviceType":"android","bioMetaInfo":"1.0.0:15,0","osVersion":"14","deviceModel":"Pixel 7"}"#;

/// A child `idv` process; killed (SIGKILL) when dropped if still running.
struct Running {
    child: Child,
    addr: String,
    /// Its stderr so far, when captured.
    log: Option<Arc<Mutex<String>>>,
}

impl Running {
    fn log(&self) -> String {
        self.log.as_ref().map(|l| l.lock().expect("log").clone()).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn exe() -> Result<PathBuf> {
    Ok(std::env::current_exe()?)
}

fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Result<Running> {
    spawn_with(args, envs, false)
}

/// [`spawn`], keeping the child's info-level log in memory when `capture` (the merchant demo's names each
/// transaction's MerchantBizId).
fn spawn_with(args: &[&str], envs: &[(&str, &str)], capture: bool) -> Result<Running> {
    let mut cmd = Command::new(exe()?);
    cmd.args(args).env("IDV_LOG", if capture { "info" } else { "warn" }).stdout(Stdio::piped()).stderr(if capture {
        Stdio::piped()
    } else {
        Stdio::inherit()
    });
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("child stdout")?).read_line(&mut line)?;
    let addr = line.trim().to_owned();
    if addr.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        bail!("idv {args:?} printed no address");
    }
    let log = match (capture, child.stderr.take()) {
        (true, Some(err)) => {
            let log = Arc::new(Mutex::new(String::new()));
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(|l| l.ok()) {
                    let mut s = sink.lock().expect("log");
                    s.push_str(&line);
                    s.push('\n');
                }
            });
            Some(log)
        }
        _ => None,
    };
    Ok(Running { child, addr, log })
}

fn admin(args: &[&str], envs: &[(&str, String)]) -> Result<Value> {
    let mut cmd = Command::new(exe()?);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("idv {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Round robin over the live backends, one backend per accepted connection; a backend that refuses the
/// connection is skipped, as a load balancer's health check would.
async fn balance(listener: tokio::net::TcpListener, backends: Vec<SocketAddr>, alive: Arc<Vec<AtomicBool>>) {
    let next = Arc::new(AtomicUsize::new(0));
    while let Ok((mut inbound, _)) = listener.accept().await {
        let (backends, alive, next) = (backends.clone(), alive.clone(), next.clone());
        tokio::spawn(async move {
            for _ in 0..backends.len() {
                let i = next.fetch_add(1, Ordering::Relaxed) % backends.len();
                if !alive[i].load(Ordering::Relaxed) {
                    continue;
                }
                if let Ok(mut out) = tokio::net::TcpStream::connect(backends[i]).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    return;
                }
            }
        });
    }
}

#[derive(Clone)]
struct Merchant {
    ak: String,
    secret: String,
}

/// A signed POST of `action` to `addr`: (HTTP status, the answer's JSON).
async fn call(
    http: &reqwest::Client,
    addr: &str,
    m: &Merchant,
    action: &str,
    params: &BTreeMap<String, String>,
) -> Result<(u16, Value)> {
    let nonce = idv_crypto::random_hex(16);
    let w = sign_acs3(
        "POST",
        addr,
        action,
        "2022-08-09",
        params,
        &BTreeMap::new(),
        &m.ak,
        &m.secret,
        time::OffsetDateTime::now_utc(),
        &nonce,
    );
    let mut rb = http.post(format!("http://{addr}/?{}", w.raw_query));
    for (k, v) in &w.headers {
        if k != "host" && k != "content-length" {
            rb = rb.header(k, v);
        }
    }
    let r = rb.body(w.body).send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[derive(Default)]
struct Tally {
    ok: usize,
    errors: usize,
    /// Failed requests that were under way when an instance was killed (their connection went down with it).
    cut: usize,
    after_kill_ok: usize,
    latencies: Vec<Duration>,
}

#[derive(Default)]
struct Shared {
    initialize: Tally,
    check_result: Tally,
    /// Transactions whose Initialize was acknowledged, with their MerchantBizId.
    acknowledged: Vec<(String, String)>,
    /// Flows a device was told the end of: transaction id, passed.
    verdicts: Vec<(String, String)>,
    flows_failed: usize,
    sent: usize,
    /// The first few unexpected answers, for the report.
    error_samples: Vec<String>,
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

pub async fn load(args: LoadArgs) -> Result<()> {
    if !(1..=2).contains(&args.instances) {
        bail!("--instances is 1 or 2");
    }
    if args.kill_one_after.is_some() && args.instances < 2 {
        bail!("--kill-one-after needs --instances 2: someone must keep serving");
    }
    if args.seconds == 0 || args.seconds > 600 || args.concurrency == 0 || args.concurrency > 256 {
        bail!("--seconds must be 1-600 and --concurrency 1-256");
    }
    let portrait = args.assets.join("testdata/faces/astronaut.png");
    if !portrait.exists() {
        bail!("{} is missing: run from the repository root after scripts/fetch-assets.sh", portrait.display());
    }
    let base = std::env::temp_dir().join(format!("idv-load-{}", idv_crypto::random_hex(6)));
    std::fs::create_dir_all(&base)?;
    let result = run(&args, &base, &portrait).await;
    let _ = std::fs::remove_dir_all(&base);
    result
}

async fn run(args: &LoadArgs, base: &Path, portrait: &Path) -> Result<()> {
    // The database's master key, if it has one already (a database used before); a new one otherwise.
    let master = std::env::var("IDV_MASTER_KEY").unwrap_or_else(|_| idv_crypto::random_hex(32));
    let mut env: Vec<(&str, String)> =
        vec![("IDV_MASTER_KEY", master.clone()), ("IDV_DATABASE_URL", args.database_url.clone())];
    // Without a bucket the instances share one blob directory, as they would share a mounted file system.
    let blob_url = match &args.blob_url {
        Some(b) => b.clone(),
        None => base.join("shared-blobs").to_str().context("temp path")?.to_owned(),
    };
    env.push(("IDV_BLOB_URL", blob_url));
    let admin_dir = base.join("admin");
    let ad = admin_dir.to_str().context("temp path")?;
    let m = admin(&["admin", "merchant", "create", "--data", ad, "--name", "load", "--json"], &env)?;
    let mid = m["MerchantId"].as_str().context("merchant id")?.to_owned();
    let k = admin(&["admin", "accesskey", "create", "--data", ad, "--merchant", &mid, "--json"], &env)?;
    let merchant = Merchant {
        ak: k["AccessKeyId"].as_str().context("ak")?.to_owned(),
        secret: k["AccessKeySecret"].as_str().context("secret")?.to_owned(),
    };
    let cb = admin(&["admin", "merchant", "callback-secret", "--data", ad, "--merchant", &mid, "--json"], &env)?;

    // Devices and the merchant demo reach the instances through the balancer, as they would in production.
    let lb_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let lb_addr = lb_listener.local_addr()?;
    let ports: Vec<u16> = (0..args.instances).map(|_| free_port()).collect::<Result<_>>()?;
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let assets = args.assets.to_str().context("assets path")?;
    let public = format!("http://{lb_addr}");
    let mut servers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let dir = base.join(format!("instance{i}"));
        let listen = format!("127.0.0.1:{port}");
        servers.push(Some(spawn(
            &[
                "serve",
                "--listen",
                &listen,
                "--public-url",
                &public,
                "--data",
                dir.to_str().context("temp path")?,
                "--assets",
                assets,
                "--test-mode",
                "--allow-private-callbacks",
                "--rate-limit",
                "1000000",
                "--rate-burst",
                "1000000",
                "--workers",
                "1",
            ],
            &env_ref,
        )?));
    }
    let backends: Vec<SocketAddr> =
        servers.iter().map(|s| s.as_ref().expect("started").addr.parse()).collect::<Result<_, _>>()?;
    let alive: Arc<Vec<AtomicBool>> = Arc::new(backends.iter().map(|_| AtomicBool::new(true)).collect());
    tokio::spawn(balance(lb_listener, backends.clone(), alive.clone()));
    let demo = spawn_with(
        &[
            "merchant-demo",
            "--listen",
            "127.0.0.1:0",
            "--idv-endpoint",
            &lb_addr.to_string(),
            "--access-key-id",
            &merchant.ak,
        ],
        &[
            ("IDV_MERCHANT_AK_SECRET", merchant.secret.as_str()),
            ("IDV_MERCHANT_CALLBACK_SECRET", cb["CallbackSecret"].as_str().unwrap_or("")),
        ],
        true,
    )?;
    let doc_dir = base.join("docs");
    let spec = Command::new(exe()?)
        .args(["specimen", "--out", doc_dir.to_str().context("temp path")?, "--kind", "td3", "--seed", "11"])
        .args(["--set", "portrait=astronaut.png"])
        .env("IDV_ASSETS_DIR", &args.assets)
        .output()?;
    if !spec.status.success() {
        bail!("idv specimen: {}", String::from_utf8_lossy(&spec.stderr));
    }
    let doc = PathBuf::from(String::from_utf8(spec.stdout)?.lines().next().context("specimen path")?);

    let shared = Arc::new(Mutex::new(Shared::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let killed_at: Arc<Mutex<Option<Duration>>> = Arc::new(Mutex::new(None));
    // New connection per request, so the balancer spreads the merchant calls over the instances.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(30)).build()?;

    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let (http, merchant, shared, killed_at) = (http.clone(), merchant.clone(), shared.clone(), killed_at.clone());
        let (lb, max) = (lb_addr.to_string(), args.max_requests);
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < deadline {
                {
                    let mut s = shared.lock().expect("tally");
                    if s.sent >= max {
                        break;
                    }
                    s.sent += 1;
                }
                n += 1;
                // Two Initialize calls for each CheckResult of an acknowledged transaction.
                let check = n.is_multiple_of(3);
                let tid = if check {
                    let s = shared.lock().expect("tally");
                    (!s.acknowledged.is_empty()).then(|| s.acknowledged[(n * 7 + w) % s.acknowledged.len()].clone())
                } else {
                    None
                };
                let biz = format!("load{w}x{n}");
                let t0 = Instant::now();
                let begun = started.elapsed();
                let r = match &tid {
                    Some((t, b)) => {
                        let p = params(&[("MerchantBizId", b), ("TransactionId", t)]);
                        call(&http, &lb, &merchant, "CheckResult", &p).await
                    }
                    None => {
                        let p = params(&[
                            ("ProductCode", "eKYC"),
                            ("MerchantBizId", &biz),
                            ("MerchantUserId", "load-user"),
                            ("MetaInfo", META),
                            ("DocType", "01000000"),
                        ]);
                        call(&http, &lb, &merchant, "Initialize", &p).await
                    }
                };
                let latency = t0.elapsed();
                let kill = *killed_at.lock().expect("kill time");
                let mut s = shared.lock().expect("tally");
                let ok = match (&tid, &r) {
                    (None, Ok((200, v))) => match v["Result"]["TransactionId"].as_str() {
                        Some(t) => {
                            s.acknowledged.push((t.to_owned(), biz.clone()));
                            true
                        }
                        None => false,
                    },
                    // An acknowledged transaction is found: its verdict, or not finished yet.
                    (Some(_), Ok((200, _))) => true,
                    (Some(_), Ok((404, v))) => v["Code"] == "ProcessNotCompleted",
                    _ => false,
                };
                let tally = if tid.is_some() { &mut s.check_result } else { &mut s.initialize };
                tally.latencies.push(latency);
                match (ok, kill) {
                    (true, Some(k)) if begun > k => {
                        tally.ok += 1;
                        tally.after_kill_ok += 1;
                    }
                    (true, _) => tally.ok += 1,
                    // Under way when the instance died (started before, ended after the kill).
                    (false, Some(k)) if begun <= k + Duration::from_millis(100) => tally.cut += 1,
                    (false, _) => {
                        tally.errors += 1;
                        if s.error_samples.len() < 5 {
                            let at = begun.as_secs_f64();
                            let what = match &r {
                                Ok((status, v)) => format!("HTTP {status} {v}"),
                                Err(e) => format!("{e:#}"),
                            };
                            s.error_samples.push(format!("at {at:.2} s: {what}"));
                        }
                    }
                }
            }
        }));
    }
    // Whole flows, one after another, on the engines of whichever instance the balancer picks.
    {
        let (shared, demo_url, doc, portrait, assets) =
            (shared.clone(), format!("http://{}", demo.addr), doc.clone(), portrait.to_path_buf(), args.assets.clone());
        let flows = args.flows;
        tasks.push(tokio::spawn(async move {
            for _ in 0..flows {
                if Instant::now() >= deadline {
                    break;
                }
                let out = tokio::process::Command::new(exe().expect("own path"))
                    .args(["device", "--merchant", &demo_url, "--json", "--doc-front"])
                    .arg(&doc)
                    .arg("--face-portrait")
                    .arg(&portrait)
                    .env("IDV_ASSETS_DIR", &assets)
                    .output()
                    .await;
                let answer: Option<Value> =
                    out.ok().filter(|o| o.status.success()).and_then(|o| serde_json::from_slice(&o.stdout).ok());
                let mut s = shared.lock().expect("tally");
                match answer.as_ref().and_then(|a| Some((a["transactionId"].as_str()?, a["passed"].as_str()?))) {
                    Some((t, p)) => s.verdicts.push((t.to_owned(), p.to_owned())),
                    None => s.flows_failed += 1,
                }
            }
        }));
    }
    if let Some(after) = args.kill_one_after {
        tokio::time::sleep(Duration::from_secs_f64(after)).await;
        if let Some(mut victim) = servers[0].take() {
            // Recorded first: a call the kill cuts fails after this, and must find it set.
            *killed_at.lock().expect("kill time") = Some(started.elapsed());
            alive[0].store(false, Ordering::Relaxed);
            let _ = victim.child.kill();
            let _ = victim.child.wait();
        }
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed();

    // Read back, from a surviving instance directly, everything that was acknowledged.
    let survivor = servers.iter().flatten().next().context("no instance survived")?.addr.clone();
    let verify = reqwest::Client::new();
    let (acknowledged, verdicts, flows_failed) = {
        let s = shared.lock().expect("tally");
        (s.acknowledged.clone(), s.verdicts.clone(), s.flows_failed)
    };
    let mut lost = Vec::new();
    for (t, biz) in &acknowledged {
        let p = params(&[("MerchantBizId", biz), ("TransactionId", t)]);
        match call(&verify, &survivor, &merchant, "CheckResult", &p).await {
            Ok((200, _)) => {}
            Ok((404, v)) if v["Code"] == "ProcessNotCompleted" => {}
            other => lost.push(json!({"transactionId": t, "answer": format!("{other:?}")})),
        }
    }
    let mut verdicts_lost = Vec::new();
    let demo_log = demo.log();
    for (t, passed) in &verdicts {
        // The demo chose the flow's MerchantBizId; its log line for the Initialize names it.
        let biz = demo_log
            .lines()
            .find(|l| l.contains("Initialize") && l.contains(t.as_str()))
            .and_then(|l| l.split("merchant_biz_id=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("")
            .to_owned();
        let p = params(&[("MerchantBizId", &biz), ("TransactionId", t)]);
        match call(&verify, &survivor, &merchant, "CheckResult", &p).await {
            Ok((200, v)) if v["Result"]["Passed"].as_str() == Some(passed) => {}
            other => verdicts_lost.push(json!({"transactionId": t, "told": passed, "answer": format!("{other:?}")})),
        }
    }
    let mut s = shared.lock().expect("tally");
    s.initialize.latencies.sort();
    s.check_result.latencies.sort();
    let kill = *killed_at.lock().expect("kill time");
    let row = |t: &Tally| {
        json!({
            "ok": t.ok, "errors": t.errors, "cutByKill": t.cut, "okAfterKill": t.after_kill_ok,
            "perSecond": t.ok as f64 / elapsed.as_secs_f64(),
            "p50Ms": pct(&t.latencies, 0.5), "p99Ms": pct(&t.latencies, 0.99),
        })
    };
    let report = json!({
        "instances": args.instances,
        "seconds": elapsed.as_secs_f64(),
        "killedAtSeconds": kill.map(|k| k.as_secs_f64()),
        "initialize": row(&s.initialize),
        "checkResult": row(&s.check_result),
        "flows": {"completed": verdicts.len(), "failed": flows_failed},
        "acknowledgedTransactions": acknowledged.len(),
        "lostTransactions": lost,
        "acknowledgedVerdicts": verdicts.len(),
        "lostVerdicts": verdicts_lost,
        "errorSamples": s.error_samples,
    });
    drop(demo);
    drop(servers);
    if args.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "idv bench load: {} instance(s) on one PostgreSQL database{}, {:.1} s, {} merchant workers, flows one at a time",
        args.instances,
        if args.blob_url.is_some() { " and one bucket" } else { "" },
        elapsed.as_secs_f64(),
        args.concurrency
    );
    println!("{:<12} {:>8} {:>9} {:>9} {:>8} {:>10}", "call", "req/s", "p50 ms", "p99 ms", "errors", "cut by kill");
    for (name, t) in [("Initialize", &s.initialize), ("CheckResult", &s.check_result)] {
        println!(
            "{:<12} {:>8.1} {:>9.2} {:>9.2} {:>8} {:>10}",
            name,
            t.ok as f64 / elapsed.as_secs_f64(),
            pct(&t.latencies, 0.5),
            pct(&t.latencies, 0.99),
            t.errors,
            t.cut
        );
    }
    println!("eKYC flows (device rounds on the engines): {} completed, {} failed", verdicts.len(), flows_failed);
    if let Some(k) = kill {
        println!(
            "instance 0 SIGKILLed at {:.1} s; the survivors answered {} calls after it",
            k.as_secs_f64(),
            s.initialize.after_kill_ok + s.check_result.after_kill_ok
        );
    }
    println!(
        "acknowledged: {} transactions, {} verdicts; lost: {} transactions, {} verdicts",
        acknowledged.len(),
        verdicts.len(),
        lost.len(),
        verdicts_lost.len()
    );
    Ok(())
}

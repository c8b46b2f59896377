//! Hostile clients at the transport: stalled connections (slow-loris), the connection cap, unauthenticated work
//! per client address, unsigned large bodies, and `/metrics` behind its token.
//!
//! No assertion here measures time: a stalled connection must be closed *eventually* (within a generous bound),
//! and other clients must be served meanwhile.

use std::net::IpAddr;
use std::time::Duration;

use idv_api::sign::sign_acs3;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{META_ANDROID, METRICS_TOKEN, Merchant, Server, init_params, map, nonce, start_with};

/// Far above any timeout these tests configure: reaching it means the server kept the connection.
const BOUND: Duration = Duration::from_secs(30);

/// Reads until the server closes the connection; `None` if it is still open after [`BOUND`].
async fn read_until_closed(conn: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(BOUND, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    closed.ok().map(|()| String::from_utf8_lossy(&got).into_owned())
}

async fn healthz(s: &Server) -> u16 {
    let r = tokio::time::timeout(BOUND, reqwest::get(s.url("/healthz"))).await.expect("served within the bound");
    r.unwrap().status().as_u16()
}

#[tokio::test]
async fn stalled_connections_are_closed_while_others_are_served() {
    let s = start_with(tempfile::tempdir().unwrap(), |c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.body_read_timeout = Duration::from_secs(2);
        // Beyond the bound: what closes these connections must be the header and body timeouts (the idle
        // timeout has its own test in `transport.rs`).
        c.idle_timeout = Duration::from_secs(120);
    })
    .await;
    let host = s.addr.to_string();
    // Headers trickled and never finished.
    let mut headers = TcpStream::connect(s.addr).await.unwrap();
    headers.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: ").as_bytes()).await.unwrap();
    // A body announced and never sent in full (signed-looking, so it is not refused before reading).
    let mut body = TcpStream::connect(s.addr).await.unwrap();
    body.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nAuthorization: ACS3-HMAC-SHA256 x\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nA=12345"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // Connected and silent.
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    // Served once, then left open and idle.
    let mut idle = TcpStream::connect(s.addr).await.unwrap();
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await.unwrap();
    let mut first = [0u8; 12];
    tokio::time::timeout(BOUND, idle.read_exact(&mut first)).await.unwrap().unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    assert_eq!(healthz(&s).await, 200, "a new client is served while the others stall");

    assert!(read_until_closed(&mut headers).await.is_some(), "a client that never finishes its headers is cut off");
    let answer = read_until_closed(&mut body).await.expect("a client that never finishes its body is cut off");
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("InvalidParameter"), "{answer}");
    assert!(answer.contains("was not received within 2 s"), "{answer}");
    assert!(read_until_closed(&mut silent).await.is_some(), "a silent connection is closed");
    assert!(read_until_closed(&mut idle).await.is_some(), "an idle keep-alive connection is closed");
    assert_eq!(healthz(&s).await, 200);
    tokio::time::timeout(BOUND, s.stop()).await.expect("shutdown finishes");
}

#[tokio::test]
async fn a_full_connection_cap_still_serves_new_clients_once_stalled_ones_time_out() {
    let s = start_with(tempfile::tempdir().unwrap(), |c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.max_connections = 2;
    })
    .await;
    let host = s.addr.to_string();
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        c.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n").as_bytes()).await.unwrap();
        stalled.push(c);
    }
    // Both slots are held by stalled clients: this one waits in the backlog until a slot frees.
    assert_eq!(healthz(&s).await, 200);
    for c in &mut stalled {
        assert!(read_until_closed(c).await.is_some(), "stalled connections give their slot back");
    }
    assert_eq!(healthz(&s).await, 200);
    tokio::time::timeout(BOUND, s.stop()).await.expect("shutdown finishes");
}

/// An ACS3-signed Initialize sent from `local` (any 127/8 address is loopback on Linux).
async fn initialize_from(s: &Server, m: &Merchant, local: IpAddr) -> (u16, serde_json::Value) {
    let wire = sign_acs3(
        "POST",
        &s.addr.to_string(),
        "Initialize",
        "2022-08-09",
        &map(&init_params("eKYC", META_ANDROID)),
        &map(&[]),
        &m.ak,
        &m.secret,
        time::OffsetDateTime::now_utc(),
        &nonce(),
    );
    send_from(s, local, &wire.raw_query, &wire.headers, wire.body).await
}

async fn send_from(
    s: &Server,
    local: IpAddr,
    raw_query: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let client = reqwest::Client::builder().local_address(local).build().unwrap();
    let mut rb = client.post(s.url(&format!("/?{raw_query}")));
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("content-length") {
            rb = rb.header(k, v);
        }
    }
    let resp = rb.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp.headers().get("x-acs-retry-after").map(|v| v.to_str().unwrap().to_owned());
    let mut json: serde_json::Value = resp.json().await.unwrap();
    if let Some(retry) = retry {
        json["x-acs-retry-after"] = retry.into();
    }
    (status, json)
}

#[tokio::test]
async fn unauthenticated_requests_are_limited_per_address_signed_ones_are_not() {
    let s = start_with(tempfile::tempdir().unwrap(), |c| {
        c.unauth_burst = 5.0;
        // One token per 1000 s: nothing refills during the test.
        c.unauth_rate_per_second = 0.001;
    })
    .await;
    let m = s.merchant("A").await;
    let [attacker, merchant, other]: [IpAddr; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"].map(|a| a.parse().unwrap());

    // Signed requests are not charged: more of them than the burst all pass.
    for _ in 0..8 {
        let (status, json) = initialize_from(&s, &m, merchant).await;
        assert_eq!(status, 200, "{json}");
    }

    let forged = map(&[("Signature", "AAAA"), ("AccessKeyId", "IDVNOSUCHKEY")]);
    let forged_query = idv_api::sign::canon::canonical_query(&forged);
    for i in 0..5 {
        // Unsigned and wrongly signed requests alike.
        let q = if i % 2 == 0 { "Action=Initialize" } else { forged_query.as_str() };
        let (status, json) = send_from(&s, attacker, q, &[], Vec::new()).await;
        assert!(matches!(status, 400 | 404), "{status} {json}");
    }
    let (status, json) = send_from(&s, attacker, "Action=Initialize", &[], Vec::new()).await;
    assert_eq!((status, json["Code"].as_str()), (429, Some("Throttling.User")), "{json}");
    let retry: u64 = json["x-acs-retry-after"].as_str().expect("x-acs-retry-after").parse().unwrap();
    assert!(retry > 0);
    // The drained address is refused before its request is looked at, whatever it carries.
    let (status, _) = initialize_from(&s, &m, attacker).await;
    assert_eq!(status, 429);

    // Other addresses are not affected.
    let (status, json) = initialize_from(&s, &m, merchant).await;
    assert_eq!(status, 200, "{json}");
    let (status, json) = send_from(&s, other, "Action=Initialize", &[], Vec::new()).await;
    assert_eq!((status, json["Code"].as_str()), (400, Some("IncompleteSignature")), "{json}");

    // Refusals after the signature verified (here a replayed nonce) are a key holder's, not charged either.
    let wire = sign_acs3(
        "POST",
        &s.addr.to_string(),
        "Initialize",
        "2022-08-09",
        &map(&init_params("eKYC", META_ANDROID)),
        &map(&[]),
        &m.ak,
        &m.secret,
        time::OffsetDateTime::now_utc(),
        &nonce(),
    );
    let replayer: IpAddr = "127.0.0.4".parse().unwrap();
    for i in 0..8 {
        let (status, json) = send_from(&s, replayer, &wire.raw_query, &wire.headers, wire.body.clone()).await;
        let expected = if i == 0 { "Success" } else { "SignatureNonceUsed" };
        assert_eq!(json["Code"].as_str(), Some(expected), "{status} {json}");
    }
    s.stop().await;
}

#[tokio::test]
async fn signed_requests_in_flight_together_are_not_limited_by_the_address_burst() {
    // A merchant's server sends many signed requests at once from one address. Each used to take an
    // unauthenticated-request token on arrival and give it back once its signature verified, so those beyond the
    // burst were refused while the others were still in flight; now only failures are charged.
    let s = start_with(tempfile::tempdir().unwrap(), |c| {
        c.unauth_burst = 2.0;
        c.unauth_rate_per_second = 0.001;
    })
    .await;
    let m = s.merchant("A").await;
    let local: IpAddr = "127.0.0.5".parse().unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (addr, ak, secret) = (s.addr.to_string(), m.ak.clone(), m.secret.clone());
        calls.spawn(async move {
            let wire = sign_acs3(
                "POST",
                &addr,
                "Initialize",
                "2022-08-09",
                &map(&init_params("eKYC", META_ANDROID)),
                &map(&[]),
                &ak,
                &secret,
                time::OffsetDateTime::now_utc(),
                &nonce(),
            );
            let client = reqwest::Client::builder().local_address(local).build().unwrap();
            let mut rb = client.post(format!("http://{addr}/?{}", wire.raw_query));
            for (k, v) in &wire.headers {
                if k != "host" && k != "content-length" {
                    rb = rb.header(k, v);
                }
            }
            rb.body(wire.body).send().await.unwrap().status().as_u16()
        });
    }
    let statuses: Vec<u16> = calls.join_all().await;
    assert!(statuses.iter().all(|&st| st == 200), "{statuses:?}");
    // The address is still limited for what it gets wrong: two failures spend the burst, the third is refused.
    for _ in 0..2 {
        let (status, _) = send_from(&s, local, "Action=Initialize", &[], Vec::new()).await;
        assert_eq!(status, 400);
    }
    let (status, json) = send_from(&s, local, "Action=Initialize", &[], Vec::new()).await;
    assert_eq!((status, json["Code"].as_str()), (429, Some("Throttling.User")), "{json}");
    s.stop().await;
}

/// Sends `head` and then `body` on a raw connection (the body in its own task: the server may answer, and close,
/// before taking it all) and returns what the server answered.
async fn raw_exchange(s: &Server, head: String, body: std::sync::Arc<Vec<u8>>) -> String {
    let conn = TcpStream::connect(s.addr).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    let writer = tokio::spawn(async move {
        if wr.write_all(head.as_bytes()).await.is_ok() {
            // A refusal closes the connection mid-body: the write error is expected then.
            let _ = wr.write_all(&body).await;
        }
        wr
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(BOUND, async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            // One response is all this asks for; stop at the end of its (small, JSON) body.
            if got.ends_with(b"}") {
                return;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server answered within the bound");
    writer.abort();
    String::from_utf8_lossy(&got).into_owned()
}

/// Peak resident memory since the last reset, and the current one, in KiB (Linux).
fn vm_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resets the process's peak RSS (VmHWM) to its current RSS (`proc(5)`, clear_refs, value 5).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

const CHILD_ENV: &str = "IDV_TEST_MEMORY_CHILD";
const TEST_NAME: &str = "hostile_transport::large_unauthenticated_bodies_cost_little_memory";

/// Runs in a child process of this test binary, alone: VmHWM is per process, so any test running beside it (the
/// engines decode images) would add to the peak.
#[test]
fn large_unauthenticated_bodies_cost_little_memory() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return tokio::runtime::Runtime::new().unwrap().block_on(memory_child());
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stdout.lines().filter(|l| l.contains("peak RSS")) {
        println!("{line}");
    }
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("memory-child-done"), "the child ran the measurement:\n{stdout}");
}

async fn memory_child() {
    const MIB: u64 = 1024;
    let s = start_with(tempfile::tempdir().unwrap(), |_| {}).await;
    let host = s.addr.to_string();
    let len = 12 * 1024 * 1024;
    // '*' grows 5-fold in a V1 string to sign; the body buffer exists before the measurement starts.
    let body = std::sync::Arc::new([b"FacePictureBase64=".as_slice(), &vec![b'*'; len - 18]].concat());
    let head_of = |query: &str, len: usize| {
        format!(
            "POST /?{query} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {len}\r\nConnection: close\r\n\r\n"
        )
    };
    let head = |query: &str| head_of(query, len);
    // Warm up the connection path once, so the measurement sees the request, not first-use allocations.
    let _ = raw_exchange(&s, head_of("Action=FaceCompare", 0), std::sync::Arc::new(Vec::new())).await;

    // Unsigned: refused before the body is read.
    reset_peak();
    let before = vm_kib("VmRSS:");
    let answer = raw_exchange(&s, head("Action=FaceCompare"), body.clone()).await;
    let unsigned_growth = vm_kib("VmHWM:").saturating_sub(before);
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("IncompleteSignature"), "{answer}");
    println!("unsigned 12 MiB request: peak RSS grew {} MiB", unsigned_growth / MIB);
    // Reading the body alone would take 12 MiB and keeping it twice that; the limit leaves room for noise.
    assert!(unsigned_growth < 8 * MIB, "an unsigned 12 MiB body cost {} MiB", unsigned_growth / MIB);

    // Signature-looking V1 with an unknown key: read and parsed (it might be real), but the string to sign is
    // streamed, never built: ~120 MB before.
    let query = "Action=FaceCompare&Version=2022-08-09&AccessKeyId=IDVNOSUCHKEY&SignatureMethod=HMAC-SHA1\
                 &SignatureVersion=1.0&SignatureNonce=n1&Timestamp=2025-01-01T00%3A00%3A00Z&Signature=AAAA";
    reset_peak();
    let before = vm_kib("VmRSS:");
    let answer = raw_exchange(&s, head(query), body.clone()).await;
    let v1_growth = vm_kib("VmHWM:").saturating_sub(before);
    assert!(answer.contains("InvalidAccessKeyId.NotFound"), "{answer}");
    println!("fake-signed V1 12 MiB request: peak RSS grew {} MiB", v1_growth / MIB);
    // The body (12 MiB), its collected copy and the decoded parameter (12 MiB each) are inherent.
    assert!(v1_growth < 64 * MIB, "a fake-signed V1 12 MiB body cost {} MiB", v1_growth / MIB);
    s.stop().await;
    println!("memory-child-done");
}

#[tokio::test]
async fn metrics_need_the_token_and_are_off_without_one() {
    let client = reqwest::Client::new();
    let s = start_with(tempfile::tempdir().unwrap(), |_| {}).await;
    let r = client.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404, "no token configured: no metrics");
    s.stop().await;

    let s = start_with(tempfile::tempdir().unwrap(), |c| c.metrics_token = Some(METRICS_TOKEN.into())).await;
    let r = client.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    for wrong in ["", "test-metrics-token", "test-metrics-token-0123456789x", "TEST-METRICS-TOKEN-0123456789"] {
        let r = client.get(s.url("/metrics")).bearer_auth(wrong).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{wrong:?}");
    }
    let r = client.get(s.url("/metrics")).header("authorization", METRICS_TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "the token alone is not the Bearer scheme");
    let r = client.get(s.url("/metrics")).bearer_auth(METRICS_TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "the Prometheus text format: {text}");
    s.stop().await;
}

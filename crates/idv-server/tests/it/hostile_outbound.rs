//! Hostile merchants aiming the server's own requests (CallbackUrl) at its network: every form that once passed
//! the hand-made host check, names resolving to loopback, and the operator's `allow_private_callbacks`.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::helpers::{Device, Server};
use crate::helpers::{META_ANDROID, assert_error, call, init_params, map, start, start_with};

/// How long a refused callback is given to show up anyway. The first attempt starts as soon as the transaction
/// ends (the next is 4 s later), so a callback that was going to be sent is sent well within this.
const NO_CALLBACK_WAIT: Duration = Duration::from_secs(3);
/// Upper bound for a callback that must arrive.
const CALLBACK_WAIT: Duration = Duration::from_secs(30);

/// A loopback HTTP listener answering 200 to everything; each request's first line comes out of the channel.
async fn callback_listener() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let head = crate::helpers::read_request_head(&mut conn).await;
            let line = head.lines().next().unwrap_or("").to_owned();
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
            let _ = tx.send(line);
        }
    });
    (port, rx)
}

/// Initializes with `callback_url`, starts the device session and cancels it: the transaction ends, which fires
/// the callback.
async fn end_with_callback(s: &Server, callback_url: &str) -> String {
    let m = s.merchant("A").await;
    let params = [
        init_params("FACE_LIVENESS", META_ANDROID),
        vec![("CallbackUrl", callback_url), ("CallbackToken", "cbtok0123456789")],
    ]
    .concat();
    let (mut dev, tid) = Device::initialized(s, &m, &params, &map(&[])).await;
    dev.start().await;
    let (st, v) = dev.post("cancel", &serde_json::json!({})).await;
    assert_eq!(st, 200, "{v}");
    tid
}

#[tokio::test]
async fn callback_url_bypass_forms_are_refused_at_initialize() {
    let s = start().await;
    let m = s.merchant("A").await;
    for bad in [
        // Names the old check took for loopback (http allowed) or whose host it misread.
        "http://127.evil.example/cb",
        "http://evil.example\\@127.0.0.1/cb",
        "https://merchant.example\\@127.0.0.1/cb",
        "https://user:pw@merchant.example/cb",
        "https://127.0.0.1@merchant.example/cb",
        "https:/127.0.0.1/cb",
        // Literal loopback in every spelling the URL parser accepts.
        "http://127.0.0.1:9/cb",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://%31%32%37.0.0.1/",
        "http://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::127.0.0.1]/",
        "https://[64:ff9b::7f00:1]/",
        // Private and other special ranges, over https too.
        "https://10.0.0.1/cb",
        "https://172.16.0.1/cb",
        "https://192.168.1.1/cb",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://255.255.255.255/",
        "https://224.0.0.1/",
        "https://192.0.2.1/",
        "https://[::]/",
        "https://[fc00::1]/",
        "https://[fe80::1]/",
        "https://[ff02::1]/",
        "https://[2001:db8::1]/",
        "ftp://merchant.example/cb",
    ] {
        let params = [init_params("FACE_LIVENESS", META_ANDROID), vec![("CallbackUrl", bad)]].concat();
        let r = call(&s, &m, "Initialize", &params).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.json);
        assert_error(&r, 400, "InvalidParameter");
        assert!(r.json["Message"].as_str().unwrap().contains("CallbackUrl"), "{bad}: {}", r.json);
    }
    for ok in
        ["https://merchant.example/cb?x=1", "https://8.8.8.8/cb", "https://[2606:4700::1111]/", "http://localhost:9/cb"]
    {
        let params = [init_params("FACE_LIVENESS", META_ANDROID), vec![("CallbackUrl", ok)]].concat();
        let r = call(&s, &m, "Initialize", &params).await;
        assert_eq!(r.status, 200, "{ok}: {}", r.json);
    }
    s.stop().await;
}

#[tokio::test]
async fn the_operator_can_allow_private_callbacks() {
    let s = start_with(tempfile::tempdir().unwrap(), |c| c.allow_private_callbacks = true).await;
    let m = s.merchant("A").await;
    for ok in ["http://127.0.0.1:9/cb", "http://[::1]:9/cb", "https://10.0.0.1/cb", "https://[fd00::1]/"] {
        let params = [init_params("FACE_LIVENESS", META_ANDROID), vec![("CallbackUrl", ok)]].concat();
        let r = call(&s, &m, "Initialize", &params).await;
        assert_eq!(r.status, 200, "{ok}: {}", r.json);
    }
    // The flag is about addresses; the syntax rules stay.
    for bad in ["http://evil.example\\@127.0.0.1/cb", "http://user@127.0.0.1/cb", "http://10.0.0.1/cb"] {
        let params = [init_params("FACE_LIVENESS", META_ANDROID), vec![("CallbackUrl", bad)]].concat();
        assert_error(&call(&s, &m, "Initialize", &params).await, 400, "InvalidParameter");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_not_called_back() {
    let (port, mut seen) = callback_listener().await;
    let s = start().await;
    end_with_callback(&s, &format!("http://localhost:{port}/cb")).await;
    let got = tokio::time::timeout(NO_CALLBACK_WAIT, seen.recv()).await;
    assert!(got.is_err(), "the callback reached loopback: {got:?}");
    s.stop().await;
}

#[tokio::test]
async fn with_the_flag_a_name_resolving_to_loopback_is_called_back() {
    let (port, mut seen) = callback_listener().await;
    let s = start_with(tempfile::tempdir().unwrap(), |c| c.allow_private_callbacks = true).await;
    let tid = end_with_callback(&s, &format!("http://localhost:{port}/cb")).await;
    let line = tokio::time::timeout(CALLBACK_WAIT, seen.recv()).await.expect("no callback").unwrap();
    assert!(line.starts_with(&format!("GET /cb?transactionId={tid}&passed=N&")), "{line}");
    assert!(line.contains("callbackToken=cbtok0123456789"), "{line}");
    s.stop().await;
}

/// A literal loopback CallbackUrl accepted while the flag was on is not called once the operator turned it off:
/// delivery checks literal addresses again (they never reach the resolver).
#[tokio::test]
async fn a_literal_loopback_url_is_checked_again_at_delivery() {
    let (port, mut seen) = callback_listener().await;
    let s = start_with(tempfile::tempdir().unwrap(), |c| c.allow_private_callbacks = true).await;
    let m = s.merchant("A").await;
    let url = format!("http://127.0.0.1:{port}/cb");
    let params = [init_params("FACE_LIVENESS", META_ANDROID), vec![("CallbackUrl", url.as_str())]].concat();
    let (mut dev, _) = Device::initialized(&s, &m, &params, &map(&[])).await;
    let dir = s.stop().await;

    let s = start_with(dir, |c| c.allow_private_callbacks = false).await;
    dev.api = format!("http://{}/device/v1", s.addr);
    dev.start().await;
    let (st, v) = dev.post("cancel", &serde_json::json!({})).await;
    assert_eq!(st, 200, "{v}");
    let got = tokio::time::timeout(NO_CALLBACK_WAIT, seen.recv()).await;
    assert!(got.is_err(), "the callback reached loopback: {got:?}");
    s.stop().await;
}

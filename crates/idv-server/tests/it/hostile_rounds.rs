//! Hostile clients: concurrent copies of one round, floods of device calls from one transaction or one address,
//! replayed merchant requests, rows the expiry sweep cannot open, and error bodies that would echo the input.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use idv_store::{NewTransaction, TxState};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::helpers::{Device, Server, assert_error, face_b64, no_face_b64, nonce, round_body, send, start_with};

/// A server accepting the tests' file captures, tuned by `tune`.
async fn server(tune: impl FnOnce(&mut idv_server::ServerConfig)) -> Server {
    start_with(tempfile::tempdir().unwrap(), |c| {
        c.test_mode = true;
        tune(c);
    })
    .await
}

/// A device call with the answer's headers (`Retry-After`) and its raw body size.
async fn post(dev: &Device, endpoint: &str, body: &[u8]) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let url = format!("{}/{endpoint}", dev.api);
    let path = url::Url::parse(&url).unwrap().path().to_owned();
    let mac = idv_protocol::device::request_mac(&dev.cred, "POST", &path, &dev.session, body);
    let resp = reqwest::Client::new()
        .post(&url)
        .header("x-idv-config", &dev.cfg)
        .header("x-idv-session", &dev.session)
        .header("x-idv-signature", mac)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn retry_after(h: &reqwest::header::HeaderMap) -> u64 {
    h.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("a Retry-After header")
}

#[tokio::test]
async fn concurrent_copies_of_a_round_run_the_engines_once() {
    let s = server(|_| {}).await;
    let m = s.merchant("A").await;
    let (mut dev, tid) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    let next = dev.start().await["next"].clone();
    // Many frames without a face: a retake, after enough engine work that the copies overlap it.
    let body = Arc::new(serde_json::to_vec(&round_body(&next, &no_face_b64(), 12)).unwrap());
    let dev = Arc::new(dev);
    let mut copies = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (dev, body) = (dev.clone(), body.clone());
        copies.spawn(async move { post(&dev, "round", &body).await });
    }
    let mut answers = Vec::new();
    while let Some(r) = copies.join_next().await {
        answers.push(r.unwrap());
    }
    let ran: Vec<Value> = answers.iter().filter(|a| a.0 == 200).map(|a| json(&a.2)).collect();
    assert!(!ran.is_empty(), "one copy runs the round");
    assert!(ran.iter().all(|r| *r == ran[0]), "every 200 is the one round's answer: {ran:?}");
    assert_eq!(ran[0]["outcome"], "retake", "{}", ran[0]);
    let mut in_progress = 0;
    for (status, headers, bytes) in answers.iter().filter(|a| a.0 != 200) {
        let v = json(bytes);
        assert_eq!((*status, v["code"].as_str()), (409, Some("RoundInProgress")), "{v}");
        assert!(v.get("result_code").is_none(), "not final: {v}");
        assert!(retry_after(headers) >= 1);
        in_progress += 1;
    }
    assert_eq!(ran.len() + in_progress, 8);

    // One round was accepted, and the flow goes on from its answer.
    let session = s.store.get_device_session(&tid).await.unwrap().unwrap();
    assert_eq!(session.version, 2, "exactly one round was saved");
    let (st, _, again) = post(&dev, "round", &body).await;
    assert_eq!((st, json(&again)), (200, ran[0].clone()), "an exact resend gets the stored answer");
    let face = serde_json::to_vec(&round_body(&ran[0]["next"], &face_b64("obama.jpg"), 3)).unwrap();
    let (st, _, done) = post(&dev, "round", &face).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&done));
    assert!(json(&done)["outcome"].is_string());
    s.stop().await;
}

#[tokio::test]
async fn one_transaction_cannot_flood_the_device_api() {
    let s = server(|c| {
        c.device_rate_per_transaction = 0.001;
        c.device_burst_per_transaction = 3.0;
    })
    .await;
    let m = s.merchant("A").await;
    let (mut dev, _) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    dev.start().await;
    for _ in 0..2 {
        assert_eq!(post(&dev, "status", b"{}").await.0, 200);
    }
    let (st, h, body) = post(&dev, "status", b"{}").await;
    let v = json(&body);
    assert_eq!((st, v["code"].as_str()), (429, Some("Throttled")), "{v}");
    assert!(retry_after(&h) >= 1);
    // Another transaction from the same address is not affected.
    let (mut other, _) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    other.start().await;
    assert_eq!(post(&other, "status", b"{}").await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn one_address_cannot_flood_the_device_api() {
    let s = server(|c| {
        c.device_rate_per_address = 0.001;
        c.device_burst_per_address = 4.0;
    })
    .await;
    let m = s.merchant("A").await;
    let (mut a, _) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    a.start().await;
    assert_eq!(post(&a, "status", b"{}").await.0, 200);
    let (mut b, _) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    b.start().await;
    assert_eq!(post(&b, "status", b"{}").await.0, 200);
    // Four calls spent the address's burst, across two transactions; even an unauthenticated one is refused.
    let (st, h, body) = post(&b, "status", b"{}").await;
    let v = json(&body);
    assert_eq!((st, v["code"].as_str()), (429, Some("Throttled")), "{v}");
    assert!(retry_after(&h) >= 1);
    let forged = Device { cfg: "idv1.x.y".into(), api: a.api.clone(), cred: a.cred.clone(), session: String::new() };
    assert_eq!(post(&forged, "status", b"{}").await.0, 429, "checked before any authentication work");
    s.stop().await;
}

#[tokio::test]
async fn replays_of_a_signed_request_do_not_throttle_fresh_ones() {
    let s = server(|c| {
        c.rate_limit_per_second = 0.001;
        c.rate_limit_burst = 2.0;
    })
    .await;
    let a = s.merchant("A").await;
    let signed = |nonce: &str| {
        idv_api::sign::sign_acs3(
            "POST",
            &s.addr.to_string(),
            "CheckResult",
            "2022-08-09",
            &crate::helpers::map(&[("MerchantBizId", "biz0001"), ("TransactionId", &"0".repeat(32))]),
            &BTreeMap::new(),
            &a.ak,
            &a.secret,
            time::OffsetDateTime::now_utc(),
            nonce,
        )
    };
    let wire = signed(&nonce());
    let first = send(&s, "POST", &wire.raw_query, &wire.headers, wire.body.clone()).await;
    assert_ne!(first.status, 429, "{}", first.json);
    for _ in 0..3 {
        let replay = send(&s, "POST", &wire.raw_query, &wire.headers, wire.body.clone()).await;
        assert_error(&replay, 400, "SignatureNonceUsed");
    }
    let fresh = signed(&nonce());
    let r = send(&s, "POST", &fresh.raw_query, &fresh.headers, fresh.body.clone()).await;
    assert_ne!(r.status, 429, "replays spent no token of the key: {}", r.json);
    s.stop().await;
}

#[tokio::test]
async fn the_expiry_sweep_goes_past_a_transaction_it_cannot_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idv.sqlite3");
    let s = start_with(dir, |c| c.sweep_interval = Duration::from_millis(100)).await;
    let a = s.merchant("A").await;
    let overdue = |id: &str, expires_at| NewTransaction {
        id: id.to_owned(),
        merchant_id: a.id.clone(),
        merchant_biz_id: "biz0001".into(),
        product: "eKYC".into(),
        options: b"{}".to_vec(),
        device_secret: Zeroizing::new(vec![1; 32]),
        created_at: 0,
        expires_at,
        retain_until: expires_at,
    };
    let (broken, fine) = (idv_crypto::random_hex(16), idv_crypto::random_hex(16));
    s.store.create_transaction(overdue(&broken, 1)).await.unwrap();
    s.store.create_transaction(overdue(&fine, 2)).await.unwrap();
    // A damaged row, listed first on every pass: its data key no longer opens.
    let pool = sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&db)).await.unwrap();
    sqlx::query("UPDATE transactions SET dek_wrapped = x'00' WHERE id = ?").bind(&broken).execute(&pool).await.unwrap();
    pool.close().await;

    let mut state = TxState::Initialized;
    for _ in 0..200 {
        state = s.store.get_transaction(&a.id, &fine).await.unwrap().unwrap().state;
        if state == TxState::Expired {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, TxState::Expired, "the sweep reached the transaction behind the broken one");
    let verdict = s.store.get_transaction(&a.id, &fine).await.unwrap().unwrap().verdict;
    let timeout = serde_json::to_value(idv_flow::timeout_verdict(idv_flow::Timeout::Expired)).unwrap();
    assert_eq!(verdict.map(|v| json(&v)), Some(timeout), "the sweeper's timeout verdict");
    s.stop().await;
}

#[tokio::test]
async fn device_error_bodies_do_not_echo_the_request() {
    let s = server(|_| {}).await;
    let m = s.merchant("A").await;
    let (mut dev, _) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    let huge = "ECHO".repeat(512 * 1024);
    let start = serde_json::to_vec(&serde_json::json!({"meta_info": 5, "device_time_ms": huge})).unwrap();
    let check = |(status, _, body): (u16, reqwest::header::HeaderMap, Vec<u8>)| {
        let text = String::from_utf8_lossy(&body).into_owned();
        assert!(body.len() < 512, "a small body: {} bytes", body.len());
        assert!(!text.contains("ECHOECHO"), "{text}");
        let v = json(&body);
        assert_eq!((status, v["code"].as_str()), (400, Some("BadRequest")), "{v}");
        assert!(v["message"].as_str().unwrap().contains("line 1, column"), "{v}");
    };
    check(post(&dev, "start", &start).await);
    let next = dev.start().await["next"].clone();
    let mut round = round_body(&next, &no_face_b64(), 1);
    round["round"] = Value::String(huge.clone());
    check(post(&dev, "round", &serde_json::to_vec(&round).unwrap()).await);
    s.stop().await;
}

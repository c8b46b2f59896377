//! Durable, signed callbacks: every request carries a signature the merchant can check, a failing endpoint is
//! retried with backoff until it answers, one that never does ends in the dead-letter state with its attempts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::helpers::{Device, META_ANDROID, Server, init_params, map, start_with};

/// A loopback endpoint answering the statuses in `answers` in turn (the last one from then on); every request's
/// target (path and query) and `x-idv-signature` header are kept.
async fn endpoint(answers: Vec<u16>) -> (u16, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok((mut conn, _)) = listener.accept().await {
            let text = crate::helpers::read_request_head(&mut conn).await;
            let target = text.split_whitespace().nth(1).unwrap_or("").to_owned();
            let sig =
                text.lines().find_map(|l| l.strip_prefix("x-idv-signature: ").map(str::to_owned)).unwrap_or_default();
            log.lock().unwrap().push((target, sig));
            let status = answers[n.min(answers.len() - 1)];
            n += 1;
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = conn.write_all(reply.as_bytes()).await;
        }
    });
    (port, seen)
}

/// Ends a FACE_LIVENESS transaction (the user cancels) whose callback goes to `port`; (merchant id, transaction id).
async fn ended(s: &Server, port: u16) -> (String, String) {
    let m = s.merchant("A").await;
    let url = format!("http://127.0.0.1:{port}/idv/callback");
    let params =
        [init_params("FACE_LIVENESS", META_ANDROID), vec![("CallbackUrl", &url), ("CallbackToken", "tok42")]].concat();
    let (mut dev, tid) = Device::initialized(s, &m, &params, &map(&[])).await;
    dev.start().await;
    let (st, v) = dev.post("cancel", &serde_json::json!({})).await;
    assert_eq!(st, 200, "{v}");
    (m.id.clone(), tid)
}

async fn wait_for(s: &Server, tid: &str, state: &str) -> idv_store::CallbackRecord {
    for _ in 0..150 {
        let all = s.store.list_callbacks(Some(state), 100).await.unwrap();
        if let Some(c) = all.into_iter().find(|c| c.transaction_id == tid) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the callback of {tid} did not reach {state} in 15 s");
}

#[tokio::test]
async fn a_failing_endpoint_gets_its_third_attempt_and_every_request_is_signed() {
    let (port, seen) = endpoint(vec![500, 503, 200]).await;
    let s = start_with(tempfile::tempdir().unwrap(), |c| {
        c.allow_private_callbacks = true;
        c.callback_retry_base = Duration::from_secs(1);
    })
    .await;
    let (merchant, tid) = ended(&s, port).await;
    let record = wait_for(&s, &tid, "delivered").await;
    assert_eq!(record.attempts, 3);
    let statuses: Vec<Option<u16>> = record.log.iter().map(|a| a.status).collect();
    assert_eq!(statuses, vec![Some(500), Some(503), Some(200)], "the delivery log has every attempt");
    assert!(record.log[1].at - record.log[0].at >= 1, "backed off between attempts");
    let secret = s.store.merchant_callback_secret(&merchant).await.unwrap().unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for (target, sig) in &seen {
        assert!(
            target.contains(&format!("transactionId={tid}"))
                && target.contains("passed=N")
                && target.contains("subCode=208")
                && target.contains("callbackToken=tok42"),
            "{target}"
        );
        let t: i64 = sig.split(',').next().and_then(|p| p.strip_prefix("t=")).and_then(|t| t.parse().ok()).expect(sig);
        assert_eq!(sig, &idv_server::callback_signature(secret.as_bytes(), target, t), "signed over what was sent");
        assert_ne!(sig, &idv_server::callback_signature(b"another secret", target, t));
    }
    s.stop().await;
}

#[tokio::test]
async fn an_endpoint_that_never_answers_ends_in_the_dead_letter_state() {
    let (port, _) = endpoint(vec![500]).await;
    let s = start_with(tempfile::tempdir().unwrap(), |c| {
        c.allow_private_callbacks = true;
        c.callback_retry_base = Duration::from_secs(1);
        c.callback_give_up_after = Duration::from_secs(2);
    })
    .await;
    let (_, tid) = ended(&s, port).await;
    let dead = wait_for(&s, &tid, "dead").await;
    assert!(dead.attempts >= 1 && dead.log.iter().all(|a| a.status == Some(500)), "{dead:?}");
    s.stop().await;
}

//! The device session against the fake device API: the rounds, retries with backoff, refusals, cancellation, the
//! blocking facade.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use idv_protocol::Step;
use idv_protocol::device::{
    DeviceError, RoundRequest, RoundResponse, StartRequest, error_code, result_code, verify_request_mac,
};
use idv_sdk::{DeviceSession, Event};
use serde_json::Value;

use crate::common::{
    Broken, CRED, Camera, Fake, Running, Seen, TID, assert_well_formed, fake_device_api, fast, instruction, meta, now,
    png, refusal, round, run, start_ok,
};

#[tokio::test]
async fn happy_path_with_a_retake() {
    let face = instruction(3, "n3", Step::Face, 3);
    let api = fake_device_api(vec![
        start_ok(instruction(1, "n1", Step::DocFront, 1)),
        round(RoundResponse::Retake {
            reason_code: "blurry".into(),
            reason: "The photo is blurry".into(),
            next: instruction(2, "n2", Step::DocFront, 1),
        }),
        round(RoundResponse::Next { next: face }),
        round(RoundResponse::Done { result_code: result_code::PASS }),
    ])
    .await;
    let cfg = api.cfg(now() + 1800);
    let mut session =
        DeviceSession::new(&cfg, Camera::boxed(|_| {})).with_meta_info(meta()).with_network_policy(fast());
    assert_eq!(session.transaction_id(), TID);
    let (result, events) = run(&mut session).await;
    assert_eq!((result.result_code, result.transaction_id.as_str()), (1000, TID), "{result:?}");

    let seen = api.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/device/v1/start", "/device/v1/round", "/device/v1/round", "/device/v1/round"]);
    assert_well_formed(&seen, &cfg);

    let start: StartRequest = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(start.meta_info, meta());
    assert!((start.device_time_ms / 1000 - now()).abs() < 3600, "device time is the device clock");

    let rounds: Vec<RoundRequest> = seen[1..].iter().map(Seen::round).collect();
    let bound: Vec<(u32, &str, Step)> = rounds.iter().map(|r| (r.round, r.nonce.as_str(), r.step)).collect();
    assert_eq!(bound, [(1, "n1", Step::DocFront), (2, "n2", Step::DocFront), (3, "n3", Step::Face)]);
    assert_ne!(rounds[0].frames, rounds[1].frames, "a retake must upload a fresh capture");
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(b64.decode(&rounds[1].frames[0].image).unwrap(), png(2));
    assert_eq!(rounds[2].frames.iter().map(|f| f.t_ms).collect::<Vec<_>>(), [0, 50, 100]);
    assert_eq!(
        (rounds[2].capture.source.as_str(), rounds[2].capture.width, rounds[2].capture.height),
        ("front", 640, 480)
    );
    assert_eq!(rounds[0].capture.source, "back");

    let expected = vec![
        Event::StepStarted {
            round: 1,
            step: Step::DocFront,
            hint: "hint 1".into(),
            frames_wanted: 1,
            attempts_left: 3,
        },
        Event::Retake {
            round: 1,
            step: Step::DocFront,
            reason_code: "blurry".into(),
            reason: "The photo is blurry".into(),
            next_round: 2,
            hint: "hint 2".into(),
            attempts_left: 3,
        },
        Event::StepDone { round: 2, step: Step::DocFront },
        Event::StepStarted { round: 3, step: Step::Face, hint: "hint 3".into(), frames_wanted: 3, attempts_left: 3 },
        Event::StepDone { round: 3, step: Step::Face },
        Event::Finished { result_code: 1000 },
    ];
    assert_eq!(events, expected);

    let (again, events) = run(&mut session).await;
    assert_eq!(again.result_code, result_code::SYSTEM_ERROR, "a session runs once");
    assert_eq!(events, [Event::Finished { result_code: result_code::SYSTEM_ERROR }]);
    assert_eq!(api.seen().len(), 4, "the second run must not call the server");
}

#[tokio::test]
async fn unavailable_twice_then_the_same_round_is_accepted() {
    let api = fake_device_api(vec![
        start_ok(instruction(1, "n1", Step::Face, 2)),
        refusal(503, error_code::UNAVAILABLE),
        (502, Value::Null),
        round(RoundResponse::Done { result_code: result_code::FAIL }),
    ])
    .await;
    let cfg = api.cfg(now() + 1800);
    let mut session = DeviceSession::new(&cfg, Camera::boxed(|_| {})).with_network_policy(fast());
    let (result, events) = run(&mut session).await;
    assert_eq!(result.result_code, result_code::FAIL, "{result:?}");

    let seen = api.seen();
    assert_well_formed(&seen, &cfg);
    let rounds = &seen[1..];
    assert_eq!(rounds.len(), 3);
    for r in &rounds[1..] {
        assert_eq!(r.body, rounds[0].body, "a retried round must resend the same bytes");
        assert_eq!(r.header("x-idv-signature"), rounds[0].header("x-idv-signature"));
    }
    assert_eq!(rounds[0].round().nonce, "n1");
    let retries: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            Event::NetworkRetry { attempt, max_attempts: 4, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(retries, [1, 2]);
    assert_eq!(events.last(), Some(&Event::Finished { result_code: result_code::FAIL }));
}

#[tokio::test]
async fn a_round_in_progress_is_resent_for_its_answer() {
    let api = fake_device_api(vec![
        start_ok(instruction(1, "n1", Step::Face, 2)),
        refusal(409, error_code::ROUND_IN_PROGRESS),
        round(RoundResponse::Done { result_code: result_code::PASS }),
    ])
    .await;
    let cfg = api.cfg(now() + 1800);
    let mut session = DeviceSession::new(&cfg, Camera::boxed(|_| {})).with_network_policy(fast());
    let (result, events) = run(&mut session).await;
    assert_eq!(result.result_code, result_code::PASS, "{result:?}");
    let seen = api.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].body, seen[1].body, "the same bytes again, so the server answers from the stored round");
    assert!(events.iter().any(|e| matches!(e, Event::NetworkRetry { attempt: 1, .. })), "{events:?}");
}

#[tokio::test]
async fn persistent_unavailability_gives_up_after_the_allowed_attempts() {
    let mut replies = vec![start_ok(instruction(1, "n1", Step::DocFront, 1))];
    replies.extend(std::iter::repeat_n(refusal(503, error_code::UNAVAILABLE), 10));
    let api = fake_device_api(replies).await;
    let mut session = DeviceSession::new(&api.cfg(now() + 1800), Camera::boxed(|_| {})).with_network_policy(fast());
    let (result, _) = run(&mut session).await;
    assert_eq!(result.result_code, result_code::NETWORK_ERROR, "{result:?}");
    assert_eq!(api.seen().len(), 1 + 4, "start, then exactly max_attempts rounds");
}

#[tokio::test]
async fn server_gone_mid_flow_is_a_network_error() {
    let mut api = fake_device_api(vec![start_ok(instruction(1, "n1", Step::DocFront, 1))]).await;
    let cfg = api.cfg(now() + 1800);
    let stop = Mutex::new(api.stop.take());
    let stopped = Mutex::new(api.stopped.take());
    // The server goes away while the user is on the capture screen, and is fully gone before the upload.
    let camera = Camera::boxed(move |_| {
        if let Some(stop) = stop.lock().unwrap().take() {
            stop.send(()).unwrap();
            stopped.lock().unwrap().take().unwrap().recv_timeout(Duration::from_secs(30)).unwrap();
        }
    });
    let mut session = DeviceSession::new(&cfg, camera).with_network_policy(fast());
    let (result, events) = run(&mut session).await;
    assert_eq!(result.result_code, result_code::NETWORK_ERROR, "{result:?}");
    assert!(result.message.contains("after 4 attempts"), "{}", result.message);
    assert_eq!(events.iter().filter(|e| matches!(e, Event::NetworkRetry { .. })).count(), 3);
    assert_eq!(api.seen().len(), 1, "only start reached the server");
}

#[tokio::test]
async fn nothing_listening_at_start_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let cfg = Running { fake: Fake::default(), addr, stop: None, stopped: None }.cfg(now() + 1800);
    let mut session = DeviceSession::new(&cfg, Camera::boxed(|_| {})).with_network_policy(fast());
    let (result, _) = run(&mut session).await;
    assert_eq!(result.result_code, result_code::NETWORK_ERROR, "{result:?}");
}

#[tokio::test]
async fn refusals_end_the_flow_with_their_code() {
    // One device session per transaction: a second device is refused at start.
    let api = fake_device_api(vec![refusal(409, error_code::SESSION_IN_USE)]).await;
    let mut session = DeviceSession::new(&api.cfg(now() + 1800), Camera::boxed(|_| {})).with_network_policy(fast());
    let (result, _) = run(&mut session).await;
    assert_eq!(result.result_code, result_code::INVALID_TRANSACTION, "{result:?}");
    assert_eq!(result.error_code.as_deref(), Some(error_code::SESSION_IN_USE));
    assert_eq!(api.seen().len(), 1, "a refusal is not retried");

    // A refusal that names its result code ends with that code.
    let closed = DeviceError {
        code: error_code::TRANSACTION_CLOSED.into(),
        message: "expired".into(),
        result_code: Some(result_code::CANCELLED_OR_TIMEOUT),
    };
    let api = fake_device_api(vec![
        start_ok(instruction(1, "n1", Step::DocFront, 1)),
        (410, serde_json::to_value(closed).unwrap()),
    ])
    .await;
    let mut session = DeviceSession::new(&api.cfg(now() + 1800), Camera::boxed(|_| {})).with_network_policy(fast());
    assert_eq!(run(&mut session).await.0.result_code, result_code::CANCELLED_OR_TIMEOUT);

    // A camera failure ends the flow on the device.
    let api = fake_device_api(vec![start_ok(instruction(1, "n1", Step::DocFront, 1))]).await;
    let mut session = DeviceSession::new(&api.cfg(now() + 1800), Box::new(Broken)).with_network_policy(fast());
    let (result, _) = run(&mut session).await;
    assert_eq!(result.result_code, result_code::CAMERA_ERROR);
    assert!(result.message.contains("camera permission denied"), "{}", result.message);
    assert_eq!(api.seen().len(), 1);
}

#[tokio::test]
async fn an_expired_configuration_never_reaches_the_server() {
    let api = fake_device_api(vec![start_ok(instruction(1, "n1", Step::DocFront, 1))]).await;
    let mut session = DeviceSession::new(&api.cfg(now() - 10), Camera::boxed(|_| {})).with_network_policy(fast());
    let (result, events) = run(&mut session).await;
    assert_eq!(result.result_code, result_code::INIT_FAILED, "{result:?}");
    assert_eq!(events, [Event::Finished { result_code: result_code::INIT_FAILED }]);
    assert_eq!(api.seen().len(), 0);

    let mut garbage = DeviceSession::new("not a configuration", Camera::boxed(|_| {}));
    assert_eq!(run(&mut garbage).await.0.result_code, result_code::INIT_FAILED);
}

#[tokio::test]
async fn cancel_tells_the_server_and_ends_with_1006() {
    let api = fake_device_api(vec![
        start_ok(instruction(1, "n1", Step::DocFront, 1)),
        round(RoundResponse::Next { next: instruction(2, "n2", Step::Face, 2) }),
        round(RoundResponse::Done { result_code: result_code::CANCELLED_OR_TIMEOUT }),
    ])
    .await;
    let cfg = api.cfg(now() + 1800);
    let handle = Arc::new(Mutex::new(None::<idv_sdk::CancelHandle>));
    let h = handle.clone();
    // The user presses cancel while the face screen is open.
    let camera = Camera::boxed(move |i| {
        if i.step == Step::Face {
            h.lock().unwrap().as_ref().unwrap().cancel();
        }
    });
    let mut session = DeviceSession::new(&cfg, camera).with_network_policy(fast());
    *handle.lock().unwrap() = Some(session.cancel_handle());
    let (result, events) = run(&mut session).await;
    assert_eq!(result.result_code, result_code::CANCELLED_OR_TIMEOUT, "{result:?}");
    assert_eq!(events.last(), Some(&Event::Finished { result_code: 1006 }));

    let seen = api.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/device/v1/start", "/device/v1/round", "/device/v1/cancel"], "no face upload after cancel");
    assert_well_formed(&seen, &cfg);
    assert_eq!(seen[2].body, b"{}");

    // Cancelled before it started: no device session exists, but the server still closes the transaction.
    let api = fake_device_api(vec![round(RoundResponse::Done { result_code: 1006 })]).await;
    let cfg = api.cfg(now() + 1800);
    let mut session = DeviceSession::new(&cfg, Camera::boxed(|_| panic!("nothing to capture")));
    session.cancel_handle().cancel();
    assert_eq!(run(&mut session).await.0.result_code, result_code::CANCELLED_OR_TIMEOUT);
    let seen = api.seen();
    assert_eq!(seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(), ["/device/v1/cancel"]);
    assert_eq!(seen[0].header("x-idv-session"), "");
    assert!(verify_request_mac(&CRED, "POST", "/device/v1/cancel", "", b"{}", seen[0].header("x-idv-signature")));
}

#[test]
fn the_blocking_facade_runs_the_same_flow() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(fake_device_api(vec![
        start_ok(instruction(1, "n1", Step::Face, 1)),
        round(RoundResponse::Done { result_code: result_code::PASS }),
    ]));
    let cfg = api.cfg(now() + 1800);
    // From a plain thread, as a mobile binding would call it; the fake keeps running on `rt`.
    let result = std::thread::spawn(move || {
        let mut session = DeviceSession::new(&cfg, Camera::boxed(|_| {})).with_network_policy(fast());
        let mut n = 0;
        let r = session.run_blocking(&mut |_| n += 1);
        (r, n)
    })
    .join()
    .unwrap();
    assert_eq!(result.0.result_code, result_code::PASS);
    assert_eq!(result.1, 3, "StepStarted, StepDone, Finished");
}

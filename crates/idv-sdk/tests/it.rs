//! The SDK against fake servers on loopback: a scripted device API (answers in order, records every request) and a
//! recording merchant API endpoint whose requests are checked with the server's own signature parser.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use idv_protocol::device::{
    Challenge, DeviceError, Instruction, RoundRequest, RoundResponse, StartRequest, StartResponse, error_code,
    result_code, verify_request_mac,
};
use idv_protocol::{ClientConfig, Product, Step};
use idv_sdk::{
    CaptureError, CaptureSource, CapturedFrame, DeviceFacts, DeviceSession, DeviceType, Event, InitializeParams,
    MerchantClient, MerchantError, NetworkPolicy, SessionResult, get_meta_info,
};
use serde_json::{Value, json};

const TID: &str = "0123456789abcdef0123456789abcdef";
const CRED: [u8; 32] = [42; 32];
const SESSION: &str = "sess-1";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn fast() -> NetworkPolicy {
    NetworkPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        request_timeout: Duration::from_secs(20),
    }
}

fn png(tag: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&640u32.to_be_bytes());
    b.extend_from_slice(&480u32.to_be_bytes());
    b.extend_from_slice(&tag.to_be_bytes());
    b
}

fn instruction(round: u32, nonce: &str, step: Step, frames_wanted: u32) -> Instruction {
    Instruction {
        round,
        nonce: nonce.into(),
        step,
        hint: format!("hint {round}"),
        frames_wanted,
        challenge: (step == Step::Face).then(|| Challenge {
            actions: vec!["blink".into()],
            colours: vec![],
            colour_ms: 0,
            frame_interval_ms: 50,
            action_window_ms: 3000,
        }),
        attempts_left: 3,
    }
}

fn start_ok(first: Instruction) -> (u16, Value) {
    let r = StartResponse {
        session_id: SESSION.into(),
        steps: vec![Step::DocFront, Step::Face],
        expires_at: now() + 1800,
        idle_timeout_s: 300,
        next: first,
    };
    (200, serde_json::to_value(r).unwrap())
}

fn round(r: RoundResponse) -> (u16, Value) {
    (200, serde_json::to_value(r).unwrap())
}

fn refusal(status: u16, code: &str) -> (u16, Value) {
    (status, serde_json::to_value(DeviceError { code: code.into(), message: "no".into(), result_code: None }).unwrap())
}

// ---- the fake device API ----

#[derive(Clone)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or_else(|| panic!("{} lacks {name}", self.path))
    }
    fn round(&self) -> RoundRequest {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Script {
    replies: VecDeque<(u16, Value)>,
    seen: Vec<Seen>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Script>>);

async fn device_api(State(fake): State<Fake>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = fake.0.lock().unwrap();
    s.seen.push(Seen { path: uri.path().to_owned(), headers, body: body.to_vec() });
    // An exhausted script is a test bug: answer a final refusal so the session ends instead of retrying.
    let (status, reply) = s.replies.pop_front().unwrap_or_else(|| refusal(418, "ScriptExhausted"));
    let status = StatusCode::from_u16(status).unwrap();
    if reply.is_null() { status.into_response() } else { (status, axum::Json(reply)).into_response() }
}

struct Running {
    fake: Fake,
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: Option<std::sync::mpsc::Receiver<()>>,
}

async fn fake_device_api(replies: Vec<(u16, Value)>) -> Running {
    let fake = Fake::default();
    fake.0.lock().unwrap().replies = replies.into();
    let app = axum::Router::new().fallback(device_api).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let (done, stopped) = std::sync::mpsc::channel();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        let _ = done.send(());
    });
    Running { fake, addr, stop: Some(stop), stopped: Some(stopped) }
}

impl Running {
    fn cfg(&self, exp: i64) -> String {
        ClientConfig {
            tid: TID.into(),
            product: Product::Ekyc,
            steps: vec![Step::DocFront, Step::Face],
            api: format!("http://{}/device/v1", self.addr),
            cred: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(CRED),
            iat: now(),
            exp,
        }
        .sign(&idv_crypto::Key::random())
    }

    /// A snapshot of the requests received so far.
    fn seen(&self) -> Vec<Seen> {
        self.fake.0.lock().unwrap().seen.clone()
    }
}

/// Checks what every request must carry: the configuration verbatim, the session, and a valid request MAC.
fn assert_well_formed(seen: &[Seen], cfg: &str) {
    for s in seen {
        assert_eq!(s.header("x-idv-config"), cfg, "{}", s.path);
        assert_eq!(s.header("content-type"), "application/json");
        let session = s.header("x-idv-session");
        assert_eq!(session, if s.path.ends_with("/start") { "" } else { SESSION }, "{}", s.path);
        let mac = s.header("x-idv-signature");
        assert!(verify_request_mac(&CRED, "POST", &s.path, session, &s.body, mac), "bad MAC on {}", s.path);
    }
}

// ---- capture sources ----

type Hook = Box<dyn FnMut(&Instruction) + Send>;

/// Hands out a fresh, distinct PNG per frame, and runs `hook` on every capture (to cancel, stop the server…).
struct Camera {
    count: u32,
    hook: Hook,
}

impl Camera {
    fn boxed(hook: impl FnMut(&Instruction) + Send + 'static) -> Box<dyn CaptureSource> {
        Box::new(Camera { count: 0, hook: Box::new(hook) })
    }
}

impl CaptureSource for Camera {
    fn capture(&mut self, i: &Instruction) -> Result<Vec<CapturedFrame>, CaptureError> {
        (self.hook)(i);
        let interval = i.challenge.as_ref().map_or(100, |c| c.frame_interval_ms);
        Ok((0..i.frames_wanted)
            .map(|n| {
                self.count += 1;
                CapturedFrame { bytes: png(self.count), t_ms: n * interval }
            })
            .collect())
    }
    fn source_name(&self, step: Step) -> String {
        if step == Step::Face { "front" } else { "back" }.into()
    }
}

struct Broken;

impl CaptureSource for Broken {
    fn capture(&mut self, _: &Instruction) -> Result<Vec<CapturedFrame>, CaptureError> {
        Err(CaptureError("camera permission denied".into()))
    }
}

async fn run(session: &mut DeviceSession) -> (SessionResult, Vec<Event>) {
    let mut events = Vec::new();
    let result = session.run(&mut |e| events.push(e)).await;
    (result, events)
}

fn meta() -> String {
    get_meta_info(DeviceFacts {
        device_type: DeviceType::Android,
        device_model: "Pixel 7".into(),
        os_version: "14".into(),
        app_name: "com.example.shop".into(),
        app_version: "1.0".into(),
        user_agent: None,
    })
}

// ---- the device session ----

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

#[test]
fn the_documented_mac_vectors_hold() {
    let doc = include_str!("../../../docs/device-protocol.md");
    let cred_b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(CRED);
    assert!(doc.contains(&format!("`{cred_b64}`")), "docs/device-protocol.md must show the vector credential");
    let start = br#"{"meta_info":"{}","device_time_ms":1700000000000}"#;
    for (path, session, body) in [("/device/v1/start", "", &start[..]), ("/device/v1/round", SESSION, b"{}")] {
        let mac = idv_protocol::device::request_mac(&CRED, "POST", path, session, body);
        let row = format!("| `{}` | `{mac}` |", String::from_utf8_lossy(body));
        assert!(doc.contains(&row), "docs/device-protocol.md lacks the vector row {row}");
    }
}

// ---- the merchant client ----

/// Method, path and query, headers, body.
type Recorded = (String, String, Vec<(String, String)>, Vec<u8>);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

async fn merchant_api(
    State(rec): State<Recorder>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let hs: Vec<(String, String)> =
        headers.iter().map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned())).collect();
    let action = headers.get("x-acs-action").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let mut all = rec.0.lock().unwrap();
    all.push((method.to_string(), uri.path_and_query().unwrap().to_string(), hs, body.to_vec()));
    let checks = all.iter().filter(|r| r.2.iter().any(|(n, v)| n == "x-acs-action" && v == "CheckResult")).count();
    match action.as_str() {
        "Initialize" => axum::Json(json!({"RequestId": "R1", "Code": "Success", "Message": "success", "Result": {
            "TransactionId": TID, "Protocol": "idv1.p.m", "ClientCfg": "idv1.p.m"}}))
        .into_response(),
        "CheckResult" if checks == 1 => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"RequestId": "R2", "HostId": "h", "Code": "ProcessNotCompleted", "Message": "wait"})),
        )
            .into_response(),
        _ => axum::Json(json!({"RequestId": "R3", "Code": "Success", "Message": "success", "Result": {
            "Passed": "Y", "SubCode": "200", "ExtBasicInfo": "{}", "ExtIdInfo": "{\"idImage\":\"aGk=\"}",
            "ExtFaceInfo": "{}", "ExtRiskInfo": "{}", "ExtInfo": "{}"}}))
        .into_response(),
    }
}

#[tokio::test]
async fn merchant_client_signs_what_the_server_verifies() {
    let rec = Recorder::default();
    let app = axum::Router::new().fallback(merchant_api).with_state(rec.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = MerchantClient::new(&addr.to_string(), "AKID0001", "s3cret").unwrap();
    let params = InitializeParams {
        product_code: "eKYC".into(),
        merchant_biz_id: "biz42".into(),
        merchant_user_id: "user 1+2 ä".into(),
        meta_info: meta(),
        doc_type: Some("01000000".into()),
        callback_token: Some("tok~*".into()),
        face_picture_base64: Some("aGVsbG8gd29ybGQ+/w==".into()),
        model: Some("LIVENESS".into()),
        extra: BTreeMap::from([("LanguageConfig".to_owned(), "en".to_owned())]),
        ..InitializeParams::default()
    };
    let init = client.initialize(&params).await.unwrap();
    assert_eq!((init.transaction_id.as_str(), init.client_cfg.as_str()), (TID, "idv1.p.m"));
    let pending = client.check_result("biz42", TID, false).await.unwrap_err();
    assert!(pending.is_process_not_completed(), "{pending:?}");
    assert_eq!(
        pending,
        MerchantError::Api {
            http_status: 404,
            code: "ProcessNotCompleted".into(),
            message: "wait".into(),
            request_id: "R2".into()
        }
    );
    let done = client.check_result("biz42", TID, true).await.unwrap();
    assert_eq!((done.passed.as_str(), done.sub_code.as_str()), ("Y", "200"));

    let all = rec.0.lock().unwrap();
    assert_eq!(all.len(), 3);
    let mut nonces = std::collections::HashSet::new();
    for (method, path_and_query, headers, body) in all.iter() {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let raw = idv_api::sign::RawRequest { method, path, raw_query: query, headers, body };
        let signed = idv_api::sign::parse(&raw, &idv_api::sign::Limits::default()).unwrap();
        signed.verify("s3cret").unwrap();
        assert!(signed.verify("wrong").is_err());
        assert_eq!((signed.access_key_id.as_str(), signed.version.as_str()), ("AKID0001", "2022-08-09"));
        signed.check_clock(time::OffsetDateTime::now_utc(), time::Duration::minutes(15)).unwrap();
        assert!(nonces.insert(signed.nonce.clone()), "nonces must not repeat");
        if signed.action == "Initialize" {
            let p = &signed.params;
            assert_eq!(p["MerchantUserId"], "user 1+2 ä");
            assert_eq!(p["MetaInfo"], meta());
            assert_eq!(p["CallbackToken"], "tok~*");
            assert_eq!(p["Model"], "LIVENESS");
            assert_eq!(p["LanguageConfig"], "en");
            assert_eq!(p["FacePictureBase64"], "aGVsbG8gd29ybGQ+/w==");
            assert!(!query.contains("FacePictureBase64") && query.contains("MetaInfo="), "{query}");
            assert!(String::from_utf8_lossy(body).starts_with("FacePictureBase64="));
        } else {
            assert_eq!(signed.action, "CheckResult");
            assert_eq!(signed.params["TransactionId"], TID);
            assert!(body.is_empty());
        }
    }
    let flags: Vec<&str> = all[1..].iter().map(|r| if r.1.contains("IsReturnImage=Y") { "Y" } else { "N" }).collect();
    assert_eq!(flags, ["N", "Y"]);
}

#[tokio::test]
async fn merchant_client_reports_unreachable_and_garbled_servers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = MerchantClient::new(&addr.to_string(), "AK", "SK").unwrap();
    assert!(matches!(client.check_result("b", TID, false).await, Err(MerchantError::Network(_))));

    let app = axum::Router::new().fallback(|| async { (StatusCode::BAD_GATEWAY, "<html>proxy error</html>") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = MerchantClient::new(&format!("http://{addr}"), "AK", "SK").unwrap();
    match client.check_result("b", TID, false).await {
        Err(MerchantError::BadResponse { http_status: 502, detail }) => assert!(detail.contains("proxy error")),
        other => panic!("{other:?}"),
    }
}

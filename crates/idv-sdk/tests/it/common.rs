//! What the topic modules share: a scripted fake device API on loopback (answers in order, records every request),
//! capture sources, and the test transaction's constants.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use idv_protocol::device::{
    Challenge, DeviceError, Instruction, RoundRequest, RoundResponse, StartResponse, verify_request_mac,
};
use idv_protocol::{ClientConfig, Product, Step};
use idv_sdk::{
    CaptureError, CaptureSource, CapturedFrame, DeviceFacts, DeviceSession, DeviceType, Event, NetworkPolicy,
    SessionResult, get_meta_info,
};
use serde_json::Value;

pub const TID: &str = "0123456789abcdef0123456789abcdef";
pub const CRED: [u8; 32] = [42; 32];
pub const SESSION: &str = "sess-1";

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

pub fn fast() -> NetworkPolicy {
    NetworkPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        request_timeout: Duration::from_secs(20),
    }
}

pub fn png(tag: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&640u32.to_be_bytes());
    b.extend_from_slice(&480u32.to_be_bytes());
    b.extend_from_slice(&tag.to_be_bytes());
    b
}

pub fn instruction(round: u32, nonce: &str, step: Step, frames_wanted: u32) -> Instruction {
    Instruction {
        round,
        nonce: nonce.into(),
        step,
        hint: format!("hint {round}"),
        frames_wanted,
        challenge: (step == Step::Face).then(|| Challenge {
            actions: vec!["blink".into()],
            cues_ms: vec![1200],
            colours: vec![],
            colour_ms: 0,
            frame_interval_ms: 50,
            action_window_ms: 3000,
        }),
        attempts_left: 3,
    }
}

pub fn start_ok(first: Instruction) -> (u16, Value) {
    let r = StartResponse {
        session_id: SESSION.into(),
        steps: vec![Step::DocFront, Step::Face],
        expires_at: now() + 1800,
        idle_timeout_s: 300,
        next: first,
    };
    (200, serde_json::to_value(r).unwrap())
}

pub fn round(r: RoundResponse) -> (u16, Value) {
    (200, serde_json::to_value(r).unwrap())
}

pub fn refusal(status: u16, code: &str) -> (u16, Value) {
    (status, serde_json::to_value(DeviceError { code: code.into(), message: "no".into(), result_code: None }).unwrap())
}

// ---- a fake device API ----

#[derive(Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or_else(|| panic!("{} lacks {name}", self.path))
    }
    pub fn round(&self) -> RoundRequest {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
pub struct Script {
    replies: VecDeque<(u16, Value)>,
    seen: Vec<Seen>,
}

#[derive(Clone, Default)]
pub struct Fake(pub Arc<Mutex<Script>>);

async fn device_api(State(fake): State<Fake>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = fake.0.lock().unwrap();
    s.seen.push(Seen { path: uri.path().to_owned(), headers, body: body.to_vec() });
    // An exhausted script is a test bug: answer a final refusal so the session ends instead of retrying.
    let (status, reply) = s.replies.pop_front().unwrap_or_else(|| refusal(418, "ScriptExhausted"));
    let status = StatusCode::from_u16(status).unwrap();
    if reply.is_null() { status.into_response() } else { (status, axum::Json(reply)).into_response() }
}

pub struct Running {
    pub fake: Fake,
    pub addr: std::net::SocketAddr,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub stopped: Option<std::sync::mpsc::Receiver<()>>,
}

pub async fn fake_device_api(replies: Vec<(u16, Value)>) -> Running {
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
    pub fn cfg(&self, exp: i64) -> String {
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
    pub fn seen(&self) -> Vec<Seen> {
        self.fake.0.lock().unwrap().seen.clone()
    }
}

/// Checks what every request must carry: the configuration verbatim, the session, and a valid request MAC.
pub fn assert_well_formed(seen: &[Seen], cfg: &str) {
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
pub struct Camera {
    count: u32,
    hook: Hook,
}

impl Camera {
    pub fn boxed(hook: impl FnMut(&Instruction) + Send + 'static) -> Box<dyn CaptureSource> {
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

pub struct Broken;

impl CaptureSource for Broken {
    fn capture(&mut self, _: &Instruction) -> Result<Vec<CapturedFrame>, CaptureError> {
        Err(CaptureError("camera permission denied".into()))
    }
}

pub async fn run(session: &mut DeviceSession) -> (SessionResult, Vec<Event>) {
    let mut events = Vec::new();
    let result = session.run(&mut |e| events.push(e)).await;
    (result, events)
}

pub fn meta() -> String {
    get_meta_info(DeviceFacts {
        device_type: DeviceType::Android,
        device_model: "Pixel 7".into(),
        os_version: "14".into(),
        app_name: "com.example.shop".into(),
        app_version: "1.0".into(),
        user_agent: None,
    })
}

//! The device session: runs one transaction's capture steps against the device API named in the client
//! configuration, and ends with a result code (`docs/wire-facts.md#client-result-codes`). The app never sees the
//! verdict, only the code; the merchant server asks CheckResult for the verdict.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine;
use idv_protocol::device::{
    CaptureMeta, DeviceError, Frame, Instruction, RoundRequest, RoundResponse, StartRequest, StartResponse, error_code,
    request_mac, result_code,
};
use idv_protocol::{ClientConfig, Step};
use serde::de::DeserializeOwned;

use crate::capture::{CaptureSource, image_dimensions};
use crate::meta::{DeviceFacts, get_meta_info};

// The device API's transport headers (`docs/device-protocol.md`): the signed client configuration, the session
// bound at start (empty on start), and the request MAC under the device credential.
const HEADER_CONFIG: &str = "x-idv-config";
const HEADER_SESSION: &str = "x-idv-session";
const HEADER_SIGNATURE: &str = "x-idv-signature";

/// How the session talks to the device API when the network or the server misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Attempts per request, the first included. Network errors, 5xx, 429 and 409 `RoundInProgress` are retried;
    /// other answers are final.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled for each further attempt, up to `max_delay`, with jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Whole-request timeout (a round uploads several frames over a mobile link).
    pub request_timeout: Duration,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        NetworkPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl NetworkPolicy {
    /// Delay before attempt `attempt + 1`: exponential, capped, and "equal jitter" (half fixed, half random) so a
    /// crowd of devices cut off together does not come back in lockstep.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(self.max_delay);
        let half = exp / 2;
        let span = u64::try_from((exp - half).as_micros()).unwrap_or(u64::MAX);
        let r = u64::from_le_bytes(idv_crypto::random_bytes::<8>());
        half + Duration::from_micros(if span == 0 { 0 } else { r % (span + 1) })
    }
}

/// Progress of a session, for the capture screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step begins: show `hint` and capture `frames_wanted` frames.
    StepStarted { round: u32, step: Step, hint: String, frames_wanted: u32, attempts_left: u32 },
    /// Round `round` was unusable; capture the same step again as round `next_round` with the new `hint`.
    Retake {
        round: u32,
        step: Step,
        reason_code: String,
        reason: String,
        next_round: u32,
        hint: String,
        attempts_left: u32,
    },
    /// Round `round` completed its step.
    StepDone { round: u32, step: Step },
    /// A request failed in a way worth retrying; the next attempt follows after `delay_ms`.
    NetworkRetry { attempt: u32, max_attempts: u32, delay_ms: u64, reason: String },
    /// The session is over; always the last event.
    Finished { result_code: u32 },
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionResult {
    /// Result code (`docs/wire-facts.md#client-result-codes`): 1000 pass suggested, 1001 fail suggested, 1003 init
    /// failure, 1005 network, 1006 cancelled…
    pub result_code: u32,
    /// From the configuration; empty when it could not be read.
    pub transaction_id: String,
    /// The device API error code the session ended on, if any (`SessionInUse`, …).
    pub error_code: Option<String>,
    /// Why the session ended, for the app's logs. Never carries verdict details: the server does not send them.
    pub message: String,
}

/// Cancels a running session from another thread (the capture screen's close button). Checked between rounds
/// and before each retry; the session then tells the server and ends with 1006.
#[derive(Debug, Clone, Default)]
pub struct CancelHandle(Arc<AtomicBool>);

impl CancelHandle {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A bound on rounds, against a server that keeps asking for retakes forever.
const MAX_ROUNDS: u32 = 100;
/// Longest part of a server message kept in [`SessionResult::message`].
const MAX_MESSAGE_CHARS: usize = 256;

/// What the SDK reads from the configuration; it cannot verify the MAC (the server key stays on the server).
struct Config {
    token: String,
    tid: String,
    api: String,
    cred: Vec<u8>,
    exp: i64,
}

fn read_config(token: &str) -> Result<Config, String> {
    let token = token.trim();
    let cfg = ClientConfig::read_unverified(token).map_err(|e| e.to_string())?;
    let cred = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cfg.cred.trim_end_matches('='))
        .map_err(|_| "client configuration: the device credential is not base64url".to_owned())?;
    if cred.len() != 32 {
        return Err("client configuration: the device credential is not 32 bytes".into());
    }
    if !(cfg.api.starts_with("http://") || cfg.api.starts_with("https://")) {
        return Err("client configuration: the device API address is not an http(s) URL".into());
    }
    if reqwest::header::HeaderValue::from_str(token).is_err() {
        return Err("client configuration contains characters that cannot be sent in a header".into());
    }
    Ok(Config {
        token: token.to_owned(),
        tid: cfg.tid,
        api: cfg.api.trim_end_matches('/').to_owned(),
        cred,
        exp: cfg.exp,
    })
}

/// How a call ended when it did not produce the expected answer.
enum Stop {
    End(Ended),
    /// The user cancelled while the call was being retried.
    Cancelled,
}

struct Ended {
    code: u32,
    error_code: Option<String>,
    message: String,
}

impl Ended {
    fn new(code: u32, message: impl Into<String>) -> Self {
        Ended { code, error_code: None, message: message.into() }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Start,
    Round,
    Cancel,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Start => "start",
            Endpoint::Round => "round",
            Endpoint::Cancel => "cancel",
        }
    }
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(MAX_MESSAGE_CHARS).collect();
    if s.chars().count() > MAX_MESSAGE_CHARS {
        out.push('…');
    }
    out
}

/// The final result code of a refused request (HTTP 4xx, or 5xx that names a final code).
fn refusal(endpoint: Endpoint, status: u16, body: &[u8]) -> Ended {
    let Ok(e) = serde_json::from_slice::<DeviceError>(body) else {
        let code = if endpoint == Endpoint::Start { result_code::INIT_FAILED } else { result_code::SYSTEM_ERROR };
        return Ended::new(code, format!("device API answered {} with HTTP {status}", endpoint.name()));
    };
    let code = e.result_code.unwrap_or_else(|| match e.code.as_str() {
        error_code::SESSION_IN_USE | error_code::TRANSACTION_CLOSED => result_code::INVALID_TRANSACTION,
        error_code::BAD_CONFIG | error_code::CONFIG_EXPIRED | error_code::UNSUPPORTED_DEVICE => {
            result_code::INIT_FAILED
        }
        _ if endpoint == Endpoint::Start => result_code::INIT_FAILED,
        _ => result_code::SYSTEM_ERROR,
    });
    Ended {
        code,
        message: format!("device API refused {}: {} ({})", endpoint.name(), shorten(&e.code), shorten(&e.message)),
        error_code: Some(e.code),
    }
}

/// The HTTP side of a session: signing, sending, retrying.
struct Transport<'a> {
    http: reqwest::Client,
    cfg: &'a Config,
    policy: &'a NetworkPolicy,
    cancel: &'a CancelHandle,
}

enum Attempt {
    Answer(Vec<u8>),
    Final(Ended),
    Retry { reason: String, at_least: Duration },
}

impl Transport<'_> {
    async fn attempt(&self, endpoint: Endpoint, url: &reqwest::Url, session: &str, body: &[u8]) -> Attempt {
        let mac = request_mac(&self.cfg.cred, "POST", url.path(), session, body);
        let sent = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER_CONFIG, &self.cfg.token)
            .header(HEADER_SESSION, session)
            .header(HEADER_SIGNATURE, mac)
            .body(body.to_vec())
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Attempt::Retry { reason: network_reason(&e), at_least: Duration::ZERO },
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Duration::ZERO, Duration::from_secs);
        let bytes = match resp.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => return Attempt::Retry { reason: network_reason(&e), at_least: Duration::ZERO },
        };
        match status {
            200..=299 => Attempt::Answer(bytes),
            429 => Attempt::Retry { reason: "HTTP 429 (throttled)".into(), at_least: retry_after },
            // A copy of this very round (an earlier attempt whose answer was lost) is still running on the server:
            // resending the same bytes shortly gets its stored answer.
            409 if serde_json::from_slice::<DeviceError>(&bytes)
                .is_ok_and(|e| e.code == error_code::ROUND_IN_PROGRESS) =>
            {
                Attempt::Retry { reason: "HTTP 409 (round in progress)".into(), at_least: retry_after }
            }
            500..=599 => {
                // A 5xx that names a result code is the server ending the flow, not a passing failure.
                match serde_json::from_slice::<DeviceError>(&bytes) {
                    Ok(DeviceError { result_code: Some(_), .. }) => Attempt::Final(refusal(endpoint, status, &bytes)),
                    Ok(e) => {
                        Attempt::Retry { reason: format!("HTTP {status} {}", shorten(&e.code)), at_least: retry_after }
                    }
                    Err(_) => Attempt::Retry { reason: format!("HTTP {status}"), at_least: retry_after },
                }
            }
            _ => Attempt::Final(refusal(endpoint, status, &bytes)),
        }
    }

    /// POSTs `body` to `{api}/{endpoint}` until it gets an answer or the policy gives up. Every attempt sends the
    /// same bytes: the server answers an exact resend of the last accepted round with the same response, so a
    /// round whose answer was lost is not counted twice.
    async fn call<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        session: &str,
        body: &[u8],
        events: &mut (dyn FnMut(Event) + Send),
    ) -> Result<T, Stop> {
        let url = reqwest::Url::parse(&format!("{}/{}", self.cfg.api, endpoint.name()))
            .map_err(|_| Stop::End(Ended::new(result_code::INIT_FAILED, "the device API address is not a URL")))?;
        let max = self.policy.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let (reason, at_least) = match self.attempt(endpoint, &url, session, body).await {
                Attempt::Answer(bytes) => {
                    return serde_json::from_slice(&bytes).map_err(|e| {
                        Stop::End(Ended::new(
                            result_code::NETWORK_ERROR,
                            format!("unreadable answer to {}: {}", endpoint.name(), shorten(&e.to_string())),
                        ))
                    });
                }
                Attempt::Final(ended) => return Err(Stop::End(ended)),
                Attempt::Retry { reason, at_least } => (reason, at_least),
            };
            if attempt >= max {
                return Err(Stop::End(Ended::new(
                    result_code::NETWORK_ERROR,
                    format!("{} failed after {max} attempts: {reason}", endpoint.name()),
                )));
            }
            let delay = self.policy.backoff(attempt).max(at_least.min(self.policy.max_delay));
            events(Event::NetworkRetry {
                attempt,
                max_attempts: max,
                delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason,
            });
            tokio::time::sleep(delay).await;
            if endpoint != Endpoint::Cancel && self.cancel.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            attempt += 1;
        }
    }
}

fn network_reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "network error"
    };
    // The source chain names the OS error ("Connection refused"), which the top-level message hides.
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {}", shorten(&detail)) }
}

fn unix_now() -> (i64, i64) {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One run of the capture flow for one transaction.
pub struct DeviceSession {
    config: Result<Config, String>,
    capture: Option<Box<dyn CaptureSource>>,
    meta_info: String,
    policy: NetworkPolicy,
    cancel: CancelHandle,
    ran: bool,
    http: Option<reqwest::ClientBuilder>,
}

impl DeviceSession {
    /// `client_cfg` is `ClientCfg` (or `Protocol`) from Initialize, as the merchant server passed it on. A
    /// configuration that cannot be read is reported by [`DeviceSession::run`] as result code 1003.
    pub fn new(client_cfg: &str, capture: Box<dyn CaptureSource>) -> Self {
        DeviceSession {
            config: read_config(client_cfg),
            capture: Some(capture),
            meta_info: get_meta_info(DeviceFacts::for_this_build()),
            policy: NetworkPolicy::default(),
            cancel: CancelHandle::default(),
            ran: false,
            http: None,
        }
    }

    /// The HTTP client's builder, for an app that brings its own TLS configuration (the mobile library: rustls
    /// with its own root store, no platform verifier). The session still sets its timeouts on it.
    pub fn with_http_client_builder(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http = Some(builder);
        self
    }

    /// The MetaInfo this device reports on start; pass the one the app gave its merchant server.
    pub fn with_meta_info(mut self, meta_info: impl Into<String>) -> Self {
        self.meta_info = meta_info.into();
        self
    }

    pub fn with_network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// The TransactionId of the configuration, empty when unreadable.
    pub fn transaction_id(&self) -> String {
        self.config.as_ref().map(|c| c.tid.clone()).unwrap_or_default()
    }

    /// Runs the flow to its end. Never fails: every outcome is a result code, announced last as
    /// [`Event::Finished`]. A session runs once; a second call ends with 1002 (SDK busy).
    pub async fn run(&mut self, events: &mut (dyn FnMut(Event) + Send)) -> SessionResult {
        let ended = if std::mem::replace(&mut self.ran, true) {
            Ended::new(result_code::SYSTEM_ERROR, "this session has already run; create a new one")
        } else {
            self.flow(events).await
        };
        events(Event::Finished { result_code: ended.code });
        SessionResult {
            result_code: ended.code,
            transaction_id: self.transaction_id(),
            error_code: ended.error_code,
            message: ended.message,
        }
    }

    /// [`DeviceSession::run`] for callers without an async runtime (mobile bindings, plain threads). Must not be
    /// called from inside a tokio runtime.
    pub fn run_blocking(&mut self, events: &mut (dyn FnMut(Event) + Send)) -> SessionResult {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(self.run(events)),
            Err(e) => {
                let code = result_code::SYSTEM_ERROR;
                events(Event::Finished { result_code: code });
                SessionResult {
                    result_code: code,
                    transaction_id: self.transaction_id(),
                    error_code: None,
                    message: format!("cannot start the SDK runtime: {e}"),
                }
            }
        }
    }

    async fn flow(&mut self, events: &mut (dyn FnMut(Event) + Send)) -> Ended {
        let cfg = match &self.config {
            Ok(cfg) => cfg,
            Err(why) => return Ended::new(result_code::INIT_FAILED, why.clone()),
        };
        let (now_s, now_ms) = unix_now();
        if now_s >= cfg.exp {
            return Ended::new(
                result_code::INIT_FAILED,
                "the client configuration has expired (or the device clock is wrong); start a new transaction",
            );
        }
        let http = match self
            .http
            .take()
            .unwrap_or_default()
            .timeout(self.policy.request_timeout)
            .connect_timeout(self.policy.request_timeout.min(Duration::from_secs(10)))
            .build()
        {
            Ok(h) => h,
            Err(e) => return Ended::new(result_code::SYSTEM_ERROR, format!("cannot create the HTTP client: {e}")),
        };
        let net = Transport { http, cfg, policy: &self.policy, cancel: &self.cancel };
        if self.cancel.is_cancelled() {
            // No device session exists yet; the server still closes the transaction, so the merchant learns of
            // the cancellation now rather than from a timeout half an hour later.
            return cancel(&net, "", events).await;
        }

        let start = StartRequest { meta_info: self.meta_info.clone(), device_time_ms: now_ms };
        let body = serde_json::to_vec(&start).expect("plain struct serialises");
        let started: StartResponse = match net.call(Endpoint::Start, "", &body, events).await {
            Ok(s) => s,
            Err(Stop::End(e)) => return e,
            Err(Stop::Cancelled) => return cancel(&net, "", events).await,
        };
        let session = started.session_id;
        let mut instruction = started.next;
        events(step_started(&instruction));

        for _ in 0..MAX_ROUNDS {
            if self.cancel.is_cancelled() {
                return cancel(&net, &session, events).await;
            }
            let (frames, meta) = match capture(&mut self.capture, &instruction).await {
                Ok(f) => f,
                // A capture source waiting for the camera gives up when the user cancels: that is a cancel.
                Err(_) if self.cancel.is_cancelled() => return cancel(&net, &session, events).await,
                Err(why) => return Ended::new(result_code::CAMERA_ERROR, why),
            };
            // Capturing can take the user a while; a cancel pressed meanwhile must not upload the frames.
            if self.cancel.is_cancelled() {
                return cancel(&net, &session, events).await;
            }
            let round = RoundRequest {
                round: instruction.round,
                nonce: instruction.nonce.clone(),
                step: instruction.step,
                frames,
                capture: meta,
            };
            let body = serde_json::to_vec(&round).expect("plain struct serialises");
            let answer: RoundResponse = match net.call(Endpoint::Round, &session, &body, events).await {
                Ok(a) => a,
                Err(Stop::End(e)) => return e,
                Err(Stop::Cancelled) => return cancel(&net, &session, events).await,
            };
            match answer {
                RoundResponse::Retake { reason_code, reason, next } => {
                    events(Event::Retake {
                        round: instruction.round,
                        step: instruction.step,
                        reason_code,
                        reason,
                        next_round: next.round,
                        hint: next.hint.clone(),
                        attempts_left: next.attempts_left,
                    });
                    instruction = next;
                }
                RoundResponse::Next { next } => {
                    events(Event::StepDone { round: instruction.round, step: instruction.step });
                    instruction = next;
                    events(step_started(&instruction));
                }
                RoundResponse::Done { result_code: code } => {
                    if code == result_code::PASS || code == result_code::FAIL {
                        events(Event::StepDone { round: instruction.round, step: instruction.step });
                    }
                    return Ended::new(code, "the server ended the flow");
                }
            }
        }
        let _ = cancel(&net, &session, events).await;
        Ended::new(result_code::SYSTEM_ERROR, format!("the server asked for more than {MAX_ROUNDS} rounds"))
    }
}

fn step_started(i: &Instruction) -> Event {
    Event::StepStarted {
        round: i.round,
        step: i.step,
        hint: i.hint.clone(),
        frames_wanted: i.frames_wanted,
        attempts_left: i.attempts_left,
    }
}

/// Runs the (possibly blocking) capture source off the async executor and checks what it produced.
async fn capture(
    slot: &mut Option<Box<dyn CaptureSource>>,
    instruction: &Instruction,
) -> Result<(Vec<Frame>, CaptureMeta), String> {
    let mut source = slot.take().ok_or("the capture source was lost after an earlier failure")?;
    let i = instruction.clone();
    let (source, result) = tokio::task::spawn_blocking(move || {
        let r = source.capture(&i);
        (source, r)
    })
    .await
    .map_err(|_| "the capture source panicked".to_owned())?;
    let name = source.source_name(instruction.step);
    *slot = Some(source);
    let captured = result.map_err(|e| format!("capture failed: {e}"))?;
    if captured.is_empty() {
        return Err("the capture source produced no frames".into());
    }
    let mut size = None;
    let mut frames = Vec::with_capacity(captured.len());
    for (n, f) in captured.into_iter().enumerate() {
        let Some(dims) = image_dimensions(&f.bytes) else {
            return Err(format!("frame {n} of the capture is neither JPEG nor PNG"));
        };
        size.get_or_insert(dims);
        frames.push(Frame { image: base64::engine::general_purpose::STANDARD.encode(&f.bytes), t_ms: f.t_ms });
    }
    let (width, height) = size.unwrap_or_default();
    Ok((frames, CaptureMeta { source: name, width, height }))
}

/// Tells the server the user cancelled. The result is 1006 whatever the server answers: the user has left.
async fn cancel(net: &Transport<'_>, session: &str, events: &mut (dyn FnMut(Event) + Send)) -> Ended {
    let told = match net.call::<RoundResponse>(Endpoint::Cancel, session, b"{}", events).await {
        Ok(_) => "the server closed the transaction".to_owned(),
        Err(Stop::End(e)) => format!("the server was not told ({})", e.message),
        Err(Stop::Cancelled) => "the server was not told".to_owned(),
    };
    Ended::new(result_code::CANCELLED_OR_TIMEOUT, format!("cancelled by the user; {told}"))
}

impl DeviceFacts {
    /// Facts for an app that did not pass its own MetaInfo: the build's OS family, nothing else.
    pub fn for_this_build() -> DeviceFacts {
        let device_type =
            if cfg!(target_os = "ios") { idv_protocol::DeviceType::Ios } else { idv_protocol::DeviceType::Android };
        DeviceFacts {
            device_type,
            device_model: String::new(),
            os_version: String::new(),
            app_name: String::new(),
            app_version: String::new(),
            user_agent: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_future_can_be_spawned() {
        fn send<T: Send>(_: T) {}
        let mut session = DeviceSession::new("unread", Box::new(crate::FileCapture::new()));
        let mut sink = |_: Event| {};
        send(session.run(&mut sink));
    }

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let p = NetworkPolicy {
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            ..NetworkPolicy::default()
        };
        for _ in 0..200 {
            for (attempt, full) in [(1u32, 200u64), (2, 400), (3, 800), (4, 1600), (5, 3200), (6, 5000), (40, 5000)] {
                let d = p.backoff(attempt).as_millis() as u64;
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d} ms outside [{}, {full}]", full / 2);
            }
        }
        let zero = NetworkPolicy { base_delay: Duration::ZERO, ..NetworkPolicy::default() };
        assert_eq!(zero.backoff(3), Duration::ZERO);
    }

    #[test]
    fn refusals_map_to_result_codes() {
        let body = |code: &str, rc: Option<u32>| {
            serde_json::to_vec(&DeviceError { code: code.into(), message: "m".into(), result_code: rc }).unwrap()
        };
        let cases = [
            (Endpoint::Start, body(error_code::SESSION_IN_USE, None), result_code::INVALID_TRANSACTION),
            (Endpoint::Round, body(error_code::TRANSACTION_CLOSED, None), result_code::INVALID_TRANSACTION),
            (Endpoint::Start, body(error_code::CONFIG_EXPIRED, None), result_code::INIT_FAILED),
            (Endpoint::Start, body(error_code::UNSUPPORTED_DEVICE, None), result_code::INIT_FAILED),
            (Endpoint::Start, body(error_code::BAD_SIGNATURE, None), result_code::INIT_FAILED),
            (Endpoint::Round, body(error_code::OUT_OF_ORDER, None), result_code::SYSTEM_ERROR),
            (Endpoint::Round, body(error_code::TRANSACTION_CLOSED, Some(1006)), 1006),
            (Endpoint::Start, b"<html>".to_vec(), result_code::INIT_FAILED),
            (Endpoint::Round, b"<html>".to_vec(), result_code::SYSTEM_ERROR),
        ];
        for (endpoint, body, want) in cases {
            let e = refusal(endpoint, 400, &body);
            assert_eq!(e.code, want, "{}", String::from_utf8_lossy(&body));
        }
        let e = refusal(Endpoint::Round, 409, &body(error_code::SESSION_IN_USE, None));
        assert_eq!(e.error_code.as_deref(), Some(error_code::SESSION_IN_USE));
    }

    #[test]
    fn unreadable_configurations_are_refused_up_front() {
        assert!(read_config("garbage").is_err());
        // Truncated configurations are refused with a message (slicing inside the prefix used to panic).
        for t in ["idv1.", "idv1", "idv1..", " idv1. ", "idv1.e30"] {
            assert!(read_config(t).is_err(), "{t:?}");
        }
        let key = idv_crypto::Key::random();
        let mut cfg = ClientConfig {
            tid: "t".into(),
            product: idv_protocol::Product::Ekyc,
            steps: vec![Step::DocFront],
            api: "http://127.0.0.1:1/device/v1/".into(),
            cred: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]),
            iat: 0,
            exp: 1,
        };
        let ok = read_config(&format!(" {} \n", cfg.sign(&key))).unwrap();
        assert_eq!(ok.api, "http://127.0.0.1:1/device/v1");
        assert_eq!(ok.cred, vec![7u8; 32]);
        cfg.cred = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 16]);
        assert!(read_config(&cfg.sign(&key)).err().unwrap().contains("32 bytes"));
        cfg.cred = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
        cfg.api = "file:///etc".into();
        assert!(read_config(&cfg.sign(&key)).err().unwrap().contains("http"));
    }
}

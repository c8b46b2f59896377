//! The device API: the messages the client SDK and the server exchange while one transaction's capture steps run.
//! `docs/device-protocol.md` is the prose description; this module is its single source of truth in code.
//!
//! Transport: JSON over HTTP(S) to the `api` base URL of the client configuration.
//! - `POST {api}/start`  → [`StartRequest`] / [`StartResponse`]: binds the transaction to one device session.
//! - `POST {api}/round`  → [`RoundRequest`] / [`RoundResponse`]: one capture step's frames; the answer is typed.
//! - `POST {api}/status` → [`StatusResponse`].
//! - `POST {api}/cancel` → [`RoundResponse::Done`] with result code 1006.
//!
//! Every request carries three headers: `x-idv-config` (the signed client configuration, re-verified by the
//! server on every call), `x-idv-session` (empty on `start`), and `x-idv-signature`, an HMAC-SHA256 under the
//! device credential over the method, path, session and body hash ([`request_mac`]). Replay and reordering are
//! refused through the server-issued, single-use round nonce inside each round body.

use serde::{Deserialize, Serialize};

use idv_flow::Step;

/// Result codes the SDK reports to the app (`docs/wire-facts.md#client-result-codes`).
pub mod result_code {
    /// Flow completed, suggested result PASS (confirm with CheckResult).
    pub const PASS: u32 = 1000;
    /// Flow completed, suggested result FAIL.
    pub const FAIL: u32 = 1001;
    /// System error on the device (SDK busy, internal failure).
    pub const SYSTEM_ERROR: u32 = 1002;
    /// Initialisation failed: malformed or expired configuration, start refused.
    pub const INIT_FAILED: u32 = 1003;
    /// Camera / capture source error.
    pub const CAMERA_ERROR: u32 = 1004;
    /// Network error talking to the device API (after retries).
    pub const NETWORK_ERROR: u32 = 1005;
    /// The user cancelled, or the flow timed out.
    pub const CANCELLED_OR_TIMEOUT: u32 = 1006;
    /// The TransactionId is invalid or already used by another device session.
    pub const INVALID_TRANSACTION: u32 = 1007;
    /// The wrong document type was presented.
    pub const WRONG_DOCUMENT: u32 = 1011;
    /// Image quality stayed too poor.
    pub const POOR_QUALITY: u32 = 1013;
    /// Too many failed attempts (retakes exhausted).
    pub const TOO_MANY_ERRORS: u32 = 1014;
}

/// `POST {api}/start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRequest {
    /// The MetaInfo JSON of the device now running the flow.
    pub meta_info: String,
    /// Device clock, Unix milliseconds: lets the server report a wrong clock (result code 1009) instead of
    /// failing obscurely on timestamps later.
    pub device_time_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartResponse {
    pub session_id: String,
    pub steps: Vec<Step>,
    /// Unix seconds; the transaction's hard deadline.
    pub expires_at: i64,
    /// The session ends if no round arrives for this long.
    pub idle_timeout_s: u32,
    pub next: Instruction,
}

/// What the device must capture next, bound to a single-use nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instruction {
    /// 1-based, strictly increasing; a round is accepted only with the number and nonce of the latest instruction.
    pub round: u32,
    pub nonce: String,
    pub step: Step,
    /// Human hint for the capture screen ("Place the photo page of your passport in the frame").
    pub hint: String,
    /// Frames wanted for this step (1 for a document page; a short burst for the face).
    pub frames_wanted: u32,
    /// Liveness challenge for the face step; `None` for document steps.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub challenge: Option<Challenge>,
    /// Attempts left for this step, this one included.
    pub attempts_left: u32,
}

/// A liveness challenge, issued only when the face step starts so frames cannot be prepared in advance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Actions to perform, in order (`blink`, `open_mouth`, `head_left`, `head_right`, `farther`, `closer`); an
    /// action may be asked for more than once (the default model asks for one to three blinks).
    pub actions: Vec<String>,
    /// When to ask for each action (one per action, increasing), milliseconds after the capture's first frame
    /// (the flash colours' clock). The device shows action `k`'s cue at `cues_ms[k]`; the user must complete
    /// it between the cue plus a reaction time (300 ms) and the cue plus `action_window_ms`. Empty in messages
    /// of servers older than the field.
    #[serde(default)]
    pub cues_ms: Vec<u32>,
    /// Screen colours to flash, in order, as `#rrggbb` (colour-flash liveness); empty when not requested.
    #[serde(default)]
    pub colours: Vec<String>,
    /// How long each colour stays on screen, milliseconds (the sequence starts with the first frame).
    #[serde(default)]
    pub colour_ms: u32,
    /// Capture cadence the server expects, milliseconds between frames.
    pub frame_interval_ms: u32,
    /// Time allowed per action from its cue, milliseconds.
    pub action_window_ms: u32,
}

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// JPEG or PNG bytes, standard Base64.
    pub image: String,
    /// Capture time on the device, milliseconds since the round's instruction arrived.
    pub t_ms: u32,
}

/// How the frames were captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CaptureMeta {
    /// `front`, `back`, or `file` (simulator / tests).
    pub source: String,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
}

/// `POST {api}/round`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRequest {
    pub round: u32,
    pub nonce: String,
    pub step: Step,
    pub frames: Vec<Frame>,
    #[serde(default)]
    pub capture: CaptureMeta,
}

/// The server's typed answer to a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RoundResponse {
    /// The capture is unusable; capture the same step again.
    Retake { reason_code: String, reason: String, next: Instruction },
    /// The step is done; go on with the next one.
    Next { next: Instruction },
    /// The flow is over. `result_code` is the SDK result code (1000 pass suggested, 1001 fail suggested, …).
    Done { result_code: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// `initialized`, `in_progress`, `completed`, `failed`, `expired`, `cancelled`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next: Option<Instruction>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub result_code: Option<u32>,
}

/// An error of the device API: HTTP 4xx/5xx with this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceError {
    pub code: String,
    pub message: String,
    /// The SDK result code this error ends the flow with, when it is final.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub result_code: Option<u32>,
}

/// Device API error codes.
pub mod error_code {
    pub const BAD_CONFIG: &str = "BadConfig";
    pub const CONFIG_EXPIRED: &str = "ConfigExpired";
    pub const BAD_SIGNATURE: &str = "BadSignature";
    pub const SESSION_IN_USE: &str = "SessionInUse";
    pub const UNKNOWN_SESSION: &str = "UnknownSession";
    pub const OUT_OF_ORDER: &str = "OutOfOrder";
    pub const NONCE_REUSED: &str = "NonceReused";
    pub const WRONG_STEP: &str = "WrongStep";
    pub const TRANSACTION_CLOSED: &str = "TransactionClosed";
    pub const UNSUPPORTED_DEVICE: &str = "UnsupportedDevice";
    pub const BAD_REQUEST: &str = "BadRequest";
    pub const TOO_LARGE: &str = "TooLarge";
    pub const INTERNAL: &str = "Internal";
    pub const UNAVAILABLE: &str = "Unavailable";
    /// HTTP 409: another copy of this round (same round number and nonce) is running on the engines now. Not
    /// final: resend the same bytes after `Retry-After` seconds to get that round's answer.
    pub const ROUND_IN_PROGRESS: &str = "RoundInProgress";
    /// HTTP 429: too many calls for this transaction or from this client address. Not final: retry after
    /// `Retry-After` seconds.
    pub const THROTTLED: &str = "Throttled";
}

/// The string the device signs for one request.
pub fn signing_input(method: &str, path: &str, session: &str, body: &[u8]) -> String {
    use sha2::Digest;
    format!("IDV-DEVICE-V1\n{method}\n{path}\n{session}\n{}", hex::encode(sha2::Sha256::digest(body)))
}

/// `x-idv-signature` for a request, under the device credential (raw bytes).
pub fn request_mac(credential: &[u8], method: &str, path: &str, session: &str, body: &[u8]) -> String {
    let key = idv_crypto::Key::from_bytes(credential)
        .map(|k| k.hmac_sha256(signing_input(method, path, session, body).as_bytes()));
    match key {
        Ok(tag) => hex::encode(tag),
        // A credential of the wrong length cannot come from a valid configuration; sign nothing verifiable.
        Err(_) => String::new(),
    }
}

/// Constant-time check of `x-idv-signature`.
pub fn verify_request_mac(
    credential: &[u8],
    method: &str,
    path: &str,
    session: &str,
    body: &[u8],
    mac_hex: &str,
) -> bool {
    let Ok(key) = idv_crypto::Key::from_bytes(credential) else { return false };
    let Ok(tag) = hex::decode(mac_hex) else { return false };
    key.verify_hmac_sha256(signing_input(method, path, session, body).as_bytes(), &tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_tagged_json() {
        let done = RoundResponse::Done { result_code: result_code::PASS };
        assert_eq!(serde_json::to_string(&done).unwrap(), r#"{"outcome":"done","result_code":1000}"#);
        let back: RoundResponse = serde_json::from_str(r#"{"outcome":"done","result_code":1001}"#).unwrap();
        assert_eq!(back, RoundResponse::Done { result_code: 1001 });
        assert!(serde_json::from_str::<RoundResponse>(r#"{"outcome":"maybe"}"#).is_err());
    }

    #[test]
    fn request_macs_bind_every_part() {
        let cred = [9u8; 32];
        let mac = request_mac(&cred, "POST", "/device/v1/round", "s1", b"{}");
        assert!(verify_request_mac(&cred, "POST", "/device/v1/round", "s1", b"{}", &mac));
        assert!(!verify_request_mac(&cred, "POST", "/device/v1/round", "s2", b"{}", &mac));
        assert!(!verify_request_mac(&cred, "POST", "/device/v1/start", "s1", b"{}", &mac));
        assert!(!verify_request_mac(&cred, "POST", "/device/v1/round", "s1", b"{ }", &mac));
        assert!(!verify_request_mac(&[8u8; 32], "POST", "/device/v1/round", "s1", b"{}", &mac));
        assert!(!verify_request_mac(&cred, "POST", "/device/v1/round", "s1", b"{}", "zz"));
    }
}

//! The device flow's handlers: start, round, status, cancel. The state machine is `idv_flow::Flow`; this file
//! binds it to a device session, nonces, challenges and the store.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use idv_api::TransactionOptions;
use idv_api::initialize::LivenessAction;
use idv_flow::{Ending, Flow, Next, Step, Timeout};
use idv_liveness::{Action, ChallengePlan, ChallengeSpec};
use idv_protocol::MetaInfo;
use idv_protocol::device::{
    Challenge, Instruction, RoundRequest, RoundResponse, StartRequest, StartResponse, StatusResponse, error_code,
    result_code,
};
use idv_store::{RoundUpdate, TxState};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{DeviceCall, DeviceError, final_result_code};
use crate::AppState;
use crate::steps::{self, Capture, challenge_spec, challenge_wire};

/// Frames a round may carry at most, whatever was asked.
const MAX_FRAMES: usize = 120;

/// How long a round's claim holds (seconds): longer than the SDK's 60 s request timeout, so the SDK's own resend
/// of a slow round waits for it instead of running it twice, and short enough that a worker that died mid-round
/// blocks the session only briefly.
const ROUND_LEASE_S: i64 = 90;

/// Server-side state of the device flow, sealed in the store with the transaction's data key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FlowState {
    flow: Flow,
    /// The current round's single-use nonce.
    nonce: String,
    /// Hash of the start request, so a resent start gets the same answer.
    start_hash: String,
    /// The challenge of the current face round, as issued.
    challenge: Option<Challenge>,
}

impl FlowState {
    pub(crate) fn instruction(&self) -> Instruction {
        let step = self.flow.step();
        let (hint, frames) = match step {
            Step::DocFront => ("Place the page with the photo in the frame", 1),
            Step::DocBack => ("Turn the card over and place the back in the frame", 1),
            Step::Face => {
                let frames = self
                    .challenge
                    .as_ref()
                    .and_then(|c| challenge_spec(c).ok())
                    .map_or(5, |s| s.frames_wanted(MAX_FRAMES as u32));
                ("Look at the screen and follow the instructions", frames)
            }
        };
        Instruction {
            round: self.flow.round(),
            nonce: self.nonce.clone(),
            step,
            hint: hint.to_owned(),
            frames_wanted: frames,
            challenge: if step == Step::Face { self.challenge.clone() } else { None },
            attempts_left: self.flow.attempts_left(),
        }
    }

    /// A new round opened: a fresh nonce, and for the face step a fresh challenge, so frames prepared for the
    /// old one are useless.
    fn open_round(&mut self, options: &TransactionOptions) {
        self.nonce = idv_crypto::random_hex(16);
        self.challenge = if self.flow.step() == Step::Face { issue_challenge(options) } else { None };
    }
}

fn action(a: LivenessAction) -> Option<Action> {
    Some(match a {
        LivenessAction::Blink => Action::Blink,
        LivenessAction::OpenMouth => Action::OpenMouth,
        LivenessAction::HeadLeft => Action::HeadLeft,
        LivenessAction::HeadRight => Action::HeadRight,
        LivenessAction::Farther => Action::Farther,
        LivenessAction::Closer => Action::Closer,
        LivenessAction::ColourFlash => return None,
    })
}

/// Draws the challenge when the face step starts (not before), so frames cannot be prepared in advance.
fn issue_challenge(options: &TransactionOptions) -> Option<Challenge> {
    let live = options.liveness.as_ref()?;
    let plan = ChallengePlan {
        actions: live.actions.iter().copied().filter_map(action).collect(),
        draw: live.random.then_some(live.count),
        flash: live.needs_flash(),
        // The default model's single blink is asked for one to three times; a merchant's template keeps its
        // actions (and PHOTINUS has its colours to be unpredictable).
        repeat: live.model == "LIVENESS",
    };
    let mut rng = rand::rng();
    Some(challenge_wire(&ChallengeSpec::issue(&plan, || rng.random())))
}

fn closed(call: &DeviceCall) -> DeviceError {
    DeviceError::conflict(
        error_code::TRANSACTION_CLOSED,
        format!("the transaction is {}", call.tx.state.as_str()),
        Some(final_result_code(&call.tx)),
    )
}

/// Closes a transaction whose time ran out and refuses the call.
async fn time_out(state: &AppState, call: &DeviceCall, why: Timeout) -> DeviceError {
    if let Err(e) = crate::finish::expire(state, &call.tx.id, why, call.now).await {
        return e.into();
    }
    DeviceError::conflict(error_code::TRANSACTION_CLOSED, why.reason(), Some(result_code::CANCELLED_OR_TIMEOUT))
}

fn unsupported(e: impl std::fmt::Display) -> DeviceError {
    DeviceError::new(
        StatusCode::BAD_REQUEST,
        error_code::UNSUPPORTED_DEVICE,
        e.to_string(),
        Some(result_code::INIT_FAILED),
    )
}

pub(super) async fn start(
    State(state): State<Arc<AppState>>,
    call: DeviceCall,
) -> Result<Json<StartResponse>, DeviceError> {
    let req: StartRequest = call.parse("start request")?;
    if let Some(session) = state.store.get_device_session(&call.tx.id).await? {
        let flow: FlowState = serde_json::from_slice(&session.state).map_err(DeviceError::internal)?;
        // The same device resending its start (its first answer was lost) gets the same answer.
        if flow.start_hash == call.body_hash && session.version == 1 {
            return Ok(Json(start_response(session.session_id, &flow, &call, &state)));
        }
        return Err(DeviceError::conflict(
            error_code::SESSION_IN_USE,
            "another device session already runs this transaction",
            Some(result_code::INVALID_TRANSACTION),
        ));
    }
    if call.tx.state.is_final() {
        return Err(closed(&call));
    }
    if call.now >= call.tx.expires_at {
        return Err(time_out(&state, &call, Timeout::BeforeStart).await);
    }
    let options = call.options()?;
    let meta = MetaInfo::parse(&req.meta_info).map_err(unsupported)?;
    let needs_flash = options.liveness.as_ref().is_some_and(|l| l.needs_flash());
    meta.check_usable(options.product, needs_flash).map_err(unsupported)?;
    let (session_id, flow) =
        open_session(&state, &call.tx.id, call.cfg.steps.clone(), &options, &call.body_hash, call.now)
            .await?
            .ok_or_else(|| {
                DeviceError::conflict(
                    error_code::SESSION_IN_USE,
                    "the transaction cannot be started again",
                    Some(result_code::INVALID_TRANSACTION),
                )
            })?;
    tracing::info!(transaction_id = %call.tx.id, device = meta.device_type.as_str(), "device session started");
    let detail = serde_json::json!({"session": session_id});
    crate::audit::audit(&state, "device", "device.started", Some(&call.tx.id), Some(&call.tx.merchant_id), detail)
        .await;
    Ok(Json(start_response(session_id, &flow, &call, &state)))
}

/// Binds a new device session running `steps` to the transaction, with its first round open: the device API's
/// `start`, and the hosted page when it is opened. `None` when a session was bound first.
pub(crate) async fn open_session(
    state: &AppState,
    transaction_id: &str,
    steps: Vec<Step>,
    options: &TransactionOptions,
    start_hash: &str,
    now: i64,
) -> Result<Option<(String, FlowState)>, DeviceError> {
    let mut flow = FlowState {
        flow: Flow::new(steps).map_err(DeviceError::internal)?,
        nonce: String::new(),
        start_hash: start_hash.to_owned(),
        challenge: None,
    };
    flow.open_round(options);
    let session_id = idv_crypto::random_hex(16);
    let bytes = serde_json::to_vec(&flow).map_err(DeviceError::internal)?;
    if !state.store.start_device_session(transaction_id, &session_id, &bytes, now).await? {
        return Ok(None);
    }
    Ok(Some((session_id, flow)))
}

fn start_response(session_id: String, flow: &FlowState, call: &DeviceCall, state: &AppState) -> StartResponse {
    StartResponse {
        session_id,
        steps: flow.flow.steps().to_vec(),
        expires_at: call.tx.expires_at,
        idle_timeout_s: state.config.device_idle_timeout.as_secs() as u32,
        next: flow.instruction(),
    }
}

/// Loads the session named by the call, refusing calls from any other session.
async fn session(state: &AppState, call: &DeviceCall) -> Result<(FlowState, idv_store::DeviceSession), DeviceError> {
    let session = state.store.get_device_session(&call.tx.id).await?.ok_or_else(|| {
        DeviceError::conflict(error_code::UNKNOWN_SESSION, "the transaction has not been started", None)
    })?;
    if session.session_id != call.session_header {
        return Err(DeviceError::conflict(
            error_code::SESSION_IN_USE,
            "this transaction belongs to another device session",
            Some(result_code::INVALID_TRANSACTION),
        ));
    }
    let flow: FlowState = serde_json::from_slice(&session.state).map_err(DeviceError::internal)?;
    Ok((flow, session))
}

pub(super) async fn round(
    State(state): State<Arc<AppState>>,
    call: DeviceCall,
) -> Result<Json<RoundResponse>, DeviceError> {
    let (mut fs, session) = session(&state, &call).await?;
    // An exact resend of the last accepted round (its answer was lost) gets that answer again, even after the
    // round closed the transaction.
    if session.last_request_hash.as_deref() == Some(call.body_hash.as_str())
        && let Some(resp) = &session.last_response
    {
        return serde_json::from_slice(resp).map(Json).map_err(DeviceError::internal);
    }
    if call.tx.state.is_final() {
        return Err(closed(&call));
    }
    let idle = state.config.device_idle_timeout.as_secs() as i64;
    if let Some(why) = idv_flow::timed_out(call.now, call.tx.expires_at, Some(session.updated_at), idle) {
        return Err(time_out(&state, &call, why).await);
    }
    let req: RoundRequest = call.parse("round request")?;
    let flow = &fs.flow;
    if req.round != flow.round() {
        let code = if req.round < flow.round() { error_code::NONCE_REUSED } else { error_code::OUT_OF_ORDER };
        return Err(DeviceError::conflict(code, format!("expected round {}, got {}", flow.round(), req.round), None));
    }
    if req.nonce != fs.nonce {
        return Err(DeviceError::conflict(error_code::NONCE_REUSED, "the round nonce is not the one issued", None));
    }
    let step = flow.step();
    if req.step != step {
        return Err(DeviceError::conflict(error_code::WRONG_STEP, format!("expected step {step:?}"), None));
    }
    if req.frames.is_empty() || req.frames.len() > MAX_FRAMES {
        return Err(DeviceError::bad_request(format!("a round carries 1-{MAX_FRAMES} frames")));
    }
    // Frames read from files are the simulator's and the tests': a production server takes camera captures only.
    if req.capture.source == "file" && !state.config.test_mode {
        return Err(DeviceError::new(
            StatusCode::BAD_REQUEST,
            error_code::BAD_REQUEST,
            "capture.source \"file\" is accepted only by a server in test mode",
            Some(result_code::CAMERA_ERROR),
        ));
    }
    let options = call.options()?;
    // A picture from the gallery is a document the user photographed earlier: the merchant allows it with
    // ShowAlbumIcon, and never for the face, whose frames must be taken now.
    if req.capture.source == "album" && (step == Step::Face || !options.show_album_icon) {
        let why = if step == Step::Face {
            "capture.source \"album\" is not accepted for the face step: its frames must be fresh captures"
        } else {
            "capture.source \"album\" needs a transaction initialised with ShowAlbumIcon=1"
        };
        return Err(DeviceError::new(
            StatusCode::BAD_REQUEST,
            error_code::BAD_REQUEST,
            why,
            Some(result_code::CAMERA_ERROR),
        ));
    }
    let mut frames = Vec::with_capacity(req.frames.len());
    for f in &req.frames {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&f.image)
            .map_err(|_| DeviceError::bad_request("a frame is not valid Base64"))?;
        frames.push((bytes, f.t_ms));
    }
    let capture = Capture {
        transaction_id: &call.tx.id,
        merchant_id: &call.tx.merchant_id,
        options: &options,
        step,
        frames,
        challenge: fs.challenge.as_ref(),
        now: call.now,
    };
    // Claimed before the engines run: concurrent copies of this round (same number and nonce, all past the checks
    // above) are answered at once instead of each queueing engine work that only the first save would keep.
    let lease_until = call.now + ROUND_LEASE_S;
    if !state.store.claim_round(&call.tx.id, session.version, req.round, call.now, lease_until).await? {
        return claim_refused(&state, &call, session.version).await;
    }
    let measured = match steps::run(&state, capture, fs.flow.evidence()).await {
        Ok(m) => m,
        Err(e) => {
            // Nothing was saved (an overloaded pool, an engine failure): free the round for the device's retry.
            if let Err(r) = state.store.release_round(&call.tx.id, session.version, lease_until).await {
                tracing::warn!(transaction_id = %call.tx.id, error = %r, "round claim not released; it lapses");
            }
            return Err(e.into());
        }
    };
    let mut detail = measured.detail;
    let selfie_embedding = measured.selfie_embedding;
    let this_round = fs.flow.round();
    let next = fs.flow.accept(&options.policy(), measured.outcome).map_err(DeviceError::internal)?;
    let (response, outcome, finish) = match next {
        Next::Step(_) => {
            fs.open_round(&options);
            (RoundResponse::Next { next: fs.instruction() }, "next".to_owned(), None)
        }
        // The measured detail stays in the round record (`detail`); the device gets the code and a fixed sentence.
        Next::Retake { reason, detail: _ } => {
            fs.open_round(&options);
            // The reason code is kept in the clear with the round (it is not personal data): the drop-off log
            // (CheckVerifyLog) reads it after the sealed detail is gone.
            let outcome = format!("retake:{}", reason.code());
            (
                RoundResponse::Retake {
                    reason_code: reason.code().to_owned(),
                    reason: reason.message().to_owned(),
                    next: fs.instruction(),
                },
                outcome,
                None,
            )
        }
        Next::Done { verdict, ending: Ending::Decided } => {
            let code = if verdict.passed { result_code::PASS } else { result_code::FAIL };
            (RoundResponse::Done { result_code: code }, "done".to_owned(), Some((TxState::Completed, verdict)))
        }
        Next::Done { verdict, ending: Ending::Exhausted } => {
            detail["exhausted"] = true.into();
            (
                RoundResponse::Done { result_code: result_code::TOO_MANY_ERRORS },
                "exhausted".to_owned(),
                Some((TxState::Failed, verdict)),
            )
        }
    };
    let response_bytes = serde_json::to_vec(&response).map_err(DeviceError::internal)?;
    let state_bytes = serde_json::to_vec(&fs).map_err(DeviceError::internal)?;
    let detail_bytes = serde_json::to_vec(&detail).map_err(DeviceError::internal)?;
    let verdict_bytes = match &finish {
        Some((_, verdict)) => Some(serde_json::to_vec(verdict).map_err(DeviceError::internal)?),
        None => None,
    };
    let saved = state
        .store
        .save_round(
            &call.tx.id,
            session.version,
            RoundUpdate {
                state: &state_bytes,
                round: this_round,
                step: step.as_str(),
                outcome: &outcome,
                detail: &detail_bytes,
                request_hash: &call.body_hash,
                response: &response_bytes,
                finish: finish.as_ref().zip(verdict_bytes.as_deref()).map(|((to, _), v)| (*to, v)),
                now: call.now,
            },
        )
        .await?;
    if !saved {
        return Err(DeviceError::conflict(error_code::OUT_OF_ORDER, "a concurrent round was accepted first", None));
    }
    tracing::info!(transaction_id = %call.tx.id, round = this_round, step = step.as_str(), outcome = %outcome, "round accepted");
    if let Some((to, verdict)) = &finish {
        let detail =
            serde_json::json!({"state": to.as_str(), "passed": verdict.passed, "subCode": verdict.sub_code.code()});
        crate::audit::audit(
            &state,
            "device",
            "transaction.finished",
            Some(&call.tx.id),
            Some(&call.tx.merchant_id),
            detail,
        )
        .await;
        crate::callbacks::wake(&state);
        // AutoRegistration: a face that passed (so it is live and not another user's) joins the register group.
        if let (true, Some(fl), Some(embedding)) = (verdict.passed, &options.face_library, &selfie_embedding)
            && fl.auto_registration
            && let Some(group) = &fl.register_group
        {
            let registered = crate::face_library::register(
                &state,
                &call.tx.merchant_id,
                "device",
                group,
                &options.merchant_user_id,
                "AUTO",
                embedding,
                fl.update_if_exists,
            )
            .await;
            match registered {
                Ok(r) => {
                    tracing::info!(transaction_id = %call.tx.id, registered = r.is_some(), "face library registration")
                }
                // The verdict is saved and stands; the merchant can register with AddFaceRecord.
                Err(e) => tracing::error!(transaction_id = %call.tx.id, error = %e, "face library registration failed"),
            }
        }
    }
    Ok(Json(response))
}

/// The answer to a round whose claim was refused: the stored answer if the round that won was this very request
/// (it finished meanwhile), a refusal if another round was saved since this one was read, and otherwise "in
/// progress", since a copy of this round holds the claim.
async fn claim_refused(
    state: &AppState,
    call: &DeviceCall,
    read_version: i64,
) -> Result<Json<RoundResponse>, DeviceError> {
    let Some(now) = state.store.get_device_session(&call.tx.id).await? else {
        return Err(DeviceError::conflict(error_code::UNKNOWN_SESSION, "the transaction has not been started", None));
    };
    if now.version == read_version {
        return Err(DeviceError::round_in_progress());
    }
    if now.last_request_hash.as_deref() == Some(call.body_hash.as_str())
        && let Some(resp) = &now.last_response
    {
        return serde_json::from_slice(resp).map(Json).map_err(DeviceError::internal);
    }
    Err(DeviceError::conflict(error_code::OUT_OF_ORDER, "a concurrent round was accepted first", None))
}

pub(super) async fn status(
    State(state): State<Arc<AppState>>,
    call: DeviceCall,
) -> Result<Json<StatusResponse>, DeviceError> {
    if call.tx.state.is_final() {
        return Ok(Json(StatusResponse {
            state: call.tx.state.as_str().into(),
            next: None,
            result_code: Some(final_result_code(&call.tx)),
        }));
    }
    let next = match state.store.get_device_session(&call.tx.id).await? {
        Some(s) if s.session_id == call.session_header => {
            Some(serde_json::from_slice::<FlowState>(&s.state).map_err(DeviceError::internal)?.instruction())
        }
        _ => None,
    };
    Ok(Json(StatusResponse { state: call.tx.state.as_str().into(), next, result_code: None }))
}

pub(super) async fn cancel(
    State(state): State<Arc<AppState>>,
    call: DeviceCall,
) -> Result<Json<RoundResponse>, DeviceError> {
    if call.tx.state.is_final() {
        return Err(closed(&call));
    }
    if call.tx.state == TxState::InProgress {
        session(&state, &call).await?;
    }
    crate::finish::cancel(&state, &call.tx.id, "device", call.now).await?;
    tracing::info!(transaction_id = %call.tx.id, "device cancelled the flow");
    Ok(Json(RoundResponse::Done { result_code: result_code::CANCELLED_OR_TIMEOUT }))
}

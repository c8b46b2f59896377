//! The flow of one transaction on the device side: start, rounds, status, cancel.

use base64::Engine;
use idv_api::TransactionOptions;
use idv_api::initialize::LivenessAction;
use idv_protocol::device::{
    Challenge, Instruction, RoundRequest, RoundResponse, StartRequest, StartResponse, StatusResponse, error_code,
    result_code,
};
use idv_protocol::{MetaInfo, Step};
use idv_store::{RoundUpdate, TxState};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

use super::{DeviceCall, Refusal, final_result_code};
use crate::AppState;
use crate::verify::{self, Evidence, StepResult};

/// Attempts per capture step before the flow ends as unusable.
pub const MAX_ATTEMPTS: u32 = 3;
/// Frames a round may carry at most, whatever was asked.
const MAX_FRAMES: usize = 120;

/// Server-side state of the device flow, sealed in the store with the transaction's data key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FlowState {
    steps: Vec<Step>,
    step_index: usize,
    round: u32,
    nonce: String,
    attempts_left: u32,
    /// Hash of the start request, so a resent start gets the same answer.
    start_hash: String,
    challenge: Option<Challenge>,
    evidence: Evidence,
}

impl FlowState {
    fn instruction(&self) -> Instruction {
        let step = self.steps[self.step_index];
        let (hint, frames) = match step {
            Step::DocFront => ("Place the page with the photo in the frame", 1),
            Step::DocBack => ("Turn the card over and place the back in the frame", 1),
            Step::Face => ("Look at the screen and follow the instructions", frames_for(self.challenge.as_ref())),
        };
        Instruction {
            round: self.round,
            nonce: self.nonce.clone(),
            step,
            hint: hint.to_owned(),
            frames_wanted: frames,
            challenge: if step == Step::Face { self.challenge.clone() } else { None },
            attempts_left: self.attempts_left,
        }
    }

    /// Moves to a new round with a fresh single-use nonce.
    fn advance(&mut self) {
        self.round += 1;
        self.nonce = idv_crypto::random_hex(16);
    }
}

fn frames_for(ch: Option<&Challenge>) -> u32 {
    match ch {
        // A settled baseline, then each action and each colour in its window.
        Some(c) => {
            let per_action = c.action_window_ms / c.frame_interval_ms.max(1);
            let flash = c.colours.len() as u32 * c.colour_ms / c.frame_interval_ms.max(1);
            (5 + per_action * c.actions.len() as u32 + flash).min(MAX_FRAMES as u32)
        }
        None => 5,
    }
}

/// Draws the challenge when the face step starts (not before), so frames cannot be prepared in advance.
fn challenge(options: &TransactionOptions) -> Option<Challenge> {
    let live = options.liveness.as_ref()?;
    let mut rng = rand::rng();
    let mut actions: Vec<LivenessAction> =
        live.actions.iter().copied().filter(|a| *a != LivenessAction::ColourFlash).collect();
    if live.random {
        let n = live.count.min(actions.len());
        actions = actions.choose_multiple(&mut rng, n).copied().collect();
    }
    let colours = if live.needs_flash() {
        idv_liveness::flash::colour_sequence(idv_liveness::flash::SEQUENCE_LEN, || rng.random())
            .into_iter()
            .map(idv_liveness::colour_hex)
            .collect()
    } else {
        Vec::new()
    };
    let name = |a: &LivenessAction| {
        serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    };
    Some(Challenge {
        actions: actions.iter().map(name).collect(),
        colours,
        colour_ms: idv_liveness::flash::COLOUR_MS,
        frame_interval_ms: 100,
        action_window_ms: 3000,
    })
}

fn options_of(call: &DeviceCall) -> Result<TransactionOptions, Refusal> {
    let bytes = call.tx.options.as_ref().ok_or_else(|| Refusal::internal("transaction options are gone"))?;
    serde_json::from_slice(bytes).map_err(Refusal::internal)
}

fn closed(call: &DeviceCall) -> Refusal {
    Refusal::new(
        409,
        error_code::TRANSACTION_CLOSED,
        format!("the transaction is {}", call.tx.state.as_str()),
        Some(final_result_code(&call.tx)),
    )
}

/// Closes a transaction whose time ran out (hard expiry or idle device) and refuses the call.
async fn time_out(state: &AppState, call: &DeviceCall, why: &str) -> Refusal {
    let verdict = idv_api::Verdict::failed(idv_api::subcode::TIMED_OUT, why);
    if let Ok(bytes) = serde_json::to_vec(&verdict) {
        match state.store.transition(&call.tx.id, TxState::OPEN, TxState::Expired, Some(&bytes), call.now).await {
            Ok(true) => {
                crate::callbacks::notify(state, &call.tx.id, call.tx.options.as_deref().map(|o| &o[..]), &verdict)
            }
            Ok(false) => {}
            Err(e) => return Refusal::internal(e),
        }
    }
    Refusal::new(409, error_code::TRANSACTION_CLOSED, why, Some(result_code::CANCELLED_OR_TIMEOUT))
}

pub(super) async fn start(state: &AppState, call: DeviceCall) -> Result<StartResponse, Refusal> {
    let req: StartRequest = serde_json::from_slice(&call.body)
        .map_err(|e| Refusal::new(400, error_code::BAD_REQUEST, e.to_string(), None))?;
    if let Some(session) = state.store.get_device_session(&call.tx.id).await? {
        let flow: FlowState = serde_json::from_slice(&session.state).map_err(Refusal::internal)?;
        // The same device resending its start (its first answer was lost) gets the same answer.
        if flow.start_hash == call.body_hash && session.version == 1 {
            return Ok(start_response(session.session_id, &flow, &call, state));
        }
        return Err(Refusal::new(
            409,
            error_code::SESSION_IN_USE,
            "another device session already runs this transaction",
            Some(result_code::INVALID_TRANSACTION),
        ));
    }
    if call.tx.state.is_final() {
        return Err(closed(&call));
    }
    if call.now >= call.tx.expires_at {
        return Err(time_out(state, &call, "the transaction expired before the device started").await);
    }
    let options = options_of(&call)?;
    let meta = MetaInfo::parse(&req.meta_info).map_err(|e| {
        Refusal::new(400, error_code::UNSUPPORTED_DEVICE, e.to_string(), Some(result_code::INIT_FAILED))
    })?;
    let needs_flash = options.liveness.as_ref().is_some_and(|l| l.needs_flash());
    meta.check_usable(options.product, needs_flash).map_err(|e| {
        Refusal::new(400, error_code::UNSUPPORTED_DEVICE, e.to_string(), Some(result_code::INIT_FAILED))
    })?;
    let flow = FlowState {
        steps: call.cfg.steps.clone(),
        step_index: 0,
        round: 1,
        nonce: idv_crypto::random_hex(16),
        attempts_left: MAX_ATTEMPTS,
        start_hash: call.body_hash.clone(),
        challenge: if call.cfg.steps.first() == Some(&Step::Face) { challenge(&options) } else { None },
        evidence: Evidence::default(),
    };
    if flow.steps.is_empty() {
        return Err(Refusal::internal("a transaction without steps"));
    }
    let session_id = idv_crypto::random_hex(16);
    let bytes = serde_json::to_vec(&flow).map_err(Refusal::internal)?;
    if !state.store.start_device_session(&call.tx.id, &session_id, &bytes, call.now).await? {
        return Err(Refusal::new(
            409,
            error_code::SESSION_IN_USE,
            "the transaction cannot be started again",
            Some(result_code::INVALID_TRANSACTION),
        ));
    }
    tracing::info!(transaction_id = %call.tx.id, device = meta.device_type.as_str(), "device session started");
    Ok(start_response(session_id, &flow, &call, state))
}

fn start_response(session_id: String, flow: &FlowState, call: &DeviceCall, state: &AppState) -> StartResponse {
    let idle_timeout_s = state.config.device_idle_timeout.as_secs() as u32;
    StartResponse {
        session_id,
        steps: flow.steps.clone(),
        expires_at: call.tx.expires_at,
        idle_timeout_s,
        next: flow.instruction(),
    }
}

/// Loads the session named by the call, refusing calls from any other session and closing idle ones.
async fn session(state: &AppState, call: &DeviceCall) -> Result<(FlowState, idv_store::DeviceSession), Refusal> {
    let session =
        state.store.get_device_session(&call.tx.id).await?.ok_or_else(|| {
            Refusal::new(409, error_code::UNKNOWN_SESSION, "the transaction has not been started", None)
        })?;
    if session.session_id != call.session_header {
        return Err(Refusal::new(
            409,
            error_code::SESSION_IN_USE,
            "this transaction belongs to another device session",
            Some(result_code::INVALID_TRANSACTION),
        ));
    }
    let flow: FlowState = serde_json::from_slice(&session.state).map_err(Refusal::internal)?;
    Ok((flow, session))
}

pub(super) async fn round(state: &AppState, call: DeviceCall) -> Result<RoundResponse, Refusal> {
    let (mut flow, session) = session(state, &call).await?;
    // An exact resend of the last accepted round (its answer was lost) gets that answer again, even after the
    // round closed the transaction.
    if session.last_request_hash.as_deref() == Some(call.body_hash.as_str())
        && let Some(resp) = &session.last_response
    {
        return serde_json::from_slice(resp).map_err(Refusal::internal);
    }
    if call.tx.state.is_final() {
        return Err(closed(&call));
    }
    if call.now >= call.tx.expires_at {
        return Err(time_out(state, &call, "the transaction expired before the flow completed").await);
    }
    if call.now - session.updated_at > state.config.device_idle_timeout.as_secs() as i64 {
        return Err(time_out(state, &call, "the device went quiet for longer than the idle timeout").await);
    }
    let req: RoundRequest = serde_json::from_slice(&call.body)
        .map_err(|e| Refusal::new(400, error_code::BAD_REQUEST, e.to_string(), None))?;
    if req.round != flow.round {
        let code = if req.round < flow.round { error_code::NONCE_REUSED } else { error_code::OUT_OF_ORDER };
        return Err(Refusal::new(409, code, format!("expected round {}, got {}", flow.round, req.round), None));
    }
    if req.nonce != flow.nonce {
        return Err(Refusal::new(409, error_code::NONCE_REUSED, "the round nonce is not the one issued", None));
    }
    let step = flow.steps[flow.step_index];
    if req.step != step {
        return Err(Refusal::new(409, error_code::WRONG_STEP, format!("expected step {step:?}"), None));
    }
    if req.frames.is_empty() || req.frames.len() > MAX_FRAMES {
        return Err(Refusal::new(400, error_code::BAD_REQUEST, format!("a round carries 1-{MAX_FRAMES} frames"), None));
    }
    let mut frames = Vec::with_capacity(req.frames.len());
    for f in &req.frames {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&f.image)
            .map_err(|_| Refusal::new(400, error_code::BAD_REQUEST, "a frame is not valid Base64", None))?;
        frames.push((bytes, f.t_ms));
    }
    let options = options_of(&call)?;

    let result =
        verify::process_step(state, &call.tx, &options, step, frames, flow.challenge.clone(), &flow.evidence).await?;
    let this_round = flow.round;
    let (response, outcome, detail, finish) = match result {
        StepResult::Accepted { evidence, detail } => {
            flow.evidence.merge(*evidence);
            if flow.step_index + 1 < flow.steps.len() {
                flow.step_index += 1;
                flow.attempts_left = MAX_ATTEMPTS;
                flow.advance();
                if flow.steps[flow.step_index] == Step::Face {
                    flow.challenge = challenge(&options);
                }
                (RoundResponse::Next { next: flow.instruction() }, "next", detail, None)
            } else {
                let verdict = verify::decide(state, &call.tx, &options, &flow.evidence).await?;
                let code = if verdict.passed { result_code::PASS } else { result_code::FAIL };
                (RoundResponse::Done { result_code: code }, "done", detail, Some((TxState::Completed, verdict)))
            }
        }
        StepResult::Retake { reason_code, reason } if flow.attempts_left > 1 => {
            flow.attempts_left -= 1;
            flow.advance();
            if step == Step::Face {
                // A new attempt gets a new challenge: frames prepared for the old one are useless.
                flow.challenge = challenge(&options);
            }
            let detail = serde_json::json!({"retake": reason_code, "reason": reason});
            (RoundResponse::Retake { reason_code, reason, next: flow.instruction() }, "retake", detail, None)
        }
        StepResult::Retake { reason_code, reason } => {
            let why = format!("{step:?}: still unusable after {MAX_ATTEMPTS} attempts ({reason})");
            let sub = if reason_code.starts_with("LIVENESS_") {
                idv_api::subcode::LIVENESS_FAILED
            } else {
                idv_api::subcode::POOR_QUALITY
            };
            let verdict = idv_api::Verdict::failed(sub, why);
            let detail = serde_json::json!({"retake": reason_code, "reason": reason, "exhausted": true});
            (
                RoundResponse::Done { result_code: result_code::TOO_MANY_ERRORS },
                "exhausted",
                detail,
                Some((TxState::Failed, verdict)),
            )
        }
    };
    let response_bytes = serde_json::to_vec(&response).map_err(Refusal::internal)?;
    let state_bytes = serde_json::to_vec(&flow).map_err(Refusal::internal)?;
    let detail_bytes = serde_json::to_vec(&detail).map_err(Refusal::internal)?;
    let finish = match &finish {
        Some((to, verdict)) => Some((*to, serde_json::to_vec(verdict).map_err(Refusal::internal)?)),
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
                step: step_name(step),
                outcome,
                detail: &detail_bytes,
                request_hash: &call.body_hash,
                response: &response_bytes,
                finish: finish.as_ref().map(|(s, v)| (*s, v.as_slice())),
                now: call.now,
            },
        )
        .await?;
    if !saved {
        return Err(Refusal::new(409, error_code::OUT_OF_ORDER, "a concurrent round was accepted first", None));
    }
    tracing::info!(transaction_id = %call.tx.id, round = this_round, step = step_name(step), outcome, "round accepted");
    if let Some((_, bytes)) = &finish
        && let Ok(verdict) = serde_json::from_slice::<idv_api::Verdict>(bytes)
    {
        crate::callbacks::notify(state, &call.tx.id, call.tx.options.as_deref().map(|o| &o[..]), &verdict);
    }
    Ok(response)
}

fn step_name(s: Step) -> &'static str {
    match s {
        Step::DocFront => "DOC_FRONT",
        Step::DocBack => "DOC_BACK",
        Step::Face => "FACE",
    }
}

pub(super) async fn status(state: &AppState, call: DeviceCall) -> Result<StatusResponse, Refusal> {
    if call.tx.state.is_final() {
        return Ok(StatusResponse {
            state: call.tx.state.as_str().into(),
            next: None,
            result_code: Some(final_result_code(&call.tx)),
        });
    }
    let next = match state.store.get_device_session(&call.tx.id).await? {
        Some(s) if s.session_id == call.session_header => {
            Some(serde_json::from_slice::<FlowState>(&s.state).map_err(Refusal::internal)?.instruction())
        }
        _ => None,
    };
    Ok(StatusResponse { state: call.tx.state.as_str().into(), next, result_code: None })
}

pub(super) async fn cancel(state: &AppState, call: DeviceCall) -> Result<RoundResponse, Refusal> {
    if call.tx.state.is_final() {
        return Err(closed(&call));
    }
    if call.tx.state == TxState::InProgress {
        session(state, &call).await?;
    }
    let verdict = idv_api::Verdict::failed(idv_api::subcode::CANCELLED, "the user cancelled the flow on the device");
    let bytes = serde_json::to_vec(&verdict).map_err(Refusal::internal)?;
    if state.store.transition(&call.tx.id, TxState::OPEN, TxState::Cancelled, Some(&bytes), call.now).await? {
        crate::callbacks::notify(state, &call.tx.id, call.tx.options.as_deref().map(|o| &o[..]), &verdict);
    }
    tracing::info!(transaction_id = %call.tx.id, "device cancelled the flow");
    Ok(RoundResponse::Done { result_code: result_code::CANCELLED_OR_TIMEOUT })
}

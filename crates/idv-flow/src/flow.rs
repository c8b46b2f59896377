//! The device flow's state machine: the steps of a product, the current round and its attempts, and the one
//! transition function [`Flow::accept`]. Nonces, challenges and clocks are the caller's: this crate holds no
//! randomness and reads no time.

use serde::{Deserialize, Serialize};

use crate::evidence::{Evidence, StepEvidence};
use crate::policy::{Policy, Verdict, attempts_exhausted, decide};
use crate::product::Step;
use crate::retake::RetakeReason;

/// Attempts per capture step before the flow ends as unusable.
pub const MAX_ATTEMPTS: u32 = 3;

/// What the engines made of one round's capture.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    Accepted(Box<StepEvidence>),
    Retake { reason: RetakeReason, detail: String },
}

/// How a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every step was accepted and the policy decided.
    Decided,
    /// A step stayed unusable through every attempt.
    Exhausted,
}

/// The flow's answer to a round.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// The step was accepted; the flow moved on to this step (a new round).
    Step(Step),
    /// The capture must be taken again (a new round of the same step, one attempt fewer).
    Retake { reason: RetakeReason, detail: String },
    /// The flow is over.
    Done { verdict: Box<Verdict>, ending: Ending },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowError {
    /// A product without capture steps cannot run on a device.
    NoSteps,
    /// The flow is over; no round is accepted any more.
    Finished,
}

impl std::fmt::Display for FlowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FlowError::NoSteps => "a flow needs at least one capture step",
            FlowError::Finished => "the flow is over",
        })
    }
}

impl std::error::Error for FlowError {}

/// The state of one transaction's device flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    steps: Vec<Step>,
    step_index: usize,
    round: u32,
    attempts_left: u32,
    finished: bool,
    evidence: Evidence,
}

impl Flow {
    pub fn new(steps: Vec<Step>) -> Result<Flow, FlowError> {
        if steps.is_empty() {
            return Err(FlowError::NoSteps);
        }
        Ok(Flow {
            steps,
            step_index: 0,
            round: 1,
            attempts_left: MAX_ATTEMPTS,
            finished: false,
            evidence: Evidence::default(),
        })
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The step the current round captures.
    pub fn step(&self) -> Step {
        self.steps[self.step_index]
    }

    /// The current round, 1-based and strictly increasing over the whole flow.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Attempts left for the current step, this one included.
    pub fn attempts_left(&self) -> u32 {
        self.attempts_left
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// The single transition: the current round's outcome moves the flow to the next step, to a retake of this
    /// one, or to its end with a verdict. Every answer but `Done` opens a new round.
    pub fn accept(&mut self, policy: &Policy, outcome: StepOutcome) -> Result<Next, FlowError> {
        if self.finished {
            return Err(FlowError::Finished);
        }
        let step = self.step();
        let next = match outcome {
            StepOutcome::Accepted(evidence) => {
                self.evidence.record(*evidence);
                if self.step_index + 1 < self.steps.len() {
                    self.step_index += 1;
                    self.attempts_left = MAX_ATTEMPTS;
                    self.round += 1;
                    Next::Step(self.step())
                } else {
                    self.finished = true;
                    Next::Done { verdict: Box::new(decide(policy, &self.evidence)), ending: Ending::Decided }
                }
            }
            StepOutcome::Retake { reason, detail } if self.attempts_left > 1 => {
                self.attempts_left -= 1;
                self.round += 1;
                Next::Retake { reason, detail }
            }
            StepOutcome::Retake { reason, detail } => {
                self.finished = true;
                Next::Done {
                    verdict: Box::new(attempts_exhausted(step, MAX_ATTEMPTS, reason, &detail)),
                    ending: Ending::Exhausted,
                }
            }
        };
        Ok(next)
    }
}

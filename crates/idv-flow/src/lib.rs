//! The verification itself, in one pure crate: the products and their capture steps, the device flow's state
//! machine ([`Flow::accept`]), the typed evidence the engines' measurements become, and the one decision policy
//! ([`decide`]) with every SubCode idv gives. No I/O, no clock, no randomness, no HTTP, no SQL, no pixels: the
//! server runs the engines and the store around it, `idv-api` renders its verdicts on the wire.
//!
//! "Why did this transaction fail?" is answered in `policy.rs`.

mod evidence;
mod flow;
mod policy;
mod product;
mod retake;

pub use evidence::{
    BlobId, ChallengeRecord, CheckClass, Comparison, DocCheck, DocClass, DocEvidence, DocField, DocReading,
    DuplicateFaceRef, Evidence, FaceEvidence, FaceQuality, FaceThresholds, ImageKind, LivenessCheck, LivenessEvidence,
    LivenessOutcome, ModelRef, MrzEvidence, Page, SelfieAnalysis, StepEvidence,
};
pub use flow::{Ending, Flow, FlowError, MAX_ATTEMPTS, Next, StepOutcome};
pub use policy::{
    ClaimedIdentity, Decision, DocOutcome, DocRequirement, FaceSearch, Policy, SubCode, Timeout, Verdict,
    attempts_exhausted, cancelled, decide, decide_document_face, document_passed, document_sub_code, face_search,
    read_document, timed_out, timeout_verdict,
};
pub use product::{Product, Step};
pub use retake::RetakeReason;

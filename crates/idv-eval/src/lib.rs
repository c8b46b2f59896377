//! Evaluation and synthetic data for idv's engines, kept out of the production crates: nothing here is
//! linked by the server.
//!
//! * [`liveness`]: the synthetic genuine-user and attack generator ([`liveness::synth`]) and the liveness
//!   evaluation (BPCER, APCER per attack kind) on the sessions it renders.
//! * [`doc`]: the document evaluation on specimens rendered by [`specimen`] (field accuracy, MRZ exact reads,
//!   wrong-but-valid MRZ reads).
//! * [`doc_real`]: the document reading on real pictures with MRZ ground truth (`../shared/realdata/docs`),
//!   per MRZ format.
//! * [`face`]: the face evaluation over a folder of labelled photos (genuine/impostor pairs at the threshold).
//! * [`video`]: y4m videos for a browser's fake camera (a document, a synthetic person performing a challenge,
//!   a printed photo), for the hosted page's browser tests.
//! * [`specimen`]: `idv-specimen` (synthetic identity documents with ground truth), re-exported.
//!
//! **Synthetic data**: the figures show that each rule works end to end on the cases it was built for; they
//! are not real-world error rates.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let assets = idv_vision::Assets::from_env();
//! let face = std::sync::Arc::new(idv_face::FaceEngine::load(&assets, Default::default())?);
//! let engine = idv_liveness::LivenessEngine::load(&assets, face, Default::default())?;
//! let still = engine.face_engine().decode(&std::fs::read("testdata/faces/astronaut.png")?)?;
//! let other = engine.face_engine().decode(&std::fs::read("testdata/faces/biden.jpg")?)?;
//! let stills = vec![("astronaut.png".to_string(), still), ("biden.jpg".to_string(), other)];
//! println!("{}", idv_eval::liveness::evaluate(&engine, &stills, 2026, 2)?);
//! # Ok(()) }
//! ```

pub mod doc;
pub mod doc_real;
pub mod face;
pub mod liveness;
pub mod video;

pub use idv_specimen as specimen;

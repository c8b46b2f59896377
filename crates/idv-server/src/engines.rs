//! The verification engines as the server uses them: loaded once at start (a missing or mismatched model stops
//! the server with the command that fixes it), and run on a bounded pool of blocking threads so CPU-heavy work
//! never stalls the async runtime that serves other requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use idv_api::{ApiError, ErrorCode};
use idv_face::{FaceEngine, FaceEngineConfig, FaceError};
use idv_vision::Assets;
use tokio::sync::Semaphore;

use crate::error::ServerError;

/// The loaded engines, shared by every worker thread.
pub struct EngineSet {
    pub face: Arc<FaceEngine>,
    pub doc: idv_doc::DocEngine,
    pub liveness: idv_liveness::LivenessEngine,
}

pub struct Engines {
    set: Arc<EngineSet>,
    permits: Arc<Semaphore>,
    /// Jobs running or waiting; beyond `max_queued` new work is refused (503) instead of queueing without bound.
    queued: Arc<AtomicUsize>,
    max_queued: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot load the verification engines: {0}")]
pub struct EngineLoadError(String);

impl Engines {
    /// Loads every model, verified against `scripts/assets.lock` under `assets`.
    pub fn load(assets: &Assets, workers: usize) -> Result<Engines, EngineLoadError> {
        let face = FaceEngine::load(assets, FaceEngineConfig::default()).map_err(|e| EngineLoadError(e.to_string()))?;
        let face = Arc::new(face);
        let doc = idv_doc::DocEngine::load(assets).map_err(|e| EngineLoadError(e.to_string()))?;
        let liveness = idv_liveness::LivenessEngine::load(assets, face.clone(), Default::default())
            .map_err(|e| EngineLoadError(e.to_string()))?;
        let workers = workers.max(1);
        Ok(Engines {
            set: Arc::new(EngineSet { face, doc, liveness }),
            permits: Arc::new(Semaphore::new(workers)),
            queued: Arc::new(AtomicUsize::new(0)),
            max_queued: workers * 32,
        })
    }

    pub fn face(&self) -> &FaceEngine {
        &self.set.face
    }

    /// Runs `job` on the blocking pool once a worker is free.
    pub async fn run<T, F>(&self, job: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&EngineSet) -> T + Send + 'static,
    {
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(ServerError::Overloaded);
        }
        let queued = self.queued.clone();
        let _guard = scopeguard(move || {
            queued.fetch_sub(1, Ordering::SeqCst);
        });
        let permit = self.permits.clone().acquire_owned().await.map_err(ServerError::internal)?;
        let set = self.set.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job(&set)
        })
        .await
        .map_err(ServerError::internal)
    }
}

struct Guard<F: FnMut()>(F);
impl<F: FnMut()> Drop for Guard<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}
fn scopeguard<F: FnMut()>(f: F) -> Guard<F> {
    Guard(f)
}

/// Maps a face-engine failure on a merchant's picture to the API's picture errors; installation failures are
/// internal errors (logged), never blamed on the picture.
pub fn face_error(param: &str, e: FaceError) -> ServerError {
    match e {
        FaceError::NoFace => {
            ApiError::new(ErrorCode::NoFaceDetected, format!("No face was detected in {param}.")).into()
        }
        FaceError::MultipleFaces { count } => ApiError::new(
            ErrorCode::UnqualifiedPhoto,
            format!("{param} shows {count} faces; exactly one is required (NeedMultiFaceCheck)."),
        )
        .into(),
        FaceError::Vision(v) if v.is_too_large() => {
            ApiError::new(ErrorCode::ToolargeImage, format!("{param}: {v}.")).into()
        }
        FaceError::Vision(v) if v.is_bad_input() => {
            ApiError::new(ErrorCode::UnqualifiedPhoto, format!("{param}: {v}.")).into()
        }
        other => ServerError::internal(other),
    }
}

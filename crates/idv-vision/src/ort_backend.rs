//! ONNX Runtime behind [`InferenceBackend`], loaded at run time from `models/lib` (ort's `load-dynamic`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::{RunOptions, Session, SessionInputValue};
use ort::value::TensorRef;

use crate::error::{Result, VisionError};
use crate::onnx::{free_io_shapes, prelu_as_affine, strip_initializer_inputs};
use crate::runtime::{InferenceBackend, Model, ModelOptions, Outputs, Tensor, TensorView};

/// The ONNX Runtime backend. ONNX Runtime allows one environment per process, so there is one backend per
/// process too: get it with [`OrtBackend::global`].
#[derive(Clone)]
pub struct OrtBackend {
    env: ort::environment::Environment,
    version: String,
    library: PathBuf,
}

static GLOBAL: Mutex<Option<Arc<OrtBackend>>> = Mutex::new(None);

impl OrtBackend {
    /// Loads the ONNX Runtime shared library (first call only; later calls return the same backend, whatever
    /// path they pass) and creates the process-wide environment.
    pub fn global(library: &Path) -> Result<Arc<OrtBackend>> {
        let mut slot = GLOBAL.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = slot.as_ref() {
            return Ok(Arc::clone(b));
        }
        if !library.is_file() {
            return Err(VisionError::AssetMissing { what: "ONNX Runtime library".into(), path: library.to_path_buf() });
        }
        let env = ort::init_from(library)
            .map_err(|e| VisionError::Runtime(format!("loading {}: {e}", library.display())))?
            .with_name("idv")
            .with_telemetry(false)
            .build()
            .map_err(|e| VisionError::Runtime(e.to_string()))?;
        // ort checks the library's version when loading it but does not expose it; the pinned file is named
        // after its release (libonnxruntime.so.1.32.0), and its sha256 was verified by the caller.
        let version = library
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split_once(".so.").map(|(_, v)| v.to_string()))
            .unwrap_or_else(|| ort::info().to_string());
        let backend = Arc::new(OrtBackend { env, version, library: library.to_path_buf() });
        *slot = Some(Arc::clone(&backend));
        Ok(backend)
    }

    /// The library this backend was loaded from.
    pub fn library(&self) -> &Path {
        &self.library
    }

    fn session(&self, model: &[u8], options: &ModelOptions) -> Result<Session> {
        let rt = |e: ort::Error<_>| VisionError::Runtime(e.to_string());
        Session::builder(&self.env)
            .map_err(|e| VisionError::Runtime(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(rt)?
            .with_intra_threads(options.intra_threads.max(1))
            .map_err(rt)?
            .with_inter_threads(1)
            .map_err(rt)?
            // Spinning threads would burn the cores other requests need.
            .with_intra_op_spinning(false)
            .map_err(rt)?
            .commit_from_memory(model)
            .map_err(|e| VisionError::Runtime(e.to_string()))
    }
}

/// The file's graph as ONNX Runtime runs it fastest, computing the same function (see [`crate::onnx`]).
fn prepare(bytes: &[u8], options: &ModelOptions) -> Result<Vec<u8>> {
    let (model, _) = strip_initializer_inputs(bytes)?;
    let (model, _) = prelu_as_affine(&model)?;
    if options.any_input_size { free_io_shapes(&model) } else { Ok(model.into_owned()) }
}

impl InferenceBackend for OrtBackend {
    fn describe(&self) -> String {
        format!("onnxruntime {}", self.version)
    }

    fn load(&self, path: &Path, options: &ModelOptions) -> Result<Arc<dyn Model>> {
        let bytes = std::fs::read(path).map_err(|source| VisionError::Io { path: path.to_path_buf(), source })?;
        let session = self.session(&prepare(&bytes, options)?, options)?;
        let input_names = session.inputs().iter().map(|o| o.name().to_string()).collect();
        let output_names = session.outputs().iter().map(|o| o.name().to_string()).collect();
        let mut run_options = RunOptions::new().map_err(|e| VisionError::Runtime(e.to_string()))?;
        // After each run the session's arena gives back the chunks the run no longer holds. Without it every
        // session keeps the high-water mark of the largest input it ever saw (the recogniser's long batches, the
        // detector's full pages) for the life of the process; measured on the PP-OCR models, 418 MiB resident
        // after a mixed workload against 233 MiB with it, at the same CPU time.
        run_options
            .set("memory.enable_memory_arena_shrinkage", "cpu:0")
            .map_err(|e| VisionError::Runtime(e.to_string()))?;
        Ok(Arc::new(OrtModel {
            run_options,
            name: path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into()),
            backend: self.clone(),
            path: path.to_path_buf(),
            options: *options,
            input_names,
            output_names,
            pool: Mutex::new(Pool { idle: vec![session], created: 1 }),
            returned: Condvar::new(),
        }))
    }
}

struct Pool {
    idle: Vec<Session>,
    created: usize,
}

/// A model with a pool of sessions: ort's `Session::run` needs `&mut`, so concurrent runs each take a
/// session; extra sessions are created on first contention up to `max_concurrent_runs` and then reused.
struct OrtModel {
    run_options: RunOptions,
    name: String,
    backend: OrtBackend,
    path: PathBuf,
    options: ModelOptions,
    input_names: Vec<String>,
    output_names: Vec<String>,
    pool: Mutex<Pool>,
    returned: Condvar,
}

impl OrtModel {
    fn take(&self) -> Result<Session> {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(s) = pool.idle.pop() {
                return Ok(s);
            }
            if pool.created < self.options.max_concurrent_runs.max(1) {
                pool.created += 1;
                drop(pool);
                // The file was verified at start-up; re-reading it avoids keeping the model bytes resident.
                let made = std::fs::read(&self.path)
                    .map_err(|source| VisionError::Io { path: self.path.clone(), source })
                    .and_then(|bytes| self.backend.session(&prepare(&bytes, &self.options)?, &self.options));
                if made.is_err() {
                    self.pool.lock().unwrap_or_else(|p| p.into_inner()).created -= 1;
                    // A waiter may now create the session this attempt could not.
                    self.returned.notify_one();
                }
                return made;
            }
            pool = self.returned.wait(pool).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn give_back(&self, session: Session) {
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).idle.push(session);
        self.returned.notify_one();
    }
}

impl Model for OrtModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn input_names(&self) -> &[String] {
        &self.input_names
    }

    fn output_names(&self) -> &[String] {
        &self.output_names
    }

    fn run(&self, inputs: &[(&str, TensorView<'_>)]) -> Result<Outputs> {
        let rt = |e: ort::Error| VisionError::Runtime(format!("{}: {e}", self.name));
        let mut values: Vec<(&str, SessionInputValue<'_>)> = Vec::with_capacity(inputs.len());
        for (name, t) in inputs {
            let v = TensorRef::from_array_view((t.shape.to_vec(), t.data)).map_err(rt)?;
            values.push((*name, v.into()));
        }
        let mut session = self.take()?;
        let result = (|| {
            let outputs = session.run_with_options(values, &self.run_options).map_err(rt)?;
            let mut out = Vec::with_capacity(self.output_names.len());
            for name in &self.output_names {
                let value = outputs.get(name.as_str()).ok_or_else(|| VisionError::ModelContract {
                    model: self.name.clone(),
                    detail: format!("output {name} missing from run"),
                })?;
                let (shape, data) = value.try_extract_tensor::<f32>().map_err(rt)?;
                out.push((
                    name.clone(),
                    Tensor { shape: shape.iter().map(|&d| d.max(0) as usize).collect(), data: data.to_vec() },
                ));
            }
            Ok(Outputs(out))
        })();
        self.give_back(session);
        result
    }
}

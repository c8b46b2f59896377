//! The inference runtime seam: engines see [`InferenceBackend`] and [`Model`] only, so ONNX Runtime can be
//! replaced by a pure-Rust runtime (rten, tract) without touching detection or recognition code.

use std::path::Path;
use std::sync::Arc;

use crate::error::{Result, VisionError};

/// A dense f32 tensor in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A borrowed dense f32 tensor in row-major order.
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    pub shape: &'a [usize],
    pub data: &'a [f32],
}

impl<'a> TensorView<'a> {
    /// Fails when `data` does not hold exactly the number of elements `shape` describes.
    pub fn new(shape: &'a [usize], data: &'a [f32]) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(VisionError::Runtime(format!(
                "tensor of shape {shape:?} needs {n} values, got {}",
                data.len()
            )));
        }
        Ok(Self { shape, data })
    }
}

/// Named outputs of one run.
#[derive(Debug, Clone, Default)]
pub struct Outputs(pub Vec<(String, Tensor)>);

impl Outputs {
    /// The output called `name`, or a contract error naming the model's actual outputs.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, t)| t).ok_or_else(|| VisionError::ModelContract {
            model: String::new(),
            detail: format!("no output '{name}' (outputs: {:?})", self.0.iter().map(|(n, _)| n).collect::<Vec<_>>()),
        })
    }
}

/// How a model is executed. The server parallelises across requests, so one thread per run is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelOptions {
    /// Threads used inside one inference.
    pub intra_threads: usize,
    /// Upper bound on concurrent runs of one model; each concurrent run needs its own runtime session
    /// (created on first need, then kept), so this bounds memory as well.
    pub max_concurrent_runs: usize,
    /// Accept inputs of any size: the dimensions the file declares for its inputs and outputs are treated as
    /// free. Only for a model whose graph derives its shapes from its input (YuNet runs at any multiple of 32
    /// although its file says 640x640).
    pub any_input_size: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            intra_threads: 1,
            max_concurrent_runs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            any_input_size: false,
        }
    }
}

/// A loaded model: shared between threads, run concurrently up to its options' bound.
pub trait Model: Send + Sync {
    /// File name the model was loaded from.
    fn name(&self) -> &str;
    fn input_names(&self) -> &[String];
    fn output_names(&self) -> &[String];
    /// Runs one inference. Every input of the model must be given by name.
    fn run(&self, inputs: &[(&str, TensorView<'_>)]) -> Result<Outputs>;
}

/// Loads models from files.
pub trait InferenceBackend: Send + Sync {
    /// Runtime name and version, recorded alongside decisions.
    fn describe(&self) -> String;
    fn load(&self, path: &Path, options: &ModelOptions) -> Result<Arc<dyn Model>>;
}

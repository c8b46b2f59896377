use std::sync::Arc;

use idv_vision::{InferenceBackend, Model, ModelOptions, ONNXRUNTIME_LIBRARY, OrtBackend, TensorView, onnx};

use crate::common::require;

const YUNET: &str = "models/face_detection_yunet_2023mar.onnx";
const SFACE: &str = "models/face_recognition_sface_2021dec.onnx";

fn backend() -> Arc<OrtBackend> {
    OrtBackend::global(&require(ONNXRUNTIME_LIBRARY)).expect("ONNX Runtime loads")
}

#[test]
fn backend_reports_the_pinned_runtime_version() {
    assert_eq!(backend().describe(), "onnxruntime 1.32.0");
}

#[test]
fn sface_weights_are_removed_from_graph_inputs_and_yunet_is_untouched() {
    let sface = std::fs::read(require(SFACE)).unwrap();
    let (stripped, removed) = onnx::strip_initializer_inputs(&sface).unwrap();
    assert_eq!(removed, 174, "SFace lists its 174 initializers as inputs");
    assert!(stripped.len() < sface.len());
    let yunet = std::fs::read(require(YUNET)).unwrap();
    let (same, removed) = onnx::strip_initializer_inputs(&yunet).unwrap();
    assert_eq!(removed, 0);
    assert_eq!(same.as_ref(), yunet.as_slice());
}

#[test]
fn loaded_models_expose_their_real_tensors_and_run() {
    let model = backend().load(&require(SFACE), &ModelOptions::default()).unwrap();
    assert_eq!(model.input_names(), ["data"], "weights must no longer be inputs");
    assert_eq!(model.output_names(), ["fc1"]);
    let input = vec![128.0f32; 3 * 112 * 112];
    let shape = [1, 3, 112, 112];
    let out = model.run(&[("data", TensorView::new(&shape, &input).unwrap())]).unwrap();
    let fc1 = out.get("fc1").unwrap();
    assert_eq!(fc1.shape, vec![1, 128]);
    assert!(fc1.data.iter().all(|v| v.is_finite()));
    assert!(fc1.data.iter().any(|v| *v != 0.0));
}

#[test]
fn wrong_inputs_are_errors_not_panics() {
    let model = backend().load(&require(YUNET), &ModelOptions::default()).unwrap();
    let small = vec![0.0f32; 3 * 32 * 32];
    let shape = [1, 3, 32, 32];
    assert!(model.run(&[("input", TensorView::new(&shape, &small).unwrap())]).is_err());
    assert!(model.run(&[("nope", TensorView::new(&shape, &small).unwrap())]).is_err());
    assert!(TensorView::new(&[1, 3, 640, 640], &small).is_err());
    assert!(backend().load(std::path::Path::new("/nonexistent.onnx"), &ModelOptions::default()).is_err());
}

#[test]
fn one_model_serves_concurrent_runs_with_identical_results() {
    let options = ModelOptions { intra_threads: 1, max_concurrent_runs: 2 };
    let model = backend().load(&require(SFACE), &options).unwrap();
    let input: Vec<f32> = (0..3 * 112 * 112).map(|i| (i % 255) as f32).collect();
    let run = |m: &dyn Model| {
        let shape = [1, 3, 112, 112];
        m.run(&[("data", TensorView::new(&shape, &input).unwrap())]).unwrap().get("fc1").unwrap().data.clone()
    };
    let reference = run(model.as_ref());
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| run(model.as_ref()))).collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), reference);
        }
    });
}

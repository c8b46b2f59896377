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
    let options = ModelOptions { intra_threads: 1, max_concurrent_runs: 2, ..ModelOptions::default() };
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

/// Protobuf helpers for a hand-built model: a length-delimited field, a varint field.
fn field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
    varint(out, (number << 3) | 2);
    varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn value_info(name: &str, dims: &[u64]) -> Vec<u8> {
    let mut shape = Vec::new();
    for &d in dims {
        let mut dim = Vec::new();
        varint(&mut dim, 1 << 3);
        varint(&mut dim, d);
        field(&mut shape, 1, &dim);
    }
    let mut tensor = vec![0x08, 0x01]; // elem_type FLOAT
    field(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    field(&mut ty, 1, &tensor);
    let mut vi = Vec::new();
    field(&mut vi, 1, name.as_bytes());
    field(&mut vi, 2, &ty);
    vi
}

/// `y = PRelu(x, slope)` with x of shape [1, 3, 2, 2] and one slope per channel (one of them above 1, one negative).
fn prelu_model(slopes: [f32; 3]) -> Vec<u8> {
    let mut node = Vec::new();
    field(&mut node, 1, b"x");
    field(&mut node, 1, b"slope");
    field(&mut node, 2, b"y");
    field(&mut node, 3, b"p");
    field(&mut node, 4, b"PRelu");
    let mut slope = Vec::new();
    for d in [3u64, 1, 1] {
        varint(&mut slope, 1 << 3);
        varint(&mut slope, d);
    }
    slope.extend_from_slice(&[0x10, 0x01]); // data_type FLOAT
    field(&mut slope, 8, b"slope");
    field(&mut slope, 9, &slopes.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>());
    let mut graph = Vec::new();
    field(&mut graph, 1, &node);
    field(&mut graph, 2, b"g");
    field(&mut graph, 5, &slope);
    field(&mut graph, 11, &value_info("x", &[1, 3, 2, 2]));
    field(&mut graph, 12, &value_info("y", &[1, 3, 2, 2]));
    let mut opset = Vec::new();
    varint(&mut opset, 2 << 3);
    varint(&mut opset, 13);
    let mut model = vec![0x08, 0x07]; // ir_version 7
    field(&mut model, 7, &graph);
    field(&mut model, 8, &opset);
    model
}

#[test]
fn prelu_rewrite_computes_prelu() {
    let slopes = [0.25f32, 1.5, -0.5];
    let bytes = prelu_model(slopes);
    let (rewritten, n) = onnx::prelu_as_affine(&bytes).unwrap();
    assert_eq!(n, 1);
    assert!(rewritten.len() > bytes.len());
    let dir = std::env::temp_dir().join(format!("idv-prelu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prelu.onnx");
    std::fs::write(&path, &bytes).unwrap();
    // The backend loads the file rewritten; what it computes must still be PRelu.
    let model = backend().load(&path, &ModelOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let x: Vec<f32> = vec![-2.0, -0.5, 0.0, 3.0, -1.0, 2.0, -4.0, 0.5, 1.0, -3.0, 0.25, -0.125];
    let out = model.run(&[("x", TensorView::new(&[1, 3, 2, 2], &x).unwrap())]).unwrap();
    let y = &out.get("y").unwrap().data;
    for (i, (&x, &y)) in x.iter().zip(y).enumerate() {
        let want = if x < 0.0 { slopes[i / 4] * x } else { x };
        assert!((y - want).abs() <= 1e-6 * want.abs().max(1.0), "x {x}: got {y}, PRelu gives {want}");
    }
    // A model without PRelu is left as it is.
    let yunet = std::fs::read(require(YUNET)).unwrap();
    let (same, n) = onnx::prelu_as_affine(&yunet).unwrap();
    assert_eq!((n, same.as_ref()), (0, yunet.as_slice()));
}

#[test]
fn yunet_takes_the_pictures_aspect_only_when_asked() {
    let input = vec![0.0f32; 3 * 480 * 640];
    let shape = [1, 3, 480, 640];
    let fixed = backend().load(&require(YUNET), &ModelOptions::default()).unwrap();
    assert!(fixed.run(&[("input", TensorView::new(&shape, &input).unwrap())]).is_err(), "the file says 640x640");
    let free =
        backend().load(&require(YUNET), &ModelOptions { any_input_size: true, ..ModelOptions::default() }).unwrap();
    let out = free.run(&[("input", TensorView::new(&shape, &input).unwrap())]).unwrap();
    // One cell per 8x8 pixels at the finest stride: 60 rows of 80.
    assert_eq!(out.get("cls_8").unwrap().data.len(), 60 * 80);
    assert_eq!(out.get("kps_32").unwrap().data.len(), 15 * 20 * 10);
}

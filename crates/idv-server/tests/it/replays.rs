//! A capture replayed into another transaction after re-encoding (rescaled, cropped, saved again as JPEG), so
//! that no frame's sha256 matches: the capture fingerprints still recognise it, while a fresh live capture of the
//! same person passes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::helpers::{Device, Merchant, Server, call, live_frames, start};

/// Each frame rescaled ×0.9, cropped by a few pixels (3 left, 2 top, 4 right, 1 bottom) and saved as JPEG at
/// `quality`, with its capture time kept.
fn reencode(frames: &[Value], quality: u8) -> Vec<Value> {
    frames
        .iter()
        .map(|f| {
            let bytes = STANDARD.decode(f["image"].as_str().unwrap()).unwrap();
            let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
            let (w, h) = ((img.width() as f32 * 0.9).round() as u32, (img.height() as f32 * 0.9).round() as u32);
            let small = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
            let cut = image::imageops::crop_imm(&small, 3, 2, w - 7, h - 3).to_image();
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(&cut).unwrap();
            serde_json::json!({"image": STANDARD.encode(&out), "t_ms": f["t_ms"]})
        })
        .collect()
}

/// A started FACE_LIVENESS transaction: its device, first instruction and id.
async fn opened(s: &Server, m: &Merchant) -> (Device, Value, String) {
    let (mut dev, tid) = Device::for_new_transaction(s, m, "FACE_LIVENESS").await;
    let next = dev.start().await["next"].clone();
    (dev, next, tid)
}

/// Sends `frames` as the face round of an opened transaction; returns the CheckResult and its ExtFaceInfo.
async fn submit(
    s: &Server,
    m: &Merchant,
    (dev, next, tid): &(Device, Value, String),
    frames: &[Value],
) -> (Value, Value) {
    let body = serde_json::json!({"round": next["round"], "nonce": next["nonce"], "step": "FACE", "frames": frames});
    let (st, done) = dev.post("round", &body).await;
    assert_eq!((st, done["outcome"].as_str()), (200, Some("done")), "{done}");
    let c = call(s, m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", tid)]).await;
    let face: Value = serde_json::from_str(c.json["Result"]["ExtFaceInfo"].as_str().unwrap()).unwrap();
    (c.json, face)
}

/// Runs one FACE_LIVENESS transaction whose face round carries `frames(challenge)`; returns the frames sent,
/// the CheckResult and its ExtFaceInfo.
async fn face_round(s: &Server, m: &Merchant, frames: impl FnOnce(&Value) -> Vec<Value>) -> (Vec<Value>, Value, Value) {
    let session = opened(s, m).await;
    let frames = frames(&session.1["challenge"]);
    let (result, face) = submit(s, m, &session, &frames).await;
    (frames, result, face)
}

#[tokio::test]
async fn a_reencoded_replay_of_another_transaction_is_an_attack_and_a_fresh_capture_passes() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (recorded, a, _) = face_round(&s, &m, |ch| live_frames("obama.jpg", ch, 31)).await;
    assert_eq!((a["Result"]["Passed"].as_str(), a["Result"]["SubCode"].as_str()), (Some("Y"), Some("200")), "{a}");

    // Session B of the same user gets A's capture, re-encoded: no byte digest matches. B's challenge is drawn by
    // the server; one shorter than A's recording refuses it for its duration before any fingerprint is taken (an
    // attack too, but not the check shown here), so B is taken among challenges as long as A's capture.
    let span = recorded.last().unwrap()["t_ms"].as_u64().unwrap() - recorded[0]["t_ms"].as_u64().unwrap();
    let mut lengths = Vec::new();
    let (b, face) = loop {
        let session = opened(&s, &m).await;
        let next = &session.1;
        let wanted = next["frames_wanted"].as_u64().unwrap() * next["challenge"]["frame_interval_ms"].as_u64().unwrap();
        lengths.push(wanted);
        if wanted < span {
            assert!(lengths.len() < 40, "40 challenges, none as long as A's {span} ms capture: {lengths:?}");
            continue;
        }
        break submit(&s, &m, &session, &reencode(&recorded, 78)).await;
    };
    assert_eq!((b["Result"]["Passed"].as_str(), b["Result"]["SubCode"].as_str()), (Some("N"), Some("205")), "{b}");
    assert_eq!(face["faceAttack"], "Y", "{face}");
    let reasons = face["livenessReasons"].to_string();
    assert!(reasons.contains("capture_replayed") && reasons.contains("at most"), "{face}");
    assert!(!reasons.contains("frames_reused"), "caught by the fingerprint, not the digests: {face}");

    // A fresh live capture of the same person, in a new session, passes.
    let (_, fresh, face) = face_round(&s, &m, |ch| live_frames("obama.jpg", ch, 32)).await;
    assert_eq!(
        (fresh["Result"]["Passed"].as_str(), fresh["Result"]["SubCode"].as_str()),
        (Some("Y"), Some("200")),
        "{fresh}"
    );
    assert_eq!(face["faceAttack"], "N", "{face}");
    s.stop().await;
}

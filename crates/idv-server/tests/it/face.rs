//! Faces: FaceCompare, FaceLiveness, and a merchant's reference face.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::helpers::{
    Device, META_ANDROID, Merchant, Reply, Server, assert_error, call, call_signed, face_b64, genuine_face_round,
    init_params, map, no_face_b64, nonce, start,
};

#[tokio::test]
async fn reference_face_in_the_form_body_is_accepted() {
    let s = start().await;
    let m = s.merchant("A").await;
    let body = map(&[("FacePictureBase64", "aGVsbG8gZmFjZQ==")]);
    let r = call_signed(&s, &m, "Initialize", &map(&init_params("FACE_LIVENESS", META_ANDROID)), &body, &nonce()).await;
    assert_eq!(r.status, 200, "{}", r.json);
    s.stop().await;
}

async fn face_compare(s: &Server, m: &Merchant, source: &str, target: &str) -> Reply {
    let body = map(&[("SourceFacePicture", source), ("TargetFacePicture", target)]);
    call_signed(s, m, "FaceCompare", &map(&[("MerchantBizId", "cmp1")]), &body, &nonce()).await
}

#[tokio::test]
async fn face_compare_matches_the_same_person_only() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (o1, o2, o3, biden) =
        (face_b64("obama.jpg"), face_b64("obama2.jpg"), face_b64("obama3.jpg"), face_b64("biden.jpg"));
    for (a, b) in [(&o1, &o2), (&o2, &o3), (&o1, &o3)] {
        let r = face_compare(&s, &m, a, b).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["Result"]["Passed"], "Y", "{}", r.json);
        assert!(r.json["Result"]["FaceComparisonScore"].as_f64().unwrap() >= 70.0);
        assert!(r.json["Result"]["ExtFaceInfo"]["TargetSharpnessScore"].as_f64().is_some());
    }
    for (a, b) in [(&o1, &biden), (&biden, &face_b64("grace_hopper.jpg")), (&o2, &face_b64("astronaut.png"))] {
        let r = face_compare(&s, &m, a, b).await;
        assert_eq!(r.json["Result"]["Passed"], "N", "{}", r.json);
        assert!(r.json["Result"]["FaceComparisonScore"].as_f64().unwrap() < 70.0);
    }
    assert_error(&face_compare(&s, &m, &o1, &no_face_b64()).await, 401, "NoFaceDetected");
    let garbage = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"definitely not a picture");
    assert_error(&face_compare(&s, &m, &garbage, &o1).await, 401, "UnqualifiedPhoto");
    let r = call(
        &s,
        &m,
        "FaceCompare",
        &[("SourceFacePictureUrl", "https://x.example/a.jpg"), ("TargetFacePictureUrl", "https://x.example/b.jpg")],
    )
    .await;
    assert_error(&r, 400, "InvalidParameter");
    let body = map(&[("SourceFacePicture", o1.as_str()), ("TargetFacePicture", o2.as_str())]);
    let r = call_signed(
        &s,
        &m,
        "FaceCompare",
        &map(&[("SourceFacePictureUrl", "https://x.example/a.jpg")]),
        &body,
        &nonce(),
    )
    .await;
    assert_error(&r, 401, "DataDuplication");
    let r = call_signed(&s, &m, "FaceCompare", &BTreeMap::new(), &map(&[("SourceFacePicture", o1.as_str())]), &nonce())
        .await;
    assert_error(&r, 400, "MissingParameter");
    s.stop().await;
}

#[tokio::test]
async fn face_liveness_reports_quality_and_never_claims_no_attack() {
    let s = start().await;
    let m = s.merchant("A").await;
    let body = map(&[("FacePictureBase64", face_b64("obama.jpg").as_str())]);
    let r = call_signed(
        &s,
        &m,
        "FaceLiveness",
        &map(&[("ProductCode", "FACE_LIVENESS_MIN"), ("MerchantBizId", "l1")]),
        &body,
        &nonce(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let res = &r.json["Result"];
    assert_eq!(res["Passed"], "N");
    assert_eq!(res["SubCode"], "210");
    assert!(res["ExtFaceInfo"].get("FaceAttack").is_none(), "no FaceAttack without a check: {res}");
    assert_eq!(res["ExtFaceInfo"]["PassiveAntiSpoofing"]["status"], "NOT_AVAILABLE");
    assert!(res["ExtFaceInfo"]["FaceQualityScore"].as_f64().unwrap() > 0.0);
    let body = map(&[("FacePictureBase64", no_face_b64().as_str())]);
    let r = call_signed(&s, &m, "FaceLiveness", &BTreeMap::new(), &body, &nonce()).await;
    assert_error(&r, 401, "NoFaceDetected");
    s.stop().await;
}

#[tokio::test]
async fn face_liveness_against_a_merchant_reference_face() {
    let s = start().await;
    let m = s.merchant("A").await;
    for (reference, passed, sub) in [("astronaut.png", "Y", "200"), ("grace_hopper.jpg", "N", "204")] {
        let body = map(&[("FacePictureBase64", face_b64(reference).as_str())]);
        let (mut dev, tid) = Device::initialized(&s, &m, &init_params("FACE_LIVENESS", META_ANDROID), &body).await;
        let next = dev.start().await["next"].clone();
        let seed = u64::from(passed == "Y");
        let (st, done) = genuine_face_round(&dev, &next, "astronaut.png", seed, serde_json::json!({})).await;
        assert_eq!((st, done["outcome"].as_str()), (200, Some("done")), "{done}");
        let c = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
        assert_eq!(
            (c.json["Result"]["Passed"].as_str(), c.json["Result"]["SubCode"].as_str()),
            (Some(passed), Some(sub)),
            "{}",
            c.json
        );
        let face: Value = serde_json::from_str(c.json["Result"]["ExtFaceInfo"].as_str().unwrap()).unwrap();
        // The liveness check compares the live face with the reference too: someone else's live head in front of
        // the camera is its `reference_mismatch`, which the engine counts as an attack (a presentation for
        // another person).
        let attack = if passed == "Y" { "N" } else { "Y" };
        assert_eq!(face["faceAttack"], attack, "{face}");
    }
    s.stop().await;
}

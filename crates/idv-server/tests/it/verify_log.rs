//! CheckVerifyLog: the drop-off log of a finished, an interrupted and a never-started transaction.

use serde_json::Value;

use crate::helpers::{Device, Merchant, Server, call, live_frames, no_face_b64, start};

async fn log(s: &Server, m: &Merchant, tid: &str) -> Value {
    let r = call(s, m, "CheckVerifyLog", &[("MerchantBizId", "biz0001"), ("TransactionId", tid)]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["Result"].clone()
}

#[tokio::test]
async fn the_log_says_who_finished_who_stopped_where_and_who_never_started() {
    let s = start().await;
    let (a, b) = (s.merchant("A").await, s.merchant("B").await);

    // Finished, after one retake of the face.
    let (mut dev, finished) = Device::for_new_transaction(&s, &a, "FACE_LIVENESS").await;
    let next = dev.start().await["next"].clone();
    let blank: Vec<Value> = (0..5).map(|i| serde_json::json!({"image": no_face_b64(), "t_ms": i * 100})).collect();
    let body = serde_json::json!({"round": next["round"], "nonce": next["nonce"], "step": "FACE", "frames": blank});
    let (_, retake) = dev.post("round", &body).await;
    assert_eq!(retake["outcome"], "retake", "{retake}");
    let next = retake["next"].clone();
    let frames = live_frames("astronaut.png", &next["challenge"], 3);
    let body = serde_json::json!({"round": next["round"], "nonce": next["nonce"], "step": "FACE", "frames": frames});
    let (_, done) = dev.post("round", &body).await;
    assert_eq!(done["outcome"], "done", "{done}");
    let l = log(&s, &a, &finished).await;
    assert_eq!(
        (
            l["Passed"].as_str(),
            l["VerifyStatus"].as_str(),
            l["VerifyErrorCode"].as_str(),
            l["InterruptPageEn"].as_str()
        ),
        (Some("Y"), Some("1"), Some("1000"), Some("")),
        "{l}"
    );
    let stats: Value = serde_json::from_str(l["LogStatisticsInfo"].as_str().unwrap()).unwrap();
    assert_eq!(
        (stats["faceOverTimes"].as_u64(), stats["hasFaceOverTimes"].as_bool()),
        (Some(1), Some(true)),
        "{stats}"
    );
    let en = l["LogInfoEn"].to_string();
    assert!(en.contains("round 1 FACE retake NO_FACE") && en.contains("round 2 FACE flow ended"), "{en}");

    // Interrupted: started, then the user left.
    let (mut dev, left) = Device::for_new_transaction(&s, &a, "eKYC").await;
    dev.start().await;
    let (st, _) = dev.post("cancel", &serde_json::json!({})).await;
    assert_eq!(st, 200);
    let l = log(&s, &a, &left).await;
    assert_eq!(
        (
            l["VerifyStatus"].as_str(),
            l["VerifyErrorCode"].as_str(),
            l["InterruptPageEn"].as_str(),
            l["SubCode"].as_str()
        ),
        (Some("2"), Some("1006"), Some("OCR_FRONT"), Some("208")),
        "{l}"
    );

    // Never started.
    let (_, never) = Device::for_new_transaction(&s, &a, "eKYC").await;
    let l = log(&s, &a, &never).await;
    assert_eq!(
        (l["VerifyStatus"].as_str(), l["InterruptPageEn"].as_str(), l["Passed"].as_str()),
        (Some("0"), Some("LOADING"), Some("")),
        "{l}"
    );

    // Another merchant learns nothing.
    let r = call(&s, &b, "CheckVerifyLog", &[("TransactionId", &finished)]).await;
    assert_eq!((r.status, r.json["Code"].as_str()), (400, Some("TransactionIdInvalid")), "{}", r.json);
    s.stop().await;
}

//! The device protocol: binding to one device, ordering and replays, cancel and idle devices, a restart mid-flow,
//! the liveness models' challenges, and frames replayed across transactions.

use idv_store::TxState;
use serde_json::Value;

use crate::helpers::{
    Device, META_ANDROID, Merchant, Server, call, face_b64, init_params, live_frames, map, no_face_b64, repo_root,
    round_body, start, start_with,
};

#[tokio::test]
async fn device_protocol_binds_orders_and_replays_safely() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (mut dev, tid) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;

    // Tampered configuration, wrong MAC, and a session before start.
    let mut forged = Device {
        cfg: dev.cfg.replacen("idv1.", "idv1.x", 1),
        api: dev.api.clone(),
        cred: dev.cred.clone(),
        session: String::new(),
    };
    let (st, v) = forged.post("start", &serde_json::json!({"meta_info": META_ANDROID, "device_time_ms": 0})).await;
    assert_eq!((st, v["code"].as_str()), (401, Some("BadConfig")), "{v}");
    forged.cfg = dev.cfg.clone();
    let (st, v) = forged.post_raw("start", b"{}", Some("00")).await;
    assert_eq!((st, v["code"].as_str()), (401, Some("BadSignature")), "{v}");
    let (st, v) = dev.post("round", &serde_json::json!({})).await;
    assert_eq!((st, v["code"].as_str()), (409, Some("UnknownSession")), "{v}");

    let started = dev.start().await;
    assert_eq!(started["steps"], serde_json::json!(["FACE"]));
    let next = started["next"].clone();
    assert_eq!(next["step"], "FACE");
    assert!(
        next["challenge"]["actions"].as_array().is_some_and(|a| !a.is_empty()),
        "the face step carries a challenge: {next}"
    );
    // A second device cannot take the transaction over.
    let mut other = Device {
        session: String::new(),
        ..Device { cfg: dev.cfg.clone(), api: dev.api.clone(), cred: dev.cred.clone(), session: String::new() }
    };
    let (st, v) = other.post("start", &serde_json::json!({"meta_info": META_ANDROID, "device_time_ms": 1})).await;
    assert_eq!((st, v["code"].as_str(), v["result_code"].as_u64()), (409, Some("SessionInUse"), Some(1007)), "{v}");
    other.session = "0".repeat(32);
    let (st, v) = other.post("round", &round_body(&next, "aGk=", 1)).await;
    assert_eq!((st, v["code"].as_str()), (409, Some("SessionInUse")), "{v}");
    assert_eq!(s.store.get_transaction(&m.id, &tid).await.unwrap().unwrap().state, TxState::InProgress);

    // Out of order and wrong nonce.
    let mut ahead = next.clone();
    ahead["round"] = serde_json::json!(next["round"].as_u64().unwrap() + 1);
    let (st, v) = dev.post("round", &round_body(&ahead, "aGk=", 1)).await;
    assert_eq!((st, v["code"].as_str()), (409, Some("OutOfOrder")), "{v}");
    let mut wrong_nonce = next.clone();
    wrong_nonce["nonce"] = serde_json::json!("00000000000000000000000000000000");
    let (st, v) = dev.post("round", &round_body(&wrong_nonce, "aGk=", 1)).await;
    assert_eq!((st, v["code"].as_str()), (409, Some("NonceReused")), "{v}");

    // A picture without a face: a retake with a new nonce; the old round cannot be replayed.
    let first = round_body(&next, &no_face_b64(), 3);
    let (st, retake) = dev.post("round", &first).await;
    assert_eq!(st, 200, "{retake}");
    assert_eq!(retake["outcome"], "retake", "{retake}");
    assert_eq!(retake["reason_code"], "NO_FACE");
    let (st2, again) = dev.post("round", &first).await;
    assert_eq!((st2, &again), (200, &retake), "an exact resend gets the same answer");
    let mut replay = first.clone();
    replay["frames"][0]["t_ms"] = serde_json::json!(7);
    let (st, v) = dev.post("round", &replay).await;
    assert_eq!((st, v["code"].as_str()), (409, Some("NonceReused")), "{v}");

    // A face: the flow ends, with an explicit verdict (liveness cannot pass unchecked).
    let next = retake["next"].clone();
    assert_ne!(next["nonce"], first["nonce"]);
    let (st, done) = dev.post("round", &round_body(&next, &face_b64("obama.jpg"), 3)).await;
    assert_eq!(st, 200, "{done}");
    assert_eq!(done["outcome"], "done");
    let r = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["Result"]["Passed"], "N");
    let (st, v) = dev.post("status", &serde_json::json!({})).await;
    assert_eq!((st, v["state"].as_str()), (200, Some("completed")), "{v}");
    s.stop().await;
}

#[tokio::test]
async fn cancelled_and_quiet_devices_end_their_transactions() {
    let s = start_with(tempfile::tempdir().unwrap(), |c| {
        c.device_idle_timeout = std::time::Duration::from_secs(1);
        c.sweep_interval = std::time::Duration::from_millis(200);
    })
    .await;
    let m = s.merchant("A").await;
    let (mut dev, tid) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    dev.start().await;
    let (st, v) = dev.post("cancel", &serde_json::json!({})).await;
    assert_eq!((st, v["result_code"].as_u64()), (200, Some(1006)), "{v}");
    let r = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    assert_eq!(
        (r.json["Result"]["Passed"].as_str(), r.json["Result"]["SubCode"].as_str()),
        (Some("N"), Some("208")),
        "{}",
        r.json
    );

    let (mut quiet, tid) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    let next = quiet.start().await["next"].clone();
    // Poll until the sweep closes it (bounded): the device said nothing for longer than the idle timeout.
    let mut state = TxState::InProgress;
    for _ in 0..100 {
        state = s.store.get_transaction(&m.id, &tid).await.unwrap().unwrap().state;
        if state != TxState::InProgress {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(state, TxState::Expired);
    let r = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    assert_eq!(r.json["Result"]["SubCode"], "207", "{}", r.json);
    let (st, v) = quiet.post("round", &round_body(&next, &face_b64("obama.jpg"), 1)).await;
    assert_eq!(
        (st, v["code"].as_str(), v["result_code"].as_u64()),
        (409, Some("TransactionClosed"), Some(1006)),
        "{v}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_restart_mid_flow_loses_nothing_that_was_acknowledged() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (mut dev, tid) = Device::for_new_transaction(&s, &m, "eKYC").await;
    let started = dev.start().await;
    let docs = tempfile::tempdir().unwrap();
    let cmd = idv_eval::specimen::SpecimenCommand {
        out_dir: docs.path().to_path_buf(),
        assets_root: repo_root(),
        kinds: vec![idv_eval::specimen::DocKind::Td3],
        count: 1,
        seed: 5,
        distortions: vec!["clean".into()],
        validity: idv_eval::specimen::Validity::Valid,
        tamper: Default::default(),
        set: vec![("portrait".into(), "astronaut.png".into())],
        today: None,
    };
    let page = idv_eval::specimen::run_command(&cmd).unwrap().remove(0);
    let page_b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, std::fs::read(page).unwrap());
    let (st, next) = dev.post("round", &round_body(&started["next"], &page_b64, 1)).await;
    assert_eq!((st, next["outcome"].as_str()), (200, Some("next")), "{next}");
    let face_instruction = next["next"].clone();
    assert_eq!(face_instruction["step"], "FACE");

    // The server stops; another process takes over the same data directory on another port.
    let old_api = dev.api.clone();
    let dir = s.stop().await;
    let s = start_with(dir, |_| {}).await;
    dev.api = old_api.replace(&old_api[7..old_api.find("/device").unwrap()], &s.addr.to_string());
    let (st, status) = dev.post("status", &serde_json::json!({})).await;
    assert_eq!(st, 200, "{status}");
    assert_eq!(status["state"], "in_progress");
    assert_eq!(
        status["next"], face_instruction,
        "the acknowledged round and the issued challenge survived the restart"
    );
    // The flow goes on from where it was: the face round is taken with the nonce issued before the restart.
    let (st, v) = dev.post("round", &round_body(&face_instruction, &no_face_b64(), 2)).await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("retake")), "{v}");
    let tx = s.store.get_transaction(&m.id, &tid).await.unwrap().unwrap();
    assert_eq!(tx.state, TxState::InProgress);
    assert!(s.store.blob_of_kind(&tid, "doc_front").await.unwrap().is_some(), "the document page was kept");
    s.stop().await;
}

/// A capture that passed in one transaction, posted again in another (correctly MACed with the new session's
/// credential, as a tampered app could): the frames' digests are remembered, so it is an attack (205) without
/// the engines running, even though the pictures themselves would pass the challenge check if it were the same.
#[tokio::test]
async fn frames_replayed_into_another_transaction_are_an_attack() {
    let s = start().await;
    let m = s.merchant("A").await;
    let mut first_frames: Option<Vec<Value>> = None;
    let mut first_tid = String::new();
    for round in 0..2 {
        let (mut dev, tid) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
        let next = dev.start().await["next"].clone();
        let frames = first_frames.get_or_insert_with(|| live_frames("obama.jpg", &next["challenge"], 9)).clone();
        let body =
            serde_json::json!({"round": next["round"], "nonce": next["nonce"], "step": "FACE", "frames": frames});
        let (st, done) = dev.post("round", &body).await;
        assert_eq!((st, done["outcome"].as_str()), (200, Some("done")), "{done}");
        let c = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
        let face: Value = serde_json::from_str(c.json["Result"]["ExtFaceInfo"].as_str().unwrap()).unwrap();
        let verdict = (c.json["Result"]["Passed"].as_str(), c.json["Result"]["SubCode"].as_str());
        if round == 0 {
            assert_eq!(verdict, (Some("Y"), Some("200")), "{}", c.json);
            assert_eq!(face["faceAttack"], "N", "{face}");
            first_tid = tid.clone();
        } else {
            assert_eq!(verdict, (Some("N"), Some("205")), "{}", c.json);
            assert_eq!(face["faceAttack"], "Y", "{face}");
            assert!(face["livenessReasons"].to_string().contains("frames_reused"), "{face}");
            assert!(!c.json.to_string().contains(&first_tid), "the other transaction is not named");
        }
    }
    s.stop().await;
}

/// Initializes FACE_LIVENESS with `extra` parameters, lets a live head answer the issued challenge after
/// `tamper` rewrote it (the frames then answer another challenge), and returns the round's answer, the issued
/// challenge and the transaction id.
async fn live_round(
    s: &Server,
    m: &Merchant,
    extra: &[(&str, &str)],
    tamper: fn(&mut Value),
    seed: u64,
) -> (Value, Value, String) {
    let params = [init_params("FACE_LIVENESS", META_ANDROID), extra.to_vec()].concat();
    let (mut dev, tid) = Device::initialized(s, m, &params, &map(&[])).await;
    let next = dev.start().await["next"].clone();
    let issued = next["challenge"].clone();
    let mut answered = issued.clone();
    tamper(&mut answered);
    let frames = live_frames("astronaut.png", &answered, seed);
    let body = serde_json::json!({"round": next["round"], "nonce": next["nonce"], "step": "FACE", "frames": frames});
    let (st, answer) = dev.post("round", &body).await;
    assert_eq!(st, 200, "{answer}");
    (answer, issued, tid)
}

/// The liveness models through the device flow: the server issues each model's challenge (10 held colours for
/// PHOTINUS_LIVENESS, the template's actions in order for TEMPLATE Seq); a live head answering it passes, one
/// answering another challenge does not, with the reason named.
#[tokio::test]
async fn liveness_models_issue_and_verify_their_challenge() {
    let s = start().await;
    let m = s.merchant("A").await;
    let result = |tid: String| {
        let (s, m) = (&s, &m);
        async move {
            let c = call(s, m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
            let face: Value = serde_json::from_str(c.json["Result"]["ExtFaceInfo"].as_str().unwrap()).unwrap();
            (
                c.json["Result"]["Passed"].as_str().unwrap().to_owned(),
                c.json["Result"]["SubCode"].as_str().unwrap().to_owned(),
                face,
            )
        }
    };
    let photinus = [("Model", "PHOTINUS_LIVENESS")];
    let (done, issued, tid) = live_round(&s, &m, &photinus, |_| {}, 41).await;
    assert_eq!(done["outcome"], "done", "{done}");
    assert_eq!(issued["colours"].as_array().unwrap().len(), idv_liveness::flash::SEQUENCE_LEN, "{issued}");
    assert_eq!(issued["colour_ms"], idv_liveness::flash::COLOUR_MS, "{issued}");
    let (passed, sub, face) = result(tid).await;
    assert_eq!((passed.as_str(), sub.as_str(), face["faceAttack"].as_str()), ("Y", "200", Some("N")), "{face}");

    // The frames follow the complementary colours: a capture made for another sequence.
    let complement = |c: &mut Value| {
        for colour in c["colours"].as_array_mut().unwrap() {
            let rgb = idv_liveness::parse_colour(colour.as_str().unwrap()).unwrap();
            *colour = Value::from(idv_liveness::colour_hex(rgb.map(|v| 255 - v)));
        }
    };
    let (done, _, tid) = live_round(&s, &m, &photinus, complement, 42).await;
    assert_eq!(done["outcome"], "done", "{done}");
    let (passed, sub, face) = result(tid).await;
    assert_eq!((passed.as_str(), sub.as_str(), face["faceAttack"].as_str()), ("N", "205", Some("Y")), "{face}");
    assert!(face["livenessReasons"].to_string().contains("colour_mismatch"), "{face}");

    let template = [("Model", "TEMPLATE"), ("TemplateConfig", "02,04"), ("TemplateType", "Seq")];
    let (done, issued, tid) = live_round(&s, &m, &template, |_| {}, 43).await;
    assert_eq!(issued["actions"], serde_json::json!(["open_mouth", "head_right"]), "{issued}");
    assert_eq!(done["outcome"], "done", "{done}");
    let (passed, sub, _) = result(tid).await;
    assert_eq!((passed.as_str(), sub.as_str()), ("Y", "200"));

    // The actions in the wrong order: not evidence of an attack, the user is asked again with a new challenge.
    let reverse = |c: &mut Value| {
        let mut a = c["actions"].as_array().unwrap().clone();
        a.reverse();
        c["actions"] = Value::from(a);
    };
    let (retake, _, _) = live_round(&s, &m, &template, reverse, 44).await;
    assert_eq!(
        (retake["outcome"].as_str(), retake["reason_code"].as_str()),
        (Some("retake"), Some("LIVENESS_ACTION_ORDER")),
        "{retake}"
    );
    assert!(retake["next"]["challenge"]["actions"].is_array(), "a new challenge comes with the retake: {retake}");
    s.stop().await;
}

//! Hostile data: a card's front and back taken from two different cards, a stored image lost from the data
//! directory, and a transaction row moved to another merchant in the database file.

use std::path::Path;

use serde_json::Value;

use crate::helpers::{
    Device, META_ANDROID, Merchant, Server, call, genuine_face_round, init_params, map, repo_root, round_body,
    start_with,
};

/// The front and back of one synthetic TD1 card (clean pictures) of the identity generated from `seed`, with the
/// portrait `portrait`, base64.
fn td1_card(seed: u64, portrait: &str) -> (String, String) {
    let out = tempfile::tempdir().unwrap();
    let cmd = idv_eval::specimen::SpecimenCommand {
        out_dir: out.path().to_path_buf(),
        assets_root: repo_root(),
        kinds: vec![idv_eval::specimen::DocKind::Td1Front, idv_eval::specimen::DocKind::Td1Back],
        count: 1,
        seed,
        distortions: vec!["clean".into()],
        validity: idv_eval::specimen::Validity::Valid,
        tamper: Default::default(),
        set: vec![("portrait".into(), portrait.into())],
        today: None,
    };
    let pages = idv_eval::specimen::run_command(&cmd).unwrap();
    assert_eq!(pages.len(), 2);
    let b64 = |p: &Path| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, std::fs::read(p).unwrap());
    (b64(&pages[0]), b64(&pages[1]))
}

/// The Result of CheckResult, with its Ext* strings parsed.
async fn check_result(s: &Server, m: &Merchant, tid: &str, image: &str) -> (Value, Value, Value, Value) {
    let r =
        call(s, m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", tid), ("IsReturnImage", image)])
            .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let ext = |k: &str| serde_json::from_str::<Value>(r.json["Result"][k].as_str().unwrap()).unwrap();
    (r.json["Result"].clone(), ext("ExtIdInfo"), ext("ExtFaceInfo"), ext("ExtInfo"))
}

/// Runs an eKYC flow over a TD1 card's two pages and a live face answering the challenge; returns the
/// transaction id.
async fn ekyc_td1(s: &Server, m: &Merchant, front: &str, back: &str, portrait: &str, seed: u64) -> String {
    let mut p = init_params("eKYC", META_ANDROID);
    p.retain(|(k, _)| *k != "DocType");
    p.extend([("DocType", "GLB01001"), ("Pages", "01,02")]);
    let (mut dev, tid) = Device::initialized(s, m, &p, &map(&[])).await;
    let started = dev.start().await;
    assert_eq!(started["steps"], serde_json::json!(["DOC_FRONT", "DOC_BACK", "FACE"]), "{started}");
    let mut next = started["next"].clone();
    for page in [front, back] {
        let (st, answer) = dev.post("round", &round_body(&next, page, 1)).await;
        assert_eq!((st, answer["outcome"].as_str()), (200, Some("next")), "{} page: {answer}", next["step"]);
        next = answer["next"].clone();
    }
    assert_eq!(next["step"], "FACE");
    let (st, done) = genuine_face_round(&dev, &next, portrait, seed, serde_json::json!({})).await;
    assert_eq!((st, done["outcome"].as_str()), (200, Some("done")), "{done}");
    tid
}

/// Item: the front of card X and the back of card Y each pass alone; together they are not one document.
#[tokio::test]
async fn the_front_of_one_card_and_the_back_of_another_are_refused() {
    let s = start_with(tempfile::tempdir().unwrap(), |_| {}).await;
    let m = s.merchant("A").await;
    let (front_x, back_x) = td1_card(5, "astronaut.png");
    let (_, back_y) = td1_card(6, "astronaut.png");

    let tid = ekyc_td1(&s, &m, &front_x, &back_x, "astronaut.png", 21).await;
    let (result, id, _, info) = check_result(&s, &m, &tid, "N").await;
    assert_eq!(id["ocrIdPassed"], "Y", "{id}");
    assert!(!info["reasons"].to_string().contains("document pages"), "the two pages of one card agree: {info}");
    assert_eq!((result["Passed"].as_str(), result["SubCode"].as_str()), (Some("Y"), Some("200")), "{info}");

    let tid = ekyc_td1(&s, &m, &front_x, &back_y, "astronaut.png", 22).await;
    let (result, id, _, info) = check_result(&s, &m, &tid, "N").await;
    assert_eq!((result["Passed"].as_str(), result["SubCode"].as_str()), (Some("N"), Some("201")), "{info}");
    // Each page passed its own checks: only the cross-check tells them apart.
    assert_eq!(
        (id["front"]["ocrIdPassed"].as_str(), id["back"]["ocrIdPassed"].as_str()),
        (Some("Y"), Some("Y")),
        "{id}"
    );
    let reasons: Vec<String> = serde_json::from_value(info["reasons"].clone()).unwrap();
    let reason =
        reasons.iter().find(|r| r.starts_with("document pages disagree")).unwrap_or_else(|| panic!("{reasons:?}"));
    for field in ["surname", "document_number", "birth_date"] {
        assert!(reason.contains(field), "{reason}");
    }
    s.stop().await;
}

/// Item: a stored image whose file is gone (deleted, or lost in a power cut) does not turn CheckResult into an
/// InternalError the merchant retries for ever: the verdict comes without it and ExtInfo names it.
#[tokio::test]
async fn a_missing_image_file_is_named_not_an_internal_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let s = start_with(dir, |_| {}).await;
    let m = s.merchant("A").await;
    let (mut dev, tid) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    let next = dev.start().await["next"].clone();
    let (st, done) = genuine_face_round(&dev, &next, "obama.jpg", 31, serde_json::json!({})).await;
    assert_eq!((st, done["outcome"].as_str()), (200, Some("done")), "{done}");
    let (before, _, face, info) = check_result(&s, &m, &tid, "Y").await;
    assert!(face["faceImg"].as_str().is_some_and(|i| !i.is_empty()), "the image is returned while it exists");
    assert!(info.get("missingImages").is_none(), "{info}");

    let blob = s.store.blob_of_kind(&tid, "face").await.unwrap().expect("the selfie was stored");
    std::fs::remove_file(data.join("blobs").join(&tid[..2]).join(&blob)).unwrap();
    // Asked twice: the answer is the same, a retry does not bring the image back.
    for _ in 0..2 {
        let (after, _, face, info) = check_result(&s, &m, &tid, "Y").await;
        assert_eq!(
            (&after["Passed"], &after["SubCode"]),
            (&before["Passed"], &before["SubCode"]),
            "the verdict stands"
        );
        assert!(face.get("faceImg").is_none(), "{face}");
        assert_eq!(info["missingImages"], serde_json::json!(["faceImg"]), "{info}");
        assert_eq!(
            info["reasons"],
            serde_json::from_str::<Value>(before["ExtInfo"].as_str().unwrap()).unwrap()["reasons"]
        );
    }
    s.stop().await;
}

/// Item: a transaction row moved to another merchant by raw SQL on the database file (no master key needed) is
/// not readable there: the new owner gets the answer for a transaction that is not theirs, nothing of it.
#[tokio::test]
async fn a_transaction_moved_to_another_merchant_reveals_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idv.sqlite3");
    let s = start_with(dir, |_| {}).await;
    let a = s.merchant("A").await;
    let b = s.merchant("B").await;
    // A finished transaction of A's, with a verdict: the user cancelled on the device.
    let (mut dev, tid) = Device::for_new_transaction(&s, &a, "FACE_LIVENESS").await;
    dev.start().await;
    let (st, v) = dev.post("cancel", &serde_json::json!({})).await;
    assert_eq!(st, 200, "{v}");
    let (result, ..) = check_result(&s, &a, &tid, "N").await;
    assert_eq!(result["SubCode"], "208");

    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&db).busy_timeout(std::time::Duration::from_secs(10));
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    let moved = sqlx::query("UPDATE transactions SET merchant_id = ? WHERE id = ?")
        .bind(&b.id)
        .bind(&tid)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 1);
    pool.close().await;

    let r = call(&s, &b, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    crate::helpers::assert_error(&r, 400, "TransactionIdInvalid");
    assert!(r.json.get("Result").is_none(), "{}", r.json);
    assert!(!r.json.to_string().contains("208") && !r.json.to_string().contains("cancel"), "{}", r.json);
    // A no longer owns the row either.
    let r = call(&s, &a, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    crate::helpers::assert_error(&r, 400, "TransactionIdInvalid");
    s.stop().await;
}

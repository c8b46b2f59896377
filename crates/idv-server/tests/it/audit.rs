//! The audit log as the server writes it: who did what to which transaction, in order, ids only, one intact chain.

use idv_store::{AuditEntry, Store, verify_chain};

use crate::helpers::{Device, call, call_signed, face_b64, genuine_face_round, map, nonce, start};

async fn entries(store: &dyn Store) -> Vec<AuditEntry> {
    store.audit_entries(0, 10_000).await.unwrap()
}

#[tokio::test]
async fn initialize_cancel_and_check_result_are_logged_in_order_in_a_verified_chain() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (mut dev, tid) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    dev.start().await;
    let (st, v) = dev.post("cancel", &serde_json::json!({})).await;
    assert_eq!(st, 200, "{v}");
    let r = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    assert_eq!(r.status, 200, "{}", r.json);

    let all = entries(&*s.store).await;
    assert_eq!(verify_chain(&all), Ok(all.len()));
    let mine: Vec<_> = all
        .iter()
        .filter(|e| e.transaction_id.as_deref() == Some(tid.as_str()))
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.merchant_id.as_deref()))
        .collect();
    let mid = Some(m.id.as_str());
    assert_eq!(
        mine,
        vec![
            (m.ak.as_str(), "transaction.created", mid),
            ("device", "device.started", mid),
            ("device", "transaction.cancelled", mid),
            (m.ak.as_str(), "result.read", mid),
        ]
    );
    let read = all.iter().find(|e| e.action == "result.read").unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&read.detail).unwrap(), serde_json::json!({"images": false}));
    // Ids only: the MerchantUserId and MerchantBizId given to Initialize appear nowhere.
    for e in &all {
        assert!(!format!("{e:?}").contains("user-1") && !format!("{e:?}").contains("biz0001"), "{e:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn face_compare_is_logged_as_an_image_processed_with_ids_only() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (a, b) = (face_b64("obama.jpg"), face_b64("obama2.jpg"));
    let body = map(&[("SourceFacePicture", a.as_str()), ("TargetFacePicture", b.as_str())]);
    let r = call_signed(&s, &m, "FaceCompare", &map(&[("MerchantBizId", "cmp1")]), &body, &nonce()).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let all = entries(&*s.store).await;
    assert_eq!(verify_chain(&all), Ok(all.len()));
    let e = all.iter().find(|e| e.action == "image.processed").expect("an image.processed entry");
    assert_eq!((e.actor.as_str(), e.merchant_id.as_deref()), (m.ak.as_str(), Some(m.id.as_str())));
    assert_eq!(e.transaction_id.as_deref(), r.json["Result"]["TransactionId"].as_str());
    let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
    assert_eq!(detail["kind"], "FaceCompare");
    assert!(!e.detail.contains("cmp1"), "{}", e.detail);
    s.stop().await;
}

#[tokio::test]
async fn a_round_that_ends_the_flow_is_logged_with_the_verdict_in_brief() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (mut dev, tid) = Device::for_new_transaction(&s, &m, "FACE_LIVENESS").await;
    let next = dev.start().await["next"].clone();
    let (st, done) = genuine_face_round(&dev, &next, "obama.jpg", 9, serde_json::json!({})).await;
    assert_eq!((st, done["outcome"].as_str()), (200, Some("done")), "{done}");
    let all = entries(&*s.store).await;
    assert_eq!(verify_chain(&all), Ok(all.len()));
    let actions: Vec<_> =
        all.iter().filter(|e| e.transaction_id.as_deref() == Some(tid.as_str())).map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["transaction.created", "device.started", "transaction.finished"]);
    let finished = all.iter().find(|e| e.action == "transaction.finished").unwrap();
    assert_eq!(finished.actor, "device");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&finished.detail).unwrap(),
        serde_json::json!({"state": "completed", "passed": true, "subCode": "200"})
    );
    s.stop().await;
}

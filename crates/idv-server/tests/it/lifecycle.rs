//! Data lifecycle: DeleteVerifyResult (now or after the next query, merchant-scoped, idempotent) and the retention
//! sweep, down to the files on disk and an old copy of the database (`docs/data-protection.md`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use idv_store::Store;
use serde_json::Value;

use crate::helpers::{Device, Merchant, Server, call, genuine_face_round, start, start_with_key_epochs};

/// A finished FACE_LIVENESS transaction of a live head (it stores the selfie); its id.
async fn finished(s: &Server, m: &Merchant) -> String {
    let (mut dev, tid) = Device::for_new_transaction(s, m, "FACE_LIVENESS").await;
    let next = dev.start().await["next"].clone();
    let (st, done) = genuine_face_round(&dev, &next, "astronaut.png", 7, serde_json::json!({})).await;
    assert_eq!((st, done["outcome"].as_str()), (200, Some("done")), "{done}");
    tid
}

async fn check(s: &Server, m: &Merchant, tid: &str) -> Value {
    let r = call(s, m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", tid), ("IsReturnImage", "Y")])
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["Result"].clone()
}

async fn delete(s: &Server, m: &Merchant, tid: &str, extra: &[(&str, &str)]) -> crate::helpers::Reply {
    let mut q = vec![("TransactionId", tid)];
    q.extend_from_slice(extra);
    call(s, m, "DeleteVerifyResult", &q).await
}

fn ext(result: &Value, key: &str) -> Value {
    serde_json::from_str(result[key].as_str().unwrap()).unwrap()
}

/// The blob files of a transaction on disk.
fn blob_files(dir: &Path, tid: &str) -> Vec<PathBuf> {
    let shard = dir.join("blobs").join(&tid[..2]);
    std::fs::read_dir(&shard).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
}

#[tokio::test]
async fn delete_verify_result_keeps_the_decision_and_is_the_merchants_alone() {
    let s = start().await;
    let (a, b) = (s.merchant("A").await, s.merchant("B").await);
    let tid = finished(&s, &a).await;
    let full = check(&s, &a, &tid).await;
    assert_eq!((full["Passed"].as_str(), full["SubCode"].as_str()), (Some("Y"), Some("200")), "{full}");
    assert!(ext(&full, "ExtFaceInfo")["faceImg"].is_string(), "the selfie is returned before any deletion");
    assert!(!blob_files(s.dir(), &tid).is_empty());

    // Another merchant deletes and reads nothing.
    let r = delete(&s, &b, &tid, &[]).await;
    assert_eq!((r.status, r.json["Code"].as_str()), (400, Some("TransactionIdInvalid")), "{}", r.json);
    assert!(ext(&check(&s, &a, &tid).await, "ExtFaceInfo")["faceImg"].is_string(), "B deleted nothing");

    // Images: the selfie goes (from disk too), the text evidence stays.
    let r = delete(&s, &a, &tid, &[("DeleteType", "Img")]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        (r.json["Result"]["DeleteResult"].as_str(), r.json["Result"]["TransactionId"].as_str()),
        (Some("Y"), Some(tid.as_str()))
    );
    assert!(blob_files(s.dir(), &tid).is_empty(), "the image files are gone");
    let after = check(&s, &a, &tid).await;
    let face = ext(&after, "ExtFaceInfo");
    assert!(face.get("faceImg").is_none() && face["liveness"].is_object(), "{face}");
    assert_eq!(ext(&after, "ExtInfo")["evidenceDeleted"], "images");

    // All: only the decision answers, and says the evidence was deleted; deleting again is harmless.
    for _ in 0..2 {
        let r = delete(&s, &a, &tid, &[("DeleteType", "All")]).await;
        assert_eq!((r.status, r.json["Result"]["DeleteResult"].as_str()), (200, Some("Y")), "{}", r.json);
    }
    let gone = check(&s, &a, &tid).await;
    assert_eq!((gone["Passed"].as_str(), gone["SubCode"].as_str()), (Some("Y"), Some("200")), "{gone}");
    assert_eq!((gone["ExtFaceInfo"].as_str(), gone["ExtIdInfo"].as_str()), (Some("{}"), Some("{}")));
    let info = ext(&gone, "ExtInfo");
    assert_eq!(info["evidenceDeleted"], "all", "{info}");
    assert!(info["deletedAt"].as_i64().is_some());
    let tx = s.store.get_transaction_for_device(&tid).await.unwrap().unwrap();
    assert!(
        tx.options.is_none() && tx.verdict.is_none() && tx.device_secret.is_none(),
        "nothing opens, even with the master key"
    );
    s.stop().await;
}

#[tokio::test]
async fn delete_after_query_answers_once_in_full_then_deletes() {
    let s = start().await;
    let a = s.merchant("A").await;
    let tid = finished(&s, &a).await;
    let r = delete(&s, &a, &tid, &[("DeleteAfterQuery", "Y")]).await;
    assert_eq!((r.status, r.json["Result"]["DeleteResult"].as_str()), (200, Some("Y")), "{}", r.json);
    let first = check(&s, &a, &tid).await;
    assert!(ext(&first, "ExtFaceInfo")["faceImg"].is_string(), "the query after the request still gets it all");
    let second = check(&s, &a, &tid).await;
    assert_eq!(ext(&second, "ExtInfo")["evidenceDeleted"], "all", "{second}");
    assert!(blob_files(s.dir(), &tid).is_empty());
    s.stop().await;
}

#[tokio::test]
async fn deleting_an_open_transaction_cancels_it_first() {
    let s = start().await;
    let a = s.merchant("A").await;
    let (_, tid) = Device::for_new_transaction(&s, &a, "FACE_LIVENESS").await;
    let r = delete(&s, &a, &tid, &[]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let res = check(&s, &a, &tid).await;
    assert_eq!(
        (res["Passed"].as_str(), res["SubCode"].as_str()),
        (Some("N"), Some(idv_api::SubCode::Cancelled.code())),
        "{res}"
    );
    assert_eq!(ext(&res, "ExtInfo")["evidenceDeleted"], "all");
    s.stop().await;
}

/// Retention of 2 s with key epochs of 1 s: after the sweep the images are gone from disk, nothing of the
/// transaction opens in the live database, a copy of the database taken before the sweep opens nothing either once
/// restored with today's keys, and CheckResult answers with the decision.
#[tokio::test]
async fn the_retention_sweep_deletes_everything_but_the_decision_including_in_old_copies() {
    let dir = tempfile::tempdir().unwrap();
    // The first server sweeps once, at start, and then not for an hour: however slow the machine, the backup below
    // is taken before any sweep could have reached the transaction.
    let s = start_with_key_epochs(dir, 1, |c| {
        c.retention = Duration::from_secs(2);
        c.sweep_interval = Duration::from_secs(3600);
    })
    .await;
    let a = s.merchant("A").await;
    let tid = finished(&s, &a).await;
    assert!(!blob_files(s.dir(), &tid).is_empty());
    let dir = s.stop().await;
    // The backup, taken before the sweep: the database file with its log.
    let backup = tempfile::tempdir().unwrap();
    for f in ["idv.sqlite3", "idv.sqlite3-wal"] {
        if dir.path().join(f).exists() {
            std::fs::copy(dir.path().join(f), backup.path().join(f)).unwrap();
        }
    }
    let s = start_with_key_epochs(dir, 1, |c| {
        c.retention = Duration::from_secs(2);
        c.sweep_interval = Duration::from_millis(200);
    })
    .await;
    let mut swept = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let tx = s.store.get_transaction_for_device(&tid).await.unwrap().unwrap();
        let epochs = std::fs::read_dir(s.dir().join("keys")).unwrap().count();
        if tx.deleted.is_some() && epochs == 0 {
            swept = true;
            break;
        }
    }
    assert!(swept, "the sweep deleted the evidence and destroyed the spent key epoch within 10 s");
    assert!(blob_files(s.dir(), &tid).is_empty(), "the image files are gone from disk");
    let tx = s.store.get_transaction_for_device(&tid).await.unwrap().unwrap();
    assert!(tx.options.is_none() && tx.verdict.is_none(), "the live database opens nothing of it");
    let res = check(&s, &a, &tid).await;
    assert_eq!((res["Passed"].as_str(), res["SubCode"].as_str()), (Some("Y"), Some("200")), "{res}");
    assert_eq!(ext(&res, "ExtInfo")["evidenceDeleted"], "all");

    // The old copy, restored next to today's keys (and the master key): its wrapped data key is there, the key
    // that wrapped it is not.
    std::fs::create_dir_all(backup.path().join("keys")).unwrap();
    let restored = idv_store::SqliteStore::open(backup.path(), &s.key, 1).await.unwrap();
    let old = restored.get_transaction_for_device(&tid).await.unwrap().expect("the row is in the copy");
    assert!(old.deleted.is_none(), "the copy predates the deletion");
    assert!(old.options.is_none() && old.verdict.is_none() && old.device_secret.is_none(), "and opens nothing");
    s.stop().await;
}

//! `MerchantClient` against a recording merchant API endpoint whose requests are checked with the server's own
//! signature parser.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use idv_sdk::{InitializeParams, MerchantClient, MerchantError};
use serde_json::json;

use crate::common::{TID, meta};

/// Method, path and query, headers, body.
type Recorded = (String, String, Vec<(String, String)>, Vec<u8>);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

async fn merchant_api(
    State(rec): State<Recorder>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let hs: Vec<(String, String)> =
        headers.iter().map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned())).collect();
    let action = headers.get("x-acs-action").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let mut all = rec.0.lock().unwrap();
    all.push((method.to_string(), uri.path_and_query().unwrap().to_string(), hs, body.to_vec()));
    let checks = all.iter().filter(|r| r.2.iter().any(|(n, v)| n == "x-acs-action" && v == "CheckResult")).count();
    match action.as_str() {
        "Initialize" => axum::Json(json!({"RequestId": "R1", "Code": "Success", "Message": "success", "Result": {
            "TransactionId": TID, "Protocol": "idv1.p.m", "ClientCfg": "idv1.p.m"}}))
        .into_response(),
        "CheckResult" if checks == 1 => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"RequestId": "R2", "HostId": "h", "Code": "ProcessNotCompleted", "Message": "wait"})),
        )
            .into_response(),
        _ => axum::Json(json!({"RequestId": "R3", "Code": "Success", "Message": "success", "Result": {
            "Passed": "Y", "SubCode": "200", "ExtBasicInfo": "{}", "ExtIdInfo": "{\"idImage\":\"aGk=\"}",
            "ExtFaceInfo": "{}", "ExtRiskInfo": "{}", "ExtInfo": "{}"}}))
        .into_response(),
    }
}

#[tokio::test]
async fn merchant_client_signs_what_the_server_verifies() {
    let rec = Recorder::default();
    let app = axum::Router::new().fallback(merchant_api).with_state(rec.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = MerchantClient::new(&addr.to_string(), "AKID0001", "s3cret").unwrap();
    let params = InitializeParams {
        product_code: "eKYC".into(),
        merchant_biz_id: "biz42".into(),
        merchant_user_id: "user 1+2 ä".into(),
        meta_info: meta(),
        doc_type: Some("01000000".into()),
        callback_token: Some("tok~*".into()),
        face_picture_base64: Some("aGVsbG8gd29ybGQ+/w==".into()),
        model: Some("LIVENESS".into()),
        extra: BTreeMap::from([("LanguageConfig".to_owned(), "en".to_owned())]),
        ..InitializeParams::default()
    };
    let init = client.initialize(&params).await.unwrap();
    assert_eq!((init.transaction_id.as_str(), init.client_cfg.as_str()), (TID, "idv1.p.m"));
    let pending = client.check_result("biz42", TID, false).await.unwrap_err();
    assert!(pending.is_process_not_completed(), "{pending:?}");
    assert_eq!(
        pending,
        MerchantError::Api {
            http_status: 404,
            code: "ProcessNotCompleted".into(),
            message: "wait".into(),
            request_id: "R2".into()
        }
    );
    let done = client.check_result("biz42", TID, true).await.unwrap();
    assert_eq!((done.passed.as_str(), done.sub_code.as_str()), ("Y", "200"));

    let all = rec.0.lock().unwrap();
    assert_eq!(all.len(), 3);
    let mut nonces = std::collections::HashSet::new();
    for (method, path_and_query, headers, body) in all.iter() {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let raw = idv_api::sign::RawRequest { method, path, raw_query: query, headers, body };
        let signed = idv_api::sign::parse(&raw, &idv_api::sign::Limits::default()).unwrap();
        signed.verify("s3cret").unwrap();
        assert!(signed.verify("wrong").is_err());
        assert_eq!((signed.access_key_id.as_str(), signed.version.as_str()), ("AKID0001", "2022-08-09"));
        signed.check_clock(time::OffsetDateTime::now_utc(), time::Duration::minutes(15)).unwrap();
        assert!(nonces.insert(signed.nonce.clone()), "nonces must not repeat");
        if signed.action == "Initialize" {
            let p = &signed.params;
            assert_eq!(p["MerchantUserId"], "user 1+2 ä");
            assert_eq!(p["MetaInfo"], meta());
            assert_eq!(p["CallbackToken"], "tok~*");
            assert_eq!(p["Model"], "LIVENESS");
            assert_eq!(p["LanguageConfig"], "en");
            assert_eq!(p["FacePictureBase64"], "aGVsbG8gd29ybGQ+/w==");
            assert!(!query.contains("FacePictureBase64") && query.contains("MetaInfo="), "{query}");
            assert!(String::from_utf8_lossy(body).starts_with("FacePictureBase64="));
        } else {
            assert_eq!(signed.action, "CheckResult");
            assert_eq!(signed.params["TransactionId"], TID);
            assert!(body.is_empty());
        }
    }
    let flags: Vec<&str> = all[1..].iter().map(|r| if r.1.contains("IsReturnImage=Y") { "Y" } else { "N" }).collect();
    assert_eq!(flags, ["N", "Y"]);
}

#[tokio::test]
async fn merchant_client_reports_unreachable_and_garbled_servers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = MerchantClient::new(&addr.to_string(), "AK", "SK").unwrap();
    assert!(matches!(client.check_result("b", TID, false).await, Err(MerchantError::Network(_))));

    let app = axum::Router::new().fallback(|| async { (StatusCode::BAD_GATEWAY, "<html>proxy error</html>") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = MerchantClient::new(&format!("http://{addr}"), "AK", "SK").unwrap();
    match client.check_result("b", TID, false).await {
        Err(MerchantError::BadResponse { http_status: 502, detail }) => assert!(detail.contains("proxy error")),
        other => panic!("{other:?}"),
    }
}

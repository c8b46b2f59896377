//! The merchant RPC API: Initialize, CheckResult, authentication and signatures, nonces, limits, throttling,
//! health and metrics.

use std::collections::BTreeMap;

use idv_api::sign::{sign_acs3, sign_rpc_v1};
use idv_api::{ImageKind, SubCode};
use idv_protocol::{ClientConfig, Product, Step};
use idv_store::{RoundUpdate, TxState};
use serde_json::Value;

use crate::helpers::{
    META_ANDROID, META_WEB, METRICS_TOKEN, Merchant, Reply, Server, assert_error, call, call_signed, init_params, map,
    nonce, send, start, start_with,
};

#[tokio::test]
async fn initialize_returns_a_signed_client_configuration_per_product() {
    let s = start().await;
    let m = s.merchant("A").await;
    for (product, steps) in [
        ("eKYC", vec![Step::DocFront, Step::Face]),
        ("eKYC_PRO", vec![Step::DocFront, Step::Face]),
        ("ID_OCR", vec![Step::DocFront]),
        ("FACE_LIVENESS", vec![Step::Face]),
    ] {
        let r = call(&s, &m, "Initialize", &init_params(product, META_ANDROID)).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["Code"], "Success");
        assert_eq!(r.json["Message"], "success");
        let tid = r.json["Result"]["TransactionId"].as_str().unwrap();
        assert!(tid.len() == 32 && tid.bytes().all(|b| b.is_ascii_hexdigit()), "{tid}");
        let token = r.json["Result"]["Protocol"].as_str().unwrap();
        assert_eq!(r.json["Result"]["ClientCfg"], token);
        assert!(r.json["Result"].get("TransactionUrl").is_none(), "no TransactionUrl for an app flow");
        let cfg = ClientConfig::verify(
            token,
            &s.key.derive("clientcfg-mac"),
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
        .unwrap();
        assert_eq!(cfg.tid, tid);
        assert_eq!(cfg.product, Product::from_code(product).unwrap());
        assert_eq!(cfg.steps, steps);
        assert_eq!(cfg.api, s.url("/device/v1"));
        let ttl = cfg.exp - cfg.iat;
        assert_eq!(ttl, 1800, "30-minute expiry");
        let tx = s.store.get_transaction(&m.id, tid).await.unwrap().unwrap();
        assert_eq!(tx.state, TxState::Initialized);
        assert_eq!(tx.expires_at, cfg.exp);
    }
    // Both pages of a TD1 card, and the web flow's TransactionUrl.
    let mut p = init_params("eKYC_PRO", META_WEB);
    p.retain(|(k, _)| *k != "DocType");
    p.extend([("DocType", "GLB01001"), ("Pages", "01,02")]);
    let r = call(&s, &m, "Initialize", &p).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let tid = r.json["Result"]["TransactionId"].as_str().unwrap();
    let url = r.json["Result"]["TransactionUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&s.url(&format!("/web/{tid}/"))) && url.len() == s.url(&format!("/web/{tid}/")).len() + 22,
        "{url}"
    );
    let cfg = ClientConfig::read_unverified(r.json["Result"]["Protocol"].as_str().unwrap()).unwrap();
    assert_eq!(cfg.steps, vec![Step::DocFront, Step::DocBack, Step::Face]);
    s.stop().await;
}

#[tokio::test]
async fn initialize_validates_parameters_and_names_them() {
    let s = start().await;
    let m = s.merchant("A").await;
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("ProductCode", "eKYC")], "MissingParameter", "MerchantBizId"),
        (
            init_params("eKYC", META_ANDROID).into_iter().filter(|(k, _)| *k != "MetaInfo").collect(),
            "MissingParameter",
            "MetaInfo",
        ),
        (
            init_params("eKYC", META_ANDROID).into_iter().filter(|(k, _)| *k != "DocType").collect(),
            "MissingParameter",
            "DocType",
        ),
        ([init_params("FACE_GUARD", META_ANDROID)].concat(), "InvalidParameter", "not supported"),
        ([init_params("eKYC", META_ANDROID), vec![("DocType", "00000006")]].concat(), "InvalidParameter", "00000006"),
        ([init_params("eKYC", "{\"deviceType\":\"android\"}")].concat(), "InvalidParameter", "bioMetaInfo"),
        (
            [init_params("eKYC", META_ANDROID), vec![("SceneCode", "scene-with-dash")]].concat(),
            "InvalidParameter",
            "SceneCode",
        ),
        ([init_params("eKYC", META_ANDROID), vec![("Model", "SMILE")]].concat(), "InvalidParameter", "Model"),
        (
            [init_params("eKYC", META_ANDROID), vec![("Model", "TEMPLATE")]].concat(),
            "MissingParameter",
            "TemplateConfig",
        ),
        (
            [init_params("eKYC", META_ANDROID), vec![("Model", "TEMPLATE"), ("TemplateConfig", "01,09")]].concat(),
            "InvalidParameter",
            "TemplateConfig",
        ),
        (
            [
                init_params("eKYC", META_ANDROID),
                vec![
                    ("Model", "TEMPLATE"),
                    ("TemplateConfig", "01,02"),
                    ("TemplateType", "Ran"),
                    ("TemplateRanCount", "3"),
                ],
            ]
            .concat(),
            "InvalidParameter",
            "TemplateRanCount",
        ),
        ([init_params("eKYC", META_ANDROID), vec![("IdSpoof", "Y")]].concat(), "InvalidParameter", "anti-spoofing"),
        ([init_params("eKYC", META_ANDROID), vec![("UseNFC", "Y")]].concat(), "InvalidParameter", "NFC"),
        (
            [init_params("eKYC", META_ANDROID), vec![("AutoRegistration", "1"), ("FaceGroupCodes", "members")]]
                .concat(),
            "MissingParameter",
            "FaceRegisterGroupCode",
        ),
        ([init_params("eKYC", META_ANDROID), vec![("Crop", "yes")]].concat(), "InvalidParameter", "Crop"),
        (
            [init_params("eKYC", META_ANDROID), vec![("ShowGuidePage", "Y")]].concat(),
            "InvalidParameter",
            "ShowGuidePage",
        ),
        (
            [init_params("eKYC", META_ANDROID), vec![("CallbackUrl", "http://merchant.example/cb")]].concat(),
            "InvalidParameter",
            "https",
        ),
        ([init_params("eKYC", META_ANDROID), vec![("Pages", "01,02")]].concat(), "InvalidParameter", "back page"),
        (
            [init_params("eKYC", META_ANDROID), vec![("Model", "PHOTINUS_LIVENESS")]]
                .concat()
                .into_iter()
                .map(
                    |(k, v)| {
                        if k == "MetaInfo" { (k, r#"{"deviceType":"ios","bioMetaInfo":"1.0.0:7,0"}"#) } else { (k, v) }
                    },
                )
                .collect(),
            "InvalidParameter",
            "colour-flash",
        ),
        (
            [init_params("FACE_LIVENESS", META_ANDROID), vec![("FacePictureUrl", "https://x.example/a.jpg")]].concat(),
            "InvalidParameter",
            "URL",
        ),
        (
            [
                init_params("FACE_LIVENESS", META_ANDROID),
                vec![("FacePictureBase64", "aGk="), ("FacePictureUrl", "https://x.example/a.jpg")],
            ]
            .concat(),
            "DataDuplication",
            "once",
        ),
        (
            [init_params("FACE_LIVENESS", META_ANDROID), vec![("FacePictureBase64", "not base64!")]].concat(),
            "InvalidParameter",
            "Base64",
        ),
    ];
    for (params, code, needle) in cases {
        // Later duplicates win, mirroring how a merchant overrides a default.
        let q: BTreeMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let r = call_signed(&s, &m, "Initialize", &q, &BTreeMap::new(), &nonce()).await;
        let status = if code == "DataDuplication" { 401 } else { 400 };
        assert_error(&r, status, code);
        assert!(r.json["Message"].as_str().unwrap().contains(needle), "{needle} not in {}", r.json["Message"]);
    }
    s.stop().await;
}

async fn ask(s: &Server, m: &Merchant, tid: String, img: &str) -> Reply {
    call(s, m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid), ("IsReturnImage", img)]).await
}

#[tokio::test]
async fn check_result_is_scoped_and_renders_verdicts() {
    let s = start().await;
    let a = s.merchant("A").await;
    let b = s.merchant("B").await;
    let r = call(&s, &a, "Initialize", &init_params("eKYC", META_ANDROID)).await;
    let tid = r.json["Result"]["TransactionId"].as_str().unwrap().to_owned();
    assert_error(&ask(&s, &a, tid.clone(), "N").await, 404, "ProcessNotCompleted");
    let other = ask(&s, &b, tid.clone(), "N").await;
    assert_error(&other, 400, "TransactionIdInvalid");
    let unknown = ask(&s, &b, idv_crypto::random_hex(16), "N").await;
    assert_eq!(other.json["Message"], unknown.json["Message"], "no hint that another merchant's id exists");
    let wrong_biz = call(&s, &a, "CheckResult", &[("MerchantBizId", "other"), ("TransactionId", &tid)]).await;
    assert_error(&wrong_biz, 400, "InvalidParameter");

    // Finish the transaction the way the flow does: evidence in the blob store, then one verdict in the last round.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let face = s.store.put_blob(&tid, ImageKind::Selfie.as_str(), b"FACEJPEG", now).await.unwrap();
    let doc = s.store.put_blob(&tid, ImageKind::DocFront.as_str(), b"DOCJPEG", now).await.unwrap();
    let mut evidence = idv_flow::Evidence::default();
    evidence.record(idv_flow::StepEvidence::Document(idv_flow::DocEvidence {
        page: idv_flow::Page::Front,
        image: idv_flow::BlobId(doc),
        portrait: None,
        reading: idv_flow::DocReading {
            doc_type: "GLB03002".into(),
            class: idv_flow::DocClass::Passport,
            fields: [(idv_flow::DocField::Surname, "DOE".to_string())].into(),
            printed: Default::default(),
            unread: Default::default(),
            checks: Vec::new(),
            mrz: None,
            located_by: "frame".into(),
            models: Vec::new(),
            portrait_found: false,
            portrait_face_refined: false,
        },
    }));
    evidence.record(idv_flow::StepEvidence::Face(idv_flow::FaceEvidence {
        duplicates: Vec::new(),
        image: idv_flow::BlobId(face),
        selfie: None,
        comparison: idv_flow::Comparison::Compared { score: 31.5, cosine: 0.1, matched: false },
        liveness: idv_flow::LivenessEvidence {
            outcome: idv_flow::LivenessOutcome::Passed,
            reasons: Vec::new(),
            check: idv_flow::LivenessCheck::FramesReused,
        },
    }));
    let v = idv_flow::decide(&idv_flow::Policy { product: Product::Ekyc, doc_type: None }, &evidence);
    assert_eq!(v.sub_code, SubCode::FaceMismatch);
    let bytes = serde_json::to_vec(&v).unwrap();
    assert!(s.store.start_device_session(&tid, "session1", b"{}", now).await.unwrap());
    let last = RoundUpdate {
        state: b"{}",
        round: 1,
        step: "FACE",
        outcome: "done",
        detail: b"{}",
        request_hash: "h",
        response: b"{}",
        finish: Some((TxState::Completed, &bytes)),
        now,
    };
    assert!(s.store.save_round(&tid, 1, last).await.unwrap());

    let r = ask(&s, &a, tid.clone(), "N").await;
    assert_eq!(r.status, 200, "{}", r.json);
    let res = &r.json["Result"];
    assert_eq!(res["Passed"], "N");
    assert_eq!(res["SubCode"], "204");
    for k in ["ExtIdInfo", "ExtFaceInfo", "ExtBasicInfo", "ExtRiskInfo", "ExtInfo"] {
        let inner: Value =
            serde_json::from_str(res[k].as_str().unwrap_or_else(|| panic!("{k} is not a string"))).unwrap();
        assert!(inner.is_object());
    }
    let face_info: Value = serde_json::from_str(res["ExtFaceInfo"].as_str().unwrap()).unwrap();
    assert_eq!(face_info["faceComparisonScore"], 31.5);
    assert!(face_info.get("faceImg").is_none(), "no image unless asked");
    let id_info: Value = serde_json::from_str(res["ExtIdInfo"].as_str().unwrap()).unwrap();
    assert_eq!(id_info["ocrIdInfo"]["surname"], "DOE");

    let r = ask(&s, &a, tid.clone(), "Y").await;
    let face_info: Value = serde_json::from_str(r.json["Result"]["ExtFaceInfo"].as_str().unwrap()).unwrap();
    assert_eq!(face_info["faceImg"], "RkFDRUpQRUc=");
    let id_info: Value = serde_json::from_str(r.json["Result"]["ExtIdInfo"].as_str().unwrap()).unwrap();
    assert_eq!(id_info["idImage"], "RE9DSlBFRw==");
    assert_error(&ask(&s, &b, tid.clone(), "Y").await, 400, "TransactionIdInvalid");
    s.stop().await;
}

#[tokio::test]
async fn authentication_failures_have_their_codes() {
    let s = start().await;
    let a = s.merchant("A").await;
    let params = map(&init_params("eKYC", META_ANDROID));
    let host = s.addr.to_string();
    let now = time::OffsetDateTime::now_utc();

    let wrong =
        Merchant { secret: "x".repeat(30), ..Merchant { id: a.id.clone(), ak: a.ak.clone(), secret: String::new() } };
    assert_error(
        &call_signed(&s, &wrong, "Initialize", &params, &BTreeMap::new(), &nonce()).await,
        400,
        "SignatureDoesNotMatch",
    );
    let unknown = Merchant {
        ak: "IDVdoesnotexist000000000".into(),
        ..Merchant { id: a.id.clone(), ak: String::new(), secret: a.secret.clone() }
    };
    assert_error(
        &call_signed(&s, &unknown, "Initialize", &params, &BTreeMap::new(), &nonce()).await,
        404,
        "InvalidAccessKeyId.NotFound",
    );

    // Replay: the same signed request twice.
    let wire = sign_acs3(
        "POST",
        &host,
        "Initialize",
        "2022-08-09",
        &params,
        &BTreeMap::new(),
        &a.ak,
        &a.secret,
        now,
        &nonce(),
    );
    assert_eq!(send(&s, "POST", &wire.raw_query, &wire.headers, wire.body.clone()).await.status, 200);
    assert_error(&send(&s, "POST", &wire.raw_query, &wire.headers, wire.body.clone()).await, 400, "SignatureNonceUsed");

    // Stale and future clocks, both schemes.
    for skew in [-20i64, 20] {
        let t = now + time::Duration::minutes(skew);
        let w = sign_acs3(
            "POST",
            &host,
            "Initialize",
            "2022-08-09",
            &params,
            &BTreeMap::new(),
            &a.ak,
            &a.secret,
            t,
            &nonce(),
        );
        assert_error(&send(&s, "POST", &w.raw_query, &w.headers, w.body).await, 400, "InvalidTimeStamp.Expired");
        let w = sign_rpc_v1("POST", "Initialize", "2022-08-09", &params, &a.ak, &a.secret, t, &nonce());
        assert_error(&send(&s, "POST", &w.raw_query, &w.headers, w.body).await, 400, "InvalidTimeStamp.Expired");
    }
    // V1 over GET works (legacy SDK).
    let w = sign_rpc_v1("GET", "Initialize", "2022-08-09", &params, &a.ak, &a.secret, now, &nonce());
    let r = send(&s, "GET", &w.raw_query, &w.headers, w.body).await;
    assert_eq!(r.status, 200, "{}", r.json);

    // STS credentials are refused with their own code.
    let mut w = sign_acs3(
        "POST",
        &host,
        "Initialize",
        "2022-08-09",
        &params,
        &BTreeMap::new(),
        &a.ak,
        &a.secret,
        now,
        &nonce(),
    );
    w.headers.push(("x-acs-security-token".into(), "token".into()));
    assert_error(&send(&s, "POST", &w.raw_query, &w.headers, w.body).await, 400, "InvalidSecurityToken.NotSupported");

    // Missing pieces.
    let w = sign_acs3(
        "POST",
        &host,
        "Initialize",
        "2022-08-09",
        &params,
        &BTreeMap::new(),
        &a.ak,
        &a.secret,
        now,
        &nonce(),
    );
    let no_auth: Vec<_> = w.headers.iter().filter(|(k, _)| k != "Authorization").cloned().collect();
    assert_error(&send(&s, "POST", &w.raw_query, &no_auth, w.body).await, 400, "IncompleteSignature");
    let w = sign_acs3(
        "POST",
        &host,
        "Initialize",
        "2021-01-01",
        &params,
        &BTreeMap::new(),
        &a.ak,
        &a.secret,
        now,
        &nonce(),
    );
    assert_error(&send(&s, "POST", &w.raw_query, &w.headers, w.body).await, 400, "InvalidVersion");
    let r = call(&s, &a, "NoSuchAction", &[]).await;
    assert_error(&r, 404, "InvalidAction.NotFound");
    let r = call(&s, &a, "DeepfakeDetectIntl", &[]).await;
    assert!(r.json["Message"].as_str().unwrap().contains("not supported"));

    // A disabled key, then a re-enabled one.
    s.store.set_access_key_enabled(&a.ak, false, time::OffsetDateTime::now_utc().unix_timestamp()).await.unwrap();
    assert_error(
        &call(&s, &a, "Initialize", &init_params("eKYC", META_ANDROID)).await,
        403,
        "InvalidAccessKeyId.Inactive",
    );
    s.store.set_access_key_enabled(&a.ak, true, time::OffsetDateTime::now_utc().unix_timestamp()).await.unwrap();
    assert_eq!(call(&s, &a, "Initialize", &init_params("eKYC", META_ANDROID)).await.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_nonce_stays_used_across_a_restart() {
    let s = start().await;
    let a = s.merchant("A").await;
    let params = map(&init_params("eKYC", META_ANDROID));
    let wire = sign_acs3(
        "POST",
        &s.addr.to_string(),
        "Initialize",
        "2022-08-09",
        &params,
        &BTreeMap::new(),
        &a.ak,
        &a.secret,
        time::OffsetDateTime::now_utc(),
        &nonce(),
    );
    assert_eq!(send(&s, "POST", &wire.raw_query, &wire.headers, wire.body.clone()).await.status, 200);
    let old_host = s.addr.to_string();
    let dir = s.stop().await;
    let s = start_with(dir, |_| {}).await;
    // The signed Host header belongs to the old port; re-sign nothing, only point the same bytes at the new server.
    let headers: Vec<_> = wire
        .headers
        .iter()
        .map(|(k, v)| if k == "host" { (k.clone(), old_host.clone()) } else { (k.clone(), v.clone()) })
        .collect();
    let client = reqwest::Client::new();
    let mut rb = client.post(s.url(&format!("/?{}", wire.raw_query)));
    for (k, v) in &headers {
        if k != "content-length" {
            rb = rb.header(k, v);
        }
    }
    let resp = rb.body(wire.body.clone()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["Code"], "SignatureNonceUsed");
    s.stop().await;
}

#[tokio::test]
async fn limits_throttling_health_and_metrics() {
    let s = start_with(tempfile::tempdir().unwrap(), |c| {
        c.rate_limit_per_second = 1.0;
        c.rate_limit_burst = 3.0;
        c.max_body_bytes = 4096;
        c.metrics_token = Some(METRICS_TOKEN.into());
    })
    .await;
    let a = s.merchant("A").await;
    let big = map(&[("FacePictureBase64", &"A".repeat(8192))]);
    let r = call_signed(&s, &a, "Initialize", &map(&init_params("FACE_LIVENESS", META_ANDROID)), &big, &nonce()).await;
    assert_error(&r, 413, "RequestTooLarge");

    let mut throttled = None;
    for _ in 0..6 {
        let r = call(&s, &a, "Initialize", &init_params("eKYC", META_ANDROID)).await;
        if r.status == 429 {
            throttled = Some(r);
            break;
        }
    }
    let r = throttled.expect("the fourth request within a second must be throttled");
    assert_error(&r, 429, "Throttling.User");
    let retry: u64 = r.headers["x-acs-retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0);

    let health = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let metrics = reqwest::Client::new()
        .get(s.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("idv_rpc_requests_total{action=\"Initialize\",code=\"Success\"}"), "{metrics}");
    assert!(metrics.contains("Throttling.User"));
    s.stop().await;
}

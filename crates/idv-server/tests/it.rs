//! Black-box tests of the HTTP server: a real server on port 0 over a fresh data directory, driven over loopback
//! with requests signed exactly as the official SDKs sign them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use idv_api::sign::{sign_acs3, sign_rpc_v1};
use idv_api::{ImageKind, Verdict, subcode};
use idv_crypto::Key;
use idv_protocol::{ClientConfig, Product, Step};
use idv_server::{AppState, ServerConfig};
use idv_store::{NewTransaction, SqliteStore, Store, TxState};
use serde_json::Value;
use zeroize::Zeroizing;

const META_ANDROID: &str =
    r#"{"deviceType":"android","bioMetaInfo":"1.0.0:15,0","osVersion":"14","appName":"com.example"}"#;
const META_WEB: &str = r#"{"deviceType":"web","bioMetaInfo":"1.0.0:15,0","ua":"Mozilla/5.0 (X11; Linux x86_64)"}"#;

struct Server {
    addr: SocketAddr,
    store: Arc<SqliteStore>,
    key: Key,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

struct Merchant {
    id: String,
    ak: String,
    secret: String,
}

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn engines() -> idv_server::Engines {
    idv_server::Engines::load(&idv_vision::Assets::new(repo_root()), 2)
        .unwrap_or_else(|e| panic!("{e} (the README's test command runs scripts/fetch-assets.sh)"))
}

async fn start_with(dir: tempfile::TempDir, tune: impl FnOnce(&mut ServerConfig)) -> Server {
    let (key, _) = idv_store::load_master_key(dir.path(), None).unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), &key).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ServerConfig::for_address(addr);
    tune(&mut config);
    config.validate().unwrap();
    let state = AppState::new(store.clone(), &key, config, engines());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        idv_server::serve(listener, state, async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Server { addr, store, key, _dir: dir, shutdown: Some(tx), task }
}

async fn start() -> Server {
    start_with(tempfile::tempdir().unwrap(), |_| {}).await
}

impl Server {
    async fn merchant(&self, name: &str) -> Merchant {
        let m = self.store.create_merchant(name).await.unwrap();
        let (k, secret) = self.store.create_access_key(&m.id).await.unwrap();
        Merchant { id: m.id, ak: k.id, secret: secret.to_string() }
    }

    async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.shutdown.take().unwrap().send(());
        self.task.await.unwrap();
        self._dir
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

fn nonce() -> String {
    idv_crypto::random_hex(16)
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Sends an ACS3-signed request the way tea-openapi does: business parameters in the query, `body` in the form.
async fn call_signed(
    s: &Server,
    m: &Merchant,
    action: &str,
    query: &BTreeMap<String, String>,
    body: &BTreeMap<String, String>,
    nonce: &str,
) -> Reply {
    let host = s.addr.to_string();
    let wire = sign_acs3(
        "POST",
        &host,
        action,
        "2022-08-09",
        query,
        body,
        &m.ak,
        &m.secret,
        time::OffsetDateTime::now_utc(),
        nonce,
    );
    send(s, "POST", &wire.raw_query, &wire.headers, wire.body).await
}

async fn call(s: &Server, m: &Merchant, action: &str, query: &[(&str, &str)]) -> Reply {
    call_signed(s, m, action, &map(query), &BTreeMap::new(), &nonce()).await
}

async fn send(s: &Server, method: &str, raw_query: &str, headers: &[(String, String)], body: Vec<u8>) -> Reply {
    let client = reqwest::Client::new();
    let url = if raw_query.is_empty() { s.url("/") } else { s.url(&format!("/?{raw_query}")) };
    let mut rb = client.request(method.parse().unwrap(), url);
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("content-length") {
            rb = rb.header(k, v);
        }
    }
    let resp = rb.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let json: Value = resp.json().await.unwrap();
    Reply { status, headers, json }
}

fn init_params<'a>(product: &'a str, meta: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut p =
        vec![("ProductCode", product), ("MerchantBizId", "biz0001"), ("MerchantUserId", "user-1"), ("MetaInfo", meta)];
    if product != "FACE_LIVENESS" {
        p.push(("DocType", "01000000"));
    }
    p
}

fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.json["Code"], code, "{}", r.json);
    for k in ["RequestId", "HostId", "Message"] {
        assert!(r.json[k].as_str().is_some_and(|v| !v.is_empty()), "{k} missing in {}", r.json);
    }
    assert_eq!(r.headers["content-type"], "application/json;charset=utf-8");
}

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
    assert_eq!(r.json["Result"]["TransactionUrl"], s.url(&format!("/web/{tid}")));
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

#[tokio::test]
async fn reference_face_in_the_form_body_is_accepted() {
    let s = start().await;
    let m = s.merchant("A").await;
    let body = map(&[("FacePictureBase64", "aGVsbG8gZmFjZQ==")]);
    let r = call_signed(&s, &m, "Initialize", &map(&init_params("FACE_LIVENESS", META_ANDROID)), &body, &nonce()).await;
    assert_eq!(r.status, 200, "{}", r.json);
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

    // Finish the transaction the way the flow will: evidence in the blob store, then one verdict.
    let face = s.store.put_blob(&tid, "face", b"FACEJPEG").await.unwrap();
    let doc = s.store.put_blob(&tid, "doc_front", b"DOCJPEG").await.unwrap();
    let mut v = Verdict::failed(subcode::FACE_MISMATCH, "selfie does not match the document portrait");
    v.ext_face_info.insert("faceComparisonScore".into(), Value::from(31.5));
    v.ext_id_info.insert("ocrIdInfo".into(), serde_json::json!({"surname": "DOE"}));
    v.images.insert(ImageKind::FaceImg, face);
    v.images.insert(ImageKind::IdImage, doc);
    let bytes = serde_json::to_vec(&v).unwrap();
    assert!(s.store.transition(&tid, TxState::OPEN, TxState::Completed, Some(&bytes), 1).await.unwrap());

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
async fn an_expired_transaction_reports_a_timeout() {
    let s = start().await;
    let a = s.merchant("A").await;
    let tid = idv_crypto::random_hex(16);
    s.store
        .create_transaction(NewTransaction {
            id: tid.clone(),
            merchant_id: a.id.clone(),
            merchant_biz_id: "biz0001".into(),
            product: "eKYC".into(),
            options: b"{}".to_vec(),
            device_secret: Zeroizing::new(vec![1; 32]),
            created_at: 0,
            expires_at: 1,
        })
        .await
        .unwrap();
    let r = call(&s, &a, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["Result"]["Passed"], "N");
    assert_eq!(r.json["Result"]["SubCode"], subcode::TIMED_OUT);
    assert_eq!(s.store.get_transaction(&a.id, &tid).await.unwrap().unwrap().state, TxState::Expired);
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
    s.store.set_access_key_enabled(&a.ak, false).await.unwrap();
    assert_error(
        &call(&s, &a, "Initialize", &init_params("eKYC", META_ANDROID)).await,
        403,
        "InvalidAccessKeyId.Inactive",
    );
    s.store.set_access_key_enabled(&a.ak, true).await.unwrap();
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
    let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("idv_rpc_requests_total{action=\"Initialize\",code=\"Success\"}"), "{metrics}");
    assert!(metrics.contains("Throttling.User"));
    let web = reqwest::get(s.url("/web/0123")).await.unwrap();
    assert_eq!(web.status().as_u16(), 501, "the hosted page says plainly it is not there yet");
    s.stop().await;
}

fn face_b64(name: &str) -> String {
    let path = repo_root().join("testdata/faces").join(name);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-assets.sh)", path.display()));
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

/// A plain grey PNG: a valid picture with no face in it.
fn no_face_b64() -> String {
    let img = image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, out.into_inner())
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

/// The device side of one transaction, speaking the device protocol by hand so every rule can be broken on
/// purpose.
struct Device {
    cfg: String,
    api: String,
    cred: Vec<u8>,
    session: String,
}

impl Device {
    async fn for_new_transaction(s: &Server, m: &Merchant, product: &str) -> (Device, String) {
        Self::initialized(s, m, &init_params(product, META_ANDROID), &map(&[])).await
    }

    /// Initializes a transaction with these query parameters and form body; the device holds its configuration.
    async fn initialized(
        s: &Server,
        m: &Merchant,
        params: &[(&str, &str)],
        body: &BTreeMap<String, String>,
    ) -> (Device, String) {
        let r = call_signed(s, m, "Initialize", &map(params), body, &nonce()).await;
        assert_eq!(r.status, 200, "{}", r.json);
        let token = r.json["Result"]["ClientCfg"].as_str().unwrap().to_owned();
        let cfg = ClientConfig::read_unverified(&token).unwrap();
        let cred = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &cfg.cred).unwrap();
        (Device { cfg: token, api: cfg.api, cred, session: String::new() }, cfg.tid)
    }

    async fn post_raw(&self, endpoint: &str, body: &[u8], mac_override: Option<&str>) -> (u16, Value) {
        let url = format!("{}/{endpoint}", self.api);
        let path = url::Url::parse(&url).unwrap().path().to_owned();
        let mac = idv_protocol::device::request_mac(&self.cred, "POST", &path, &self.session, body);
        let resp = reqwest::Client::new()
            .post(&url)
            .header("x-idv-config", &self.cfg)
            .header("x-idv-session", &self.session)
            .header("x-idv-signature", mac_override.unwrap_or(&mac))
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    async fn post(&self, endpoint: &str, body: &Value) -> (u16, Value) {
        self.post_raw(endpoint, &serde_json::to_vec(body).unwrap(), None).await
    }

    async fn start(&mut self) -> Value {
        let (status, v) =
            self.post("start", &serde_json::json!({"meta_info": META_ANDROID, "device_time_ms": 0})).await;
        assert_eq!(status, 200, "{v}");
        self.session = v["session_id"].as_str().unwrap().to_owned();
        v
    }
}

fn round_body(next: &Value, image_b64: &str, n: usize) -> Value {
    let frames: Vec<Value> = (0..n).map(|i| serde_json::json!({"image": image_b64, "t_ms": i * 100})).collect();
    serde_json::json!({"round": next["round"], "nonce": next["nonce"], "step": next["step"], "frames": frames, "capture": {"source": "file"}})
}

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
    let cmd = idv_specimen::SpecimenCommand {
        out_dir: docs.path().to_path_buf(),
        assets_root: repo_root(),
        kinds: vec![idv_specimen::DocKind::Td3],
        count: 1,
        seed: 5,
        distortions: vec!["clean".into()],
        validity: idv_specimen::Validity::Valid,
        tamper: Default::default(),
        set: vec![("portrait".into(), "astronaut.png".into())],
        today: None,
    };
    let page = idv_specimen::run_command(&cmd).unwrap().remove(0);
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

fn specimen_b64(seed: u64, validity: idv_specimen::Validity, tamper: idv_specimen::Tamper) -> String {
    let out = tempfile::tempdir().unwrap();
    let cmd = idv_specimen::SpecimenCommand {
        out_dir: out.path().to_path_buf(),
        assets_root: repo_root(),
        kinds: vec![idv_specimen::DocKind::Td3],
        count: 1,
        seed,
        distortions: vec!["phone".into()],
        validity,
        tamper,
        set: vec![],
        today: None,
    };
    let page = idv_specimen::run_command(&cmd).unwrap().remove(0);
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, std::fs::read(page).unwrap())
}

async fn doc_ocr(s: &Server, m: &Merchant, picture: &str, extra: &[(&str, &str)]) -> Reply {
    let mut q = map(&[("DocType", "GLB03002"), ("ProductCode", "ID_OCR_MIN"), ("MerchantBizId", "ocr1")]);
    q.extend(map(extra));
    call_signed(s, m, "DocOcr", &q, &map(&[("IdOcrPictureBase64", picture)]), &nonce()).await
}

#[tokio::test]
async fn doc_ocr_reads_checks_and_names_what_failed() {
    let s = start().await;
    let m = s.merchant("A").await;
    let valid = doc_ocr(&s, &m, &specimen_b64(41, idv_specimen::Validity::Valid, Default::default()), &[]).await;
    assert_eq!(valid.status, 200, "{}", valid.json);
    assert_eq!(
        (valid.json["Result"]["Passed"].as_str(), valid.json["Result"]["SubCode"].as_str()),
        (Some("Y"), Some("200"))
    );
    let ext: Value = serde_json::from_str(valid.json["Result"]["ExtIdInfo"].as_str().unwrap()).unwrap();
    assert!(ext["ocrIdInfo"]["passportNo"].as_str().is_some_and(|p| !p.is_empty()), "{ext}");
    assert_eq!(ext["ocrIdPassed"], "Y");

    let expired = doc_ocr(&s, &m, &specimen_b64(42, idv_specimen::Validity::Expired, Default::default()), &[]).await;
    assert_eq!(
        (expired.json["Result"]["Passed"].as_str(), expired.json["Result"]["SubCode"].as_str()),
        (Some("N"), Some("202"))
    );
    let tamper = idv_specimen::Tamper {
        wrong_check_digits: vec![idv_specimen::CheckDigit::DocumentNumber],
        ..Default::default()
    };
    let bad = doc_ocr(&s, &m, &specimen_b64(43, idv_specimen::Validity::Valid, tamper), &[]).await;
    assert_eq!(
        (bad.json["Result"]["Passed"].as_str(), bad.json["Result"]["SubCode"].as_str()),
        (Some("N"), Some("201"))
    );
    let ext: Value = serde_json::from_str(bad.json["Result"]["ExtIdInfo"].as_str().unwrap()).unwrap();
    assert!(ext["reasons"].to_string().contains("mrz_check_document_number"), "the failed check is named: {ext}");

    let garbage = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"not a picture at all");
    assert_error(&doc_ocr(&s, &m, &garbage, &[]).await, 401, "UnqualifiedPhoto");
    assert_error(&doc_ocr(&s, &m, &no_face_b64(), &[]).await, 401, "UnqualifiedPhoto");
    assert_error(&doc_ocr(&s, &m, &no_face_b64(), &[("Spoof", "T")]).await, 400, "InvalidParameter");
    assert_error(&doc_ocr(&s, &m, &no_face_b64(), &[("DocType", "00000006")]).await, 400, "InvalidParameter");
    assert_error(&doc_ocr(&s, &m, &no_face_b64(), &[("CardSide", "OCR_ID_BACK")]).await, 400, "InvalidParameter");
    s.stop().await;
}

/// Frames of a synthetic live head performing `challenge`, rendered from a still portrait.
fn live_frames(portrait: &str, challenge: &Value, seed: u64) -> Vec<Value> {
    let assets = idv_vision::Assets::new(repo_root());
    let face = std::sync::Arc::new(idv_face::FaceEngine::load(&assets, Default::default()).unwrap());
    let engine = idv_liveness::LivenessEngine::load(&assets, face.clone(), Default::default()).unwrap();
    let still = face.decode(&std::fs::read(repo_root().join("testdata/faces").join(portrait)).unwrap()).unwrap();
    let p = idv_liveness::synth::Portrait::new(&engine, portrait, &still, 480, 640).unwrap();
    let challenge: idv_protocol::device::Challenge = serde_json::from_value(challenge.clone()).unwrap();
    let spec = idv_liveness::ChallengeSpec::from_protocol(&challenge).unwrap();
    let session = idv_liveness::synth::genuine(&p, &spec, seed);
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    session
        .encode_jpeg(90)
        .unwrap()
        .into_iter()
        .map(|(bytes, t)| serde_json::json!({"image": b64(&bytes), "t_ms": t}))
        .collect()
}

#[tokio::test]
async fn face_liveness_against_a_merchant_reference_face() {
    let s = start().await;
    let m = s.merchant("A").await;
    for (reference, passed, sub) in [("astronaut.png", "Y", "200"), ("grace_hopper.jpg", "N", "204")] {
        let body = map(&[("FacePictureBase64", face_b64(reference).as_str())]);
        let (mut dev, tid) = Device::initialized(&s, &m, &init_params("FACE_LIVENESS", META_ANDROID), &body).await;
        let next = dev.start().await["next"].clone();
        let frames = live_frames("astronaut.png", &next["challenge"], u64::from(passed == "Y"));
        let body =
            serde_json::json!({"round": next["round"], "nonce": next["nonce"], "step": "FACE", "frames": frames});
        let (st, done) = dev.post("round", &body).await;
        assert_eq!((st, done["outcome"].as_str()), (200, Some("done")), "{done}");
        let c = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
        assert_eq!(
            (c.json["Result"]["Passed"].as_str(), c.json["Result"]["SubCode"].as_str()),
            (Some(passed), Some(sub)),
            "{}",
            c.json
        );
        let face: Value = serde_json::from_str(c.json["Result"]["ExtFaceInfo"].as_str().unwrap()).unwrap();
        assert_eq!(face["faceAttack"], "N", "a live head is not an attack, whoever it is: {face}");
    }
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

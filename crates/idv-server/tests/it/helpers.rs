//! The test harness: a real server on port 0 over a fresh data directory, merchants, requests signed the way
//! the official SDKs sign them, the device side of the protocol, and the fixtures (faces, specimens, live heads).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use idv_api::sign::sign_acs3;
use idv_crypto::Key;
use idv_protocol::ClientConfig;
use idv_server::{AppState, ServerConfig};
use idv_store::{SqliteStore, Store};

/// Which backend the servers of this run use: SQLite (the default) or PostgreSQL (`IDV_TEST_BACKEND=postgres`,
/// a fresh database per server on the test cluster, blobs and key epochs in the server's directory as with
/// SQLite). The tests are the same; the few that open the SQLite file itself are skipped by name in that run
/// (`scripts/test.sh`).
pub(crate) fn postgres() -> bool {
    std::env::var("IDV_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}
use serde_json::Value;

pub(crate) const META_ANDROID: &str =
    r#"{"deviceType":"android","bioMetaInfo":"1.0.0:15,0","osVersion":"14","appName":"com.example"}"#;
pub(crate) const META_WEB: &str = r#"{"deviceType":"web","bioMetaInfo":"1.0.0:15,0","ua":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"}"#;
/// A browser's user agent the capture page runs in.
pub(crate) const CHROME_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

/// The `/metrics` bearer token of tests that read metrics.
pub(crate) const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) key: Key,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) struct Merchant {
    pub(crate) id: String,
    pub(crate) ak: String,
    pub(crate) secret: String,
}

pub(crate) fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn engines() -> idv_server::Engines {
    idv_server::Engines::load(&idv_vision::Assets::new(repo_root()), 2)
        .unwrap_or_else(|e| panic!("{e} (the README's test command runs scripts/fetch-assets.sh)"))
}

pub(crate) async fn start_with(dir: tempfile::TempDir, tune: impl FnOnce(&mut ServerConfig)) -> Server {
    start_with_key_epochs(dir, idv_store::DEFAULT_KEY_EPOCH_S, tune).await
}

/// [`start_with`] with key epochs of `key_epoch_s` seconds (retention tests that wait for one to end).
pub(crate) async fn start_with_key_epochs(
    dir: tempfile::TempDir,
    key_epoch_s: i64,
    tune: impl FnOnce(&mut ServerConfig),
) -> Server {
    let (key, _) = idv_store::load_master_key(dir.path(), None).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let store: Arc<dyn Store> = if postgres() {
        // A restart on the same directory is a restart on the same database.
        let remembered = dir.path().join("postgres.url");
        let url = match std::fs::read_to_string(&remembered) {
            Ok(u) => u,
            Err(_) => {
                let u = idv_store::contract::fresh_postgres_database().await;
                std::fs::write(&remembered, &u).unwrap();
                u
            }
        };
        let blobs = idv_store::BlobLocation::Dir(dir.path().to_path_buf());
        Arc::new(idv_store::PgStore::open(&url, blobs, &key, now, key_epoch_s, 8).await.unwrap())
    } else {
        Arc::new(SqliteStore::open_with_key_epochs(dir.path(), &key, now, key_epoch_s).await.unwrap())
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ServerConfig::for_address(addr);
    // The tests' devices send frames read from files (`capture.source = "file"`); a `tune` may switch it off.
    config.test_mode = true;
    config.shared_limits = postgres();
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

pub(crate) async fn start() -> Server {
    start_with(tempfile::tempdir().unwrap(), |_| {}).await
}

impl Server {
    pub(crate) async fn merchant(&self, name: &str) -> Merchant {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let m = self.store.create_merchant(name, now).await.unwrap();
        let (k, secret) = self.store.create_access_key(&m.id, now).await.unwrap();
        Merchant { id: m.id, ak: k.id, secret: secret.to_string() }
    }

    pub(crate) async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.shutdown.take().unwrap().send(());
        self.task.await.unwrap();
        self._dir
    }

    /// The data directory (database, blobs, keys).
    pub(crate) fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) json: Value,
}

pub(crate) fn nonce() -> String {
    idv_crypto::random_hex(16)
}

pub(crate) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Sends an ACS3-signed request the way tea-openapi does: business parameters in the query, `body` in the form.
pub(crate) async fn call_signed(
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

pub(crate) async fn call(s: &Server, m: &Merchant, action: &str, query: &[(&str, &str)]) -> Reply {
    call_signed(s, m, action, &map(query), &BTreeMap::new(), &nonce()).await
}

pub(crate) async fn send(
    s: &Server,
    method: &str,
    raw_query: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Reply {
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

pub(crate) fn init_params<'a>(product: &'a str, meta: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut p =
        vec![("ProductCode", product), ("MerchantBizId", "biz0001"), ("MerchantUserId", "user-1"), ("MetaInfo", meta)];
    if product != "FACE_LIVENESS" {
        p.push(("DocType", "01000000"));
    }
    p
}

pub(crate) fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.json["Code"], code, "{}", r.json);
    for k in ["RequestId", "HostId", "Message"] {
        assert!(r.json[k].as_str().is_some_and(|v| !v.is_empty()), "{k} missing in {}", r.json);
    }
    assert_eq!(r.headers["content-type"], "application/json;charset=utf-8");
}

pub(crate) fn face_b64(name: &str) -> String {
    let path = repo_root().join("testdata/faces").join(name);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-assets.sh)", path.display()));
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

/// A plain grey PNG: a valid picture with no face in it.
pub(crate) fn no_face_b64() -> String {
    let img = image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, out.into_inner())
}

/// The device side of one transaction, speaking the device protocol by hand so every rule can be broken on
/// purpose.
pub(crate) struct Device {
    pub(crate) cfg: String,
    pub(crate) api: String,
    pub(crate) cred: Vec<u8>,
    pub(crate) session: String,
}

impl Device {
    pub(crate) async fn for_new_transaction(s: &Server, m: &Merchant, product: &str) -> (Device, String) {
        Self::initialized(s, m, &init_params(product, META_ANDROID), &map(&[])).await
    }

    /// Initializes a transaction with these query parameters and form body; the device holds its configuration.
    pub(crate) async fn initialized(
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

    pub(crate) async fn post_raw(&self, endpoint: &str, body: &[u8], mac_override: Option<&str>) -> (u16, Value) {
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

    pub(crate) async fn post(&self, endpoint: &str, body: &Value) -> (u16, Value) {
        self.post_raw(endpoint, &serde_json::to_vec(body).unwrap(), None).await
    }

    pub(crate) async fn start(&mut self) -> Value {
        let (status, v) =
            self.post("start", &serde_json::json!({"meta_info": META_ANDROID, "device_time_ms": 0})).await;
        assert_eq!(status, 200, "{v}");
        self.session = v["session_id"].as_str().unwrap().to_owned();
        v
    }
}

pub(crate) fn round_body(next: &Value, image_b64: &str, n: usize) -> Value {
    let frames: Vec<Value> = (0..n).map(|i| serde_json::json!({"image": image_b64, "t_ms": i * 100})).collect();
    serde_json::json!({"round": next["round"], "nonce": next["nonce"], "step": next["step"], "frames": frames, "capture": {"source": "file"}})
}

pub(crate) fn specimen_b64(
    seed: u64,
    validity: idv_eval::specimen::Validity,
    tamper: idv_eval::specimen::Tamper,
) -> String {
    let out = tempfile::tempdir().unwrap();
    let cmd = idv_eval::specimen::SpecimenCommand {
        out_dir: out.path().to_path_buf(),
        assets_root: repo_root(),
        kinds: vec![idv_eval::specimen::DocKind::Td3],
        count: 1,
        seed,
        distortions: vec!["phone".into()],
        validity,
        tamper,
        set: vec![],
        today: None,
    };
    let page = idv_eval::specimen::run_command(&cmd).unwrap().remove(0);
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, std::fs::read(page).unwrap())
}

/// Frames of a synthetic live head performing `challenge`, rendered from a still portrait.
pub(crate) fn live_frames(portrait: &str, challenge: &Value, seed: u64) -> Vec<Value> {
    let assets = idv_vision::Assets::new(repo_root());
    let face = std::sync::Arc::new(idv_face::FaceEngine::load(&assets, Default::default()).unwrap());
    let engine = idv_liveness::LivenessEngine::load(&assets, face.clone(), Default::default()).unwrap();
    let still = face.decode(&std::fs::read(repo_root().join("testdata/faces").join(portrait)).unwrap()).unwrap();
    let p = idv_eval::liveness::synth::Portrait::new(&engine, portrait, &still, 480, 640).unwrap();
    let c: idv_protocol::device::Challenge = serde_json::from_value(challenge.clone()).unwrap();
    let spec = idv_server::challenge_spec(&c).unwrap();
    let session = idv_eval::liveness::synth::genuine(&p, &spec, seed);
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    session
        .encode_jpeg(90)
        .unwrap()
        .into_iter()
        .map(|(bytes, t)| serde_json::json!({"image": b64(&bytes), "t_ms": t}))
        .collect()
}

/// A genuine user's face round for `next` (the synthetic user `portrait`, `seed`), with `extra` merged into the
/// body, and the retakes the server offers when it saw no action where one was asked, each answered with fresh
/// frames for its new challenge, as a person would. The challenge is drawn at random per round, and the synthetic
/// user's shallowest blinks graze the engine's closing threshold (one round in forty sampled for one user): tests
/// of something other than liveness accuracy must not fail by that draw. Returns the last answer.
pub(crate) async fn genuine_face_round(
    dev: &Device,
    next: &Value,
    portrait: &str,
    seed: u64,
    extra: Value,
) -> (u16, Value) {
    let mut next = next.clone();
    for attempt in 0.. {
        let frames = live_frames(portrait, &next["challenge"], seed + attempt);
        let mut body =
            serde_json::json!({"round": next["round"], "nonce": next["nonce"], "step": "FACE", "frames": frames});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (st, answer) = dev.post("round", &body).await;
        let missed = answer["outcome"] == "retake" && answer["reason_code"] == "LIVENESS_ACTION_MISSING";
        if st != 200 || !missed || attempt == 2 {
            return (st, answer);
        }
        next = answer["next"].clone();
    }
    unreachable!()
}

/// The head of one HTTP request read from `conn` (a GET has no body: the head ends it), bounded so a stuck client
/// cannot hold a test.
pub(crate) async fn read_request_head(conn: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A clean specimen page of any kind, base64.
pub(crate) fn specimen_kind_b64(kind: idv_eval::specimen::DocKind, seed: u64) -> String {
    let out = tempfile::tempdir().unwrap();
    let cmd = idv_eval::specimen::SpecimenCommand {
        out_dir: out.path().to_path_buf(),
        assets_root: repo_root(),
        kinds: vec![kind],
        count: 1,
        seed,
        distortions: vec!["clean".into()],
        validity: idv_eval::specimen::Validity::Valid,
        tamper: Default::default(),
        set: vec![],
        today: None,
    };
    let page = idv_eval::specimen::run_command(&cmd).unwrap().remove(0);
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, std::fs::read(page).unwrap())
}

//! `idv merchant-demo`: an example merchant server, written to be read and copied.
//!
//! Your app never talks to idv's merchant API: it holds no AccessKey. It talks to your server, which does:
//!
//! ```text
//! app ── POST /app/start {metaInfo, productCode, docType, userId} ──> this server ── Initialize ──> idv
//!     <── {transactionId, clientCfg} ───────────────────────────────
//! app runs the idv SDK with clientCfg, gets a result code
//! app ── POST /app/finish {transactionId, resultCode} ──> this server ── CheckResult ──> idv
//!     <── {transactionId, passed, subCode, resultCode, documentType} ─  (never images or biometric scores)
//! idv ── GET /callback?transactionId&passed&subCode&callbackToken ──> this server  (a hint; CheckResult decides)
//! ```
//!
//! The web flow, for a person with only a browser: `GET /web/start` Initializes with the browser's MetaInfo and a
//! ReturnUrl on this server and sends the browser to idv's page at TransactionUrl; at the end idv's page sends it
//! back to `GET /web/return?transactionId&resultCode`, where this server asks CheckResult and shows the outcome.
//!
//! The app's result code is only a hint about how the flow went on the phone: a tampered app can send anything.
//! The verdict is what CheckResult answers to this server.
//!
//! Kept short on purpose: transactions live in memory and there are no user accounts. A real server stores the
//! transaction with the user it belongs to and checks, in `/app/finish`, that the caller is that user.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use idv_api::CheckResultResult;
use idv_sdk::{InitializeParams, MerchantClient};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct MerchantDemoArgs {
    /// Address to listen on; port 0 picks a free port. The bound address is the first line of stdout.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// idv's merchant API, `host:port` (or an http(s) URL).
    #[arg(long)]
    pub idv_endpoint: String,
    #[arg(long)]
    pub access_key_id: String,
    #[arg(long, env = "IDV_MERCHANT_AK_SECRET", hide_env_values = true)]
    pub access_key_secret: String,
    /// Also give the app the document number (off by default: the app rarely needs it).
    #[arg(long)]
    pub reveal_document_number: bool,
    /// Base URL at which idv reaches this server for callbacks; by default the bound address when it is loopback
    /// (idv then must run with `--allow-private-callbacks`, as scripts/demo.sh does, or it refuses the CallbackUrl).
    #[arg(long)]
    pub public_url: Option<String>,
    /// The key idv signs this merchant's callbacks with (`idv admin merchant callback-secret`). Without it every
    /// callback is refused: an unsigned notification proves nothing.
    #[arg(long, env = "IDV_MERCHANT_CALLBACK_SECRET", hide_env_values = true)]
    pub callback_secret: Option<String>,
}

/// How old a callback's signature may be: a recorded callback replayed later is refused.
const CALLBACK_MAX_AGE_S: i64 = 300;

/// What this server remembers about one transaction. The MerchantBizId and the callback token never leave it.
struct Transaction {
    merchant_biz_id: String,
    callback_token: String,
    user_id: String,
    /// The full CheckResult answer: this server's record, never sent to the app.
    result: Option<CheckResultResult>,
}

struct Demo {
    idv: MerchantClient,
    callback_secret: Option<String>,
    /// This server's own address as browsers reach it (the web flow's ReturnUrl).
    base_url: String,
    transactions: Mutex<HashMap<String, Transaction>>,
    callback_url: Option<String>,
    reveal_document_number: bool,
}

type Answer = (StatusCode, Json<Value>);

fn error(status: StatusCode, message: &str) -> Answer {
    (status, Json(json!({ "error": message })))
}

pub async fn run(args: MerchantDemoArgs, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
    let idv = MerchantClient::new(&args.idv_endpoint, args.access_key_id, args.access_key_secret)?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    // idv calls back only over https, except on loopback: a default is safe only there. A loopback CallbackUrl
    // needs `idv serve --allow-private-callbacks` (scripts/demo.sh passes it).
    let callback_base = args.public_url.or_else(|| addr.ip().is_loopback().then(|| format!("http://{addr}")));
    let callback_url = callback_base.as_ref().map(|base| format!("{}/callback", base.trim_end_matches('/')));
    if callback_url.is_none() {
        tracing::warn!("no --public-url: Initialize is sent without CallbackUrl; results are fetched with CheckResult");
    }
    let base_url = callback_base.clone().unwrap_or_else(|| format!("http://{addr}"));
    let demo = Arc::new(Demo {
        idv,
        callback_secret: args.callback_secret,
        base_url,
        transactions: Mutex::new(HashMap::new()),
        callback_url,
        reveal_document_number: args.reveal_document_number,
    });
    // The first stdout line is the address, for scripts that start the demo on port 0.
    println!("{addr}");
    tracing::info!(%addr, idv = %args.idv_endpoint, "merchant demo listening");
    axum::serve(listener, router(demo)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

fn router(demo: Arc<Demo>) -> Router {
    Router::new()
        .route("/app/start", post(start))
        .route("/app/finish", post(finish))
        .route("/callback", get(callback))
        .route("/web/start", get(web_start))
        .route("/web/return", get(web_return))
        .with_state(demo)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartBody {
    meta_info: String,
    product_code: String,
    doc_type: Option<String>,
    user_id: String,
}

const PRODUCTS: &[&str] = &["eKYC", "eKYC_PRO", "ID_OCR", "FACE_LIVENESS"];

/// `POST /app/start`: check what the app sent, then Initialize a transaction for it.
async fn start(State(demo): State<Arc<Demo>>, Json(body): Json<StartBody>) -> Answer {
    // Validate before spending an API call; idv checks again, and names what it refuses.
    let user_ok = (1..=64).contains(&body.user_id.len())
        && body.user_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if !user_ok {
        return error(StatusCode::BAD_REQUEST, "userId must be 1-64 letters, digits or -_.@");
    }
    if !PRODUCTS.contains(&body.product_code.as_str()) {
        return error(StatusCode::BAD_REQUEST, "productCode must be eKYC, eKYC_PRO, ID_OCR or FACE_LIVENESS");
    }
    if body.meta_info.is_empty() || body.meta_info.len() > 4096 {
        return error(StatusCode::BAD_REQUEST, "metaInfo must be the SDK's getMetaInfo() string");
    }
    let doc_type = body.doc_type.filter(|d| !d.is_empty());
    if doc_type.as_ref().is_some_and(|d| d.len() != 8 || !d.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return error(StatusCode::BAD_REQUEST, "docType must be an 8-character document type code");
    }

    // A fresh MerchantBizId per attempt (1-32 letters and digits), and a callback token only idv and we know.
    let merchant_biz_id = format!("demo{}", idv_crypto::random_hex(12));
    let callback_token = idv_crypto::random_hex(16);
    let params = InitializeParams {
        product_code: body.product_code,
        merchant_biz_id: merchant_biz_id.clone(),
        // Your user id; a hash of it is better still, idv does not need to know who the user is.
        merchant_user_id: body.user_id.clone(),
        meta_info: body.meta_info,
        doc_type,
        callback_url: demo.callback_url.clone(),
        callback_token: Some(callback_token.clone()),
        ..InitializeParams::default()
    };
    match demo.idv.initialize(&params).await {
        Ok(init) => {
            tracing::info!(transaction_id = %init.transaction_id, %merchant_biz_id, user = %body.user_id, "Initialize");
            let t = Transaction { merchant_biz_id, callback_token, user_id: body.user_id, result: None };
            demo.transactions.lock().expect("lock").insert(init.transaction_id.clone(), t);
            (StatusCode::OK, Json(json!({ "transactionId": init.transaction_id, "clientCfg": init.client_cfg })))
        }
        // A parameter idv refused (an unsupported device, a document type it cannot read): tell the app why.
        Err(e) if e.code().is_some_and(|c| c == "InvalidParameter" || c == "MissingParameter") => {
            tracing::info!(error = %e, "Initialize refused");
            let message = match &e {
                idv_sdk::MerchantError::Api { message, .. } => message.clone(),
                other => other.to_string(),
            };
            (StatusCode::BAD_REQUEST, Json(json!({ "error": e.code(), "message": message })))
        }
        // Anything else (keys, signatures, idv down) is this server's problem, not the app's.
        Err(e) => {
            tracing::error!(error = %e, "Initialize failed");
            error(StatusCode::BAD_GATEWAY, "the verification service is unavailable")
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FinishBody {
    transaction_id: String,
    result_code: u32,
}

/// `POST /app/finish`: the app says the flow ended; fetch the verdict and tell the app only what it needs.
async fn finish(State(demo): State<Arc<Demo>>, Json(body): Json<FinishBody>) -> Answer {
    let Some(merchant_biz_id) =
        demo.transactions.lock().expect("lock").get(&body.transaction_id).map(|t| t.merchant_biz_id.clone())
    else {
        return error(StatusCode::NOT_FOUND, "unknown transaction");
    };
    // IsReturnImage=N: the app gets no images, so there is no reason to fetch them here.
    match demo.idv.check_result(&merchant_biz_id, &body.transaction_id, false).await {
        Ok(result) => {
            tracing::info!(
                transaction_id = %body.transaction_id,
                %merchant_biz_id,
                passed = %result.passed,
                sub_code = %result.sub_code,
                app_result_code = body.result_code,
                reasons = %reasons(&result),
                "CheckResult"
            );
            let view = app_view(&body.transaction_id, &result, body.result_code, demo.reveal_document_number);
            if let Some(t) = demo.transactions.lock().expect("lock").get_mut(&body.transaction_id) {
                t.result = Some(result);
            }
            (StatusCode::OK, Json(view))
        }
        // The flow has not ended on idv's side yet (the app finished early, or the last round is still being
        // decided): the app asks again later.
        Err(e) if e.is_process_not_completed() => (StatusCode::OK, Json(json!({ "status": "pending" }))),
        Err(e) => {
            tracing::error!(transaction_id = %body.transaction_id, error = %e, "CheckResult failed");
            error(StatusCode::BAD_GATEWAY, "the verification service is unavailable")
        }
    }
}

/// The reasons behind a verdict (ExtInfo.reasons), for this server's log.
fn reasons(r: &CheckResultResult) -> String {
    let ext: Value = serde_json::from_str(&r.ext_info).unwrap_or(Value::Null);
    ext.get("reasons").map(Value::to_string).unwrap_or_default()
}

/// What the app may see of a verdict. Built from an allow-list, field by field, never by copying and deleting:
/// a field idv adds later (an image, a score) then stays out without anyone having to remember it.
fn app_view(transaction_id: &str, r: &CheckResultResult, result_code: u32, reveal_document_number: bool) -> Value {
    let passed = if r.passed == "Y" { "Y" } else { "N" };
    let mut view = json!({
        "transactionId": transaction_id,
        "passed": passed,
        "subCode": r.sub_code,
        "resultCode": result_code,
    });
    let id_info: Value = serde_json::from_str(&r.ext_id_info).unwrap_or(Value::Null);
    let short_text = |v: &Value| v.as_str().filter(|s| s.len() <= 64).map(str::to_owned);
    if let Some(doc_type) = id_info.get("docType").and_then(short_text) {
        view["documentType"] = doc_type.into();
    }
    if reveal_document_number {
        let ocr = id_info.get("ocrIdInfo");
        let number = ["passportNo", "idNumber", "documentNumber"]
            .iter()
            .find_map(|k| ocr.and_then(|o| o.get(*k)).and_then(short_text));
        if let Some(n) = number {
            view["documentNumber"] = n.into();
        }
    }
    view
}

/// `GET /callback`: idv's notification that a flow ended. Trust it only if the token is the one we gave for that
/// transaction; even then it is a hint, and `/app/finish` still asks CheckResult.
/// Checks idv's `x-idv-signature: t=<unix>,v1=<hex>` over `GET\n<path and query as received>\n<t>`: the key is the
/// merchant's callback secret, the time must be recent (a replay of an old callback fails).
fn callback_signature_ok(secret: &str, path_and_query: &str, header: &str, now: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    if (now - t).abs() > CALLBACK_MAX_AGE_S {
        return false;
    }
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("GET\n{path_and_query}\n{t}").as_bytes());
    mac.verify_slice(&v1).is_ok()
}

async fn callback(
    State(demo): State<Arc<Demo>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, &'static str) {
    let sig = headers.get("x-idv-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signed = demo.callback_secret.as_deref().is_some_and(|s| callback_signature_ok(s, path_and_query, sig, now));
    if !signed {
        tracing::warn!("callback refused: missing or wrong signature (or no --callback-secret configured)");
        return (StatusCode::UNAUTHORIZED, "bad signature");
    }
    let field = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let transaction_id = field("transactionId");
    let expected = demo.transactions.lock().expect("lock").get(transaction_id).map(|t| t.callback_token.clone());
    let genuine = expected.is_some_and(|token| constant_time_eq(token.as_bytes(), field("callbackToken").as_bytes()));
    if !genuine {
        tracing::warn!(%transaction_id, "callback refused: unknown transaction or wrong callbackToken");
        return (StatusCode::FORBIDDEN, "forbidden");
    }
    let user = demo.transactions.lock().expect("lock").get(transaction_id).map(|t| t.user_id.clone());
    tracing::info!(
        %transaction_id,
        user = user.as_deref().unwrap_or(""),
        passed = field("passed"),
        sub_code = field("subCode"),
        "callback"
    );
    (StatusCode::OK, "ok")
}

/// Compares secrets without leaking, through timing, how many leading bytes matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
struct WebStart {
    /// eKYC (default), eKYC_PRO, ID_OCR or FACE_LIVENESS.
    product: Option<String>,
    /// en or zh.
    lang: Option<String>,
}

/// `GET /web/start`: the web flow's entry. A browser has no SDK, so the MetaInfo is the web SDK's shape built from
/// the browser's own User-Agent; idv checks that this browser can run its page.
async fn web_start(State(demo): State<Arc<Demo>>, Query(q): Query<WebStart>, headers: HeaderMap) -> Response {
    let product = q.product.unwrap_or_else(|| "eKYC".into());
    if !PRODUCTS.contains(&product.as_str()) {
        return (StatusCode::BAD_REQUEST, "product must be eKYC, eKYC_PRO, ID_OCR or FACE_LIVENESS").into_response();
    }
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let meta_info = json!({"bioMetaInfo": "4.1.0:2916352,0", "deviceType": "h5", "ua": ua}).to_string();
    let merchant_biz_id = format!("web{}", idv_crypto::random_hex(12));
    let mut extra =
        std::collections::BTreeMap::from([("ReturnUrl".to_owned(), format!("{}/web/return", demo.base_url))]);
    if let Some(lang) = q.lang.filter(|l| l.len() <= 16) {
        extra.insert("LanguageConfig".into(), lang);
    }
    let needs_doc = product != "FACE_LIVENESS";
    let params = InitializeParams {
        product_code: product,
        merchant_biz_id: merchant_biz_id.clone(),
        merchant_user_id: "web-user".into(),
        meta_info,
        doc_type: needs_doc.then(|| "01000000".into()),
        callback_url: demo.callback_url.clone(),
        extra,
        ..InitializeParams::default()
    };
    match demo.idv.initialize(&params).await {
        Ok(init) => {
            let Some(url) = init.transaction_url else {
                return (StatusCode::BAD_GATEWAY, "idv returned no TransactionUrl").into_response();
            };
            tracing::info!(transaction_id = %init.transaction_id, %merchant_biz_id, "Initialize (web)");
            let t = Transaction {
                merchant_biz_id,
                callback_token: String::new(),
                user_id: "web-user".into(),
                result: None,
            };
            demo.transactions.lock().expect("lock").insert(init.transaction_id, t);
            Redirect::to(&url).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("Initialize refused: {e}")).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebReturn {
    transaction_id: String,
    result_code: Option<u32>,
}

/// `GET /web/return`: idv's page sent the browser back. The result code in the URL is the browser's word; the
/// verdict is CheckResult's.
async fn web_return(State(demo): State<Arc<Demo>>, Query(q): Query<WebReturn>) -> Response {
    let known = demo.transactions.lock().expect("lock").get(&q.transaction_id).map(|t| t.merchant_biz_id.clone());
    let Some(merchant_biz_id) = known else {
        return (StatusCode::NOT_FOUND, Html("<!doctype html><title>Unknown</title><p>Unknown transaction.</p>"))
            .into_response();
    };
    let outcome = match demo.idv.check_result(&merchant_biz_id, &q.transaction_id, false).await {
        Ok(r) => {
            let view = app_view(&q.transaction_id, &r, q.result_code.unwrap_or(0), false);
            tracing::info!(transaction_id = %q.transaction_id, passed = %r.passed, sub_code = %r.sub_code, "CheckResult (web)");
            if r.passed == "Y" { "You are verified." } else { "The verification did not pass." }.to_owned()
                + &format!(" (SubCode {})", view["subCode"].as_str().unwrap_or(""))
        }
        Err(e) if e.is_process_not_completed() => "The verification has not finished.".to_owned(),
        Err(e) => {
            tracing::error!(error = %e, "CheckResult failed");
            "The verification service is unavailable.".to_owned()
        }
    };
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Demo Shop</title><h1>Demo Shop</h1><p id=outcome>{outcome}</p>"
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict_with_everything() -> CheckResultResult {
        CheckResultResult {
            passed: "Y".into(),
            sub_code: "200".into(),
            ext_basic_info: json!({"merchantUserId": "u1"}).to_string(),
            ext_id_info: json!({
                "docType": "01000000",
                "ocrIdInfo": {"passportNo": "L898902C3", "surname": "ERIKSSON", "birthDate": "1974-08-12"},
                "idImage": "SURJTUFHRQ==",
                "idBackImage": "QkFDSw==",
                "croppedFaceFromDoc": "Q1JPUA==",
                "idFaceQualityScore": 98.0,
            })
            .to_string(),
            ext_face_info: json!({
                "faceImg": "RkFDRUlNRw==",
                "faceComparisonScore": 95.5,
                "faceQualityScore": 87.2,
                "faceAttack": "N",
                "embedding": [0.1, 0.2],
            })
            .to_string(),
            ext_risk_info: json!({"livenessScore": 0.99}).to_string(),
            ext_info: json!({"reasons": ["all checks passed"]}).to_string(),
        }
    }

    #[test]
    fn the_app_sees_no_images_scores_or_personal_data() {
        let r = verdict_with_everything();
        let view = app_view("tid1", &r, 1000, false);
        assert_eq!(
            view,
            json!({"transactionId": "tid1", "passed": "Y", "subCode": "200", "resultCode": 1000,
                   "documentType": "01000000"})
        );
        let text = view.to_string();
        for secret in ["SURJTUFHRQ", "QkFDSw", "Q1JPUA", "RkFDRUlNRw", "95.5", "98", "ERIKSSON", "L898902C3", "0.99"] {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
        }

        let revealed = app_view("tid1", &r, 1000, true);
        assert_eq!(revealed["documentNumber"], "L898902C3");
        let keys: Vec<&String> = revealed.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["documentNumber", "documentType", "passed", "resultCode", "subCode", "transactionId"]);
        assert!(!revealed.to_string().contains("ERIKSSON"));
    }

    #[test]
    fn odd_verdicts_fail_closed() {
        let mut r = verdict_with_everything();
        r.passed = "P".into();
        r.ext_id_info = "not json".into();
        let view = app_view("t", &r, 1001, true);
        assert_eq!(view["passed"], "N");
        assert!(view.get("documentType").is_none() && view.get("documentNumber").is_none());
        assert!(
            constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"a", b"ab")
        );
    }

    /// A stand-in for idv's merchant API: answers Initialize, then CheckResult (pending once, then a verdict with
    /// images and scores), and records the parameters it was sent.
    async fn fake_idv(seen: Arc<Mutex<Vec<std::collections::BTreeMap<String, String>>>>) -> SocketAddr {
        let app = Router::new().fallback(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    let hs: Vec<(String, String)> = headers
                        .iter()
                        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    let raw = idv_api::sign::RawRequest {
                        method: "POST",
                        path: uri.path(),
                        raw_query: uri.query().unwrap_or(""),
                        headers: &hs,
                        body: &body,
                    };
                    let signed = idv_api::sign::parse(&raw, &idv_api::sign::Limits::default()).unwrap();
                    signed.verify("demo-secret").unwrap();
                    let mut all = seen.lock().unwrap();
                    all.push(signed.params.clone());
                    let checks = all.iter().filter(|p| p.contains_key("TransactionId")).count();
                    let result = match (signed.action.as_str(), checks) {
                        ("Initialize", _) => {
                            json!({"TransactionId": "t".repeat(32), "Protocol": "cfg", "ClientCfg": "cfg"})
                        }
                        (_, 1) => {
                            let e = json!({"RequestId": "R", "Code": "ProcessNotCompleted", "Message": "not yet"});
                            return (StatusCode::NOT_FOUND, Json(e));
                        }
                        _ => serde_json::to_value(verdict_with_everything()).unwrap(),
                    };
                    (
                        StatusCode::OK,
                        Json(json!({"RequestId": "R", "Code": "Success", "Message": "success", "Result": result})),
                    )
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    #[tokio::test]
    async fn the_demo_initializes_filters_and_checks_callbacks() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let idv_addr = fake_idv(seen.clone()).await;
        let demo = Arc::new(Demo {
            idv: MerchantClient::new(&idv_addr.to_string(), "AKID", "demo-secret").unwrap(),
            callback_secret: Some("callback-secret".into()),
            base_url: "http://127.0.0.1:1".into(),
            transactions: Mutex::new(HashMap::new()),
            callback_url: Some("http://127.0.0.1:1/callback".into()),
            reveal_document_number: false,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(demo)).await.unwrap() });
        let http = reqwest::Client::new();
        let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();

        let bad = post("/app/start", json!({"metaInfo": "{}", "productCode": "FACE_GUARD", "userId": "u1"})).await;
        assert_eq!(bad.unwrap().status(), 400);
        let meta = r#"{"deviceType":"android","bioMetaInfo":"1.0.0:15,0"}"#;
        let r =
            post("/app/start", json!({"metaInfo": meta, "productCode": "eKYC", "docType": "01000000", "userId": "u1"}))
                .await
                .unwrap();
        assert_eq!(r.status(), 200);
        let started: Value = r.json().await.unwrap();
        let tid = "t".repeat(32);
        assert_eq!(started, json!({"transactionId": tid, "clientCfg": "cfg"}));
        let init = seen.lock().unwrap()[0].clone();
        let biz = &init["MerchantBizId"];
        assert!(biz.len() <= 32 && biz.bytes().all(|b| b.is_ascii_alphanumeric()), "{biz}");
        assert_eq!((init["MetaInfo"].as_str(), init["ProductCode"].as_str()), (meta, "eKYC"));
        assert_eq!(init["CallbackUrl"], "http://127.0.0.1:1/callback");
        let token = init["CallbackToken"].clone();
        assert!(token.len() >= 32);

        let pending: Value =
            post("/app/finish", json!({"transactionId": tid, "resultCode": 1000})).await.unwrap().json().await.unwrap();
        assert_eq!(pending, json!({"status": "pending"}));
        let done: Value =
            post("/app/finish", json!({"transactionId": tid, "resultCode": 1000})).await.unwrap().json().await.unwrap();
        assert_eq!(
            done,
            json!({"transactionId": tid, "passed": "Y", "subCode": "200", "resultCode": 1000, "documentType": "01000000"})
        );
        let checks: Vec<_> = seen.lock().unwrap()[1..].to_vec();
        assert!(checks.iter().all(|p| p["MerchantBizId"] == *biz && p["IsReturnImage"] == "N"), "{checks:?}");
        let unknown = post("/app/finish", json!({"transactionId": "f".repeat(32), "resultCode": 1000})).await.unwrap();
        assert_eq!(unknown.status(), 404);

        // Callbacks as idv sends them: signed over the path and query with the merchant's callback secret.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let cb = |t: String, secret: &'static [u8], at: i64| {
            let target = format!("/callback?transactionId={tid}&passed=Y&subCode=200&callbackToken={t}");
            let sig = idv_server::callback_signature(secret, &target, at);
            http.get(format!("{base}{target}")).header("x-idv-signature", sig).send()
        };
        assert_eq!(cb(token.clone(), b"callback-secret", now).await.unwrap().status(), 200);
        assert_eq!(
            cb("forged".into(), b"callback-secret", now).await.unwrap().status(),
            403,
            "right signature, wrong token"
        );
        assert_eq!(
            cb(token.clone(), b"wrong-secret", now).await.unwrap().status(),
            401,
            "a wrong signature is refused"
        );
        assert_eq!(
            cb(token.clone(), b"callback-secret", now - 3600).await.unwrap().status(),
            401,
            "an old signature too"
        );
        let unsigned =
            http.get(format!("{base}/callback?transactionId={tid}&passed=Y&subCode=200&callbackToken={token}"));
        assert_eq!(unsigned.send().await.unwrap().status(), 401, "and no signature at all");
    }
}

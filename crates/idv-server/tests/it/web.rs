//! The hosted capture page at TransactionUrl, over HTTP (the browser tests in `tests/web/` run it in Chromium):
//! Initialize for browsers, the single-use link, the page's headers and embedded configuration, languages and
//! colours, and gallery uploads.

use serde_json::Value;

use crate::helpers::{
    CHROME_UA, Device, META_ANDROID, META_WEB, Server, assert_error, call, init_params, map, round_body, specimen_b64,
    start,
};

/// The official web SDK's MetaInfo (its capability bits are not idv's: the browser decides).
const META_H5: &str = r#"{"bioMetaInfo":"4.1.0:2916352,0","deviceType":"h5","ua":"Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"}"#;

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    /// The JSON the server wrote into the page for its script.
    fn config(&self) -> Value {
        let start = self.body.find(r#"id="idv-config">"#).expect("config element") + r#"id="idv-config">"#.len();
        let end = start + self.body[start..].find("</script>").unwrap();
        serde_json::from_str(&self.body[start..end]).unwrap()
    }
}

async fn open(url: &str, ua: &str) -> Page {
    let r = reqwest::Client::new().get(url).header("user-agent", ua).send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    Page { status, headers, body: r.text().await.unwrap() }
}

/// What the page's script does next: `POST` to its own address, which spends the link.
async fn bind(url: &str, ua: &str) -> (u16, Value) {
    let r = reqwest::Client::new().post(url).header("user-agent", ua).send().await.unwrap();
    assert_eq!(r.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn web_transaction(s: &Server, m: &crate::helpers::Merchant, extra: &[(&str, &str)]) -> (String, String, String) {
    let mut p = init_params("eKYC", META_H5);
    p.extend_from_slice(extra);
    let r = call(s, m, "Initialize", &p).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let res = &r.json["Result"];
    let s = |k: &str| res[k].as_str().unwrap().to_owned();
    (s("TransactionId"), s("TransactionUrl"), s("ClientCfg"))
}

#[tokio::test]
async fn the_link_opens_once_and_binds_the_device_session() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (tid, url, cfg) = web_transaction(&s, &m, &[("ReturnUrl", "https://shop.example/back?o=1")]).await;

    let page = open(&url, CHROME_UA).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let h = |k: &str| page.headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let csp = h("content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h("cache-control"), "no-store");
    assert_eq!(h("referrer-policy"), "no-referrer", "the single-use link must not leak to ReturnUrl");
    assert!(!page.body.contains("<script>") && !page.body.contains("style="), "no inline script or style");
    let shown = page.config();
    assert_eq!(shown["tid"], tid.as_str());
    assert_eq!(shown["return_url"], "https://shop.example/back?o=1");
    assert_eq!(shown["show_album_icon"], false);
    assert_eq!(shown["lang"], "en");
    assert!(shown["strings"]["page.title"].is_string());
    assert!(shown.get("cred").is_none() && !page.body.contains(&cfg), "the page as served carries no credential");
    // Fetching the page (a chat app's link preview does) spends nothing: only the page's script does.
    assert_eq!(open(&url, CHROME_UA).await.status, 200);
    let (st, c) = bind(&url, CHROME_UA).await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["config"], cfg.as_str(), "the page runs the transaction's own configuration");
    assert_eq!(c["next"]["step"], "DOC_FRONT");

    // The page's session is the transaction's: the device API takes its rounds.
    let dev = Device {
        cfg: cfg.clone(),
        api: c["api"].as_str().unwrap().to_owned(),
        cred: base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, c["cred"].as_str().unwrap())
            .unwrap(),
        session: c["session"].as_str().unwrap().to_owned(),
    };
    let (st, status) = dev.post("status", &serde_json::json!({})).await;
    assert_eq!(st, 200, "{status}");
    assert_eq!(status["next"]["nonce"], c["next"]["nonce"]);

    // A second open, in any browser, says the link was used; an app cannot start another session.
    let again = open(&url, CHROME_UA).await;
    assert_eq!(again.status, 410);
    assert_eq!(again.config()["notice"], "link-used");
    let (st, refused) = bind(&url, CHROME_UA).await;
    assert_eq!((st, refused), (410, serde_json::json!({"notice": "link-used"})), "a used link gives no credential");
    let mut other = Device { session: String::new(), ..dev };
    let (st, refused) = other.post("start", &serde_json::json!({"meta_info": META_H5, "device_time_ms": 0})).await;
    assert_eq!((st, refused["code"].as_str()), (409, Some("SessionInUse")), "{refused}");
    other.session.clear();

    // A link for another transaction id, or with its MAC changed, opens nothing.
    let forged = format!("{}x", &url[..url.len() - 1]);
    let bad = open(&forged, CHROME_UA).await;
    assert_eq!(bad.status, 404);
    assert_eq!(bad.config()["notice"], "link-invalid");
    assert_eq!(open(&s.url("/web/0123/abc"), CHROME_UA).await.status, 404);
    s.stop().await;
}

#[tokio::test]
async fn a_finished_transaction_opens_no_page() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (_, url, cfg) = web_transaction(&s, &m, &[]).await;
    let c = idv_protocol::ClientConfig::read_unverified(&cfg).unwrap();
    let cred = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &c.cred).unwrap();
    let dev = Device { cfg, api: c.api, cred, session: String::new() };
    let (st, done) = dev.post("cancel", &serde_json::json!({})).await;
    assert_eq!(st, 200, "{done}");
    let page = open(&url, CHROME_UA).await;
    assert_eq!(page.status, 410);
    assert_eq!(page.config()["notice"], "link-closed");
    s.stop().await;
}

#[tokio::test]
async fn an_unusable_browser_does_not_spend_the_link() {
    let s = start().await;
    let m = s.merchant("A").await;
    let (_, url, _) = web_transaction(&s, &m, &[]).await;
    let ie = "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko";
    let old = open(&url, ie).await;
    assert_eq!(old.status, 200);
    assert_eq!(old.config()["notice"], "browser-unsupported");
    assert_eq!(bind(&url, ie).await.1["notice"], "browser-unsupported");
    assert_eq!(bind(&url, CHROME_UA).await.0, 200, "the link still opens in a browser that can run it");
    s.stop().await;
}

#[tokio::test]
async fn initialize_for_browsers_languages_styles_and_transaction_urls() {
    let s = start().await;
    let m = s.merchant("A").await;
    // An app gets a TransactionUrl when it asks for the browser (ProcedurePriority=url), not otherwise.
    let r = call(&s, &m, "Initialize", &init_params("eKYC", META_ANDROID)).await;
    assert!(r.json["Result"].get("TransactionUrl").is_none_or(Value::is_null), "{}", r.json);
    let mut p = init_params("eKYC", META_ANDROID);
    p.push(("ProcedurePriority", "url"));
    let r = call(&s, &m, "Initialize", &p).await;
    assert!(r.json["Result"]["TransactionUrl"].as_str().is_some_and(|u| u.contains("/web/")), "{}", r.json);
    // A browser that cannot run the page is refused at Initialize, by name.
    let ie = r#"{"bioMetaInfo":"4.1.0:2916352,0","deviceType":"h5","ua":"Mozilla/5.0 (Windows NT 6.1; Trident/7.0)"}"#;
    let r = call(&s, &m, "Initialize", &init_params("eKYC", ie)).await;
    assert_error(&r, 400, "InvalidParameter");
    assert!(r.json["Message"].as_str().unwrap().contains("Internet Explorer"), "{}", r.json);
    let r = call(&s, &m, "Initialize", &init_params("FACE_LIVENESS", META_WEB)).await;
    assert_eq!(r.status, 200, "{}", r.json);

    for (param, value, says) in [
        ("LanguageConfig", "fr", "supported: en, zh"),
        ("LanguageConfig", "zh-TW", "supported: en, zh"),
        ("StyleConfig", r#"{"facePage":{"x":1}}"#, "facePage"),
        ("StyleConfig", r##"{"primaryColor":"#fff;}"}"##, "#rrggbb"),
        ("StyleConfig", r##"{"textColor":"#dddddd"}"##, "contrast"),
        ("ReturnUrl", "javascript:alert(1)", "http(s)"),
        ("ReturnUrl", "/relative", "absolute"),
    ] {
        let mut p = init_params("eKYC", META_H5);
        p.push((param, value));
        let r = call(&s, &m, "Initialize", &p).await;
        assert_error(&r, 400, "InvalidParameter");
        let msg = r.json["Message"].as_str().unwrap();
        assert!(msg.contains(param) && msg.contains(says), "{param}={value}: {msg}");
    }

    // Chinese and the merchant's colours reach the page.
    let style = r##"{"primaryColor":"#0B57D0","backgroundColor":"#FFFFFF","textColor":"#111111"}"##;
    let (_, url, _) = web_transaction(&s, &m, &[("LanguageConfig", "zh_CN"), ("StyleConfig", style)]).await;
    let page = open(&url, CHROME_UA).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"lang="zh-CN""#), "{}", &page.body[..200.min(page.body.len())]);
    let c = page.config();
    assert_eq!(c["lang"], "zh");
    assert!(c["strings"]["page.title"].as_str().unwrap().chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)));
    assert_eq!(c["style"]["primary"], "#0b57d0");
    s.stop().await;
}

#[tokio::test]
async fn gallery_uploads_only_when_the_merchant_allows_them_and_never_for_the_face() {
    let s = start().await;
    let m = s.merchant("A").await;
    let doc = specimen_b64(41, idv_eval::specimen::Validity::Valid, Default::default());
    let album = |next: &Value| {
        let mut b = round_body(next, &doc, 1);
        b["capture"] = serde_json::json!({"source": "album", "width": 1200, "height": 900});
        b
    };
    // Not allowed: refused before any frame is looked at, with the camera result code.
    let (mut dev, _) = Device::initialized(&s, &m, &init_params("eKYC", META_ANDROID), &map(&[])).await;
    let next = dev.start().await["next"].clone();
    let (st, refused) = dev.post("round", &album(&next)).await;
    assert_eq!((st, refused["result_code"].as_u64()), (400, Some(1004)), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("ShowAlbumIcon"), "{refused}");

    // Allowed: the document is read from the gallery picture, the face still must be a fresh capture.
    let mut p = init_params("eKYC", META_ANDROID);
    p.push(("ShowAlbumIcon", "1"));
    let (mut dev, _) = Device::initialized(&s, &m, &p, &map(&[])).await;
    let next = dev.start().await["next"].clone();
    let (st, answer) = dev.post("round", &album(&next)).await;
    assert_eq!(st, 200, "{answer}");
    assert_eq!(answer["outcome"], "next", "{answer}");
    let face = &answer["next"];
    assert_eq!(face["step"], "FACE");
    let (st, refused) = dev.post("round", &album(face)).await;
    assert_eq!(st, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("fresh"), "{refused}");
    s.stop().await;
}

//! The hosted capture page at `TransactionUrl` (`GET /web/{TransactionId}/{link}`): the web flow for a person
//! with a browser and no app. The page is a client of the device API like the SDK; the server only serves it.
//!
//! The link is single use. `GET` shows the page and spends nothing (a chat app's link preview fetches the URL but
//! runs no script); the page's script then `POST`s to the same address, which binds the transaction's device
//! session to this page load (as the SDK's `start` does) and answers the configuration, credential, session and
//! first instruction. From then on a second open, in any browser, says the link was used, and the device API
//! refuses any other session. The link's last segment is an HMAC of the transaction id under a key derived from
//! the master key: a TransactionId alone does not open a page.
//!
//! The page and its assets (`crates/idv-server/web/`) are embedded in the binary. What the page shows before the
//! flow starts (strings of its language, colours, steps) is written into it as JSON; it makes no request but to
//! this server, under a strict Content-Security-Policy.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use idv_api::{Language, TransactionOptions, WebStyle};
use idv_flow::Timeout;
use idv_protocol::ClientConfig;
use sha2::Digest;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::device::open_session;

const PAGE: &str = include_str!("../web/page.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");
const STRINGS_EN: &str = include_str!("../web/i18n/en.json");
const STRINGS_ZH: &str = include_str!("../web/i18n/zh.json");

/// Bytes of HMAC in the link: 128 bits, as unguessable as the transaction's own credential needs.
const LINK_BYTES: usize = 16;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/web/{transaction_id}/{link}", get(page).post(bind))
        .route("/web/assets/{version}/{name}", get(asset))
}

/// The link segment of a transaction's page.
fn link(state: &AppState, transaction_id: &str) -> String {
    let tag = state.web_link_key.hmac_sha256(transaction_id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..LINK_BYTES])
}

/// The `TransactionUrl` of a transaction.
pub(crate) fn transaction_url(state: &AppState, transaction_id: &str) -> String {
    format!("{}/web/{transaction_id}/{}", state.config.base_url(), link(state, transaction_id))
}

/// The assets' version: a digest of their content, so a browser caches them until the server changes.
fn asset_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let mut h = sha2::Sha256::new();
        h.update(APP_JS);
        h.update(APP_CSS);
        hex::encode(&h.finalize()[..8])
    })
}

/// A language's string table, parsed once per process (every page embeds one).
fn strings(lang: Language) -> serde_json::Value {
    static TABLES: std::sync::OnceLock<[serde_json::Value; 2]> = std::sync::OnceLock::new();
    // The tables are the project's own files, checked by a test: a broken one is a build defect.
    let parse = |raw: &str| serde_json::from_str(raw).expect("web/i18n tables are valid JSON");
    let [en, zh] = TABLES.get_or_init(|| [parse(STRINGS_EN), parse(STRINGS_ZH)]);
    match lang {
        Language::En => en.clone(),
        Language::Zh => zh.clone(),
    }
}

fn text(table: &serde_json::Value, key: &str) -> String {
    table.get(key).and_then(|v| v.as_str()).unwrap_or(key).to_owned()
}

/// The language of a page shown before the transaction's own is known: the browser's first preference that
/// the page has, else English.
fn browser_language(headers: &HeaderMap) -> Language {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept
        .split(',')
        .filter_map(|part| Language::parse(part.split(';').next().unwrap_or("")))
        .next()
        .unwrap_or(Language::En)
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// JSON safe inside a `<script type="application/json">` element: no `<`, `>` or `&` that could end it, and no
/// line separators old JavaScript parsers choke on.
fn escape_json(v: &serde_json::Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn origin_of(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization()).filter(|o| o != "null")
}

/// Headers of every page: nothing loads from elsewhere, nothing is cached, the link never leaks in a Referer,
/// the camera is for this page only, and no other site frames it.
fn page_headers(state: &AppState) -> HeaderMap {
    let api_origin = origin_of(state.config.base_url()).map(|o| format!(" {o}")).unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         media-src 'self' blob: mediastream:; connect-src 'self'{api_origin}; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    let v = |s: &str| HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""));
    let pairs = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        (header::CONTENT_SECURITY_POLICY, v(&csp)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(self), microphone=()"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ];
    pairs.into_iter().collect()
}

fn render(lang: Language, config: &serde_json::Value) -> String {
    let table = config.get("strings").cloned().unwrap_or_else(|| strings(lang));
    PAGE.replace("{{LANG}}", lang.html_lang())
        .replace("{{TITLE}}", &escape_html(&text(&table, "page.title")))
        .replace("{{ASSET_BASE}}", &format!("/web/assets/{}", asset_version()))
        .replace("{{CONFIG_JSON}}", &escape_json(config))
}

/// A page that runs no flow: the link is used, expired, invalid, or the browser cannot run the capture. The
/// page's script shows the screen named by `notice` with the strings of `lang`.
fn notice(state: &AppState, status: StatusCode, lang: Language, notice: &str) -> Response {
    let config = serde_json::json!({ "notice": notice, "lang": lang.code(), "strings": strings(lang) });
    (status, page_headers(state), render(lang, &config)).into_response()
}

/// `GET`: the page, or a notice when the link cannot run a flow.
async fn page(
    State(state): State<Arc<AppState>>,
    Path((transaction_id, given)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let fallback = browser_language(&headers);
    match show(&state, &transaction_id, &given, &headers).await {
        Ok(page) => page,
        Err(e) => e.notice(&state, fallback, &transaction_id),
    }
}

/// `POST` (from the page's script): spends the link and answers what the page needs to run the flow, as JSON.
async fn bind(
    State(state): State<Arc<AppState>>,
    Path((transaction_id, given)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    match open_flow(&state, &transaction_id, &given, &headers).await {
        Ok(flow) => (StatusCode::OK, no_store, axum::Json(flow)).into_response(),
        Err(e) => {
            let (status, notice) = match &e {
                PageError::Notice(status, _, which) => (*status, *which),
                PageError::Internal(cause) => {
                    tracing::error!(transaction_id = %transaction_id, error = %cause, "capture page failed");
                    (StatusCode::INTERNAL_SERVER_ERROR, "error")
                }
            };
            (status, no_store, axum::Json(serde_json::json!({ "notice": notice }))).into_response()
        }
    }
}

enum PageError {
    Notice(StatusCode, Option<Language>, &'static str),
    Internal(String),
}

impl<E: std::fmt::Display> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl PageError {
    fn notice(self, state: &AppState, fallback: Language, transaction_id: &str) -> Response {
        match self {
            PageError::Notice(status, lang, which) => notice(state, status, lang.unwrap_or(fallback), which),
            PageError::Internal(e) => {
                tracing::error!(transaction_id = %transaction_id, error = %e, "capture page failed");
                notice(state, StatusCode::INTERNAL_SERVER_ERROR, fallback, "error")
            }
        }
    }
}

/// A transaction whose link is genuine and whose flow can still start, with its options.
struct Open {
    tx: idv_store::Transaction,
    options: TransactionOptions,
    lang: Language,
}

/// Everything that must hold before a page runs: the link's MAC, a live transaction nobody started, a browser
/// that can capture. Checked on `GET` and again on `POST`.
async fn check(
    state: &AppState,
    transaction_id: &str,
    given: &str,
    headers: &HeaderMap,
    now: i64,
) -> Result<Open, PageError> {
    let invalid = PageError::Notice(StatusCode::NOT_FOUND, None, "link-invalid");
    let well_formed = transaction_id.len() == 32 && transaction_id.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed || !bool::from(given.as_bytes().ct_eq(link(state, transaction_id).as_bytes())) {
        return Err(invalid);
    }
    let gone = |lang, which| PageError::Notice(StatusCode::GONE, lang, which);
    let tx = state.store.get_transaction_for_device(transaction_id).await?.ok_or(invalid)?;
    let Some(options) = tx.options.as_ref() else {
        return Err(gone(None, "link-closed"));
    };
    let options: TransactionOptions = serde_json::from_slice(options)?;
    let lang = options.language.as_deref().and_then(Language::parse).unwrap_or(Language::En);
    if state.store.get_device_session(transaction_id).await?.is_some() {
        return Err(gone(Some(lang), "link-used"));
    }
    if tx.state.is_final() || tx.device_secret.is_none() {
        return Err(gone(Some(lang), "link-closed"));
    }
    if now >= tx.expires_at {
        crate::finish::expire(state, transaction_id, Timeout::BeforeStart, now).await.map_err(|e| e.to_string())?;
        return Err(gone(Some(lang), "link-expired"));
    }
    // Checked before the link is spent: a person who opened it in an old browser can still open it in another.
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if idv_protocol::meta::browser_support(ua).is_err() {
        return Err(PageError::Notice(StatusCode::OK, Some(lang), "browser-unsupported"));
    }
    Ok(Open { tx, options, lang })
}

fn style(options: &TransactionOptions) -> WebStyle {
    // Checked at Initialize; a record that no longer parses shows the default colours.
    options.style_config.as_deref().and_then(|s| WebStyle::parse(s).ok()).unwrap_or_default()
}

async fn show(state: &AppState, transaction_id: &str, given: &str, headers: &HeaderMap) -> Result<Response, PageError> {
    let Open { options, lang, .. } = check(state, transaction_id, given, headers, state.now()).await?;
    let config = serde_json::json!({
        "open": format!("/web/{transaction_id}/{given}"),
        "tid": transaction_id,
        "product": options.product.code(),
        "steps": options.product.steps(options.back_page),
        "return_url": options.return_url,
        "show_album_icon": options.show_album_icon,
        "style": style(&options),
        "lang": lang.code(),
        "strings": strings(lang),
    });
    Ok((StatusCode::OK, page_headers(state), render(lang, &config)).into_response())
}

async fn open_flow(
    state: &AppState,
    transaction_id: &str,
    given: &str,
    headers: &HeaderMap,
) -> Result<serde_json::Value, PageError> {
    let now = state.now();
    let Open { tx, options, lang } = check(state, transaction_id, given, headers, now).await?;
    let secret = tx.device_secret.as_ref().ok_or(PageError::Notice(StatusCode::GONE, Some(lang), "link-closed"))?;
    let steps = options.product.steps(options.back_page);
    // A start hash no device request can have: a device's `start` with this transaction's configuration is
    // refused as another session.
    let start_hash = format!("web-page:{}", idv_crypto::random_hex(16));
    let (session_id, flow) = open_session(state, transaction_id, steps.clone(), &options, &start_hash, now)
        .await
        .map_err(|e| PageError::Internal(format!("{e:?}")))?
        .ok_or(PageError::Notice(StatusCode::GONE, Some(lang), "link-used"))?;
    let detail = serde_json::json!({"session": session_id});
    crate::audit::audit(state, "web", "device.started", Some(transaction_id), Some(&tx.merchant_id), detail).await;
    let cred = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&secret[..]);
    let api = format!("{}/device/v1", state.config.base_url());
    let cfg = ClientConfig {
        tid: transaction_id.to_owned(),
        product: options.product,
        steps,
        api: api.clone(),
        cred: cred.clone(),
        iat: tx.created_at,
        exp: tx.expires_at,
    };
    tracing::info!(transaction_id = %transaction_id, "capture page opened; device session started");
    Ok(serde_json::json!({
        "config": cfg.sign(&state.clientcfg_key),
        "session": session_id,
        "api": api,
        "cred": cred,
        "next": flow.instruction(),
    }))
}

async fn asset(Path((version, name)): Path<(String, String)>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    // An old version's address gets today's assets, not cached for long: a page rendered before an upgrade
    // still loads.
    let cache = if version == asset_version() { "public, max-age=31536000, immutable" } else { "no-cache" };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, cache), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], body)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_tables_have_the_same_keys() {
        let (en, zh) = (strings(Language::En), strings(Language::Zh));
        let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&en), keys(&zh));
        for key in ["page.title", "error.title", "error.text"] {
            assert!(en.get(key).is_some(), "{key}");
        }
        for notice in ["link-used", "link-expired", "link-invalid", "link-closed", "browser-unsupported"] {
            assert!(en.get(format!("notice.{notice}")).is_some() && en.get(format!("notice.{notice}.title")).is_some());
        }
        for code in idv_flow::RetakeReason::ALL.map(|r| r.code()) {
            assert!(en.get(format!("reason.{code}")).is_some(), "reason.{code}");
        }
    }

    /// The default palette in app.css meets WCAG AA: the pairs the page draws text with, read from the file.
    #[test]
    fn default_colours_have_sufficient_contrast() {
        let var = |name: &str| -> [u8; 3] {
            let at = APP_CSS.find(&format!("--idv-{name}:")).unwrap_or_else(|| panic!("--idv-{name}"));
            let hex = APP_CSS[at..].split('#').nth(1).unwrap();
            let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
            [byte(0), byte(2), byte(4)]
        };
        for (fg, bg) in [("text", "background"), ("on-primary", "primary"), ("danger-text", "danger-bg")] {
            let c = idv_api::web::contrast(var(fg), var(bg));
            assert!(c >= idv_api::web::MIN_TEXT_CONTRAST, "{fg} on {bg}: {c:.2}:1");
        }
    }

    #[test]
    fn json_in_the_page_cannot_close_its_element() {
        let v = serde_json::json!({"x": "</script><script>alert(1)</script>&\u{2028}"});
        let s = escape_json(&v);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&') && !s.contains('\u{2028}'));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&s).unwrap(), v);
    }
}

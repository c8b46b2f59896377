//! The merchant console at `/console/` (`docs/console.md`): a merchant's users look at their transactions (list
//! with filters, one transaction with its pictures and every check), decide the review queue, and see the
//! summary charts. Server-rendered HTML with one stylesheet and no script at all, under a Content-Security-Policy
//! that allows nothing but this server's own images and stylesheet.
//!
//! Security: users are created with `idv admin user create` (Argon2id password hashes); a login opens a
//! server-side session stored in the database (only the SHA-256 of its cookie token), with an absolute and an
//! idle expiry; failed logins are counted in the database per user name and per client address, and past the
//! limit the password is not even checked. Every form that changes something carries a CSRF token (an HMAC of
//! the session token under a key derived from the master key, compared in constant time); the login form a
//! double-submit token. Every query is scoped to the session user's merchant: another merchant's transaction
//! answers exactly as one that does not exist. Every image served is written to the audit log.

mod charts;
mod evidence;
mod pages;
mod review;

use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use idv_store::{ConsoleIndexRow, ConsoleRole, ConsoleUser, NewConsoleUser, Store};
use sha2::Digest;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ServerError;

pub(crate) use evidence::{keep_doc_outline, keep_frames};
pub(crate) use review::{review_param, with_review};

const CSS: &str = include_str!("../../web/console.css");
const SESSION_COOKIE: &str = "idv_console";
const LOGIN_COOKIE: &str = "idv_console_login";
/// A session ends this long after login, used or not.
pub const SESSION_TTL_S: i64 = 8 * 3600;
/// ... and after this long unused.
pub const SESSION_IDLE_S: i64 = 30 * 60;
/// Failed logins count for this long.
pub const THROTTLE_WINDOW_S: i64 = 15 * 60;
/// Failed logins within the window after which a user name, or a client address, is refused without a check.
pub const MAX_FAILURES_PER_USER: i64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
const MAX_FORM_BYTES: usize = 16 * 1024;
const MAX_PASSWORD: usize = 256;
/// Shortest password `idv admin user create` accepts.
pub const MIN_PASSWORD: usize = 12;
/// Rows per list page.
const PAGE_SIZE: i64 = 25;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console", get(|| async { see_other("/console/") }))
        .route("/console/", get(pages::list))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/review", get(pages::queue))
        .route("/console/summary", get(pages::summary))
        .route("/console/tx/{id}", get(pages::transaction))
        .route("/console/tx/{id}/image/{name}", get(evidence::image))
        .route("/console/tx/{id}/review", post(review::decide))
        .route("/console/tx/{id}/delete", post(review::delete))
        .route("/console/assets/{version}/console.css", get(css))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// Hashes a password for storage: Argon2id with the crate's default cost (19 MiB, 2 passes) and a random salt.
pub fn hash_password(password: &str) -> Result<String, ServerError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt =
        SaltString::encode_b64(&idv_crypto::random_bytes::<16>()).map_err(|e| ServerError::internal(e.to_string()))?;
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| ServerError::internal(e.to_string()))?;
    Ok(hash.to_string())
}

fn password_matches(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(hash) {
        Ok(h) => argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// A hash no password matches, checked when the user name is unknown so that the answer takes as long.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password(&idv_crypto::random_hex(16)).unwrap_or_default())
}

/// Creates a console user (`idv admin user create`): the password is checked and hashed here.
pub async fn create_console_user(
    store: &dyn Store,
    merchant_id: &str,
    username: &str,
    password: &str,
    role: ConsoleRole,
    now: i64,
) -> Result<ConsoleUser, ServerError> {
    if password.chars().count() < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        let why = format!("a password is {MIN_PASSWORD}-{MAX_PASSWORD} characters");
        return Err(idv_store::StoreError::InvalidInput(why).into());
    }
    let password_hash = hash_password(password)?;
    Ok(store
        .create_console_user(NewConsoleUser { merchant_id, username, password_hash: &password_hash, role, now })
        .await?)
}

fn token_hash(token: &str) -> [u8; 32] {
    sha2::Sha256::digest(token.as_bytes()).into()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The CSRF token of a session: an HMAC of its cookie token, so it needs no storage and no other session's
/// token opens this one's forms.
fn csrf_of(state: &AppState, token: &str) -> String {
    b64(&state.console_key.derive("csrf").hmac_sha256(token.as_bytes())[..24])
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A keyed hash of a MerchantUserId, for the index: equal ids give equal tags, and the tag says nothing without
/// the master key.
pub(crate) fn user_tag(state: &AppState, merchant_id: &str, merchant_user_id: &str) -> [u8; 32] {
    let msg = idv_crypto::context(&[merchant_id.as_bytes(), merchant_user_id.as_bytes()]);
    state.console_key.derive("user-tag").hmac_sha256(&msg)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn secure(state: &AppState) -> &'static str {
    if state.config.base_url().starts_with("https://") { "; Secure" } else { "" }
}

/// The user behind a request's session cookie. Without a live session every console address answers with the
/// login page's address, never with data.
pub(crate) struct Session {
    pub(crate) user: ConsoleUser,
    pub(crate) csrf: String,
}

impl Session {
    /// The audit log's actor for what this user does.
    pub(crate) fn actor(&self) -> String {
        format!("console:{}", self.user.id)
    }

    pub(crate) fn is_reviewer(&self) -> bool {
        self.user.role == ConsoleRole::Reviewer
    }

    pub(crate) fn check_csrf(&self, given: &str) -> bool {
        same(given, &self.csrf)
    }
}

impl FromRequestParts<Arc<AppState>> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty() && t.len() <= 64) else {
            return Err(see_other("/console/login"));
        };
        match state.store.console_session(&token_hash(token), state.now(), SESSION_IDLE_S).await {
            Ok(Some(s)) => Ok(Session { user: s.user, csrf: csrf_of(state, token) }),
            Ok(None) => Err(see_other("/console/login")),
            Err(e) => Err(Failure::from(e).into_response()),
        }
    }
}

/// A failed console request: the server's error, rendered once as a page (causes are logged, never shown).
pub(crate) struct Failure(ServerError);

impl<E: Into<ServerError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.into())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "console request failed");
        let body =
            layout("Error", None, "", "<p class=\"notice\">Something went wrong; the operator's log says what.</p>");
        html(StatusCode::INTERNAL_SERVER_ERROR, body)
    }
}

pub(crate) type PageResult = Result<Response, Failure>;

/// Headers of every console answer: nothing but this server's stylesheet and images, no script, no framing, no
/// caching, no Referer.
fn headers() -> [(header::HeaderName, HeaderValue); 7] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; base-uri 'none'; \
                 frame-ancestors 'none'",
            ),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
        ),
    ]
}

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (status, headers(), body).into_response()
}

pub(crate) fn see_other(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to), (header::CACHE_CONTROL, "no-store")]).into_response()
}

pub(crate) fn see_other_to(to: String) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn asset_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| hex::encode(&sha2::Sha256::digest(CSS)[..8]))
}

async fn css(axum::extract::Path(version): axum::extract::Path<String>) -> Response {
    let cache = if version == asset_version() { "public, max-age=31536000, immutable" } else { "no-cache" };
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        CSS,
    )
        .into_response()
}

/// The page around a body: navigation and the logout form for a signed-in user.
pub(crate) fn layout(title: &str, session: Option<&Session>, current: &str, body: &str) -> String {
    let nav = match session {
        None => String::new(),
        Some(s) => {
            let link = |href: &str, name: &str, id: &str| {
                let cur = if current == id { " aria-current=\"page\"" } else { "" };
                format!("<a href=\"{href}\" id=\"nav-{id}\"{cur}>{name}</a>")
            };
            format!(
                "<nav>{}{}{}<span class=\"who\" id=\"who\">{} ({})</span>\
                 <form method=\"post\" action=\"/console/logout\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button id=\"logout\">Log out</button></form></nav>",
                link("/console/", "Transactions", "list"),
                link("/console/review", "Review queue", "review"),
                link("/console/summary", "Summary", "summary"),
                esc(&s.user.username),
                s.user.role.as_str(),
                esc(&s.csrf),
            )
        }
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · idv console</title><link rel=\"stylesheet\" href=\"/console/assets/{}/console.css\"></head>\
         <body><header><strong>idv console</strong>{nav}</header><main>{body}</main></body></html>",
        esc(title),
        asset_version()
    )
}

fn login_form(state: &AppState, message: Option<&str>) -> (String, String) {
    let token = b64(&idv_crypto::random_bytes::<24>());
    let msg = message.map(|m| format!("<p class=\"notice\" id=\"login-error\">{}</p>", esc(m))).unwrap_or_default();
    let body = format!(
        "<h1>Log in</h1>{msg}<form method=\"post\" action=\"/console/login\" class=\"login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
         <label>User name <input name=\"username\" id=\"username\" autocomplete=\"username\" required maxlength=\"64\"></label>\
         <label>Password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"256\"></label>\
         <button id=\"login\">Log in</button></form>"
    );
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; Path=/console/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        secure(state)
    );
    (layout("Log in", None, "", &body), cookie)
}

fn login_answer(state: &AppState, status: StatusCode, message: Option<&str>) -> Response {
    let (body, cookie) = login_form(state, message);
    let mut r = html(status, body);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn login_page(State(state): State<Arc<AppState>>) -> Response {
    login_answer(&state, StatusCode::OK, None)
}

#[derive(serde::Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> PageResult {
    let given = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if given.is_empty() || !same(given, &f.csrf) {
        return Ok(login_answer(&state, StatusCode::FORBIDDEN, Some("The form expired; please log in again.")));
    }
    if f.username.len() > idv_store::MAX_CONSOLE_USERNAME || f.password.len() > MAX_PASSWORD {
        return Ok(login_answer(&state, StatusCode::UNAUTHORIZED, Some("Wrong user name or password.")));
    }
    let now = state.now();
    let user_key = format!("user:{}", f.username.to_ascii_lowercase());
    let addr_key = format!("addr:{}", crate::ratelimit::client_key(peer.ip()));
    let counts = state.store.console_login_failures(&[&user_key, &addr_key], now - THROTTLE_WINDOW_S).await?;
    if counts[0] >= MAX_FAILURES_PER_USER || counts[1] >= MAX_FAILURES_PER_ADDRESS {
        // Refused before the password is checked: a guesser learns nothing more, however many tries.
        tracing::warn!(peer = %peer.ip(), "console login throttled");
        let mins = THROTTLE_WINDOW_S / 60;
        let msg = format!("Too many failed logins. Try again in {mins} minutes.");
        return Ok(login_answer(&state, StatusCode::TOO_MANY_REQUESTS, Some(&msg)));
    }
    let login = state.store.console_login(&f.username).await?;
    let hash = login.as_ref().map_or(dummy_hash(), |l| l.password_hash.as_str()).to_owned();
    let password = f.password.clone();
    let ok =
        tokio::task::spawn_blocking(move || password_matches(&password, &hash)).await.map_err(ServerError::internal)?;
    let Some(login) = login.filter(|_| ok) else {
        state.store.record_console_login_failure(&[&user_key, &addr_key], now).await?;
        crate::audit::audit(&state, "console", "console.login_failed", None, None, serde_json::json!({})).await;
        return Ok(login_answer(&state, StatusCode::UNAUTHORIZED, Some("Wrong user name or password.")));
    };
    state.store.clear_console_login_failures(&user_key).await?;
    let token = b64(&idv_crypto::random_bytes::<32>());
    state.store.create_console_session(&token_hash(&token), &login.user.id, now, now + SESSION_TTL_S).await?;
    let actor = format!("console:{}", login.user.id);
    crate::audit::audit(&state, &actor, "console.login", None, Some(&login.user.merchant_id), serde_json::json!({}))
        .await;
    tracing::info!(user = %login.user.id, "console login");
    let mut r = see_other("/console/");
    let set = format!(
        "{SESSION_COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={SESSION_TTL_S}{}",
        secure(&state)
    );
    let clear = format!("{LOGIN_COOKIE}=; Path=/console/login; HttpOnly; SameSite=Strict; Max-Age=0{}", secure(&state));
    for c in [set, clear] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(r)
}

#[derive(serde::Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

pub(crate) fn csrf_refused() -> Response {
    html(
        StatusCode::FORBIDDEN,
        layout(
            "Refused",
            None,
            "",
            "<p class=\"notice\" id=\"csrf-refused\">The form's token is missing or wrong; nothing was changed. Go back, reload the page and try again.</p>",
        ),
    )
}

async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    session: Session,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if !session.check_csrf(&f.csrf) {
        return Ok(csrf_refused());
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.store.end_console_session(&token_hash(token)).await?;
    }
    let mut r = see_other("/console/login");
    let clear = format!("{SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{}", secure(&state));
    if let Ok(v) = HeaderValue::from_str(&clear) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// The console's part of the housekeeping task: purges expired sessions and old failed logins, and indexes.
pub(crate) async fn housekeeping(state: &AppState, now: i64) -> Result<(), ServerError> {
    state.store.purge_console(now, now - THROTTLE_WINDOW_S).await?;
    index_pending(state).await?;
    Ok(())
}

/// Brings the console index up to date: every transaction not indexed yet, and every one indexed while open
/// that is final now, in batches (the housekeeping task, and each list, queue and summary page first).
pub(crate) async fn index_pending(state: &AppState) -> Result<usize, ServerError> {
    let mut done = 0;
    for _ in 0..4 {
        let ids = state.store.console_unindexed(idv_store::MAX_INDEX_BATCH as i64).await?;
        if ids.is_empty() {
            break;
        }
        let mut rows = Vec::with_capacity(ids.len());
        for id in &ids {
            match state.store.get_transaction_for_device(id).await {
                Ok(Some(tx)) => rows.push(index_row(state, &tx)),
                Ok(None) => {}
                Err(e) => {
                    // Unreadable (a row edited in the file): indexed as what the clear columns say.
                    tracing::warn!(transaction_id = %id, error = %e, "console index: transaction unreadable");
                    rows.push(ConsoleIndexRow {
                        transaction_id: id.clone(),
                        is_final: true,
                        passed: None,
                        sub_code: None,
                        user_tag: None,
                        face_score: None,
                        face_threshold: None,
                        soft_failure: false,
                    });
                }
            }
        }
        state.store.put_console_index(&rows).await?;
        done += rows.len();
    }
    Ok(done)
}

fn index_row(state: &AppState, tx: &idv_store::Transaction) -> ConsoleIndexRow {
    let options: Option<idv_api::TransactionOptions> = tx.options.as_ref().and_then(|o| serde_json::from_slice(o).ok());
    let verdict = crate::finish::stored_verdict(tx).ok().flatten();
    let (passed, sub_code) = match (&verdict, &tx.decision) {
        (Some(v), _) => (Some(v.passed), Some(v.sub_code)),
        (None, Some(d)) => (Some(d.passed), idv_api::SubCode::from_code(&d.sub_code)),
        (None, None) => (None, None),
    };
    let face = verdict.as_ref().and_then(|v| v.decision.as_ref()).and_then(|d| d.evidence.face.as_ref());
    let (face_score, face_threshold) = match face {
        Some(f) => match (&f.comparison, &f.selfie) {
            (idv_flow::Comparison::Compared { score, .. }, Some(s)) => {
                (Some(f64::from(*score)), Some(f64::from(s.thresholds.decision_score)))
            }
            _ => (None, None),
        },
        None => (None, None),
    };
    use idv_api::SubCode;
    let undecided = verdict.as_ref().is_some_and(|v| v.decision.is_none());
    let soft_failure = passed == Some(false)
        && match sub_code {
            Some(SubCode::DocumentExpired) => true,
            // Retakes ran out without an attack seen: the person never got through, nothing proves fraud.
            Some(SubCode::PoorQuality | SubCode::LivenessFailed) => undecided,
            _ => false,
        };
    ConsoleIndexRow {
        transaction_id: tx.id.clone(),
        is_final: tx.state.is_final(),
        passed,
        sub_code: sub_code.map(|s| s.code().to_owned()),
        user_tag: options.map(|o| user_tag(state, &tx.merchant_id, &o.merchant_user_id)),
        face_score,
        face_threshold,
        soft_failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(password_matches("correct horse battery", &h));
        assert!(!password_matches("correct horse batterz", &h));
        assert!(!password_matches("anything", "not a hash"));
        assert!(!password_matches("", dummy_hash()));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("<a href=\"x\">'&"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("idv_console_login=a; idv_console=b"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("b"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("a"));
        assert_eq!(cookie(&h, "idv"), None);
    }
}

//! The merchant console's security: no page or picture without a session, a CSRF token on every form that
//! changes something, wrong passwords throttled in the database, one merchant's users blind to another's
//! transactions, and the review record reaching CheckResult.

use idv_store::{ConsoleRole, NewTransaction};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use crate::helpers::{Merchant, Server, start};

const PASSWORD: &str = "a long enough password";

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap()
}

/// A form body, as a browser sends it.
fn enc(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A finished transaction of `m` with a selfie picture (bytes returned), as the store holds one.
async fn finished(server: &Server, m: &Merchant) -> (String, Vec<u8>) {
    let id = idv_crypto::random_hex(16);
    let t = now();
    let options = serde_json::json!({"merchant_user_id": "user-1"});
    server
        .store
        .create_transaction(NewTransaction {
            id: id.clone(),
            merchant_id: m.id.clone(),
            merchant_biz_id: "biz-1".into(),
            product: "eKYC".into(),
            options: options.to_string().into_bytes(),
            device_secret: zeroize::Zeroizing::new(vec![1; 32]),
            created_at: t,
            expires_at: t + 600,
            retain_until: t + 86_400,
        })
        .await
        .unwrap();
    let picture = std::fs::read(crate::helpers::repo_root().join("testdata/faces/obama.jpg")).unwrap();
    server.store.put_blob(&id, "face", &picture, t).await.unwrap();
    let verdict = serde_json::to_vec(&idv_flow::timeout_verdict(idv_flow::Timeout::Expired)).unwrap();
    assert!(server.store.expire(&id, &verdict, t).await.unwrap());
    (id, picture)
}

async fn user(server: &Server, m: &Merchant, name: &str, role: ConsoleRole) {
    idv_server::create_console_user(&*server.store, &m.id, name, PASSWORD, role, now()).await.unwrap();
}

fn set_cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The value of a hidden `csrf` field in a page.
fn csrf_field(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

/// Logs in; the session cookie and the page's CSRF token, or the status of the refusal.
async fn login(server: &Server, name: &str, password: &str) -> Result<(String, String), StatusCode> {
    let c = client();
    let page = c.get(server.url("/console/login")).send().await.unwrap();
    let login_cookie = set_cookie(page.headers(), "idv_console_login").expect("a login cookie");
    let token = csrf_field(&page.text().await.unwrap());
    let r = c
        .post(server.url("/console/login"))
        .header("cookie", format!("idv_console_login={login_cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(enc(&[("csrf", token.as_str()), ("username", name), ("password", password)]))
        .send()
        .await
        .unwrap();
    if r.status() != StatusCode::SEE_OTHER {
        return Err(r.status());
    }
    let session = set_cookie(r.headers(), "idv_console").expect("a session cookie");
    let list = c.get(server.url("/console/")).header("cookie", format!("idv_console={session}")).send().await.unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    Ok((session.clone(), csrf_field(&list.text().await.unwrap())))
}

async fn get(server: &Server, path: &str, session: Option<&str>) -> reqwest::Response {
    let mut r = client().get(server.url(path));
    if let Some(s) = session {
        r = r.header("cookie", format!("idv_console={s}"));
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn no_page_or_picture_without_a_session() {
    let server = start().await;
    let m = server.merchant("Shop").await;
    user(&server, &m, "ann", ConsoleRole::Viewer).await;
    let (tid, picture) = finished(&server, &m).await;
    let paths = [
        "/console/".to_owned(),
        "/console/review".to_owned(),
        "/console/summary".to_owned(),
        format!("/console/tx/{tid}"),
        format!("/console/tx/{tid}/image/face"),
    ];
    for p in &paths {
        for cookie in [None, Some("forged-token"), Some("")] {
            let r = get(&server, p, cookie).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{p} with {cookie:?}");
            assert_eq!(r.headers()[LOCATION], "/console/login");
            assert!(!r.bytes().await.unwrap().windows(4).any(|w| w == &picture[..4]), "no picture bytes");
        }
    }
    let (session, _) = login(&server, "ann", PASSWORD).await.unwrap();
    let r = get(&server, &format!("/console/tx/{tid}/image/face"), Some(&session)).await;
    assert_eq!(r.status(), StatusCode::OK, "with a session the picture is served");
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.bytes().await.unwrap(), picture);
    let page = get(&server, &format!("/console/tx/{tid}"), Some(&session)).await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe") && !csp.contains("script-src"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(page.text().await.unwrap().contains("biz-1"));
    // Every picture served is in the audit log, by the user, with the transaction and merchant.
    let entries = server.store.audit_entries(0, 1000).await.unwrap();
    let viewed: Vec<_> = entries.iter().filter(|e| e.action == "image.viewed").collect();
    assert_eq!(viewed.len(), 1, "one view, one entry");
    assert!(viewed[0].actor.starts_with("console:usr_"));
    assert_eq!(
        (viewed[0].transaction_id.as_deref(), viewed[0].merchant_id.as_deref()),
        (Some(&tid[..]), Some(&m.id[..]))
    );
    assert!(viewed[0].detail.contains("\"face\""));
}

#[tokio::test]
async fn forms_need_the_sessions_csrf_token() {
    let server = start().await;
    let m = server.merchant("Shop").await;
    user(&server, &m, "rita", ConsoleRole::Reviewer).await;
    user(&server, &m, "rolf", ConsoleRole::Reviewer).await;
    let (tid, _) = finished(&server, &m).await;
    let (session, csrf) = login(&server, "rita", PASSWORD).await.unwrap();
    let (_, other_csrf) = login(&server, "rolf", PASSWORD).await.unwrap();
    assert_ne!(csrf, other_csrf, "each session has its own token");
    let review = |token: &'static str| {
        let (server, session, tid) = (&server, session.clone(), tid.clone());
        async move {
            let mut form = vec![("decision", "approved"), ("reason", "checked by hand")];
            if !token.is_empty() {
                form.push(("csrf", token));
            }
            client()
                .post(server.url(&format!("/console/tx/{tid}/review")))
                .header("cookie", format!("idv_console={session}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(enc(&form))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(review("").await, StatusCode::FORBIDDEN, "no token");
    assert_eq!(review("bm90IGEgdG9rZW4").await, StatusCode::FORBIDDEN, "a made-up token");
    assert_eq!(review(other_csrf.clone().leak()).await, StatusCode::FORBIDDEN, "another session's token");
    assert!(server.store.review(&m.id, &tid).await.unwrap().is_none(), "nothing was recorded");
    let del = client()
        .post(server.url(&format!("/console/tx/{tid}/delete")))
        .header("cookie", format!("idv_console={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(enc(&[("what", "All")]))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::FORBIDDEN);
    assert!(server.store.get_transaction(&m.id, &tid).await.unwrap().unwrap().deleted.is_none(), "nothing deleted");
    let logout = client()
        .post(server.url("/console/logout"))
        .header("cookie", format!("idv_console={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(enc(&[("other", "field")]))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::FORBIDDEN, "logout without the token is refused");
    assert_eq!(get(&server, "/console/", Some(&session)).await.status(), StatusCode::OK, "still logged in");

    assert_eq!(review(csrf.clone().leak()).await, StatusCode::SEE_OTHER, "with the session's token");
    let r = server.store.review(&m.id, &tid).await.unwrap().expect("recorded");
    assert_eq!((r.decision.as_str(), r.reason.as_deref()), ("approved", Some("checked by hand")));
    let entries = server.store.audit_entries(0, 1000).await.unwrap();
    assert!(entries.iter().any(|e| e.action == "transaction.reviewed" && e.transaction_id.as_deref() == Some(&tid)));

    // The login form's own token: without its cookie, or with another value, nothing is checked.
    let c = client();
    let page = c.get(server.url("/console/login")).send().await.unwrap();
    let cookie = set_cookie(page.headers(), "idv_console_login").unwrap();
    for (cookie, token) in [(None, cookie.clone()), (Some(cookie.clone()), "x".repeat(32))] {
        let mut req = c.post(server.url("/console/login"));
        if let Some(k) = cookie {
            req = req.header("cookie", format!("idv_console_login={k}"));
        }
        let r = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(enc(&[("csrf", token.as_str()), ("username", "rita"), ("password", PASSWORD)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(set_cookie(r.headers(), "idv_console").is_none(), "no session");
    }
    let out = client()
        .post(server.url("/console/logout"))
        .header("cookie", format!("idv_console={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(enc(&[("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(get(&server, "/console/", Some(&session)).await.status(), StatusCode::SEE_OTHER, "logged out");
}

#[tokio::test]
async fn wrong_passwords_are_throttled_in_the_database() {
    let server = start().await;
    let m = server.merchant("Shop").await;
    user(&server, &m, "tom", ConsoleRole::Viewer).await;
    user(&server, &m, "tina", ConsoleRole::Viewer).await;
    for _ in 0..5 {
        assert_eq!(login(&server, "tom", "wrong password!").await.unwrap_err(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login(&server, "nobody", "wrong password!").await.unwrap_err(),
        StatusCode::UNAUTHORIZED,
        "unknown user"
    );
    assert_eq!(
        login(&server, "tom", PASSWORD).await.unwrap_err(),
        StatusCode::TOO_MANY_REQUESTS,
        "after 5 failures even the right password is refused"
    );
    assert_eq!(
        login(&server, "TOM", PASSWORD).await.unwrap_err(),
        StatusCode::TOO_MANY_REQUESTS,
        "the user name's case does not escape the count"
    );
    assert!(login(&server, "tina", PASSWORD).await.is_ok(), "another user logs in (the address is under its limit)");
    // The count is the database's: a second server on the same directory refuses too.
    let counts = server.store.console_login_failures(&["user:tom"], now() - 900).await.unwrap();
    assert_eq!(counts, [5]);
    // A failed login is audited without the name or password.
    let entries = server.store.audit_entries(0, 1000).await.unwrap();
    let failed: Vec<_> = entries.iter().filter(|e| e.action == "console.login_failed").collect();
    assert_eq!(failed.len(), 6);
    assert!(failed.iter().all(|e| !e.detail.contains("tom") && !e.detail.contains("wrong")));
}

#[tokio::test]
async fn a_user_sees_only_their_merchants_transactions() {
    let server = start().await;
    let a = server.merchant("A").await;
    let b = server.merchant("B").await;
    user(&server, &a, "alice", ConsoleRole::Reviewer).await;
    let (mine, _) = finished(&server, &a).await;
    let (theirs, _) = finished(&server, &b).await;
    let (session, csrf) = login(&server, "alice", PASSWORD).await.unwrap();
    let list = get(&server, "/console/", Some(&session)).await.text().await.unwrap();
    assert!(list.contains(&mine) && !list.contains(&theirs));
    for path in [format!("/console/tx/{theirs}"), format!("/console/tx/{theirs}/image/face")] {
        assert_eq!(get(&server, &path, Some(&session)).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let unknown = idv_crypto::random_hex(16);
    let a_page = get(&server, &format!("/console/tx/{theirs}"), Some(&session)).await.text().await.unwrap();
    let u_page = get(&server, &format!("/console/tx/{unknown}"), Some(&session)).await.text().await.unwrap();
    assert_eq!(a_page, u_page, "another merchant's transaction answers as one that does not exist");
    for action in ["review", "delete"] {
        let r = client()
            .post(server.url(&format!("/console/tx/{theirs}/{action}")))
            .header("cookie", format!("idv_console={session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(enc(&[("csrf", csrf.as_str()), ("decision", "rejected"), ("reason", "x"), ("what", "All")]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{action}");
    }
    assert!(server.store.review(&b.id, &theirs).await.unwrap().is_none());
    assert!(server.store.get_transaction(&b.id, &theirs).await.unwrap().unwrap().deleted.is_none());
}

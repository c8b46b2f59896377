//! The console's pages: the transaction list, the review queue, one transaction, the summary.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use idv_api::TransactionOptions;
use idv_flow::{Comparison, DocEvidence, FaceEvidence, LivenessCheck, LivenessOutcome, Page, Verdict};
use idv_store::{ConsoleFilter, ConsoleRow, StoreError, Transaction, TxState, VerdictFilter};

use super::evidence::{self, Filmstrip, Outline};
use super::{PAGE_SIZE, PageResult, Session, esc, html, layout};
use crate::AppState;
use crate::error::ServerError;

pub(crate) fn well_formed_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The session's merchant's transaction; another merchant's (or a row that does not authenticate for this
/// merchant) is `None`, as one that does not exist.
pub(crate) async fn own(state: &AppState, session: &Session, id: &str) -> Result<Option<Transaction>, ServerError> {
    match state.store.get_transaction(&session.user.merchant_id, id).await {
        Ok(t) => Ok(t),
        Err(StoreError::Crypto(e)) => {
            tracing::error!(transaction_id = %id, error = %e, "console: transaction row does not authenticate for its merchant");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn when(at: i64) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(at).ok().and_then(|t| t.format(&f).ok()).unwrap_or_else(|| at.to_string())
}

fn day_of(s: &str) -> Option<i64> {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &f).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp())
}

fn yn(p: Option<bool>) -> &'static str {
    match p {
        Some(true) => "Y",
        Some(false) => "N",
        None => "",
    }
}

fn options_of(tx: &Transaction) -> Option<TransactionOptions> {
    tx.options.as_ref().and_then(|o| serde_json::from_slice(o).ok())
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    product: Option<String>,
    verdict: Option<String>,
    subcode: Option<String>,
    biz: Option<String>,
    user: Option<String>,
    page: Option<i64>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ListQuery {
    /// The store's filter, or what is wrong with the query.
    fn filter(&self, state: &AppState, merchant_id: &str) -> Result<ConsoleFilter, String> {
        let mut f = ConsoleFilter::default();
        if let Some(d) = given(&self.from) {
            f.created_from = Some(day_of(d).ok_or("From is a date, YYYY-MM-DD")?);
        }
        if let Some(d) = given(&self.to) {
            f.created_to = Some(day_of(d).ok_or("To is a date, YYYY-MM-DD")? + 86_400);
        }
        if let Some(p) = given(&self.product) {
            let p = idv_flow::Product::from_code(p).ok_or("unknown product")?;
            f.product = Some(p.code().to_owned());
        }
        f.verdict = match given(&self.verdict) {
            None => None,
            Some("passed") => Some(VerdictFilter::Passed),
            Some("failed") => Some(VerdictFilter::Failed),
            Some("open") => Some(VerdictFilter::Open),
            Some(_) => return Err("Verdict is passed, failed or open".into()),
        };
        if let Some(s) = given(&self.subcode) {
            f.sub_code = Some(idv_api::SubCode::from_code(s).ok_or("unknown SubCode")?.code().to_owned());
        }
        if let Some(b) = given(&self.biz) {
            if b.len() > 128 {
                return Err("MerchantBizId is at most 128 characters".into());
            }
            f.merchant_biz_id = Some(b.to_owned());
        }
        if let Some(u) = given(&self.user) {
            if u.len() > 128 {
                return Err("MerchantUserId is at most 128 characters".into());
            }
            f.user_tag = Some(super::user_tag(state, merchant_id, u));
        }
        Ok(f)
    }

    /// The query string for another page of the same list.
    fn link(&self, page: i64) -> String {
        let mut q = url_encode(&[
            ("from", given(&self.from)),
            ("to", given(&self.to)),
            ("product", given(&self.product)),
            ("verdict", given(&self.verdict)),
            ("subcode", given(&self.subcode)),
            ("biz", given(&self.biz)),
            ("user", given(&self.user)),
        ]);
        if !q.is_empty() {
            q.push('&');
        }
        format!("?{q}page={page}")
    }
}

fn url_encode(pairs: &[(&str, Option<&str>)]) -> String {
    let mut out = Vec::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            out.push(format!("{k}={enc}"));
        }
    }
    out.join("&")
}

fn verdict_cell(r: &ConsoleRow) -> String {
    match (r.state.is_final(), r.passed) {
        (false, _) => "<span class=\"open\">open</span>".into(),
        (true, Some(true)) => "<span class=\"pass\">passed</span>".into(),
        (true, Some(false)) => "<span class=\"fail\">failed</span>".into(),
        (true, None) => "<span>unknown</span>".into(),
    }
}

/// A table of transactions, each with its MerchantUserId opened from its sealed options.
async fn rows_table(state: &AppState, session: &Session, rows: &[ConsoleRow]) -> Result<String, ServerError> {
    let mut t = String::from(
        "<table class=\"list\" id=\"transactions\"><thead><tr><th>Created (UTC)</th><th>TransactionId</th>\
         <th>MerchantBizId</th><th>MerchantUserId</th><th>Product</th><th>State</th><th>Verdict</th>\
         <th>SubCode</th><th>Face score</th><th>Review</th></tr></thead><tbody>",
    );
    for r in rows {
        let user = match own(state, session, &r.transaction_id).await? {
            Some(tx) => options_of(&tx).map(|o| o.merchant_user_id).unwrap_or_default(),
            None => String::new(),
        };
        let score = match (r.face_score, r.face_threshold) {
            (Some(s), Some(t)) => format!("{s:.2} / {t:.0}"),
            _ => String::new(),
        };
        let _ = write!(
            t,
            "<tr data-tid=\"{id}\"><td>{}</td><td><a href=\"/console/tx/{id}\" class=\"tid\">{id}</a></td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{score}</td><td>{}</td></tr>",
            when(r.created_at),
            esc(&r.merchant_biz_id),
            esc(&user),
            esc(&r.product),
            r.state.as_str(),
            verdict_cell(r),
            esc(r.sub_code.as_deref().unwrap_or("")),
            r.review.map_or("", |d| d.as_str()),
            id = esc(&r.transaction_id),
        );
    }
    t.push_str("</tbody></table>");
    Ok(t)
}

fn pager(total: i64, page: i64, link: impl Fn(i64) -> String) -> String {
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let mut p = format!("<p class=\"pager\" id=\"pager\">{total} transactions · page {page} of {pages} ");
    if page > 1 {
        let _ = write!(p, "<a href=\"{}\" id=\"prev\">previous</a> ", esc(&link(page - 1)));
    }
    if page < pages {
        let _ = write!(p, "<a href=\"{}\" id=\"next\">next</a>", esc(&link(page + 1)));
    }
    p.push_str("</p>");
    p
}

fn select(name: &str, current: Option<&str>, options: &[(&str, &str)]) -> String {
    let mut s = format!("<select name=\"{name}\" id=\"f-{name}\"><option value=\"\">any</option>");
    for (v, label) in options {
        let sel = if current == Some(*v) { " selected" } else { "" };
        let _ = write!(s, "<option value=\"{v}\"{sel}>{}</option>", esc(label));
    }
    s.push_str("</select>");
    s
}

/// `GET /console/`: the merchant's transactions, newest first, filtered and paged.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(q): Query<ListQuery>,
) -> PageResult {
    super::index_pending(&state).await?;
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let products: Vec<(&str, &str)> = idv_flow::Product::ALL.iter().map(|p| (p.code(), p.code())).collect();
    let codes: Vec<(&str, &str)> = idv_api::SubCode::ALL.iter().map(|s| (s.code(), s.code())).collect();
    let input = |name: &str, v: &Option<String>, kind: &str, label: &str| {
        format!(
            "<label>{label} <input type=\"{kind}\" name=\"{name}\" id=\"f-{name}\" value=\"{}\" maxlength=\"128\"></label>",
            esc(given(v).unwrap_or(""))
        )
    };
    let form = format!(
        "<form method=\"get\" action=\"/console/\" class=\"filters\" id=\"filters\">{}{}<label>Product {}</label>\
         <label>Verdict {}</label><label>SubCode {}</label>{}{}<button id=\"apply\">Filter</button></form>",
        input("from", &q.from, "date", "From"),
        input("to", &q.to, "date", "To"),
        select("product", given(&q.product), &products),
        select("verdict", given(&q.verdict), &[("passed", "passed"), ("failed", "failed"), ("open", "open")]),
        select("subcode", given(&q.subcode), &codes),
        input("biz", &q.biz, "text", "MerchantBizId"),
        input("user", &q.user, "text", "MerchantUserId"),
    );
    let body = match q.filter(&state, &session.user.merchant_id) {
        Err(why) => format!("<h1>Transactions</h1>{form}<p class=\"notice\" id=\"filter-error\">{}</p>", esc(&why)),
        Ok(filter) => {
            let (rows, total) = state
                .store
                .console_transactions(&session.user.merchant_id, &filter, (page - 1) * PAGE_SIZE, PAGE_SIZE)
                .await?;
            format!(
                "<h1>Transactions</h1>{form}{}{}",
                rows_table(&state, &session, &rows).await?,
                pager(total, page, |p| q.link(p))
            )
        }
    };
    Ok(html(StatusCode::OK, layout("Transactions", Some(&session), "list", &body)))
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct PageQuery {
    page: Option<i64>,
    days: Option<i64>,
}

/// `GET /console/review`: what the merchant's review rule selects, oldest first.
pub(crate) async fn queue(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(q): Query<PageQuery>,
) -> PageResult {
    super::index_pending(&state).await?;
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let rule = state.store.review_rule(&session.user.merchant_id).await?;
    let (rows, total) =
        state.store.console_review_queue(&session.user.merchant_id, &rule, (page - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    let mut parts = Vec::new();
    if rule.face_band > 0.0 {
        parts.push(format!("face scores within {} points of the threshold", rule.face_band));
    }
    if rule.soft_failures {
        parts.push(
            "soft failures (expired document, captures unusable or liveness never passed without an attack)".into(),
        );
    }
    if rule.all_failures {
        parts.push("every failure".into());
    }
    let rule_text =
        if parts.is_empty() { "nothing (the rule selects no transaction)".into() } else { parts.join("; ") };
    let body = format!(
        "<h1>Review queue</h1><p id=\"rule\">This queue holds final, unreviewed transactions with {}. \
         (<code>idv admin merchant set-review</code> changes the rule.)</p>{}{}",
        esc(&rule_text),
        rows_table(&state, &session, &rows).await?,
        pager(total, page, |p| format!("?page={p}"))
    );
    Ok(html(StatusCode::OK, layout("Review queue", Some(&session), "review", &body)))
}

fn not_found(session: &Session) -> PageResult {
    let body = "<h1>Not found</h1><p class=\"notice\" id=\"not-found\">There is no such transaction.</p>";
    Ok(html(StatusCode::NOT_FOUND, layout("Not found", Some(session), "", body)))
}

/// `GET /console/tx/{id}`: everything about one transaction.
pub(crate) async fn transaction(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<String>,
) -> PageResult {
    if !well_formed_id(&id) {
        return not_found(&session);
    }
    let Some(tx) = own(&state, &session, &id).await? else { return not_found(&session) };
    let verdict = crate::finish::stored_verdict(&tx)?;
    let options = options_of(&tx);
    let review = state.store.review(&tx.merchant_id, &tx.id).await?;
    let mut b = String::new();
    let _ = write!(b, "<h1>Transaction <code id=\"tid\">{}</code></h1>", esc(&tx.id));
    b.push_str(&summary_block(&tx, verdict.as_ref(), options.as_ref()));
    b.push_str(&super::review::review_block(&review, verdict.as_ref(), &tx));
    if let Some(d) = verdict.as_ref().and_then(|v| v.decision.as_ref()) {
        for doc in d.evidence.documents() {
            let kind = if doc.page == Page::Back { evidence::OUTLINE_BACK } else { evidence::OUTLINE_FRONT };
            let outline: Option<Outline> = evidence::record(&state, &tx.id, kind).await?;
            b.push_str(&document_block(&tx.id, doc, outline.as_ref()));
        }
        if let Some(face) = &d.evidence.face {
            let has_portrait = d.evidence.doc_front.as_ref().is_some_and(|f| f.portrait.is_some());
            b.push_str(&face_block(&tx.id, face, has_portrait));
            let strip: Option<Filmstrip> = evidence::record(&state, &tx.id, evidence::FRAMES).await?;
            b.push_str(&liveness_block(&tx.id, face, strip.as_ref()));
        }
    } else if tx.deleted.is_some() {
        b.push_str("<p class=\"notice\" id=\"deleted\">The evidence of this transaction was deleted; its decision is kept.</p>");
    }
    let session_row = state.store.get_device_session(&tx.id).await?;
    let rounds = state.store.list_rounds(&tx.id).await?;
    b.push_str(&device_block(&tx, options.as_ref(), session_row.as_ref(), &rounds, verdict.as_ref()));
    b.push_str(&rounds_block(&tx, session_row.as_ref(), &rounds));
    let callback = state.store.console_callback(&tx.merchant_id, &tx.id).await?;
    b.push_str(&callbacks_block(callback.as_ref()));
    if session.is_reviewer() {
        b.push_str(&super::review::forms(&session, &tx, &review, verdict.is_some()));
    }
    Ok(html(StatusCode::OK, layout(&format!("Transaction {}", &tx.id[..8]), Some(&session), "", &b)))
}

fn summary_block(tx: &Transaction, verdict: Option<&Verdict>, options: Option<&TransactionOptions>) -> String {
    let (passed, sub) = match (verdict, &tx.decision) {
        (Some(v), _) => (Some(v.passed), v.sub_code.code().to_owned()),
        (None, Some(d)) => (Some(d.passed), d.sub_code.clone()),
        _ => (None, String::new()),
    };
    let class = match passed {
        Some(true) => "pass",
        Some(false) => "fail",
        None => "open",
    };
    let mut s = format!(
        "<section id=\"verdict\" class=\"verdict {class}\"><h2>Automatic verdict</h2><dl>\
         <dt>Passed</dt><dd id=\"passed\">{}</dd><dt>SubCode</dt><dd id=\"subcode\">{}</dd>\
         <dt>State</dt><dd id=\"state\">{}</dd><dt>MerchantBizId</dt><dd id=\"biz\">{}</dd>\
         <dt>MerchantUserId</dt><dd id=\"user\">{}</dd><dt>Product</dt><dd>{}</dd><dt>DocType</dt><dd>{}</dd>\
         <dt>Created</dt><dd>{}</dd><dt>Finished</dt><dd>{}</dd></dl>",
        yn(passed),
        esc(&sub),
        tx.state.as_str(),
        esc(&tx.merchant_biz_id),
        esc(options.map_or("", |o| o.merchant_user_id.as_str())),
        esc(&tx.product),
        esc(&options.and_then(|o| o.doc_type).map(|d| d.code().to_owned()).unwrap_or_default()),
        when(tx.created_at),
        tx.finished_at.map(when).unwrap_or_default(),
    );
    if let Some(v) = verdict {
        s.push_str("<h3>Reasons</h3><ul id=\"reasons\">");
        for r in &v.reasons {
            let _ = write!(s, "<li>{}</li>", esc(r));
        }
        s.push_str("</ul>");
    }
    s.push_str("</section>");
    s
}

fn pt(p: [f32; 2]) -> String {
    format!("{:.1},{:.1}", p[0], p[1])
}

fn document_block(tid: &str, doc: &DocEvidence, outline: Option<&Outline>) -> String {
    let (name, title) =
        if doc.page == Page::Back { ("doc_back", "Document back") } else { ("doc_front", "Document front") };
    let r = &doc.reading;
    let overlay = match outline {
        Some(o) => {
            let mut svg = format!(
                "<svg class=\"overlay\" id=\"{name}-overlay\" viewBox=\"0 0 {} {}\" preserveAspectRatio=\"none\" \
                 aria-label=\"detected outline\"><polygon class=\"card\" id=\"{name}-card\" points=\"{}\" fill=\"none\" \
                 stroke=\"#00c853\" stroke-width=\"{:.1}\"/>",
                o.width,
                o.height,
                o.page.iter().map(|p| pt(*p)).collect::<Vec<_>>().join(" "),
                (o.width.max(o.height) / 200.0).max(1.0),
            );
            if let Some(m) = &o.mrz {
                let _ = write!(
                    svg,
                    "<polygon class=\"mrz\" id=\"{name}-mrz\" points=\"{}\" fill=\"none\" stroke=\"#ff6d00\" \
                     stroke-width=\"{:.1}\" stroke-dasharray=\"{:.1}\"/>",
                    m.iter().map(|p| pt(*p)).collect::<Vec<_>>().join(" "),
                    (o.width.max(o.height) / 250.0).max(1.0),
                    (o.width.max(o.height) / 80.0).max(2.0),
                );
            }
            svg.push_str("</svg>");
            svg
        }
        None => String::new(),
    };
    let mut s = format!(
        "<section class=\"doc\" id=\"{name}\"><h2>{title}</h2><div class=\"figure\">\
         <img src=\"/console/tx/{tid}/image/{name}\" alt=\"{title}\" id=\"{name}-img\">{overlay}</div>\
         <p class=\"legend\">Found by <b>{}</b>; <span class=\"k-card\">page outline</span>, \
         <span class=\"k-mrz\">MRZ</span>. DocType {}; the page {}.</p>",
        esc(&r.located_by),
        esc(&r.doc_type),
        if r.passed() { "passed every check" } else { "failed a check" },
    );
    match &r.mrz {
        Some(m) => {
            let _ = write!(
                s,
                "<h3>MRZ ({}, {})</h3><pre class=\"mrz\" id=\"{name}-mrz-lines\">{}</pre>",
                esc(&m.format),
                if m.valid { "check digits valid" } else { "check digits fail" },
                esc(&m.lines.join("\n"))
            );
            if !m.repairs.is_empty() {
                let list: Vec<String> =
                    m.repairs.iter().map(|(l, c, a, b)| format!("line {} col {}: {a} → {b}", l + 1, c + 1)).collect();
                let _ = write!(s, "<p>Repaired by check digits: {}</p>", esc(&list.join("; ")));
            }
        }
        None => s.push_str("<p>No MRZ was read.</p>"),
    }
    let _ = write!(
        s,
        "<h3>Fields</h3><table class=\"fields\" id=\"{name}-fields\"><tr><th>Field</th><th>Value</th><th>Read from</th></tr>"
    );
    for (f, v) in &r.fields {
        let from = if r.printed.contains(f) {
            if r.mrz.as_ref().is_some_and(|m| m.valid) { "printed zone and MRZ" } else { "printed zone" }
        } else {
            "MRZ"
        };
        let _ = write!(s, "<tr><td>{}</td><td>{}</td><td>{from}</td></tr>", f.as_str(), esc(v));
    }
    for (f, why) in &r.unread {
        let _ = write!(s, "<tr class=\"unread\"><td>{}</td><td>not used</td><td>{}</td></tr>", f.as_str(), esc(why));
    }
    let _ = write!(
        s,
        "</table><h3>Checks</h3><table class=\"checks\" id=\"{name}-checks\"><tr><th>Check</th><th>Kind</th><th>Result</th><th>Reason</th></tr>"
    );
    for c in &r.checks {
        let _ = write!(
            s,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if c.passed { "pass" } else { "fail" },
            esc(&c.name),
            match c.class {
                idv_flow::CheckClass::Consistency => "consistency",
                idv_flow::CheckClass::Validity => "validity",
            },
            if c.passed { "passed" } else { "failed" },
            esc(&c.reason)
        );
    }
    s.push_str("</table></section>");
    s
}

fn face_block(tid: &str, f: &FaceEvidence, has_portrait: bool) -> String {
    let mut s = String::from("<section id=\"face\"><h2>Face</h2><div class=\"pair\">");
    if has_portrait {
        let _ = write!(
            s,
            "<figure><img src=\"/console/tx/{tid}/image/doc_portrait\" alt=\"document portrait\" id=\"portrait-img\">\
             <figcaption>Document portrait</figcaption></figure>"
        );
    }
    let _ = write!(
        s,
        "<figure><img src=\"/console/tx/{tid}/image/face\" alt=\"selfie\" id=\"selfie-img\"><figcaption>Selfie</figcaption></figure></div>"
    );
    let threshold = f.selfie.as_ref().map(|a| a.thresholds.decision_score);
    match &f.comparison {
        Comparison::Compared { score, cosine, matched } => {
            let _ = write!(
                s,
                "<p id=\"face-score\" class=\"{}\">Comparison score <b id=\"score\">{score:.2}</b> against the threshold \
                 <b id=\"threshold\">{}</b> (cosine {cosine:.3}): {}.</p>",
                if *matched { "pass" } else { "fail" },
                threshold.map_or("?".into(), |t| format!("{t:.0}")),
                if *matched { "the same person" } else { "not the same person" },
            );
        }
        Comparison::ReferenceUnusable { why } => {
            let _ = write!(
                s,
                "<p id=\"face-score\" class=\"fail\">No comparison: the reference is unusable ({}).</p>",
                esc(why)
            );
        }
        Comparison::NotCompared => s.push_str("<p id=\"face-score\">Nothing to compare the face with.</p>"),
    }
    if let Some(a) = &f.selfie {
        let q = a.quality;
        let _ = write!(
            s,
            "<p>Quality {:.0}, sharpness {:.0}, illumination {:.0} (0–100).</p>",
            q.face_quality_score, q.sharpness_score, q.illumination_score
        );
    }
    for d in &f.duplicates {
        let _ = write!(
            s,
            "<p class=\"fail\">Also registered as {} in face group {} (score {:.2}).</p>",
            esc(&d.merchant_user_id),
            esc(&d.group_code),
            d.score
        );
    }
    s.push_str("</section>");
    s
}

fn liveness_block(tid: &str, f: &FaceEvidence, strip: Option<&Filmstrip>) -> String {
    let live = f.liveness.outcome == LivenessOutcome::Passed;
    let mut s = format!(
        "<section id=\"liveness\"><h2>Liveness</h2><p id=\"liveness-outcome\" class=\"{}\">{}</p><ul id=\"liveness-reasons\">",
        if live { "pass" } else { "fail" },
        if live { "Live person: the challenge was performed." } else { "Attack or failed liveness." }
    );
    for r in &f.liveness.reasons {
        let _ = write!(s, "<li>{}</li>", esc(r));
    }
    s.push_str("</ul>");
    if let Some(strip) = strip {
        let _ = write!(
            s,
            "<h3>Frames ({} of {} kept)</h3><div class=\"filmstrip\" id=\"filmstrip\">",
            strip.frames.len(),
            strip.total
        );
        for (n, (_, index, t)) in strip.frames.iter().enumerate() {
            let _ = write!(
                s,
                "<figure><img src=\"/console/tx/{tid}/image/frame-{n}\" alt=\"frame {index}\" class=\"frame\">\
                 <figcaption>#{index} · {t} ms</figcaption></figure>"
            );
        }
        s.push_str("</div>");
    }
    if let LivenessCheck::Challenge { challenge, scores } = &f.liveness.check {
        s.push_str(&super::charts::timeline(challenge, scores, strip));
        s.push_str(
            "<table id=\"actions\"><tr><th>Action</th><th>Asked at</th><th>Window</th><th>Seen at</th><th>Frame</th>\
             <th>Reaction</th></tr>",
        );
        let actions = scores["actions"].as_array().cloned().unwrap_or_default();
        for (i, name) in challenge.actions.iter().enumerate() {
            let a = actions.get(i).cloned().unwrap_or_default();
            let ms = |v: &serde_json::Value| v.as_u64().map_or("—".to_owned(), |x| format!("{x} ms"));
            let window = match (a["window_ms"][0].as_u64(), a["window_ms"][1].as_u64()) {
                (Some(x), Some(y)) => format!("{x}–{y} ms"),
                _ => "—".into(),
            };
            let cue = a["cue_ms"].as_u64().or(challenge.cues_ms.get(i).map(|c| u64::from(*c)));
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{window}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                cue.map_or("—".into(), |c| format!("{c} ms")),
                ms(&a["t_ms"]),
                a["frame"].as_u64().map_or("—".into(), |x| format!("#{x}")),
                ms(&a["elapsed_ms"]),
            );
        }
        s.push_str("</table>");
        if !challenge.colours.is_empty() {
            let _ = write!(
                s,
                "<p>Colour flash: {} ({} ms each).</p>",
                esc(&challenge.colours.join(", ")),
                challenge.colour_ms
            );
        }
    }
    s.push_str("</section>");
    s
}

fn device_block(
    tx: &Transaction,
    options: Option<&TransactionOptions>,
    session: Option<&idv_store::DeviceSession>,
    rounds: &[idv_store::RoundSummary],
    verdict: Option<&Verdict>,
) -> String {
    let mut s = String::from("<section id=\"device\"><h2>Device</h2><dl>");
    if let Some(o) = options {
        let _ = write!(s, "<dt>Device type</dt><dd id=\"device-type\">{}</dd>", esc(&o.device_type));
        if let Some(sc) = &o.scene_code {
            let _ = write!(s, "<dt>SceneCode</dt><dd>{}</dd>", esc(sc));
        }
        let _ = write!(s, "<dt>Security level</dt><dd>{}</dd>", esc(&o.security_level));
        if let Some(l) = &o.language {
            let _ = write!(s, "<dt>Language</dt><dd>{}</dd>", esc(l));
        }
    }
    match session {
        Some(d) => {
            let _ = write!(s, "<dt>Device session</dt><dd>started; last activity {}</dd>", when(d.updated_at));
        }
        None if rounds.is_empty() && tx.state != TxState::Initialized => {
            s.push_str("<dt>Device session</dt><dd>none (never started, or deleted with the text)</dd>");
        }
        None => s.push_str("<dt>Device session</dt><dd>not started</dd>"),
    }
    if let Some(LivenessCheck::Challenge { challenge, scores }) =
        verdict.and_then(|v| v.decision.as_ref()).and_then(|d| d.evidence.face.as_ref()).map(|f| &f.liveness.check)
    {
        let _ = write!(
            s,
            "<dt>Liveness capture</dt><dd>{} frames ({} with a face), one every {} ms</dd>",
            scores["frames"].as_u64().unwrap_or(0),
            scores["faces"].as_u64().unwrap_or(0),
            challenge.frame_interval_ms
        );
    }
    s.push_str("</dl></section>");
    s
}

fn rounds_block(
    tx: &Transaction,
    session: Option<&idv_store::DeviceSession>,
    rounds: &[idv_store::RoundSummary],
) -> String {
    let mut s = String::from(
        "<section id=\"rounds\"><h2>Rounds and retakes</h2><table id=\"rounds-table\"><tr><th>Round</th><th>Step</th>\
         <th>Outcome</th><th>At</th><th>Took</th></tr>",
    );
    let mut since = session.map(|_| tx.created_at).unwrap_or(tx.created_at);
    for r in rounds {
        let (class, what) = match r.outcome.split_once(':') {
            Some(("retake", why)) => ("retake", format!("retake: {why}")),
            _ => ("", r.outcome.clone()),
        };
        let _ = write!(
            s,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} s</td></tr>",
            r.round,
            esc(&r.step),
            esc(&what),
            when(r.at),
            (r.at - since).max(0)
        );
        since = r.at;
    }
    if rounds.is_empty() {
        s.push_str("<tr><td colspan=\"5\">No round was recorded.</td></tr>");
    }
    s.push_str("</table></section>");
    s
}

fn callbacks_block(c: Option<&idv_store::CallbackRecord>) -> String {
    let mut s = String::from("<section id=\"callbacks\"><h2>Callback deliveries</h2>");
    match c {
        None => s.push_str("<p>No CallbackUrl was given.</p>"),
        Some(c) => {
            let _ = write!(
                s,
                "<p id=\"callback-state\">{} · {} attempts</p><table id=\"callback-attempts\"><tr><th>Attempt</th><th>At</th><th>Answer</th></tr>",
                esc(&c.state),
                c.attempts
            );
            for a in &c.log {
                let answer = a.status.map_or_else(|| a.error.clone().unwrap_or_default(), |st| format!("HTTP {st}"));
                let _ = write!(s, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", a.attempt, when(a.at), esc(&answer));
            }
            s.push_str("</table>");
        }
    }
    s.push_str("</section>");
    s
}

/// `GET /console/summary?days=N`: the charts over the merchant's transactions of the last N days (default 30).
pub(crate) async fn summary(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(q): Query<PageQuery>,
) -> PageResult {
    super::index_pending(&state).await?;
    let days = q.days.unwrap_or(30).clamp(1, 365);
    let now = state.now();
    let today = now.div_euclid(86_400);
    let from = (today - days + 1) * 86_400;
    let s = state.store.console_summary(&session.user.merchant_id, from, now + 1).await?;
    let figures = super::charts::Figures::of(&s, today - days + 1, today);
    let choose: Vec<String> = [7, 30, 90]
        .iter()
        .map(|d| {
            if *d == days {
                format!("<b>{d} days</b>")
            } else {
                format!("<a href=\"/console/summary?days={d}\">{d} days</a>")
            }
        })
        .collect();
    let body = format!(
        "<h1>Summary</h1><p>Transactions created in the last {days} days (UTC): {} · {}</p>\
         <section id=\"chart-pass-rate\"><h2>Pass rate per day</h2>{}</section>\
         <section id=\"chart-failures\"><h2>Failure reasons</h2>{}</section>\
         <section id=\"chart-dropoff\"><h2>Where users stop</h2>{}</section>\
         <section id=\"chart-step-time\"><h2>Median time per step</h2>{}</section>",
        figures.total,
        choose.join(" · "),
        figures.pass_rate_svg(),
        figures.failures_svg(),
        figures.dropoff_svg(),
        figures.step_time_svg(),
    );
    Ok(html(StatusCode::OK, layout("Summary", Some(&session), "summary", &body)))
}

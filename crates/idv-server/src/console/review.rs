//! Review decisions and deletions from the console, and how a review reaches the merchant: CheckResult's
//! `ExtInfo.review` next to the automatic verdict (which stays as decided), and the CallbackUrl called again.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use idv_flow::Verdict;
use idv_store::{Evidence, NewReview, Review, ReviewDecision, Transaction};

use super::pages::{own, well_formed_id, when};
use super::{PageResult, Session, csrf_refused, esc, html, layout, see_other_to};
use crate::AppState;
use crate::error::ServerError;

/// The review record on the transaction page.
pub(crate) fn review_block(review: &Option<Review>, verdict: Option<&Verdict>, tx: &Transaction) -> String {
    let Some(r) = review else { return String::new() };
    let automatic = match (verdict, &tx.decision) {
        (Some(v), _) => format!("Passed {}, SubCode {}", if v.passed { "Y" } else { "N" }, v.sub_code.code()),
        (None, Some(d)) => format!("Passed {}, SubCode {}", if d.passed { "Y" } else { "N" }, esc(&d.sub_code)),
        _ => "none".into(),
    };
    format!(
        "<section id=\"review\" class=\"review {}\"><h2>Review</h2><p><b id=\"review-decision\">{}</b> by {} at {} \
         (automatic verdict: {automatic}).</p><p id=\"review-reason\">{}</p></section>",
        r.decision.as_str(),
        r.decision.as_str(),
        esc(&r.username),
        when(r.at),
        esc(r.reason.as_deref().unwrap_or("(the reason was deleted with the text evidence)")),
    )
}

/// The reviewer's forms: approve or reject (a final, unreviewed transaction), and DeleteVerifyResult.
pub(crate) fn forms(session: &Session, tx: &Transaction, review: &Option<Review>, has_verdict: bool) -> String {
    let mut s = String::new();
    let csrf = esc(&session.csrf);
    if tx.state.is_final() && review.is_none() && tx.deleted.is_none() && has_verdict {
        let _ = write!(
            s,
            "<section id=\"decide\"><h2>Decide</h2><form method=\"post\" action=\"/console/tx/{id}/review\" id=\"review-form\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label><input type=\"radio\" name=\"decision\" value=\"approved\" id=\"approve\" required> Approve</label>\
             <label><input type=\"radio\" name=\"decision\" value=\"rejected\" id=\"reject\"> Reject</label>\
             <label>Reason <textarea name=\"reason\" id=\"reason\" required maxlength=\"{max}\"></textarea></label>\
             <button id=\"submit-review\">Record decision</button></form>\
             <p>The decision is recorded in the audit log, shown in CheckResult's <code>ExtInfo.review</code> next to \
             the automatic verdict, and the CallbackUrl is called again.</p></section>",
            id = esc(&tx.id),
            max = idv_store::MAX_REVIEW_REASON,
        );
    }
    if !matches!(tx.deleted, Some((Evidence::All, _))) {
        let _ = write!(
            s,
            "<section id=\"delete\"><h2>Delete the result</h2><form method=\"post\" action=\"/console/tx/{id}/delete\" id=\"delete-form\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>DeleteType <select name=\"what\" id=\"delete-what\"><option value=\"All\">All: everything but the decision</option>\
             <option value=\"Img\">Img: the images</option><option value=\"Text\">Text: the text evidence</option></select></label>\
             <button id=\"submit-delete\" class=\"danger\">DeleteVerifyResult</button></form>\
             <p>As the API's DeleteVerifyResult: an open transaction is cancelled first; the decision stays.</p></section>",
            id = esc(&tx.id),
        );
    }
    s
}

#[derive(serde::Deserialize)]
pub(crate) struct ReviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

fn refused(session: &Session, status: StatusCode, why: &str) -> PageResult {
    let body = format!("<h1>Not done</h1><p class=\"notice\" id=\"refused\">{}</p>", esc(why));
    Ok(html(status, layout("Not done", Some(session), "", &body)))
}

/// `POST /console/tx/{id}/review`.
pub(crate) async fn decide(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<String>,
    Form(f): Form<ReviewForm>,
) -> PageResult {
    if !session.check_csrf(&f.csrf) {
        return Ok(csrf_refused());
    }
    if !session.is_reviewer() {
        return refused(&session, StatusCode::FORBIDDEN, "Only a reviewer can decide.");
    }
    let Some(decision) = ReviewDecision::parse(&f.decision) else {
        return refused(&session, StatusCode::BAD_REQUEST, "Choose approve or reject.");
    };
    let reason = f.reason.trim();
    if reason.is_empty() || reason.len() > idv_store::MAX_REVIEW_REASON {
        return refused(&session, StatusCode::BAD_REQUEST, "A decision needs a reason (at most 2000 characters).");
    }
    let tx = match well_formed_id(&id) {
        true => own(&state, &session, &id).await?,
        false => None,
    };
    let Some(tx) = tx.filter(|t| t.state.is_final()) else {
        return refused(&session, StatusCode::NOT_FOUND, "There is no such finished transaction.");
    };
    let now = state.now();
    let review = NewReview {
        transaction_id: &tx.id,
        merchant_id: &tx.merchant_id,
        user_id: &session.user.id,
        decision,
        reason,
        now,
    };
    match state.store.record_review(review).await {
        Ok(true) => {}
        Ok(false) => return refused(&session, StatusCode::CONFLICT, "This transaction was already reviewed."),
        Err(idv_store::StoreError::NotFound(_)) => {
            return refused(&session, StatusCode::NOT_FOUND, "The evidence of this transaction is deleted.");
        }
        Err(e) => return Err(e.into()),
    }
    crate::audit::audit(
        &state,
        &session.actor(),
        "transaction.reviewed",
        Some(&tx.id),
        Some(&tx.merchant_id),
        serde_json::json!({"decision": decision.as_str()}),
    )
    .await;
    if state.store.rearm_callback(&tx.id, now).await? {
        crate::callbacks::wake(&state);
    }
    tracing::info!(transaction_id = %tx.id, decision = decision.as_str(), "transaction reviewed");
    Ok(see_other_to(format!("/console/tx/{}", tx.id)))
}

#[derive(serde::Deserialize)]
pub(crate) struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    what: String,
}

/// `POST /console/tx/{id}/delete`: DeleteVerifyResult from the console.
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<String>,
    Form(f): Form<DeleteForm>,
) -> PageResult {
    if !session.check_csrf(&f.csrf) {
        return Ok(csrf_refused());
    }
    if !session.is_reviewer() {
        return refused(&session, StatusCode::FORBIDDEN, "Only a reviewer can delete results.");
    }
    // DeleteVerifyResult's DeleteType values.
    let what = match f.what.as_str() {
        "Img" => Some(Evidence::Images),
        "Text" => Some(Evidence::Text),
        "All" => Some(Evidence::All),
        _ => None,
    };
    let Some(what) = what else {
        return refused(&session, StatusCode::BAD_REQUEST, "DeleteType is Img, Text or All.");
    };
    let tx = match well_formed_id(&id) {
        true => own(&state, &session, &id).await?,
        false => None,
    };
    let Some(mut tx) = tx else { return refused(&session, StatusCode::NOT_FOUND, "There is no such transaction.") };
    let now = state.now();
    let actor = session.actor();
    if !tx.state.is_final() {
        crate::finish::cancel(&state, &tx.id, &actor, now).await?;
        tx = own(&state, &session, &id).await?.ok_or_else(|| ServerError::internal("transaction vanished"))?;
    }
    crate::finish::delete_evidence(&state, &tx, what, &actor, now).await?;
    Ok(see_other_to(format!("/console/tx/{}", tx.id)))
}

/// CheckResult's ExtInfo with the review record, when a reviewer decided: the automatic verdict (Passed,
/// SubCode) is left as the policy gave it, and the review sits next to it.
pub(crate) async fn with_review(state: &AppState, tx: &Transaction, ext_info: &str) -> Result<String, ServerError> {
    let Some(r) = state.store.review(&tx.merchant_id, &tx.id).await? else { return Ok(ext_info.to_owned()) };
    let mut info: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(ext_info).map_err(ServerError::internal)?;
    let automatic = crate::finish::decision(tx)?
        .map(|d| serde_json::json!({"passed": if d.passed { "Y" } else { "N" }, "subCode": d.sub_code}));
    let at = time::OffsetDateTime::from_unix_timestamp(r.at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default();
    info.insert(
        "review".into(),
        serde_json::json!({
            "decision": r.decision.as_str(),
            "reason": r.reason,
            "reviewer": r.username,
            "reviewedAt": at,
            "automaticVerdict": automatic,
        }),
    );
    Ok(serde_json::Value::Object(info).to_string())
}

/// The review decision a callback carries (`reviewDecision`), if the transaction was reviewed.
pub(crate) async fn review_param(state: &AppState, merchant_id: &str, transaction_id: &str) -> Option<&'static str> {
    match state.store.review(merchant_id, transaction_id).await {
        Ok(r) => r.map(|r| r.decision.as_str()),
        Err(e) => {
            tracing::warn!(transaction_id, error = %e, "callback: could not read the review");
            None
        }
    }
}

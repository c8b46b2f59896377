use std::collections::BTreeMap;

use idv_api::params::unknown_transaction;
use idv_api::{ApiError, CheckResultRequest, DeleteType, ErrorCode, render};
use idv_flow::ImageKind;
use idv_store::{Evidence, StoreError, Transaction};

use crate::AppState;
use crate::actions::Success;
use crate::auth::Caller;
use crate::error::ServerError;
use crate::finish;

pub async fn handle(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let req = CheckResultRequest::parse(params)?;
    let mut tx = own_transaction(state, &caller.merchant.id, &req.transaction_id).await?;
    if tx.merchant_biz_id != req.merchant_biz_id {
        return Err(ApiError::invalid(
            "MerchantBizId",
            "does not match the MerchantBizId given to Initialize for this TransactionId",
        )
        .into());
    }
    let now = state.now();
    if !tx.state.is_final() {
        let last_activity = state.store.get_device_session(&tx.id).await?.map(|s| s.updated_at);
        let idle = state.config.device_idle_timeout.as_secs() as i64;
        if let Some(why) = idv_flow::timed_out(now, tx.expires_at, last_activity, idle) {
            finish::expire(state, &tx.id, why, now).await?;
            tx = own_transaction(state, &caller.merchant.id, &req.transaction_id).await?;
        }
    }
    if !tx.state.is_final() {
        return Err(
            ApiError::new(ErrorCode::ProcessNotCompleted, "The verification process is not completed yet.").into()
        );
    }
    let mut answer = answer(state, &tx, &req).await?;
    // A reviewer's decision from the console sits next to the automatic verdict (`ExtInfo.review`).
    answer.ext_info = crate::console::with_review(state, &tx, &answer.ext_info).await?;
    crate::audit::audit_key(state, caller, "result.read", &tx.id, serde_json::json!({"images": req.return_image}))
        .await;
    // DeleteAfterQuery: the answer is built from the evidence, which goes now.
    if let Some(what) = tx.delete_after_query {
        finish::delete_evidence(state, &tx, what, &caller.access_key_id, now).await?;
    }
    Ok(Success(serde_json::to_value(answer).map_err(ServerError::internal)?))
}

async fn answer(
    state: &AppState,
    tx: &Transaction,
    req: &CheckResultRequest,
) -> Result<idv_api::CheckResultResult, ServerError> {
    let deleted_images = match tx.deleted {
        Some((Evidence::Images, at)) => Some(at),
        _ => None,
    };
    let verdict = match (finish::stored_verdict(tx)?, tx.deleted, &tx.decision) {
        (Some(v), _, _) => v,
        // The text evidence is gone (retention or DeleteVerifyResult): the decision kept in the clear answers,
        // and says so; images kept after a text-only deletion are still returned when asked for.
        (None, Some((what, at)), Some(d)) => {
            let mut images = Vec::new();
            if what == Evidence::Text && req.return_image {
                for kind in [ImageKind::DocFront, ImageKind::DocBack, ImageKind::DocPortrait, ImageKind::Selfie] {
                    let Some((key, in_face)) = render::image_key(kind) else { continue };
                    if let Some(blob) = state.store.blob_of_kind(&tx.id, kind.as_str()).await? {
                        let bytes = state.store.get_blob(&tx.id, &blob).await?;
                        images.push((
                            key,
                            in_face,
                            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes),
                        ));
                    }
                }
            }
            let what = if what == Evidence::Text { DeleteType::Text } else { DeleteType::All };
            return Ok(idv_api::delete::deleted_check_result(d.passed, &d.sub_code, what, at, &images));
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::TransactionIdInvalid,
                "The results of this transaction have been deleted.",
            )
            .into());
        }
    };
    let mut images = Vec::new();
    let mut missing = Vec::new();
    // Images deleted on request are not looked for: their absence is the answer (ExtInfo.evidenceDeleted).
    let wanted = if deleted_images.is_some() { Vec::new() } else { render::wanted_images(&verdict, req) };
    for (kind, blob_id) in wanted {
        match state.store.get_blob(&tx.id, &blob_id.0).await {
            Ok(bytes) => images.push((kind, bytes)),
            Err(e) if blob_is_gone(&e) => {
                // The verdict stands without the picture: failing the whole call would make the merchant retry a
                // request that can never succeed. The operator learns of it here (ids and kind only).
                tracing::error!(transaction_id = %tx.id, blob_id = %blob_id.0, kind = kind.as_str(), error = %e, "stored image is missing or unreadable; answered without it");
                missing.push(kind);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut result = render::check_result(&verdict, &images);
    if let Some(at) = deleted_images {
        result.ext_info = idv_api::delete::with_deleted_images(&result.ext_info, at);
    } else if !missing.is_empty() {
        result.ext_info = with_missing_images(&result.ext_info, &missing)?;
    }
    Ok(result)
}

/// The caller's transaction. A row whose sealed values fail authentication for this merchant (its `merchant_id`
/// was changed in the database file: the values are bound to the merchant they were created for) is answered
/// like any transaction that is not the caller's, so nothing of it is shown; it is logged as the tampering it is.
pub(crate) async fn own_transaction(state: &AppState, merchant_id: &str, id: &str) -> Result<Transaction, ServerError> {
    match state.store.get_transaction(merchant_id, id).await {
        Ok(Some(tx)) => Ok(tx),
        Ok(None) => Err(unknown_transaction().into()),
        Err(StoreError::Crypto(e)) => {
            tracing::error!(transaction_id = %id, merchant = %merchant_id, error = %e, "transaction row does not authenticate for its merchant (database edited?); answered as unknown");
            Err(unknown_transaction().into())
        }
        Err(e) => Err(e.into()),
    }
}

/// A stored image that will never be readable again: its file is gone (deleted, or lost before it reached the
/// disk) or its bytes no longer open or match their hash. Other failures (the database, an I/O error other than
/// a missing file) may pass, and stay InternalError so the merchant retries.
fn blob_is_gone(e: &StoreError) -> bool {
    match e {
        StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        StoreError::Crypto(_) | StoreError::Corrupt(_) => true,
        _ => false,
    }
}

/// The key CheckResult would have returned the image under (`docs/errors.md`, "Images that cannot be returned").
fn image_name(kind: ImageKind) -> &'static str {
    render::image_key(kind).map_or("referenceFace", |(key, _)| key)
}

/// ExtInfo with `missingImages`: the keys of the images asked for that could not be returned.
fn with_missing_images(ext_info: &str, missing: &[ImageKind]) -> Result<String, ServerError> {
    let mut info: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(ext_info).map_err(ServerError::internal)?;
    info.insert("missingImages".into(), missing.iter().map(|k| image_name(*k)).collect::<Vec<_>>().into());
    Ok(serde_json::Value::Object(info).to_string())
}

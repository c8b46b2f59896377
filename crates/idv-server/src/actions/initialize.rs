use std::collections::BTreeMap;

use base64::Engine;
use idv_api::{InitializeRequest, InitializeResult};
use idv_protocol::ClientConfig;
use idv_store::NewTransaction;
use zeroize::Zeroizing;

use crate::AppState;
use crate::actions::Success;
use crate::auth::Caller;
use crate::error::ServerError;

pub async fn handle(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let req = InitializeRequest::parse(params)?;
    crate::callbacks::check_at_initialize(&state.config, req.options.callback_url.as_deref())?;
    let id = idv_crypto::random_hex(16);
    let device_secret = Zeroizing::new(idv_crypto::random_bytes::<32>().to_vec());
    let now = state.now();
    let expires_at = now + state.config.transaction_ttl.as_secs() as i64;
    let options = serde_json::to_vec(&req.options).map_err(ServerError::internal)?;
    state
        .store
        .create_transaction(NewTransaction {
            id: id.clone(),
            merchant_id: caller.merchant.id.clone(),
            merchant_biz_id: req.merchant_biz_id.clone(),
            product: req.options.product.code().to_owned(),
            options,
            device_secret: device_secret.clone(),
            created_at: now,
            expires_at,
            // The earliest its evidence can be due for deletion: its key epoch is destroyed soon after, or, if it
            // finishes later, right after it is deleted itself (a live data key keeps its epoch).
            retain_until: now + caller.merchant.retention_s.unwrap_or(state.config.retention.as_secs() as i64),
        })
        .await?;
    crate::callbacks::owe(state, &id, &caller.merchant.id, &req.options, now).await?;
    if let Some(face) = &req.reference_face {
        state.store.put_blob(&id, idv_flow::ImageKind::ReferenceFace.as_str(), &face.0, now).await?;
    }
    let base = state.config.base_url();
    let cfg = ClientConfig {
        tid: id.clone(),
        product: req.options.product,
        steps: req.options.product.steps(req.options.back_page),
        api: format!("{base}/device/v1"),
        cred: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&device_secret[..]),
        iat: now,
        exp: expires_at,
    };
    let token = cfg.sign(&state.clientcfg_key);
    let transaction_url = req.wants_url.then(|| crate::web::transaction_url(state, &id));
    tracing::info!(transaction_id = %id, product = req.options.product.code(), device = req.meta.device_type.as_str(), "transaction created");
    let detail = serde_json::json!({"product": req.options.product.code()});
    crate::audit::audit_key(state, caller, "transaction.created", &id, detail).await;
    let result = InitializeResult { transaction_id: id, protocol: token.clone(), client_cfg: token, transaction_url };
    Ok(Success(serde_json::to_value(result).map_err(ServerError::internal)?))
}

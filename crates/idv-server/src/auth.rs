//! Authentication of merchant RPC requests, in an order that gives away as little as possible and does the
//! expensive or state-changing steps last: parse → key lookup → signature → clock → rate limit → nonce.

use idv_api::sign::{self, RawRequest, SignedRequest};
use idv_api::{API_VERSION, ApiError, ErrorCode};
use idv_store::{AuthKey, Merchant};

use crate::AppState;
use crate::error::ServerError;

pub struct Caller {
    pub merchant: Merchant,
    pub access_key_id: String,
}

pub async fn authenticate(state: &AppState, raw: &RawRequest<'_>) -> Result<(SignedRequest, Caller), ServerError> {
    let signed = sign::parse(raw, &sign::Limits { max_value_len: state.config.max_body_bytes, ..Default::default() })?;
    if signed.version != API_VERSION {
        return Err(ApiError::new(
            ErrorCode::InvalidVersion,
            format!("Specified parameter Version is not valid: this server speaks {API_VERSION}."),
        )
        .into());
    }
    let Some(AuthKey { key, merchant, secret }) = state.store.access_key_for_auth(&signed.access_key_id).await? else {
        return Err(ApiError::new(ErrorCode::InvalidAccessKeyIdNotFound, "Specified access key is not found.").into());
    };
    // Verify before revealing the key's status, so an unsigned probe cannot learn which keys are disabled.
    signed.verify(&secret)?;
    if !key.enabled {
        return Err(ApiError::new(ErrorCode::InvalidAccessKeyIdInactive, "Specified access key is disabled.").into());
    }
    if !merchant.enabled {
        return Err(ApiError::new(
            ErrorCode::AccountAccessDenied,
            "The merchant account of this access key is disabled.",
        )
        .into());
    }
    let skew = time::Duration::try_from(state.config.max_clock_skew).unwrap_or(time::Duration::minutes(15));
    if !state.config.skip_clock_check {
        let now = time::OffsetDateTime::from_unix_timestamp(state.now()).map_err(ServerError::internal)?;
        signed.check_clock(now, skew)?;
    }
    if let Err(wait) = state.limiter.check(&*state.store, &key.id, state.now_ms()).await? {
        return Err(ServerError::Throttled { retry_after_ms: wait.as_millis().max(1) as u64 });
    }
    // Remembered for as long as the same signed request could still pass the clock check.
    let expires_at = signed.timestamp.unix_timestamp() + skew.whole_seconds() + 60;
    if !state.store.consume_nonce(&key.id, &signed.nonce, state.now(), expires_at).await? {
        // The nonce comes after the limit so a throttled request does not burn its nonce; a replay must then
        // give its token back, or replays of one captured request would throttle the merchant's fresh ones.
        state.limiter.refund(&*state.store, &key.id).await?;
        return Err(ApiError::new(ErrorCode::SignatureNonceUsed, "Specified signature nonce was used already.").into());
    }
    Ok((signed, Caller { merchant, access_key_id: key.id }))
}

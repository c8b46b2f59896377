//! The `*V2` variants of served actions and KeepaliveIntl. A V2 action takes its first version's parameters plus
//! `*File` fields, which `idv_api::v2` refuses by name; the rest is the first version's handler.

use std::collections::BTreeMap;

use idv_api::keepalive::KeepaliveResult;

use crate::AppState;
use crate::actions::Success;
use crate::auth::Caller;
use crate::error::ServerError;

use super::{doc, face, initialize};

pub async fn face_compare(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    face::compare_parsed(state, idv_api::v2::face_compare(params)?, caller).await
}

pub async fn face_liveness(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    face::liveness_parsed(state, idv_api::v2::face_liveness(params)?, caller).await
}

pub async fn doc_ocr(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    doc::ocr_parsed(state, idv_api::v2::doc_ocr(params)?, caller).await
}

pub async fn initialize(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    idv_api::v2::initialize_files(params)?;
    initialize::handle(state, params, caller).await
}

pub fn keepalive() -> Result<Success, ServerError> {
    Ok(Success(serde_json::to_value(KeepaliveResult::success()).map_err(ServerError::internal)?))
}

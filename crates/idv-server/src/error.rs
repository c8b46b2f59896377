use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idv_api::{ApiError, ErrorBody, ErrorCode};

/// Everything that can go wrong while serving a request, before it is mapped to the API's error codes.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("storage: {0}")]
    Store(#[from] idv_store::StoreError),
    #[error("throttled; retry after {retry_after_ms} ms")]
    Throttled { retry_after_ms: u64 },
    #[error("internal: {0}")]
    Internal(String),
}

impl ServerError {
    /// The error as the merchant sees it. Internal failures are logged with detail and shown as InternalError.
    pub fn to_api(&self) -> ApiError {
        match self {
            ServerError::Api(e) => e.clone(),
            ServerError::Throttled { .. } => ApiError::new(
                ErrorCode::ThrottlingUser,
                "Request was denied due to user flow control: too many requests for this AccessKey.",
            ),
            ServerError::Store(_) | ServerError::Internal(_) => ApiError::internal(),
        }
    }
}

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>, request_id: &str) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-acs-request-id", v);
    }
    resp
}

pub(crate) fn error_response(err: &ServerError, request_id: &str, host_id: &str) -> Response {
    let api = err.to_api();
    let body = serde_json::to_vec(&ErrorBody::new(&api, request_id, host_id)).expect("plain struct serialises");
    let status = StatusCode::from_u16(api.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(status, body, request_id);
    if let ServerError::Throttled { retry_after_ms } = err {
        // The SDKs raise ThrottlingException when this header is present and positive.
        resp.headers_mut().insert("x-acs-retry-after", HeaderValue::from((*retry_after_ms).max(1)));
    }
    resp
}

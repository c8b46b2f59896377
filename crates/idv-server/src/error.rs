//! The merchant API's error path: every layer's failure becomes a [`ServerError`], and [`ApiFailure`] renders it
//! once, at the edge, as the error body the official SDKs parse. Internal causes are logged, never returned.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idv_api::{ApiError, ErrorBody, ErrorCode};

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong while serving a request, before it is mapped to the API's error codes.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("storage: {0}")]
    Store(#[from] idv_store::StoreError),
    #[error("throttled; retry after {retry_after_ms} ms")]
    Throttled { retry_after_ms: u64 },
    /// The engine pool's queue is full: the caller may retry shortly.
    #[error("the verification engines are saturated")]
    Overloaded,
    #[error("internal: {0}")]
    Internal(#[source] Cause),
}

impl ServerError {
    /// An internal failure, its cause kept as the source for the log.
    pub fn internal(cause: impl Into<Cause>) -> ServerError {
        ServerError::Internal(cause.into())
    }

    /// Failures of this server rather than of the request: logged as errors, with their cause.
    pub fn is_internal(&self) -> bool {
        matches!(self, ServerError::Store(_) | ServerError::Internal(_))
    }

    /// The error as the merchant sees it. Internal failures are shown as InternalError.
    pub fn to_api(&self) -> ApiError {
        match self {
            ServerError::Api(e) => e.clone(),
            ServerError::Throttled { .. } => ApiError::new(
                ErrorCode::ThrottlingUser,
                "Request was denied due to user flow control: too many requests for this AccessKey.",
            ),
            ServerError::Overloaded => {
                ApiError::new(ErrorCode::ServiceUnavailable, "The verification engines are saturated; retry shortly.")
            }
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

/// A failed merchant request, ready to answer: the error with the ids its body carries.
pub(crate) struct ApiFailure<'a> {
    pub error: &'a ServerError,
    pub request_id: &'a str,
    pub host_id: &'a str,
}

impl IntoResponse for ApiFailure<'_> {
    fn into_response(self) -> Response {
        let api = self.error.to_api();
        let body =
            serde_json::to_vec(&ErrorBody::new(&api, self.request_id, self.host_id)).expect("plain struct serialises");
        let status = StatusCode::from_u16(api.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = json_response(status, body, self.request_id);
        if let ServerError::Throttled { retry_after_ms } = self.error {
            // The SDKs raise ThrottlingException when this header is present and positive.
            resp.headers_mut().insert("x-acs-retry-after", HeaderValue::from((*retry_after_ms).max(1)));
        }
        resp
    }
}

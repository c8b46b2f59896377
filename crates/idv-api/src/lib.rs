//! Wire types of the merchant API (Alibaba Cloud cloudauth-intl, version 2022-08-09) and the two request-signature
//! schemes the official SDKs use. Pure data and pure functions: no HTTP server, no SQL, no images.

pub mod check_result;
pub mod cross_compare;
pub mod delete;
pub mod doc;
pub mod doctype;
pub mod ekyc;
pub mod error;
pub mod face;
pub mod face_library;
pub mod initialize;
pub mod keepalive;
pub mod params;
pub mod render;
pub mod sign;
pub mod v2;
pub mod verify_log;
pub mod web;

pub use check_result::{CheckResultRequest, CheckResultResult};
pub use delete::{DeleteType, DeleteVerifyResultRequest, DeleteVerifyResultResult};
pub use doctype::DocType;
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use idv_flow::{ImageKind, SubCode, Verdict};
pub use initialize::{InitializeRequest, InitializeResult, TransactionOptions};
pub use verify_log::{CheckVerifyLogRequest, CheckVerifyLogResult};
pub use web::{Language, WebStyle};

/// The only API version this server speaks.
pub const API_VERSION: &str = "2022-08-09";

/// A successful response: `{"RequestId", "Code": "Success", "Message": "success", "Result": …}`
/// (`docs/wire-facts.md#success-envelope`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SuccessBody<T> {
    pub request_id: String,
    pub code: String,
    pub message: String,
    pub result: T,
}

impl<T> SuccessBody<T> {
    pub fn new(request_id: &str, result: T) -> Self {
        SuccessBody { request_id: request_id.to_owned(), code: "Success".into(), message: "success".into(), result }
    }
}

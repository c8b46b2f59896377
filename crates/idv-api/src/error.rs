//! The error codes a client of the merchant API can see, with their HTTP status.
//!
//! Codes are the ones the official SDKs surface as `ClientException.code` / `ServerException.code`; the set is the
//! product's documented codes plus the Alibaba gateway codes a real endpoint produces before reaching the product
//! (`docs/wire-facts.md#error-codes`). `docs/errors.md` is the table for merchants; keep the two in step.

use std::fmt;

/// One error code of the merchant API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // product codes (`docs/wire-facts.md#error-codes`, the "Server-side HTTP status codes" page)
    MissingParameter,
    InvalidParameter,
    TransactionIdInvalid,
    UnqualifiedPhoto,
    DataDuplication,
    ToolargeImage,
    DownloadTimeout,
    NoFaceDetected,
    AccountAccessDenied,
    ProcessNotCompleted,
    InternalError,
    ServiceUnavailable,
    // gateway codes (authentication, routing, throttling)
    InvalidAccessKeyIdNotFound,
    InvalidAccessKeyIdInactive,
    SignatureDoesNotMatch,
    IncompleteSignature,
    InvalidSignatureMethod,
    InvalidTimeStampExpired,
    InvalidTimeStampFormat,
    SignatureNonceUsed,
    SecurityTokenNotSupported,
    InvalidActionNotFound,
    InvalidVersion,
    ThrottlingUser,
    RequestTooLarge,
    UnsupportedMediaType,
}

impl ErrorCode {
    /// The `Code` string on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MissingParameter => "MissingParameter",
            InvalidParameter => "InvalidParameter",
            TransactionIdInvalid => "TransactionIdInvalid",
            UnqualifiedPhoto => "UnqualifiedPhoto",
            DataDuplication => "DataDuplication",
            ToolargeImage => "ToolargeImage",
            DownloadTimeout => "DownloadTimeout",
            NoFaceDetected => "NoFaceDetected",
            AccountAccessDenied => "Forbidden.AccountAccessDenied",
            ProcessNotCompleted => "ProcessNotCompleted",
            InternalError => "InternalError",
            ServiceUnavailable => "ServiceUnavailable",
            InvalidAccessKeyIdNotFound => "InvalidAccessKeyId.NotFound",
            InvalidAccessKeyIdInactive => "InvalidAccessKeyId.Inactive",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            IncompleteSignature => "IncompleteSignature",
            InvalidSignatureMethod => "InvalidSignatureMethod",
            InvalidTimeStampExpired => "InvalidTimeStamp.Expired",
            InvalidTimeStampFormat => "InvalidTimeStamp.Format",
            SignatureNonceUsed => "SignatureNonceUsed",
            SecurityTokenNotSupported => "InvalidSecurityToken.NotSupported",
            InvalidActionNotFound => "InvalidAction.NotFound",
            InvalidVersion => "InvalidVersion",
            ThrottlingUser => "Throttling.User",
            RequestTooLarge => "RequestTooLarge",
            UnsupportedMediaType => "UnsupportedMediaType",
        }
    }

    /// The HTTP status that goes with the code. The official SDKs raise `ClientException` for 4xx and
    /// `ServerException` for 5xx, so the class matters more than the exact number.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MissingParameter | InvalidParameter | TransactionIdInvalid => 400,
            UnqualifiedPhoto | DataDuplication | ToolargeImage | DownloadTimeout | NoFaceDetected => 401,
            AccountAccessDenied => 403,
            ProcessNotCompleted => 404,
            InternalError => 500,
            ServiceUnavailable => 503,
            InvalidAccessKeyIdNotFound => 404,
            InvalidAccessKeyIdInactive => 403,
            SignatureDoesNotMatch | IncompleteSignature | InvalidSignatureMethod => 400,
            InvalidTimeStampExpired | InvalidTimeStampFormat | SignatureNonceUsed => 400,
            SecurityTokenNotSupported => 400,
            InvalidActionNotFound => 404,
            InvalidVersion => 400,
            ThrottlingUser => 429,
            RequestTooLarge => 413,
            UnsupportedMediaType => 415,
        }
    }

    /// Every code, for documentation tests.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::MissingParameter,
        ErrorCode::InvalidParameter,
        ErrorCode::TransactionIdInvalid,
        ErrorCode::UnqualifiedPhoto,
        ErrorCode::DataDuplication,
        ErrorCode::ToolargeImage,
        ErrorCode::DownloadTimeout,
        ErrorCode::NoFaceDetected,
        ErrorCode::AccountAccessDenied,
        ErrorCode::ProcessNotCompleted,
        ErrorCode::InternalError,
        ErrorCode::ServiceUnavailable,
        ErrorCode::InvalidAccessKeyIdNotFound,
        ErrorCode::InvalidAccessKeyIdInactive,
        ErrorCode::SignatureDoesNotMatch,
        ErrorCode::IncompleteSignature,
        ErrorCode::InvalidSignatureMethod,
        ErrorCode::InvalidTimeStampExpired,
        ErrorCode::InvalidTimeStampFormat,
        ErrorCode::SignatureNonceUsed,
        ErrorCode::SecurityTokenNotSupported,
        ErrorCode::InvalidActionNotFound,
        ErrorCode::InvalidVersion,
        ErrorCode::ThrottlingUser,
        ErrorCode::RequestTooLarge,
        ErrorCode::UnsupportedMediaType,
    ];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of the merchant API: a code and a human message. The message is shown to the merchant, so it names the
/// parameter or header at fault and never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }
    pub fn missing(param: &str) -> Self {
        Self::new(
            ErrorCode::MissingParameter,
            format!("The input parameter \"{param}\" that is mandatory for processing this request is not supplied."),
        )
    }
    pub fn invalid(param: &str, why: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidParameter, format!("The parameter \"{param}\" is invalid: {why}"))
    }
    pub fn internal() -> Self {
        Self::new(ErrorCode::InternalError, "The request processing has failed due to some unknown error.")
    }
}

/// The JSON body of an error response (`docs/wire-facts.md#error-body`: PascalCase, RequestId always present).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    pub request_id: String,
    pub host_id: String,
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub recommend: Option<String>,
}

impl ErrorBody {
    pub fn new(err: &ApiError, request_id: &str, host_id: &str) -> Self {
        ErrorBody {
            request_id: request_id.to_owned(),
            host_id: host_id.to_owned(),
            code: err.code.as_str().to_owned(),
            message: err.message.clone(),
            recommend: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    /// docs/errors.md is the merchants' table: every code and its status must be in it.
    #[test]
    fn every_code_is_documented_with_its_status() {
        let doc = include_str!("../../../docs/errors.md");
        for code in ErrorCode::ALL {
            let row = format!("| {} | {} |", code.http_status(), code.as_str());
            assert!(doc.contains(&row), "docs/errors.md lacks the row {row}");
        }
    }
}

//! DeleteVerifyResult: a merchant deletes a transaction's evidence before its retention runs out (its request and
//! `Result`), and the CheckResult of a transaction whose evidence was deleted (`docs/data-protection.md`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::check_result::CheckResultResult;
use crate::error::ApiError;
use crate::params::{self, Params};

/// What `DeleteType` deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteType {
    /// `Img`: the images; the decision and the text evidence stay.
    Images,
    /// `Text`: the text evidence (OCR fields, scores, reasons, options); the decision and the images stay.
    Text,
    /// `All` (the default): everything but the decision.
    All,
}

impl DeleteType {
    /// The value CheckResult reports in `ExtInfo.evidenceDeleted`.
    pub fn reported(self) -> &'static str {
        match self {
            DeleteType::Images => "images",
            DeleteType::Text => "text",
            DeleteType::All => "all",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteVerifyResultRequest {
    pub transaction_id: String,
    pub delete_type: DeleteType,
    /// `DeleteAfterQuery=Y`: delete after the next CheckResult instead of now.
    pub after_query: bool,
}

impl DeleteVerifyResultRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let transaction_id = params::transaction_id(&p)?;
        let delete_type = match p.one_of("DeleteType", &["Img", "Text", "All"], "All")? {
            "Img" => DeleteType::Images,
            "Text" => DeleteType::Text,
            _ => DeleteType::All,
        };
        let after_query = p.yes_no("DeleteAfterQuery", false)?;
        Ok(DeleteVerifyResultRequest { transaction_id, delete_type, after_query })
    }
}

/// DeleteVerifyResult's `Result` object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteVerifyResultResult {
    /// `Y`: deleted (or scheduled after the next query, with `DeleteAfterQuery=Y`).
    pub delete_result: String,
    pub transaction_id: String,
}

/// CheckResult for a transaction whose text evidence is gone: the decision kept in the clear, empty evidence
/// objects, and `ExtInfo.evidenceDeleted` / `deletedAt` (Unix seconds) saying so. `images` (key, Base64) are
/// the images still kept and asked for.
pub fn deleted_check_result(
    passed: bool,
    sub_code: &str,
    deleted: DeleteType,
    deleted_at: i64,
    images: &[(&str, bool, String)],
) -> CheckResultResult {
    let (mut id, mut face) = (Map::new(), Map::new());
    for (key, in_face, b64) in images {
        let target = if *in_face { &mut face } else { &mut id };
        target.insert((*key).to_owned(), Value::String(b64.clone()));
    }
    let s = |m: Map<String, Value>| Value::Object(m).to_string();
    CheckResultResult {
        passed: if passed { "Y" } else { "N" }.to_owned(),
        sub_code: sub_code.to_owned(),
        ext_basic_info: s(Map::new()),
        ext_id_info: s(id),
        ext_face_info: s(face),
        ext_risk_info: s(Map::new()),
        ext_info: serde_json::json!({ "evidenceDeleted": deleted.reported(), "deletedAt": deleted_at }).to_string(),
    }
}

/// `ExtInfo` of a CheckResult whose images were deleted (the text evidence still renders): `evidenceDeleted` and
/// `deletedAt` added.
pub fn with_deleted_images(ext_info: &str, deleted_at: i64) -> String {
    let mut info: Map<String, Value> = serde_json::from_str(ext_info).unwrap_or_default();
    info.insert("evidenceDeleted".into(), "images".into());
    info.insert("deletedAt".into(), deleted_at.into());
    Value::Object(info).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, &str)]) -> Result<DeleteVerifyResultRequest, ApiError> {
        DeleteVerifyResultRequest::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn request_rules() {
        let tid = "0123456789abcdef0123456789abcdef";
        let r = req(&[("TransactionId", tid)]).unwrap();
        assert_eq!((r.delete_type, r.after_query), (DeleteType::All, false));
        let r = req(&[("TransactionId", tid), ("DeleteType", "Img"), ("DeleteAfterQuery", "Y")]).unwrap();
        assert_eq!((r.delete_type, r.after_query), (DeleteType::Images, true));
        assert!(req(&[("TransactionId", tid), ("DeleteType", "img")]).is_err());
        assert!(req(&[("DeleteType", "All")]).is_err(), "TransactionId is required");
    }

    #[test]
    fn a_deleted_result_keeps_the_decision_and_says_what_went() {
        let r = deleted_check_result(false, "205", DeleteType::All, 1_700_000_000, &[]);
        assert_eq!((r.passed.as_str(), r.sub_code.as_str(), r.ext_face_info.as_str()), ("N", "205", "{}"));
        let info: Value = serde_json::from_str(&r.ext_info).unwrap();
        assert_eq!(info, serde_json::json!({"evidenceDeleted": "all", "deletedAt": 1_700_000_000}));
        let info: Value = serde_json::from_str(&with_deleted_images(r#"{"reasons":[]}"#, 5)).unwrap();
        assert_eq!(info["evidenceDeleted"], "images");
        assert_eq!(info["reasons"], serde_json::json!([]));
    }
}

//! KeepaliveIntl: a signed no-op a merchant server calls to keep its connection and credentials warm.

use serde::{Deserialize, Serialize};

/// KeepaliveIntl's `Result`: `{"Result": "SUCCESS"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct KeepaliveResult {
    pub result: String,
}

impl KeepaliveResult {
    pub fn success() -> Self {
        KeepaliveResult { result: "SUCCESS".into() }
    }
}

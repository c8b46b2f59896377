//! The examples in `docs/device-protocol.md` are what the code computes.

use base64::Engine;

use crate::common::{CRED, SESSION};

#[test]
fn the_documented_mac_vectors_hold() {
    let doc = include_str!("../../../../docs/device-protocol.md");
    let cred_b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(CRED);
    assert!(doc.contains(&format!("`{cred_b64}`")), "docs/device-protocol.md must show the vector credential");
    let start = br#"{"meta_info":"{}","device_time_ms":1700000000000}"#;
    for (path, session, body) in [("/device/v1/start", "", &start[..]), ("/device/v1/round", SESSION, b"{}")] {
        let mac = idv_protocol::device::request_mac(&CRED, "POST", path, session, body);
        let row = format!("| `{}` | `{mac}` |", String::from_utf8_lossy(body));
        assert!(doc.contains(&row), "docs/device-protocol.md lacks the vector row {row}");
    }
}

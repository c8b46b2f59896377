//! `idv admin` and `idv serve` refusing bad input and incomplete installations.

use std::process::Command;

#[test]
fn admin_cli_rejects_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["admin", "accesskey", "create", "--data", d, "--merchant", "mch_nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("mch_nope"));
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["admin", "merchant", "create", "--data", d, "--name", " "])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["admin", "merchant", "list", "--data", d])
        .env("IDV_MASTER_KEY", "00".repeat(32))
        .output()
        .unwrap();
    assert!(!out.status.success(), "a master key that does not match the data directory is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key does not match"));
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["serve", "--data", d, "--listen", "127.0.0.1:0", "--rate-limit", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "invalid configuration is refused at start");
    assert!(String::from_utf8_lossy(&out.stderr).contains("rate limit"));
}

#[test]
fn the_server_refuses_to_start_without_its_models() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["serve", "--data", dir.path().to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("IDV_ASSETS_DIR", empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a server without models must not start");
    assert!(out.stdout.is_empty(), "nothing may be listening: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scripts/fetch-assets.sh") && err.contains("face_detection_yunet"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_master_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("idv.key");
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    let list = |mode: u32| {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        Command::new(env!("CARGO_BIN_EXE_idv"))
            .args(["admin", "merchant", "list", "--data", dir.path().to_str().unwrap()])
            .args(["--master-key-file", key.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let open = list(0o644);
    assert!(!open.status.success(), "a key file other users can read is refused");
    assert!(String::from_utf8_lossy(&open.stderr).contains("chmod 600"), "{}", String::from_utf8_lossy(&open.stderr));
    let private = list(0o600);
    assert!(private.status.success(), "{}", String::from_utf8_lossy(&private.stderr));
}

#[test]
fn retention_is_set_per_merchant_and_per_server_with_units() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let m = crate::common::idv(&["admin", "merchant", "create", "--data", d, "--name", "Shop", "--json"]);
    let id = m["MerchantId"].as_str().unwrap();
    let set = |r: &str| {
        Command::new(env!("CARGO_BIN_EXE_idv"))
            .args(["admin", "merchant", "set-retention", "--data", d, "--merchant", id, "--retention", r, "--json"])
            .output()
            .unwrap()
    };
    let out = set("7d");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["RetentionSeconds"], 7 * 86_400);
    let v: serde_json::Value = serde_json::from_slice(&set("default").stdout).unwrap();
    assert!(v["RetentionSeconds"].is_null(), "{v}");
    for bad in ["7w", "-1d", "0s", "d"] {
        let out = set(bad);
        assert!(!out.status.success(), "{bad} accepted");
        assert!(String::from_utf8_lossy(&out.stderr).contains("retention"), "{bad}: the error names the flag");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["admin", "merchant", "set-retention", "--data", d, "--merchant", "mch_nope", "--retention", "1d"])
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("mch_nope"));
    let out = Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["serve", "--data", d, "--listen", "127.0.0.1:0", "--retention", "0s"])
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("retention"));
}

//! `idv admin audit verify`: an intact chain of admin entries verifies; one entry edited in the database file (its
//! triggers dropped first, as an attacker holding the file would) is named by its seq, with exit code 1.

use std::process::{Command, Output};

use crate::common::idv;

fn verify(dir: &str, json: bool) -> Output {
    let mut args = vec!["admin", "audit", "verify", "--data", dir];
    if json {
        args.push("--json");
    }
    Command::new(env!("CARGO_BIN_EXE_idv")).args(&args).output().unwrap()
}

fn sqlite(db: &std::path::Path, sql: &str) {
    let script =
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.executescript(sys.argv[2])\nc.commit()\nc.close()";
    let out = Command::new("python3").args(["-c", script, db.to_str().unwrap(), sql]).output().unwrap();
    assert!(out.status.success(), "python3 sqlite3: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn audit_verify_passes_an_intact_chain_and_names_the_edited_entry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let m = idv(&["admin", "merchant", "create", "--data", d, "--name", "Audit A", "--json"]);
    let mid = m["MerchantId"].as_str().unwrap();
    idv(&["admin", "accesskey", "create", "--data", d, "--merchant", mid, "--json"]);
    idv(&["admin", "merchant", "create", "--data", d, "--name", "Audit B", "--json"]);

    let out = verify(d, false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.trim(), "3 entries, chain intact");
    let again = verify(d, true);
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v, serde_json::json!({"Intact": true, "Entries": 3}), "verifying appends nothing");

    let db = dir.path().join("idv.sqlite3");
    // With the triggers in place the file refuses the edit.
    let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute(\"UPDATE audit_log SET detail = '{}' WHERE seq = 2\")";
    let refused = Command::new("python3").args(["-c", script, db.to_str().unwrap()]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("audit log is append-only"));

    sqlite(
        &db,
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; \
         UPDATE audit_log SET detail = '{\"accessKeyId\":\"LTAIforged\"}' WHERE seq = 2;",
    );
    let out = verify(d, false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("entry 2") && stdout.contains("hash mismatch"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken at entry 2"));
    let out = verify(d, true);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["Intact"].as_bool(), v["BrokenSeq"].as_i64(), v["Entries"].as_i64()),
        (Some(false), Some(2), Some(1))
    );
}

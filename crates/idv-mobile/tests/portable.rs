//! The library must build for Android and iOS: nothing in its normal dependency tree may need a system library
//! or a build tool the mobile toolchains lack (OpenSSL, native-tls, aws-lc's CMake/NASM build), and it must not
//! pull in the server, the store or the engines.

use std::process::Command;

#[test]
fn the_mobile_library_links_nothing_non_portable() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "-p", "idv-mobile", "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains(&"rustls") && names.contains(&"ring"), "TLS is rustls on ring: {names:?}");
    for bad in [
        "openssl",
        "openssl-sys",
        "native-tls",
        "aws-lc-sys",
        "aws-lc-rs",
        "idv-server",
        "idv-store",
        "idv-face",
        "idv-doc",
        "idv-liveness",
        "idv-vision",
        "ort",
        "sqlx",
    ] {
        assert!(!names.contains(&bad), "{bad} is linked into the mobile library:\n{tree}");
    }
}

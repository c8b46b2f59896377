//! The client configuration token (`idv1.<payload>.<mac>`) is presented by devices on every call: verifying
//! any string must never panic, and only tokens this key signed may pass.

#![no_main]

use idv_crypto::Key;
use idv_protocol::{ClientConfig, Product};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Key::from_bytes(&[7u8; 32]).expect("a 32-byte key");
    let Ok(token) = std::str::from_utf8(data) else { return };
    if let Ok(cfg) = ClientConfig::verify(token, &key, 1_000) {
        // A token that verifies was signed with this key: signing its contents again must give a token that
        // verifies to the same configuration.
        let again = cfg.sign(&key);
        assert_eq!(ClientConfig::verify(&again, &key, 1_000).ok().map(|c| c.tid), Some(cfg.tid));
    }
    // Mutations of a genuine token: every one must be refused or decode to a configuration of this key.
    let genuine = ClientConfig {
        tid: "0123456789abcdef0123456789abcdef".into(),
        product: Product::Ekyc,
        steps: Product::Ekyc.steps(false),
        api: "http://127.0.0.1:1/device/v1".into(),
        cred: "AAAA".into(),
        iat: 0,
        exp: 2_000,
    }
    .sign(&key);
    let mut bytes = genuine.into_bytes();
    for (i, b) in data.iter().take(8).enumerate() {
        let at = (*b as usize * 31 + i) % bytes.len();
        bytes[at] = data[(i + 1) % data.len()];
    }
    if let Ok(s) = String::from_utf8(bytes) {
        let _ = ClientConfig::verify(&s, &key, 1_000);
    }
});

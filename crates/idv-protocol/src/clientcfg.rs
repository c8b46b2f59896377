//! The client configuration returned by Initialize as `Protocol` and `ClientCfg`: everything the client SDK needs
//! to run one transaction, in one opaque string the app passes through unmodified.
//!
//! Format: `idv1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(key, "idv1." + payload))>`. It is signed, not
//! encrypted: the SDK must read the device API address and the steps, and nothing in it is secret from the device
//! that will use it. The MAC makes it tamper-evident (the device API re-verifies it on every call), `exp` makes it
//! expire with the transaction, and `tid` binds it to one transaction. The device credential `cred` is the key the
//! SDK uses to authenticate its rounds; it is random per transaction and dies with it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use idv_crypto::Key;
use serde::{Deserialize, Serialize};

use idv_flow::{Product, Step};

const PREFIX: &str = "idv1.";
/// Bounds the work of verifying an attacker-supplied token.
pub const MAX_CLIENT_CONFIG_BYTES: usize = 8192;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// TransactionId this configuration belongs to.
    pub tid: String,
    pub product: Product,
    pub steps: Vec<Step>,
    /// Base URL of the device API, e.g. `http://127.0.0.1:8080/device/v1`.
    pub api: String,
    /// Device credential (base64url of 32 random bytes).
    pub cred: String,
    /// Issued at / expires at, Unix seconds.
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientConfigError {
    #[error("client configuration is malformed")]
    Malformed,
    #[error("client configuration failed its integrity check")]
    BadSignature,
    #[error("client configuration has expired")]
    Expired,
}

impl ClientConfig {
    pub fn sign(&self, key: &Key) -> String {
        let payload = B64.encode(serde_json::to_vec(self).expect("plain struct serialises"));
        let signed = format!("{PREFIX}{payload}");
        let tag = key.hmac_sha256(signed.as_bytes());
        format!("{signed}.{}", B64.encode(tag))
    }

    /// Checks integrity first, then expiry against `now` (Unix seconds).
    pub fn verify(token: &str, key: &Key, now: i64) -> Result<ClientConfig, ClientConfigError> {
        let (signed, payload, tag) = split(token)?;
        let tag = B64.decode(tag).map_err(|_| ClientConfigError::Malformed)?;
        if !key.verify_hmac_sha256(signed.as_bytes(), &tag) {
            return Err(ClientConfigError::BadSignature);
        }
        let payload = B64.decode(payload).map_err(|_| ClientConfigError::Malformed)?;
        let cfg: ClientConfig = serde_json::from_slice(&payload).map_err(|_| ClientConfigError::Malformed)?;
        if now >= cfg.exp {
            return Err(ClientConfigError::Expired);
        }
        Ok(cfg)
    }

    /// Reads the payload without checking the MAC: for the client SDK, which cannot hold the server key. The
    /// server never trusts a configuration read this way.
    pub fn read_unverified(token: &str) -> Result<ClientConfig, ClientConfigError> {
        let (_, payload, _) = split(token)?;
        let payload = B64.decode(payload).map_err(|_| ClientConfigError::Malformed)?;
        serde_json::from_slice(&payload).map_err(|_| ClientConfigError::Malformed)
    }
}

/// Splits `idv1.<payload>.<tag>` into the signed part (`idv1.<payload>`), the payload and the tag. The last `.`
/// is searched after the prefix: searched in the whole token, `"idv1."` split inside the prefix and slicing the
/// payload out of it panicked.
fn split(token: &str) -> Result<(&str, &str, &str), ClientConfigError> {
    if token.len() > MAX_CLIENT_CONFIG_BYTES {
        return Err(ClientConfigError::Malformed);
    }
    let rest = token.strip_prefix(PREFIX).ok_or(ClientConfigError::Malformed)?;
    let (payload, tag) = rest.rsplit_once('.').ok_or(ClientConfigError::Malformed)?;
    Ok((&token[..PREFIX.len() + payload.len()], payload, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ClientConfig {
        ClientConfig {
            tid: "0123456789abcdef0123456789abcdef".into(),
            product: Product::Ekyc,
            steps: Product::Ekyc.steps(false),
            api: "http://127.0.0.1:1/device/v1".into(),
            cred: "c3VwZXJzZWNyZXQ".into(),
            iat: 1000,
            exp: 2800,
        }
    }

    #[test]
    fn signs_verifies_and_expires() {
        let key = Key::random();
        let token = cfg().sign(&key);
        assert_eq!(ClientConfig::verify(&token, &key, 1500).unwrap(), cfg());
        assert_eq!(ClientConfig::read_unverified(&token).unwrap(), cfg());
        assert_eq!(ClientConfig::verify(&token, &key, 2800), Err(ClientConfigError::Expired));
        assert_eq!(ClientConfig::verify(&token, &Key::random(), 1500), Err(ClientConfigError::BadSignature));
        assert_eq!(ClientConfig::verify("garbage", &key, 1500), Err(ClientConfigError::Malformed));
    }

    #[test]
    fn truncated_tokens_are_malformed_not_a_panic() {
        let key = Key::random();
        let token = cfg().sign(&key);
        for t in ["", "i", "idv1", "idv1.", "idv1..", "idv1.x", "idv1.x.", "idv1..x", ".", "idv1.é.é"] {
            assert!(ClientConfig::read_unverified(t).is_err(), "{t:?}");
            assert!(ClientConfig::verify(t, &key, 1500).is_err(), "{t:?}");
        }
        for end in 0..token.len() {
            let t = &token[..end];
            // Cut inside the tag, the payload is whole: an unverified read may succeed, verifying may not.
            if let Ok(read) = ClientConfig::read_unverified(t) {
                assert_eq!(read, cfg(), "{t:?}");
            }
            assert!(ClientConfig::verify(t, &key, 1500).is_err(), "{t:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_refused_without_panic(s in ".{0,64}", payload in "[A-Za-z0-9_.-]{0,40}") {
            let key = Key::random();
            for t in [s.clone(), format!("idv1.{s}"), format!("idv1.{payload}"), format!("idv1.{payload}.{s}")] {
                proptest::prop_assert!(ClientConfig::read_unverified(&t).is_err());
                proptest::prop_assert!(ClientConfig::verify(&t, &key, 1500).is_err());
            }
        }
    }

    #[test]
    fn any_change_to_the_payload_is_detected() {
        let key = Key::random();
        let token = cfg().sign(&key);
        let mut forged = cfg();
        forged.exp = 99_999;
        let (_, tag) = token.rsplit_once('.').unwrap();
        let (unsigned, _) =
            forged.sign(&Key::random()).rsplit_once('.').map(|(a, b)| (a.to_string(), b.to_string())).unwrap();
        let spliced = format!("{unsigned}.{tag}");
        assert_eq!(ClientConfig::verify(&spliced, &key, 1500), Err(ClientConfigError::BadSignature));
        for i in PREFIX.len()..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(bytes).unwrap();
            if t != token {
                assert!(ClientConfig::verify(&t, &key, 1500).is_err(), "byte {i} change accepted");
            }
        }
    }
}

//! Keys and sealing for idv. Everything secret at rest (AccessKey secrets, transaction data, images) is sealed with
//! AES-256-GCM under keys that descend from one master key:
//!
//! ```text
//! master key ──HKDF(purpose)──> key-encryption keys (one per purpose: "accesskey-secret", "dek-wrap", "clientcfg-mac")
//!                                   └─ wraps one random data key per transaction (envelope encryption)
//! ```
//! Deleting a transaction's wrapped data key makes every blob and record sealed under it unreadable
//! (crypto-shredding), even where a copy of the ciphertext survives in a backup or an object store.
//! This crate does no I/O: loading the master key from a file or the environment is the caller's job.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Format byte in front of every sealed value, so the scheme can change without guessing.
const SEAL_V1: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("master key must be 32 bytes written as 64 hex characters")]
    BadMasterKey,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value failed authentication (wrong key, wrong context, or tampered)")]
    Unauthentic,
}

/// A 256-bit key. Zeroed on drop; `Debug` never prints it.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    pub fn random() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(&mut k[..]);
        Key(k)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadMasterKey)?;
        Ok(Key(Zeroizing::new(arr)))
    }

    /// Parses the 64-hex-character form used in key files and `IDV_MASTER_KEY`.
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let bytes = Zeroizing::new(hex::decode(s.trim()).map_err(|_| CryptoError::BadMasterKey)?);
        Self::from_bytes(&bytes)
    }

    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(&self.0[..]))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A subkey for one purpose. Purposes are fixed strings in code, so two features never share a key.
    pub fn derive(&self, purpose: &str) -> Key {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"idv-v1"), &self.0[..]);
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(purpose.as_bytes(), &mut out[..]).expect("32 bytes is a valid HKDF-SHA256 length");
        Key(out)
    }

    /// AES-256-GCM with a random 96-bit nonce. `context` is authenticated but not stored: a value sealed for one
    /// row or file cannot be moved to another (the caller passes e.g. the access key id or the blob id).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new_from_slice(&self.0[..]).expect("32-byte key");
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: context })
            .expect("AES-GCM encryption of in-memory data cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(SEAL_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != SEAL_V1 {
            return Err(CryptoError::Malformed);
        }
        let cipher = Aes256Gcm::new_from_slice(&self.0[..]).expect("32-byte key");
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: context })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Unauthentic)
    }

    pub fn hmac_sha256(&self, msg: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0[..]).expect("any key length");
        mac.update(msg);
        mac.finalize().into_bytes().into()
    }

    /// Constant-time check of an HMAC-SHA256 tag.
    pub fn verify_hmac_sha256(&self, msg: &[u8], tag: &[u8]) -> bool {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0[..]).expect("any key length");
        mac.update(msg);
        mac.verify_slice(tag).is_ok()
    }
}

/// An unambiguous sealing context made of several parts (e.g. a purpose, a transaction id and its merchant id):
/// each part is length-prefixed, so no two different lists of parts give the same bytes, whatever characters
/// the parts contain (`["a:b", "c"]` and `["a", "b:c"]` stay distinct, which joining with a separator would not
/// guarantee).
pub fn context(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| 8 + p.len()).sum());
    for p in parts {
        out.extend_from_slice(&(p.len() as u64).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// Random bytes from the OS-seeded CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

/// Lowercase hex of `n` random bytes (ids such as the 32-character TransactionId).
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Random string over `[A-Za-z0-9]`, for AccessKey ids and secrets (the shape merchants know from Alibaba Cloud).
pub fn random_alnum(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| {
            // Rejection sampling keeps the distribution uniform (62 does not divide 256).
            loop {
                let b = (rng.next_u32() & 0xff) as u8;
                if (b as usize) < ALPHABET.len() * 4 {
                    return ALPHABET[(b as usize) % ALPHABET.len()] as char;
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seal_open_roundtrip_and_context_binding() {
        let k = Key::random();
        let sealed = k.seal(b"secret", b"row-1");
        assert_eq!(&k.open(&sealed, b"row-1").unwrap()[..], b"secret");
        assert_eq!(k.open(&sealed, b"row-2"), Err(CryptoError::Unauthentic));
        assert_eq!(Key::random().open(&sealed, b"row-1"), Err(CryptoError::Unauthentic));
        assert_eq!(k.open(&sealed[..10], b"row-1"), Err(CryptoError::Malformed));
    }

    #[test]
    fn contexts_of_different_parts_never_collide() {
        assert_ne!(context(&[b"a:b", b"c"]), context(&[b"a", b"b:c"]));
        assert_ne!(context(&[b"ab"]), context(&[b"a", b"b"]));
        assert_ne!(context(&[b"tx", b"mch_a"]), context(&[b"tx", b"mch_b"]));
        assert_eq!(context(&[b"tx", b"mch_a"]), context(&[b"tx", b"mch_a"]));
        let k = Key::random();
        let sealed = k.seal(b"dek", &context(&[b"tx", b"mch_a"]));
        assert_eq!(k.open(&sealed, &context(&[b"tx", b"mch_b"])), Err(CryptoError::Unauthentic));
    }

    #[test]
    fn derive_is_deterministic_and_separates_purposes() {
        let k = Key::from_hex(&"11".repeat(32)).unwrap();
        assert_eq!(k.derive("a").as_bytes(), k.derive("a").as_bytes());
        assert_ne!(k.derive("a").as_bytes(), k.derive("b").as_bytes());
        assert_ne!(k.derive("a").as_bytes(), k.as_bytes());
    }

    #[test]
    fn hex_key_parsing() {
        assert!(Key::from_hex("abcd").is_err());
        assert!(Key::from_hex(&"zz".repeat(32)).is_err());
        let k = Key::random();
        assert_eq!(Key::from_hex(&k.to_hex()).unwrap().as_bytes(), k.as_bytes());
        assert_eq!(format!("{k:?}"), "Key(..)");
    }

    #[test]
    fn alnum_ids_have_the_right_shape() {
        let s = random_alnum(30);
        assert_eq!(s.len(), 30);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(random_alnum(30), s);
        assert_eq!(random_hex(16).len(), 32);
    }

    proptest! {
        #[test]
        fn any_bit_flip_is_detected(data in proptest::collection::vec(any::<u8>(), 0..256), pos in any::<usize>(), bit in 0u8..8) {
            let k = Key::random();
            let mut sealed = k.seal(&data, b"ctx");
            let i = pos % sealed.len();
            sealed[i] ^= 1 << bit;
            prop_assert!(k.open(&sealed, b"ctx").is_err());
        }
    }
}

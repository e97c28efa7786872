//! Secrets Specula must read back to use (a webhook's signing secret, a
//! Slack URL, an SMTP password), sealed with XChaCha20-Poly1305 under the
//! installation's key, so that a copy of the database alone reveals none.
//! Each sealed value is bound to what it belongs to (the associated data,
//! e.g. a channel's id): moved to another row, it does not open.

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use rand::RngCore;

const VERSION: &str = "v1:";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// The installation's sealing key.
#[derive(Clone)]
pub struct SealingKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SealingKey(…)")
    }
}

/// Why a key could not be read or a value opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the key must be 32 bytes in standard base64 (e.g. `openssl rand -base64 32`)")]
    BadKey,
    #[error("the sealed value is damaged, or was sealed with another key")]
    CannotOpen,
}

impl SealingKey {
    /// A key from 32 bytes written in standard base64.
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| SealError::BadKey)?;
        if bytes.len() != KEY_BYTES {
            return Err(SealError::BadKey);
        }
        Ok(Self {
            cipher: XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SealError::BadKey)?,
        })
    }

    /// A fresh random key, in the form [`SealingKey::from_base64`] reads.
    pub fn generate_base64() -> String {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// `plaintext` sealed and bound to `context`, as text for a column.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any length a column holds");
        let mut joined = nonce.to_vec();
        joined.extend_from_slice(&sealed);
        format!("{VERSION}{}", STANDARD.encode(joined))
    }

    /// What [`SealingKey::seal`] sealed with `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SealError> {
        let encoded = sealed.strip_prefix(VERSION).ok_or(SealError::CannotOpen)?;
        let joined = STANDARD.decode(encoded).map_err(|_| SealError::CannotOpen)?;
        if joined.len() < NONCE_BYTES {
            return Err(SealError::CannotOpen);
        }
        let (nonce, ciphertext) = joined.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_and_context_only() {
        let key = SealingKey::from_base64(&SealingKey::generate_base64()).unwrap();
        let sealed = key.seal(b"hunter2", "channel-1");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(key.open(&sealed, "channel-1").unwrap(), b"hunter2");
        assert_eq!(key.open(&sealed, "channel-2"), Err(SealError::CannotOpen));
        let other = SealingKey::from_base64(&SealingKey::generate_base64()).unwrap();
        assert_eq!(other.open(&sealed, "channel-1"), Err(SealError::CannotOpen));
        assert_ne!(
            key.seal(b"hunter2", "channel-1"),
            sealed,
            "a fresh nonce each time"
        );
        assert_eq!(key.open("v1:AAAA", "channel-1"), Err(SealError::CannotOpen));
        assert_eq!(key.open("plain", "channel-1"), Err(SealError::CannotOpen));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert_eq!(
            SealingKey::from_base64("c2hvcnQ=").unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(
            SealingKey::from_base64("not base64!").unwrap_err(),
            SealError::BadKey
        );
        assert!(SealingKey::from_base64(&format!(" {} \n", SealingKey::generate_base64())).is_ok());
    }
}

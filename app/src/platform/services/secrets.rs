//! Random secrets (API tokens, invitation links) and the digests stored in
//! their place. Secrets have ≥ 128 bits of entropy, so a plain SHA-256 is the
//! right digest: no salt or slow hash is needed to resist guessing.

use rand::{Rng, distr::Alphanumeric};
use sha2::{Digest, Sha256};

/// `len` characters from `[A-Za-z0-9]` (5.95 bits each) from the OS RNG.
pub fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Lower-case hex SHA-256 of `secret`.
pub fn sha256_hex(secret: &str) -> String {
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_alphanumeric() {
        let a = random_alphanumeric(32);
        let b = random_alphanumeric(32);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

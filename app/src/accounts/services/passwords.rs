//! Password policy and hashing.
//!
//! Hashes are argon2id with the OWASP parameters (19 MiB, 2 passes, 1 lane),
//! the `argon2` crate's defaults, computed on the blocking pool because one
//! hash takes tens of milliseconds of CPU.

use std::sync::LazyLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::error::{AppError, Result};

pub const MIN_PASSWORD_LEN: usize = 10;
/// Long inputs cost hashing time, not security; cap them.
pub const MAX_PASSWORD_LEN: usize = 256;

/// The most common passwords that meet the length rule, from public breach
/// corpora; shorter ones are already refused by length.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "1234567890a",
    "0123456789",
    "0987654321",
    "1111111111",
    "0000000000",
    "1q2w3e4r5t",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "qazwsxedcrfv",
    "qwertyuiop",
    "qwertyuiop123",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "asdfghjkl1",
    "asdfghjkl123",
    "zxcvbnm123",
    "abcdefghij",
    "abcd123456",
    "abc1234567",
    "aaaaaaaaaa",
    "password12",
    "password123",
    "password1234",
    "password12345",
    "passw0rd123",
    "p@ssw0rd123",
    "iloveyou12",
    "iloveyou123",
    "letmein123",
    "welcome123",
    "welcome1234",
    "changeme123",
    "administrator",
    "admin12345",
    "admin123456",
    "football123",
    "baseball123",
    "superman123",
    "princess123",
    "sunshine123",
    "monkey12345",
    "dragon12345",
    "trustno1234",
    "starwars123",
    "master12345",
    "michael123",
    "jennifer123",
    "computer123",
    "internet123",
    "whatever123",
    "freedom123",
    "q1w2e3r4t5",
    "q1w2e3r4t5y6",
    "1a2b3c4d5e",
    "a1b2c3d4e5",
    "11223344556",
    "123123123123",
    "123qweasdzxc",
    "qweasdzxc123",
    "987654321a",
    "987654321",
    "passwordpassword",
    "letmeinletmein",
    "specula123",
    "specula1234",
];

/// Refuses passwords that are too short, too long, common, made of one
/// repeated character, or the same as the email.
pub fn check_policy(password: &str, email: &str) -> Result<()> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Err(AppError::BadRequest(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if length > MAX_PASSWORD_LEN {
        return Err(AppError::BadRequest(format!(
            "the password must have at most {MAX_PASSWORD_LEN} characters"
        )));
    }
    let lowered = password.to_lowercase();
    let mut chars = lowered.chars();
    let first = chars.next();
    if COMMON_PASSWORDS.contains(&lowered.as_str()) || chars.all(|c| Some(c) == first) {
        return Err(AppError::BadRequest(
            "this password is too common; choose another".to_owned(),
        ));
    }
    let local_part = email.split('@').next().unwrap_or_default();
    if lowered == email || (!local_part.is_empty() && lowered == local_part) {
        return Err(AppError::BadRequest(
            "the password must not be your email address".to_owned(),
        ));
    }
    Ok(())
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|err| AppError::Internal(format!("password hashing failed: {err}")))
    })
    .await
    .map_err(|err| AppError::Internal(format!("password hashing task failed: {err}")))?
}

/// A hash of a random password, verified against when the account does not
/// exist so that an unknown email costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random: String = crate::platform::services::secrets::random_alphanumeric(32);
    Argon2::default()
        .hash_password(random.as_bytes())
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// Checks `password` against `stored`; with no stored hash, spends the same
/// effort and answers `false`.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        known && matches
    })
    .await
    .map_err(|err| AppError::Internal(format!("password check task failed: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_weak_passwords() {
        let email = "ada@example.com";
        for (password, reason) in [
            ("short", "at least"),
            ("Password123", "too common"),
            ("QWERTYUIOP", "too common"),
            ("zzzzzzzzzzzzz", "too common"),
            ("ada@example.com", "email"),
            (&"x".repeat(300)[..], "at most"),
        ] {
            let err = check_policy(password, email).expect_err(password).to_string();
            assert!(err.contains(reason), "{password}: {err}");
        }
        check_policy("correct horse battery", email).unwrap();
        check_policy("ádá-läuft-schnell", email).unwrap();
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hash = hash("correct horse battery".to_owned()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(
            verify("correct horse battery".to_owned(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".to_owned(), Some(hash))
                .await
                .unwrap()
        );
        // An unknown account never verifies, whatever the password.
        assert!(!verify("correct horse battery".to_owned(), None).await.unwrap());
    }
}

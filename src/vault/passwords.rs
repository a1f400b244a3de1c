//! Passwords: what is strong enough, hashing with Argon2id, and checking a
//! login in the same time whether or not the name exists (an unknown or
//! token-only name is checked against a dummy hash, so timing tells
//! nothing).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};

use super::VaultError;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (Argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Words that common passwords are made of, lower-case. A password that is
/// one of these (or one of these with digits and punctuation around it),
/// repeated or not, is refused.
const COMMON: &str = include_str!("common_passwords.txt");

/// Why a new password is refused. Never holds the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password must have at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("the password is one character repeated")]
    Repeated,
    #[error("the password is a common password or a keyboard or number sequence")]
    Common,
    #[error("the new password is the same as the old one")]
    Unchanged,
}

/// Checks a new password for the user `name`.
pub fn check_strength(name: &str, pw: &SecretString) -> Result<(), WeakPassword> {
    let pw = pw.expose_secret();
    let chars: Vec<char> = pw.chars().collect();
    if chars.len() < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::TooShort);
    }
    if chars.len() > MAX_PASSWORD_CHARS {
        return Err(WeakPassword::TooLong);
    }
    let distinct: std::collections::BTreeSet<char> = chars.iter().copied().collect();
    if distinct.len() <= 2 {
        return Err(WeakPassword::Repeated);
    }
    let lower = pw.to_lowercase();
    if !name.is_empty() && lower.trim() == name.to_lowercase() {
        return Err(WeakPassword::Common);
    }
    // The core: without surrounding digits, punctuation and spaces.
    let core: String = lower
        .trim_matches(|c: char| !c.is_alphabetic())
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let is_common = |s: &str| COMMON.lines().any(|w| !w.is_empty() && w == s);
    if is_common(&core) || is_common(&lower) || is_sequence(&lower) || repeats_common(&core) {
        return Err(WeakPassword::Common);
    }
    Ok(())
}

/// A run along the keyboard or the digits (`123456789012`, `qwertyuiop`),
/// forwards or backwards, possibly repeated.
fn is_sequence(s: &str) -> bool {
    const RUNS: [&str; 5] = [
        "12345678901234567890",
        "abcdefghijklmnopqrstuvwxyz",
        "qwertyuiopasdfghjklzxcvbnm",
        "1qaz2wsx3edc4rfv5tgb6yhn7ujm",
        "qazwsxedcrfvtgbyhnujmikolp",
    ];
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if s.len() < 4 {
        return false;
    }
    RUNS.iter().any(|run| {
        let twice = run.repeat(4);
        let back: String = twice.chars().rev().collect();
        twice.contains(&s) || back.contains(&s)
    })
}

/// A common word written twice or more (`passwordpassword`).
fn repeats_common(core: &str) -> bool {
    COMMON.lines().filter(|w| w.len() >= 3).any(|w| {
        core.len() > w.len()
            && core.len().is_multiple_of(w.len())
            && core == w.repeat(core.len() / w.len())
    })
}

/// The Argon2id hash (PHC string) of a password that passed [`check_strength`].
pub fn hash(pw: &SecretString) -> Result<String, VaultError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pw.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| VaultError::Integrity(format!("password hashing failed: {e}")))
}

/// A hash no password is known for, made once per process with the same
/// parameters as real ones.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut OsRng, &mut secret);
    hash(&SecretString::from(hex::encode(secret))).unwrap_or_default()
});

/// Makes the dummy hash now, so that the first login for an unknown name
/// takes no longer than any other.
pub fn prepare() {
    LazyLock::force(&DUMMY);
}

/// Argon2 checks made by this process (a metric: one per login attempt
/// that was not throttled, whatever the name).
static CHECKS: AtomicU64 = AtomicU64::new(0);

/// How many password checks this process has made.
pub fn checks() -> u64 {
    CHECKS.load(Ordering::Relaxed)
}

/// Checks `pw` against `stored`, or against the dummy hash when there is
/// none: the same work either way. True only for a real match.
pub fn verify(stored: Option<&str>, pw: &SecretString) -> bool {
    CHECKS.fetch_add(1, Ordering::Relaxed);
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (DUMMY.as_str(), false),
    };
    let ok = PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(pw.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    ok && real
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, pw: &str) -> Result<(), WeakPassword> {
        check_strength(name, &SecretString::from(pw.to_string()))
    }

    #[test]
    fn weak_passwords_are_refused() {
        for (pw, why) in [
            ("short", WeakPassword::TooShort),
            ("aaaaaaaaaaaa", WeakPassword::Repeated),
            ("            ", WeakPassword::Repeated),
            ("abababababab", WeakPassword::Repeated),
            ("password1234", WeakPassword::Common),
            ("Password@2024", WeakPassword::Common),
            ("123456789012", WeakPassword::Common),
            ("qwertyuiopas", WeakPassword::Common),
            ("passwordpassword", WeakPassword::Common),
            ("iloveyou1234", WeakPassword::Common),
        ] {
            assert_eq!(check("meena", pw), Err(why), "{pw:?}");
        }
        assert_eq!(check("meena", &"x".repeat(300)), Err(WeakPassword::TooLong));
        assert_eq!(
            check("meena.kumari", "Meena.Kumari"),
            Err(WeakPassword::Common)
        );
    }

    #[test]
    fn ordinary_passphrases_pass() {
        for pw in [
            "blue-river-kite-41",
            "correct horse battery staple",
            "शिक्षा का अधिकार सबको",
            "Tq7#vP2m!xL9",
        ] {
            assert_eq!(check("meena", pw), Ok(()), "{pw:?}");
        }
    }

    #[test]
    fn unknown_names_cost_a_hash_and_never_match() {
        let pw = SecretString::from("blue-river-kite-41".to_string());
        let h = hash(&pw).unwrap();
        assert!(verify(Some(&h), &pw));
        assert!(!verify(Some(&h), &SecretString::from("other".to_string())));
        assert!(!verify(None, &pw));
        assert!(!verify(Some("not a phc string"), &pw));
    }
}

//! `Idempotency-Key`: a client that retries a POST (after a timeout, a
//! dropped connection, a 503) gets the array it already started instead of a
//! second computation.

use sha2::{Digest, Sha256};
use std::fmt::Write;

/// How long a key keeps standing for its array: a day covers any sane retry
/// loop, and the claim row (in the sums table, under DynamoDB's TTL) then
/// goes away on its own.
pub const IDEMPOTENCY_TTL_SECONDS: u64 = 24 * 60 * 60;

/// Longest key accepted. Long enough for a UUID or a hash with a prefix,
/// short enough that a scoped key stays far below DynamoDB's 2 KB partition
/// key limit.
pub const MAX_KEY_LEN: usize = 128;

/// Why an `Idempotency-Key` header was refused (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the Idempotency-Key header is empty; send 1 to {MAX_KEY_LEN} printable ASCII characters"
    )]
    Empty,
    #[error("the Idempotency-Key header is {0} characters long; the limit is {MAX_KEY_LEN}")]
    TooLong(usize),
    #[error(
        "the Idempotency-Key header must be printable ASCII (space to ~); character {0} is not"
    )]
    NotPrintable(usize),
}

/// A validated client key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks a header value: 1 to 128 bytes, each printable ASCII (0x20..=0x7E).
    pub fn parse(raw: &[u8]) -> Result<IdempotencyKey, KeyError> {
        if raw.is_empty() {
            return Err(KeyError::Empty);
        }
        if let Some(at) = raw.iter().position(|b| !(0x20..=0x7e).contains(b)) {
            return Err(KeyError::NotPrintable(at));
        }
        if raw.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong(raw.len()));
        }
        // Every byte is ASCII, so this cannot fail; no unwrap all the same.
        Ok(IdempotencyKey(String::from_utf8_lossy(raw).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as stored: prefixed with the caller's identity, so two callers
    /// who happen to pick the same key never see each other's arrays.
    /// `caller` must not contain `#` for the result to be unambiguous (IAM
    /// ARNs and API key ids do not); any `#` is replaced to keep it so.
    pub fn scoped(&self, caller: &str) -> String {
        format!("{}#{}", caller.replace('#', "%23"), self.0)
    }
}

/// Scope and key together, as `submit_with_key` takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: IdempotencyKey,
    /// Who is calling (IAM principal, API key id, or `anonymous`).
    pub caller: String,
}

/// A fingerprint of a request body (SHA-256), to tell a retry from a
/// different request that reuses a key. Collision-resistant, because with
/// `ApiAuth=NONE` every caller shares one key scope: a body crafted to
/// collide must not be answered with someone else's array.
pub(crate) fn fingerprint(body: &str) -> String {
    hex_digest(&[body.as_bytes()])
}

/// The fingerprint of `body` run by `job`: the body's alone for the
/// default job (so keys the adder stored before jobs still match), else
/// the job's JSON, a line break and the body. A valid body starts with `[`
/// or white space, the job's JSON with `{`: no two requests share a text.
pub(crate) fn fingerprint_with_job(body: &str, job: &packet::job::JobSpec) -> String {
    if job.is_default() {
        return fingerprint(body);
    }
    hex_digest(&[job.to_json().as_bytes(), b"\n", body.as_bytes()])
}

fn hex_digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(7 + 2 * digest.len());
    hex.push_str("sha256:");
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_printable_ascii_up_to_128() {
        assert_eq!(
            IdempotencyKey::parse(b"order-42 retry").map(|k| k.as_str().to_string()),
            Ok("order-42 retry".to_string())
        );
        assert!(IdempotencyKey::parse(&[b'k'; 128]).is_ok());
        assert_eq!(
            IdempotencyKey::parse(&[b'k'; 129]),
            Err(KeyError::TooLong(129))
        );
        assert_eq!(IdempotencyKey::parse(b""), Err(KeyError::Empty));
        assert_eq!(
            IdempotencyKey::parse(b"ab\tc"),
            Err(KeyError::NotPrintable(2))
        );
        assert_eq!(
            IdempotencyKey::parse("é".as_bytes()),
            Err(KeyError::NotPrintable(0))
        );
    }

    #[test]
    fn scopes_keys_by_caller() {
        let key = IdempotencyKey::parse(b"k").expect("valid");
        assert_ne!(key.scoped("alice"), key.scoped("bob"));
        assert_ne!(
            key.scoped("a#b"),
            IdempotencyKey::parse(b"b#k").expect("valid").scoped("a")
        );
    }

    #[test]
    fn fingerprints_are_stable_and_tell_bodies_apart() {
        // Pinned (the SHA-256 test vectors): a stored fingerprint must
        // match after a redeploy.
        assert_eq!(
            fingerprint(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            fingerprint("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(fingerprint("[1,2,3]"), fingerprint("[1,2,3]"));
        assert_ne!(fingerprint("[1,2,3]"), fingerprint("[1,2,4]"));
        let stats = packet::job::JobSpec::named("stats");
        let sum = packet::job::JobSpec::default();
        assert_eq!(fingerprint_with_job("[1]", &sum), fingerprint("[1]"));
        assert_ne!(fingerprint_with_job("[1]", &stats), fingerprint("[1]"));
        assert_eq!(
            fingerprint_with_job("[1]", &stats),
            fingerprint("{\"name\":\"stats\"}\n[1]")
        );
    }
}

//! The exact text forms the bundle specification allows for the values in
//! its JSON documents (docs/bundle-format.md §4.1): ids, times, digests,
//! fingerprints, dates, and optional fields that are present or absent but
//! never `null`. Each is a serde `deserialize_with` function, so a value in
//! any other form is refused while the JSON is parsed, naming the field.
//! Written by hand because these are the spec's own rules, not a general
//! format any crate implements.

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// True for a UUID in its canonical text: 36 characters, lower-case hex
/// digits and hyphens at 8-4-4-4-12.
pub fn is_canonical_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        })
}

/// True for 64 lower-case hex digits (a SHA-256).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// True for `SHA256:` and 43 characters of unpadded standard base64.
pub fn is_fingerprint(s: &str) -> bool {
    s.strip_prefix("SHA256:").is_some_and(|b| {
        b.len() == 43
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
    })
}

/// True for a department id: 2 to 63 of `a-z 0-9 -`, not starting or
/// ending with `-`.
pub fn is_department_id(s: &str) -> bool {
    (2..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Parses a time in the one form allowed: `YYYY-MM-DDTHH:MM:SS`, an
/// optional fraction of 1 to 9 digits, then `Z` or `+00:00`.
pub fn parse_utc(s: &str) -> Option<DateTime<Utc>> {
    let (body, zone) = if let Some(b) = s.strip_suffix('Z') {
        (b, "Z")
    } else {
        (s.strip_suffix("+00:00")?, "+00:00")
    };
    let b = body.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shape = b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && match b.len() {
            19 => true,
            21..=29 => b[19] == b'.' && digits(20..b.len()),
            _ => false,
        };
    if !shape {
        return None;
    }
    DateTime::parse_from_rfc3339(&format!("{body}{zone}"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses a date in the one form allowed: `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

fn string_in<'de, D: Deserializer<'de>, T>(
    d: D,
    what: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).ok_or_else(|| D::Error::custom(format!("not {what}")))
}

/// A bundle or document id: a canonical UUID, as text.
pub fn uuid_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    string_in(d, "a UUID in lower-case hyphenated form", |s| {
        is_canonical_uuid(s).then(|| s.to_string())
    })
}

/// A UUID in canonical form, as any id type that parses from it.
pub fn uuid_id<'de, D: Deserializer<'de>, T: std::str::FromStr>(d: D) -> Result<T, D::Error> {
    string_in(d, "a UUID in lower-case hyphenated form", |s| {
        is_canonical_uuid(s).then(|| s.parse().ok()).flatten()
    })
}

/// A time in UTC (see [`parse_utc`]).
pub fn utc<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    string_in(
        d,
        "an RFC 3339 time in UTC (YYYY-MM-DDTHH:MM:SS[.fraction] and Z or +00:00)",
        parse_utc,
    )
}

/// A SHA-256 in lower-case hex.
pub fn sha256<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    string_in(d, "64 lower-case hex digits", |s| {
        is_sha256_hex(s).then(|| s.to_string())
    })
}

/// A key fingerprint.
pub fn fingerprint<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    string_in(d, "SHA256: and 43 base64 characters", |s| {
        is_fingerprint(s).then(|| s.to_string())
    })
}

/// A department id.
pub fn department_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    string_in(d, "a department id (2-63 of a-z 0-9 -)", |s| {
        is_department_id(s).then(|| s.to_string())
    })
}

/// An optional field: absent is `None` (with `#[serde(default)]`), a value
/// is `Some`, and `null` is refused.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// An optional date (see [`parse_date`]); `null` is refused.
pub fn present_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    string_in(d, "a date YYYY-MM-DD", parse_date).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_only_in_canonical_form() {
        assert!(is_canonical_uuid("01a2090a-f8a5-7440-9ee9-e5ebaff18950"));
        for bad in [
            "not-a-uuid",
            "01A2090A-F8A5-7440-9EE9-E5EBAFF18950",
            "{01a2090a-f8a5-7440-9ee9-e5ebaff18950}",
            "urn:uuid:01a2090a-f8a5-7440-9ee9-e5ebaff18950",
            "01a2090af8a574409ee9e5ebaff18950",
            "01a2090a-f8a5-7440-9ee9-e5ebaff1895",
            "01a2090a+f8a5-7440-9ee9-e5ebaff18950",
        ] {
            assert!(!is_canonical_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn times_only_in_utc() {
        for good in [
            "2026-11-23T15:34:03Z",
            "2026-11-23T15:34:03.1Z",
            "2026-11-23T15:34:03.123456789Z",
            "2026-11-23T15:34:03+00:00",
        ] {
            assert!(parse_utc(good).is_some(), "{good}");
        }
        for bad in [
            "2026-11-23T15:34:03+05:30",
            "2026-11-23T15:34:03-00:00",
            "2026-11-23T15:34:03z",
            "2026-11-23t15:34:03Z",
            "2026-11-23 15:34:03Z",
            "2026-11-23T15:34Z",
            "2026-11-23T15:34:03.Z",
            "2026-11-23T15:34:03.1234567890Z",
            "2026-13-23T15:34:03Z",
            "2026-11-23T15:34:03",
            " 2026-11-23T15:34:03Z",
        ] {
            assert!(parse_utc(bad).is_none(), "{bad}");
        }
        assert_eq!(
            parse_utc("2026-11-23T15:34:03+00:00"),
            parse_utc("2026-11-23T15:34:03Z")
        );
    }

    #[test]
    fn dates_digests_fingerprints_and_ids() {
        assert!(parse_date("2014-02-28").is_some());
        for bad in [
            "2014-2-28",
            "2014-02-30",
            "+2014-02-28",
            "20140228",
            "2014-02-28 ",
        ] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
        assert!(is_sha256_hex(&"ab".repeat(32)));
        assert!(!is_sha256_hex(&"AB".repeat(32)));
        assert!(!is_sha256_hex(&"ab".repeat(31)));
        assert!(is_fingerprint(&format!("SHA256:{}", "A".repeat(43))));
        assert!(!is_fingerprint(&format!("SHA256:{}=", "A".repeat(43))));
        assert!(!is_fingerprint(&format!("sha256:{}", "A".repeat(43))));
        assert!(is_department_id("br-swd-patna"));
        for bad in ["b", "-br", "br-", "BR-SWD", "br_swd", &"a".repeat(64)] {
            assert!(!is_department_id(bad), "{bad}");
        }
    }
}

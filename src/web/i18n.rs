//! Every visible word of the pages, from the message catalogs in
//! `locales/{en,hi}/main.ftl` (Fluent, embedded in the binary by
//! fluent-templates), and how dates and numbers are shown: dates in IST as
//! DD-MM-YYYY, numbers with Indian grouping (2,56,369). The grouping is
//! written here because Fluent's Rust implementation formats numbers
//! without grouping, and a locale crate for one rule would be heavier
//! than the rule.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};

use crate::domain::Language;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: the pages are one
        // direction, and the marks would show in copied text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

fn language_id(l: Language) -> &'static LanguageIdentifier {
    static IDS: OnceLock<[LanguageIdentifier; 2]> = OnceLock::new();
    let ids = IDS.get_or_init(|| {
        [
            "en".parse().expect("a valid language id"),
            "hi".parse().expect("a valid language id"),
        ]
    });
    match l {
        Language::En => &ids[0],
        Language::Hi => &ids[1],
    }
}

/// India Standard Time, UTC+05:30.
fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("a valid offset")
}

/// A count as templates hand it over: by value or by reference, of any
/// unsigned width.
pub trait Count {
    fn count(&self) -> u64;
}

macro_rules! count_impl {
    ($($t:ty),*) => {$(
        impl Count for $t {
            fn count(&self) -> u64 {
                *self as u64
            }
        }
    )*};
}
count_impl!(u8, u32, u64, usize);

impl<T: Count + ?Sized> Count for &T {
    fn count(&self) -> u64 {
        (**self).count()
    }
}

/// The words of one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    pub lang: Language,
}

impl Tr {
    pub fn new(lang: Language) -> Tr {
        Tr { lang }
    }

    /// `<html lang>`.
    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    /// The message `id`. A missing one shows its id (the catalog test
    /// keeps that from happening).
    pub fn t(&self, id: impl AsRef<str>) -> String {
        let id = id.as_ref();
        LOCALES
            .try_lookup_complete(language_id(self.lang), id, None)
            .unwrap_or_else(|| id.to_string())
    }

    /// The message `id` with arguments.
    pub fn args(&self, id: &str, args: &[(&'static str, String)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), FluentValue::from(v.clone())))
            .collect();
        LOCALES
            .try_lookup_complete(language_id(self.lang), id, Some(&map))
            .unwrap_or_else(|| id.to_string())
    }

    /// The message `id` with one argument.
    pub fn arg(&self, id: &str, name: &'static str, value: impl ToString) -> String {
        self.args(id, &[(name, value.to_string())])
    }

    /// The message `id` with a count `n`, for plural forms (`[one]`,
    /// `*[other]`), the count shown with Indian grouping.
    pub fn count(&self, id: &str, n: impl Count) -> String {
        let n = n.count();
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = [
            (Cow::Borrowed("n"), FluentValue::from(n as f64)),
            (Cow::Borrowed("shown"), FluentValue::from(group(n))),
        ]
        .into_iter()
        .collect();
        LOCALES
            .try_lookup_complete(language_id(self.lang), id, Some(&map))
            .unwrap_or_else(|| id.to_string())
    }

    /// A number with Indian grouping.
    pub fn num(&self, n: impl Count) -> String {
        group(n.count())
    }

    /// A day, DD-MM-YYYY.
    pub fn day(&self, d: NaiveDate) -> String {
        d.format("%d-%m-%Y").to_string()
    }

    /// A moment in IST, DD-MM-YYYY HH:MM.
    pub fn time(&self, t: &DateTime<Utc>) -> String {
        format!(
            "{} {}",
            t.with_timezone(&ist()).format("%d-%m-%Y %H:%M"),
            self.t("ist")
        )
    }

    /// The day of a moment, in IST.
    pub fn date(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&ist()).format("%d-%m-%Y").to_string()
    }
}

/// `n` with Indian digit grouping: the last three digits, then groups of
/// two (2,56,369; 1,00,00,000).
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    if digits.len() <= 3 {
        return digits;
    }
    let (head, tail) = digits.split_at(digits.len() - 3);
    let mut out = String::new();
    let first = head.len() % 2;
    if first == 1 {
        out.push_str(&head[..1]);
    }
    for (i, pair) in head.as_bytes()[first..].chunks(2).enumerate() {
        if i > 0 || first == 1 {
            out.push(',');
        }
        out.push_str(std::str::from_utf8(pair).expect("ascii digits"));
    }
    out.push(',');
    out.push_str(tail);
    out
}

/// Every message id of a language's catalog (for the catalog test).
pub fn catalog_ids(lang: Language) -> Vec<String> {
    let text = match lang {
        Language::En => include_str!("../../locales/en/main.ftl"),
        Language::Hi => include_str!("../../locales/hi/main.ftl"),
    };
    text.lines()
        .filter_map(|l| {
            let (id, _) = l.split_once(" =")?;
            (!id.starts_with(char::is_whitespace) && !id.starts_with('#') && !id.is_empty())
                .then(|| id.trim().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indian_grouping() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (12345, "12,345"),
            (256369, "2,56,369"),
            (7466, "7,466"),
            (10000000, "1,00,00,000"),
            (123456789, "12,34,56,789"),
        ] {
            assert_eq!(group(n), s, "{n}");
        }
    }

    #[test]
    fn dates_are_ist_day_month_year() {
        let t = DateTime::parse_from_rfc3339("2026-12-02T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let tr = Tr::new(Language::En);
        // 20:00 UTC is 01:30 the next day in IST.
        assert_eq!(tr.date(&t), "03-12-2026");
        assert!(tr.time(&t).starts_with("03-12-2026 01:30"));
    }

    #[test]
    fn both_languages_translate() {
        let en = Tr::new(Language::En).t("login-title");
        let hi = Tr::new(Language::Hi).t("login-title");
        assert_ne!(en, "login-title");
        assert_ne!(en, hi);
        assert!(hi.chars().any(|c| ('\u{0900}'..='\u{097F}').contains(&c)));
    }
}

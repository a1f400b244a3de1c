//! One page of a list: how many rows (`limit`, 50 by default, at most 500),
//! where the previous page ended (`after`, the last row's id: a cursor that
//! stays right while rows are added), and an optional name search (`q`,
//! case-insensitive, by prefix or substring, in any script).

use unicode_normalization::UnicodeNormalization;

/// Rows of a page when the caller names no limit.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page a caller may ask for.
pub const MAX_LIMIT: usize = 500;
/// The longest search text.
const MAX_QUERY_CHARS: usize = 100;

/// What page of a list is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// The id of the last row of the previous page.
    pub after: Option<String>,
    /// A name to search for, already folded ([`fold_name`]).
    pub q: Option<String>,
}

/// Why a page request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("limit must be between 1 and {MAX_LIMIT}")]
    Limit,
    #[error("the search text is longer than {MAX_QUERY_CHARS} characters")]
    QueryTooLong,
    #[error("the search text may not hold control characters")]
    QueryControl,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: DEFAULT_LIMIT,
            after: None,
            q: None,
        }
    }
}

impl PageRequest {
    /// A request from what a caller gave; a blank `q` is no search.
    pub fn new(
        limit: Option<usize>,
        after: Option<String>,
        q: Option<&str>,
    ) -> Result<PageRequest, PageError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(PageError::Limit);
        }
        let q = match q.map(str::trim).filter(|q| !q.is_empty()) {
            None => None,
            Some(q) if q.chars().count() > MAX_QUERY_CHARS => return Err(PageError::QueryTooLong),
            Some(q) if q.chars().any(char::is_control) => return Err(PageError::QueryControl),
            Some(q) => Some(fold_name(q)),
        };
        Ok(PageRequest {
            limit,
            after: after.filter(|a| !a.is_empty()),
            q,
        })
    }
}

/// One page of rows, and the cursor of the next page if there may be one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A name as it is searched: Unicode NFC (so a Devanagari letter typed as
/// a base and a nukta matches its precomposed form), then lower case in
/// every script that has case, with runs of white space made one space.
pub fn fold_name(name: &str) -> String {
    let folded: String = name.nfc().collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_meets_case_and_composition() {
        assert_eq!(fold_name("  Ölçer   RAM "), "ölçer ram");
        // DEVANAGARI LETTER QA as KA + NUKTA and as the precomposed letter.
        assert_eq!(fold_name("\u{915}\u{93C}"), fold_name("\u{958}"));
        assert_eq!(fold_name("सीमा"), "सीमा");
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(PageRequest::new(None, None, None).unwrap().limit, 50);
        assert_eq!(PageRequest::new(Some(0), None, None), Err(PageError::Limit));
        assert_eq!(
            PageRequest::new(Some(501), None, None),
            Err(PageError::Limit)
        );
        assert_eq!(
            PageRequest::new(Some(500), None, Some("  ")).unwrap().q,
            None
        );
        assert!(PageRequest::new(None, None, Some(&"x".repeat(101))).is_err());
    }
}

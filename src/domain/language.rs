//! The languages a person may choose for the pages: English and Hindi.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language of the pages, remembered per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Hi,
}

impl Language {
    /// Every language, in the order the language choice lists them.
    pub const ALL: [Language; 2] = [Language::En, Language::Hi];

    /// The BCP 47 code (`en`, `hi`), as in `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Hi => "hi",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code this node has no pages for.
#[derive(Debug, thiserror::Error)]
#[error("unknown language (en or hi)")]
pub struct UnknownLanguage;

impl FromStr for Language {
    type Err = UnknownLanguage;
    fn from_str(s: &str) -> Result<Self, UnknownLanguage> {
        match s.trim() {
            "en" => Ok(Language::En),
            "hi" => Ok(Language::Hi),
            _ => Err(UnknownLanguage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for l in Language::ALL {
            assert_eq!(l.code().parse::<Language>().unwrap(), l);
        }
        assert!("fr".parse::<Language>().is_err());
    }
}

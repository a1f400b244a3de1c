//! Which document kinds a purpose requires, and which of them a child has.
//! The lists are data (`policies/checklists.toml`), not code.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::domain::{DocKind, Document, Purpose};

/// The checklists shipped with the binary.
const EMBEDDED: &str = include_str!("../../policies/checklists.toml");
const FILE: &str = "checklists.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[allow(dead_code)]
    description: Option<String>,
    required: Vec<String>,
}

/// Required kinds for every purpose.
#[derive(Debug, Clone)]
pub struct Checklists {
    required: BTreeMap<Purpose, Vec<DocKind>>,
}

/// One purpose's checklist evaluated for one child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Checklist {
    pub purpose: Purpose,
    pub present: Vec<DocKind>,
    pub missing: Vec<DocKind>,
}

impl Checklist {
    /// True when nothing required is missing.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

impl Checklists {
    /// Loads `DIR/checklists.toml`, or the embedded lists without a directory.
    pub fn load(dir: Option<&Path>) -> Result<Checklists, ConfigError> {
        match dir {
            None => Checklists::parse(EMBEDDED, "embedded checklists.toml"),
            Some(dir) => {
                let path = dir.join(FILE);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::new(format!("cannot read {}: {e}", path.display()))
                })?;
                Checklists::parse(&text, &path.display().to_string())
            }
        }
    }

    /// Parses checklist TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Checklists, ConfigError> {
        let raw: BTreeMap<String, Entry> =
            toml::from_str(text).map_err(|e| ConfigError::new(format!("{origin}: {e}")))?;
        let mut required = BTreeMap::new();
        for (name, entry) in raw {
            let purpose: Purpose = name
                .parse()
                .map_err(|e| ConfigError::new(format!("{origin}: [{name}]: {e}")))?;
            let kinds = entry
                .required
                .iter()
                .map(|k| k.parse::<DocKind>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError::new(format!("{origin}: [{name}]: {e}")))?;
            required.insert(purpose, kinds);
        }
        if let Some(p) = Purpose::ALL.iter().find(|p| !required.contains_key(p)) {
            return Err(ConfigError::new(format!("{origin}: no [{p}] checklist")));
        }
        Ok(Checklists { required })
    }

    /// The kinds `purpose` requires.
    pub fn required(&self, purpose: Purpose) -> &[DocKind] {
        self.required
            .get(&purpose)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Evaluates `purpose` against a child's documents.
    pub fn evaluate(&self, purpose: Purpose, documents: &[Document]) -> Checklist {
        let (present, missing) = self
            .required(purpose)
            .iter()
            .partition(|k| documents.iter().any(|d| d.kind == **k));
        Checklist {
            purpose,
            present,
            missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_lists_cover_every_purpose() {
        let c = Checklists::load(None).unwrap();
        for p in Purpose::ALL {
            assert!(!c.required(p).is_empty(), "{p}");
        }
        assert!(c
            .required(Purpose::Restoration)
            .contains(&DocKind::ReleaseCertificate));
    }

    #[test]
    fn bad_lists_name_the_problem() {
        let err =
            Checklists::parse("[restoration]\nrequired = [\"passport\"]", "x.toml").unwrap_err();
        assert!(err.to_string().contains("passport"), "{err}");
        let err = Checklists::parse("[restoration]\nrequired = []", "x.toml").unwrap_err();
        assert!(err.to_string().contains("compensation_claim"), "{err}");
    }
}

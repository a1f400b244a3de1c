//! The districts a child may be placed in (`policies/districts.toml`):
//! `STATE/DISTRICT` ids, with the state's code and the names people read.
//! A node reads the file from its policies directory when one is set (and
//! holds it), else the copy built into the binary.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::config::ConfigError;

const EMBEDDED: &str = include_str!("../../policies/districts.toml");
const FILE: &str = "districts.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    state: BTreeMap<String, State>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[allow(dead_code)]
    code: String,
    #[allow(dead_code)]
    name: String,
    districts: BTreeMap<String, String>,
}

/// The known `STATE/DISTRICT` ids.
#[derive(Debug, Clone)]
pub struct Districts {
    ids: HashSet<String>,
}

impl Districts {
    /// The list of `dir`, or the built-in one.
    pub fn load(dir: Option<&Path>) -> Result<Districts, ConfigError> {
        match dir.map(|d| d.join(FILE)).filter(|p| p.is_file()) {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::new(format!("cannot read {}: {e}", path.display()))
                })?;
                Districts::parse(&text, &path.display().to_string())
            }
            None => Districts::parse(EMBEDDED, "embedded districts.toml"),
        }
    }

    fn parse(text: &str, origin: &str) -> Result<Districts, ConfigError> {
        let file: File =
            toml::from_str(text).map_err(|e| ConfigError::new(format!("{origin}: {e}")))?;
        let ids: HashSet<String> = file
            .state
            .iter()
            .flat_map(|(s, st)| st.districts.keys().map(move |d| format!("{s}/{d}")))
            .collect();
        if let Some(bad) = ids.iter().find(|d| !crate::domain::valid_district(d)) {
            return Err(ConfigError::new(format!(
                "{origin}: {bad} is not a STATE/DISTRICT id (a-z 0-9 - _ .)"
            )));
        }
        Ok(Districts { ids })
    }

    /// Is `district` on the list?
    pub fn contains(&self, district: &str) -> bool {
        self.ids.contains(district)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_loads() {
        let d = Districts::load(None).unwrap();
        assert!(d.len() > 700, "{}", d.len());
        assert!(d.contains("rajasthan/jaipur"));
        assert!(d.contains("bihar/gaya"));
        assert!(!d.contains("bihar/atlantis"));
        assert!(!d.contains("Bihar/Patna"));
    }
}

//! Reading a policy directory (or the set built into the binary): every
//! `*.cedar` file, in name order, and the schema they must validate against.

use std::fs;
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;

use super::PolicyError;

pub const SCHEMA_FILE: &str = "handover.cedarschema";

/// The policy files shipped with the binary.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "00-base.cedar",
        include_str!("../../policies/00-base.cedar"),
    ),
    ("admin.cedar", include_str!("../../policies/admin.cedar")),
    (
        "cwc_member.cedar",
        include_str!("../../policies/cwc_member.cedar"),
    ),
    (
        "dcpu_officer.cedar",
        include_str!("../../policies/dcpu_officer.cedar"),
    ),
    (
        "shelter_staff.cedar",
        include_str!("../../policies/shelter_staff.cedar"),
    ),
    (
        "support_person.cedar",
        include_str!("../../policies/support_person.cedar"),
    ),
    (
        "swd_officer.cedar",
        include_str!("../../policies/swd_officer.cedar"),
    ),
];
const EMBEDDED_SCHEMA: &str = include_str!("../../policies/handover.cedarschema");

/// Source texts of a policy set: `(file name, text)` and the schema text.
pub struct Sources {
    pub files: Vec<(String, String)>,
    pub schema: String,
}

impl Sources {
    pub fn embedded() -> Sources {
        Sources {
            files: EMBEDDED
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
            schema: EMBEDDED_SCHEMA.to_string(),
        }
    }

    pub fn read_dir(dir: &Path) -> Result<Sources, PolicyError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| PolicyError::Io { path, source }
        };
        let mut files = Vec::new();
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            if path.extension().is_some_and(|e| e == "cedar") && path.is_file() {
                let text = fs::read_to_string(&path).map_err(io(&path))?;
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                files.push((name, text));
            }
        }
        if files.is_empty() {
            return Err(PolicyError::Empty(dir.display().to_string()));
        }
        files.sort();
        let schema_path = dir.join(SCHEMA_FILE);
        let schema = fs::read_to_string(&schema_path).map_err(io(&schema_path))?;
        Ok(Sources { files, schema })
    }

    /// Parses the schema and every file, names each policy `FILE#N`, and
    /// validates the whole set (strict mode).
    pub fn compile(&self) -> Result<(PolicySet, Schema), PolicyError> {
        let schema = Schema::from_cedarschema_str(&self.schema)
            .map(|(schema, _warnings)| schema)
            .map_err(|e| invalid(SCHEMA_FILE, &self.schema, &e))?;
        let mut set = PolicySet::new();
        for (name, text) in &self.files {
            let parsed = PolicySet::from_str(text).map_err(|e| invalid(name, text, &e))?;
            for (n, policy) in parsed.policies().enumerate() {
                let id = PolicyId::new(format!("{name}#{n}"));
                set.add(policy.new_id(id))
                    .map_err(|e| invalid(name, text, &e))?;
            }
            if parsed.templates().next().is_some() {
                return Err(PolicyError::Invalid {
                    file: name.clone(),
                    line: 1,
                    message: "policy templates are not used by handover".into(),
                });
            }
        }
        let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
        if let Some(e) = result.validation_errors().next() {
            let id = e.policy_id().to_string();
            let file = id.split('#').next().unwrap_or_default().to_string();
            let text = self
                .files
                .iter()
                .find(|(n, _)| *n == file)
                .map(|(_, t)| t.as_str())
                .unwrap_or_default();
            return Err(invalid(&file, text, e));
        }
        Ok((set, schema))
    }
}

/// An error at the line of its first labelled span.
fn invalid(file: &str, text: &str, e: &(dyn Diagnostic + Send + Sync + 'static)) -> PolicyError {
    let offset = e
        .labels()
        .and_then(|mut l| l.next())
        .map(|l| l.offset())
        .unwrap_or(0);
    let line = 1 + text
        .as_bytes()
        .iter()
        .take(offset.min(text.len()))
        .filter(|b| **b == b'\n')
        .count();
    let mut message = e.to_string();
    if let Some(help) = e.help() {
        message.push_str(&format!(" ({help})"));
    }
    PolicyError::Invalid {
        file: file.to_string(),
        line,
        message,
    }
}

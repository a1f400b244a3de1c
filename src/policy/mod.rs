//! Who may do what. Policies are Cedar files under `policies/`, validated
//! against `policies/handover.cedarschema` when loaded (a file that does not
//! parse or validate stops the node: fail closed). [`Policies::authorize`]
//! is the one entry point; the vault calls it for every use case and writes
//! the decision to the audit log.

mod engine;
mod load;
mod request;

pub use engine::{Decision, Policies};
pub use request::{Action, ChildFacts, DocumentFacts, GrantFacts, Resource};

/// Why a policy directory was refused. Names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policies: {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("policy directory {0} holds no .cedar file")]
    Empty(String),
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn copy_embedded(dir: &std::path::Path) {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        for e in fs::read_dir(src).unwrap() {
            let p = e.unwrap().path();
            fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }

    #[test]
    fn the_shipped_policies_load_and_match_the_directory() {
        let built_in = Policies::check(None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        copy_embedded(dir.path());
        assert_eq!(Policies::check(Some(dir.path())).unwrap(), built_in);
        assert!(built_in >= 15, "{built_in}");
    }

    #[test]
    fn a_syntax_error_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        copy_embedded(dir.path());
        fs::write(
            dir.path().join("extra.cedar"),
            "// a comment\n\npermit (principal, action, resource)\nwhen { principal.role == };\n",
        )
        .unwrap();
        let e = Policies::check(Some(dir.path())).unwrap_err().to_string();
        assert!(e.starts_with("extra.cedar:4: "), "{e}");
    }

    #[test]
    fn a_policy_that_does_not_validate_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        copy_embedded(dir.path());
        fs::write(
            dir.path().join("typo.cedar"),
            "permit (principal is User, action == Action::\"read_record\", resource is Child)\n\
             when {\n  principal.rolle == \"admin\"\n};\n",
        )
        .unwrap();
        let e = Policies::check(Some(dir.path())).unwrap_err().to_string();
        assert!(e.starts_with("typo.cedar:3: "), "{e}");
        assert!(e.contains("rolle"), "{e}");
    }

    #[test]
    fn a_broken_schema_or_an_empty_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Policies::check(Some(dir.path())),
            Err(PolicyError::Empty(_))
        ));
        copy_embedded(dir.path());
        fs::write(
            dir.path().join("handover.cedarschema"),
            "entity User = {\n  role: Strin,\n};\n",
        )
        .unwrap();
        let e = Policies::check(Some(dir.path())).unwrap_err().to_string();
        assert!(e.starts_with("handover.cedarschema:"), "{e}");
    }
}

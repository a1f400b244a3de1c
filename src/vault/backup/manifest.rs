//! A backup's manifest: what it holds, each file with its size and
//! SHA-256, signed by the node key; and the rules its paths follow.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The manifest's format tag.
pub const FORMAT: &str = "handover-backup/1";
pub(super) const MANIFEST: &str = "manifest.json";
pub(super) const SIGNATURE: &str = "manifest.json.sig";
pub(super) const OBJECTS: &str = "objects";
pub(super) const DATABASE: &str = "meta.db";
pub(super) const AUDIT_LOG: &str = "audit.log";
pub(super) const AUDIT_HEAD: &str = "audit.head";
pub(super) const CARD: &str = "card.json";
pub(super) const KEYS: &str = "keys";
/// Kinds of object, each a folder under `objects/`.
pub(super) const OBJECT_KINDS: [&str; 3] = ["documents", "inbox", "outbox"];

/// What one backup holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The backup's id, which is also its directory's name.
    pub id: String,
    /// The department whose node this is (its card's id).
    pub department: String,
    pub created_at: DateTime<Utc>,
    /// A time just before the database's snapshot: what was erased after
    /// it may still have its keys in this backup.
    pub snapshot_at: DateTime<Utc>,
    /// The seq of the signed checkpoint that ends the backup's audit log.
    pub audit_seq: u64,
    /// Documents in the database copy.
    pub documents: u64,
    /// With `--include-keys`: the age recipient the key files are
    /// encrypted to (the department's sealed recovery key).
    pub keys_recipient: Option<String>,
    /// Every file of the backup, paths relative to the set (its own
    /// files under `ID/`, shared ones under `objects/`), sorted by path.
    pub files: Vec<BackupFile>,
}

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct BackupFile {
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// True if `s` is a backup id: `YYYYMMDDTHHMMSSmmmZ`.
pub(super) fn is_backup_id(s: &str) -> bool {
    s.len() == 19
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 => b == b'T',
            18 => b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

/// A new backup id for `at`.
pub(super) fn backup_id(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%3fZ").to_string()
}

/// A file name that may appear in a backup: no separator, no leading dot.
fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// What a manifest path names, if it is one a backup may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place<'a> {
    /// A file of the backup's own directory (`meta.db`, `keys/NAME.age`…).
    Own(&'a str),
    /// A shared object: its kind and name.
    Object(&'a str, &'a str),
}

/// Where a manifest path of backup `id` points; `None` for any other path
/// (absolute, `..`, another backup's files, unknown names).
pub(super) fn place<'a>(id: &str, path: &'a str) -> Option<Place<'a>> {
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(dir), Some(name), None, None) if dir == id => [DATABASE, AUDIT_LOG, AUDIT_HEAD, CARD]
            .contains(&name)
            .then_some(Place::Own(name)),
        (Some(dir), Some(KEYS), Some(name), None) if dir == id => (is_plain_name(name)
            && name.ends_with(".age"))
        .then_some(Place::Own(&path[id.len() + 1..])),
        (Some(OBJECTS), Some(kind), Some(name), None) => (OBJECT_KINDS.contains(&kind)
            && is_plain_name(name))
        .then_some(Place::Object(kind, name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_paths_a_backup_holds_are_taken() {
        let id = "20261206T071500123Z";
        assert!(is_backup_id(id));
        assert!(!is_backup_id("20261206T071500123"));
        assert!(!is_backup_id("../../etc/passwd"));
        assert_eq!(
            place(id, &format!("{id}/meta.db")),
            Some(Place::Own("meta.db"))
        );
        assert_eq!(
            place(id, &format!("{id}/keys/age-identity.txt.age")),
            Some(Place::Own("keys/age-identity.txt.age"))
        );
        assert_eq!(
            place(id, "objects/documents/01a2.age"),
            Some(Place::Object("documents", "01a2.age"))
        );
        for bad in [
            "/etc/passwd".to_string(),
            "objects/../meta.db".into(),
            "objects/documents/../../x".into(),
            "objects/other/x".into(),
            "objects/documents/.hidden".into(),
            format!("{id}/../x/meta.db"),
            "20261206T071500999Z/meta.db".into(),
            format!("{id}/keys/x.txt"),
            format!("{id}/other"),
            format!("{id}/meta.db/x"),
        ] {
            assert_eq!(place(id, &bad), None, "{bad}");
        }
    }
}

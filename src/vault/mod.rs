//! The use cases of a node: set it up, keep children's case records, store
//! and read documents, hand them over in bundles, take bundles in, manage
//! users, tokens, browser sessions and grants, check and collect the store. Composes
//! `policy`, `audit`, `store`, `crypto` and `bundle`; holds no HTTP or
//! command-line types and speaks no face's vocabulary. Every face (the
//! command line, the API, the web pages) goes through here, and every use case through
//! `decide` (policy, then audit). Plain `fn`s block (faces on the runtime
//! call them on the blocking pool); `async fn`s stream and move their heavy
//! parts off the runtime themselves (docs/ARCHITECTURE.md).

mod access;
mod audit;
mod backup;
mod bundles;
mod checklist;
mod children;
mod clock;
mod delivery;
mod demo;
mod departments;
mod districts;
mod documents;
mod erasure;
mod error;
mod gauges;
mod grants;
mod heavy;
mod history;
mod imports;
pub mod intake;
mod keyring;
mod listing;
mod maintenance;
mod migrate;
mod need_to_know;
mod node;
mod oversight;
mod passwords;
mod retention;
mod rotation;
mod sessions;
mod setup;
mod staging;
mod streaming;
mod throttle;
mod transfers;
mod uploads;
mod users;
mod views;

pub use crate::bundle::Answer;
pub use crate::crypto::Passphrase;
pub use crate::domain::Purpose;
pub use audit::{check_policies, verify_audit_log, AuditEntry, AuditLine, AuditVerified, Outcome};
pub use backup::{
    is_remote, list_backups, list_remote, restore_node, verify_backups, verify_remote,
    BackupOptions, BackupReport, BackupSummary, KeySource, PruneReport, RestoreReport,
};
pub use bundles::{CreatedBundle, OpenedBundle};
pub use checklist::{Checklist, Checklists};
pub use children::ChildView;
pub use clock::{Clock, SystemClock};
pub use delivery::{receipts_url, Backoff, Push, PushBody};
pub use demo::{synthetic_pdf, DemoUser};
pub use departments::{CardChange, DirectoryEntry};
pub use documents::NewDocument;
pub use erasure::Erased;
pub use error::{ErrorClass, VaultError};
pub use gauges::OperationsGauges;
pub use heavy::spawn_heavy;
pub use imports::{Delivered, Imported, RefusedImport};
pub use maintenance::{CheckReport, GcReport};
pub use migrate::{MigrationReport, NODE_SETTINGS_FILE};
pub use node::{InitOptions, Vault};
pub use oversight::{NodeStatus, OversightCount};
pub use retention::{RetentionApplied, RetentionItem, RetentionRule, RetentionRules};
pub use rotation::{SigningRotation, StorageRotation};
pub use setup::{FirstRun, FIRST_PASSWORD_FILE, FIRST_RUN_DEPARTMENT};
pub use streaming::Chunks;
pub use uploads::{Appended, UploadLimit, SEGMENT_BYTES};
pub use users::{WeakPassword, MAX_TOKEN_DAYS, MIN_PASSWORD_CHARS};
pub use views::{
    AccessRecord, ChildAbilities, ChildSummary, DistrictOverview, GrantSummary, NodeHealth,
    TransferSummary, UNDELIVERED_DAYS,
};

/// What the vault's unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    /// Shelter staff of `institution` (a principal only: no account row).
    pub fn staff_of(institution: &str) -> crate::domain::Principal {
        crate::domain::Principal::User(crate::domain::User {
            id: crate::domain::UserId::new(),
            name: "staff".into(),
            role: crate::domain::Role::ShelterStaff,
            scope: crate::domain::Scope::Institution(institution.into()),
            disabled: false,
            has_password: true,
            must_change_password: false,
            created_at: chrono::Utc::now(),
        })
    }

    /// A new node (department `test-dcpu`) in a temporary directory, open.
    pub async fn node() -> (tempfile::TempDir, super::Vault) {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::config::Settings {
            data_dir: dir.path().join("node"),
            ..Default::default()
        };
        super::Vault::init(
            settings.clone(),
            super::InitOptions {
                department_id: "test-dcpu".into(),
                department_name: "Test".into(),
                inbox_url: None,
                passphrase: None,
                keys_from: None,
            },
        )
        .unwrap();
        let vault = super::Vault::open(settings, || None, false).await.unwrap();
        (dir, vault)
    }
}

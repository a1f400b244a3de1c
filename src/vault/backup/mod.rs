//! Backups of a node: taken online, verified with the public card alone,
//! restored into an empty directory, pruned to the newest N. The format
//! is specified in docs/backup-format.md; in short, a backup set is a
//! directory holding
//!
//! * `objects/`: every document blob (`objects/documents/ID.age`, as age
//!   files, exactly as stored) and inbox and outbox bundle (`objects/inbox/`,
//!   `objects/outbox/`). Objects never change once written, so they are
//!   shared by the backups of a set and a later backup copies only new ones;
//! * one directory per backup, named by its UTC time (`20261206T071500123Z`):
//!   the metadata database exported encrypted (`meta.db`), the audit log up to
//!   a signed checkpoint (`audit.log`, `audit.head`), the card, with
//!   `--include-keys` the key files encrypted to a recovery recipient
//!   (`keys/NAME.age`), and `manifest.json`, listing every file of the backup
//!   with its size and SHA-256, signed by the node key (`manifest.json.sig`,
//!   SSHSIG namespace `handover-backup`);
//! * `.lock`, held while a backup or prune runs; a backup being written
//!   is `.partial-ID/` and is renamed only once complete.
//!
//! A set may also be in an S3 bucket (`s3://BUCKET/PREFIX`, `remote.rs`):
//! the same layout, complete once its signature is uploaded last.
//!
//! Written by hand: a backup must copy a SQLCipher database, an audit log
//! that other processes append to and blobs from S3, and be verifiable
//! without the keys; no backup tool does all of that (restic and borg
//! would keep their own keys and could not check the audit chain).

mod create;
mod manifest;
mod remote;
mod restore;
mod set;

pub use create::{BackupOptions, BackupReport};
pub use manifest::{BackupFile, Manifest};
pub use remote::{is_remote, list_remote, verify_remote};
pub use restore::{restore_node, KeySource, RestoreReport};
pub use set::{list_backups, verify_backups, BackupSummary, PruneReport};

/// The SSHSIG namespace of a backup manifest's signature.
pub const BACKUP_NAMESPACE: &str = "handover-backup";

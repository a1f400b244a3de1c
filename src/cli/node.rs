//! `init`, `check`, `gc` and `dept card`: the node as a whole.

use super::output::CliResult;
use clap::{Args, Subcommand};

use super::output::{self, print_json, CliError};
use crate::config::Settings;
use crate::domain::DepartmentCard;
use crate::vault::{CardChange, InitOptions, Vault};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Short id of this department, e.g. rj-dcpu-jaipur (a-z, 0-9, '-')
    #[arg(long, value_name = "ID")]
    department: String,
    /// Name of this department
    #[arg(long, value_name = "NAME")]
    name: String,
    /// URL where this node accepts bundles, if it runs a server
    #[arg(long, value_name = "URL")]
    inbox_url: Option<String>,
    /// Use the key files (age-identity.txt, ssh-ed25519) in DIR instead of new
    /// keys, e.g. the demo departments' test keys in fixtures/keys/
    #[arg(long, value_name = "DIR")]
    keys: Option<std::path::PathBuf>,
    /// Protect the node's secrets with a passphrase (asked twice). Setting
    /// HANDOVER_PASSPHRASE does the same without asking.
    #[arg(long)]
    passphrase: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Also delete blobs that belong to no document and to no upload
    #[arg(long)]
    orphans: bool,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DeptCommand {
    /// Print this node's public department card (JSON)
    Card,
    /// Add another department's card to the directory (check its fingerprints first)
    Add {
        /// The card (JSON), or - for standard input
        card: std::path::PathBuf,
        /// Replace a card already present for the same id with other keys
        #[arg(long)]
        replace: bool,
    },
    /// Revoke a department's current signing key (lost or stolen): nothing
    /// it signs is accepted and nothing is sent to the department until its
    /// new card is added with --replace
    Revoke {
        /// The department's id
        id: String,
        /// Why (kept in the database; the audit log records the act)
        #[arg(long)]
        reason: String,
    },
    /// List this node and the departments in the directory, with key fingerprints
    List {
        #[arg(long)]
        json: bool,
    },
}

pub fn init(settings: Settings, args: InitArgs) -> CliResult<()> {
    let wanted = args.passphrase || std::env::var_os(output::PASSPHRASE_ENV).is_some();
    let passphrase = if wanted {
        let p = output::passphrase(true).ok_or_else(|| {
            CliError::Usage(format!(
                "--passphrase needs a passphrase: set {} or run on a terminal",
                output::PASSPHRASE_ENV
            ))
        })?;
        Some(p)
    } else {
        None
    };
    let dir = settings.data_dir.clone();
    let card = Vault::init(
        settings,
        InitOptions {
            department_id: args.department,
            department_name: args.name,
            inbox_url: args.inbox_url,
            passphrase,
            keys_from: args.keys,
        },
    )?;
    eprintln!("Initialised node {} in {}", card.id, dir.display());
    eprintln!("age recipient: {}", card.age_recipient);
    println!("{}", card.id);
    Ok(())
}

pub async fn check(settings: Settings, args: CheckArgs) -> CliResult<()> {
    // No clean-up on open: check reports leftovers instead of removing them.
    let vault = Vault::open(settings, || output::passphrase(false), false).await?;
    let report = vault.check(&super::output::actor(&vault)?).await?;
    if args.json {
        print_json(&report)?;
    } else {
        eprintln!("verified documents: {}", report.verified);
        eprintln!(
            "staged uploads: {} ({} bytes received, encrypted)",
            report.staged_uploads, report.staged_upload_bytes
        );
        if report.storage_rotation_unfinished {
            eprintln!(
                "a storage key rotation has not finished ({} headers to rewrap): run `handover keys rotate --storage` again",
                report.headers_to_rewrap
            );
        }
        for (what, ids) in [
            ("broken upload", &report.broken_uploads),
            ("missing", &report.missing),
            ("corrupt", &report.corrupt),
            ("orphaned", &report.orphaned),
            ("interrupted upload (removed by gc)", &report.interrupted),
            (
                "incomplete multipart upload (aborted by gc)",
                &report.incomplete_multipart,
            ),
        ] {
            for id in ids {
                println!("{what}\t{id}");
            }
        }
    }
    if report.is_consistent() {
        eprintln!("consistent");
        Ok(())
    } else {
        Err(crate::vault::VaultError::Integrity(format!(
            "{} missing, {} corrupt, {} orphaned, {} broken upload(s)",
            report.missing.len(),
            report.corrupt.len(),
            report.orphaned.len(),
            report.broken_uploads.len()
        ))
        .into())
    }
}

pub async fn gc(settings: Settings, args: GcArgs) -> CliResult<()> {
    let vault = Vault::open(settings, || output::passphrase(false), false).await?;
    let report = vault
        .gc(&super::output::actor(&vault)?, args.orphans)
        .await?;
    if args.json {
        print_json(&report)?;
    } else {
        eprintln!(
            "removed {} leftover(s) of interrupted uploads, {} orphaned blob(s), \
             {} expired or leftover resumable upload(s)",
            report.interrupted, report.orphaned, report.uploads
        );
    }
    Ok(())
}

pub async fn dept(settings: Settings, cmd: DeptCommand) -> CliResult<()> {
    let vault = output::open(settings).await?;
    let actor = super::output::actor(&vault)?;
    match cmd {
        DeptCommand::Card => print_json(&*vault.card()),
        DeptCommand::Add { card, replace } => {
            let text = if card.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&card)
                    .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", card.display())))?
            };
            let card: DepartmentCard = serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("not a department card: {e}")))?;
            let (entry, change) = vault.add_department(&actor, card, replace)?;
            let how = match change {
                CardChange::Added => "added",
                CardChange::Updated => "updated",
                CardChange::Rotated => "updated to new keys by its signed key statements:",
                CardChange::Replaced => "replaced keys of",
            };
            eprintln!(
                "{how} {} ({})\n  signing key {}\n  age key     {}",
                entry.card.id, entry.card.name, entry.ssh_fingerprint, entry.age_fingerprint
            );
            println!("{}", entry.card.id);
            Ok(())
        }
        DeptCommand::Revoke { id, reason } => {
            let revoked = vault.revoke_department(&actor, &id, &reason)?;
            eprintln!(
                "revoked the signing key {} of {} from {}",
                revoked.fingerprint,
                revoked.department,
                revoked
                    .revoked_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            println!("{}", revoked.department);
            Ok(())
        }
        DeptCommand::List { json } => {
            let all = vault.list_departments(&actor)?;
            if json {
                return print_json(&all);
            }
            for e in all {
                println!(
                    "{}{}{}\t{}\t{}\t{}",
                    e.card.id,
                    if e.this_node { " (this node)" } else { "" },
                    if e.revoked_at.is_some() {
                        " (revoked)"
                    } else {
                        ""
                    },
                    e.card.name,
                    e.ssh_fingerprint,
                    e.age_fingerprint
                );
            }
            Ok(())
        }
    }
}

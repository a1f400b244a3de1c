//! `handover backup` and `handover restore`: taking a backup while the
//! node serves, verifying, listing and pruning a backup set, and restoring
//! a node into an empty directory (the vault's `backup` module).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::output::{self, print_json, CliError, CliResult};
use crate::config::Settings;
use crate::vault::{self, BackupOptions, BackupSummary, KeySource};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    command: Option<BackupCommand>,
    /// The backup set to add a backup to: a directory, or s3://BUCKET/PREFIX
    /// (with the node's S3 settings)
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX", required = true)]
    to: Option<PathBuf>,
    /// Also copy the node's key files, encrypted to the recovery recipient
    #[arg(long, requires = "recovery_recipient")]
    include_keys: bool,
    /// The department's recovery age recipient (age1…), or a file holding it
    #[arg(long, value_name = "RECIPIENT|FILE")]
    recovery_recipient: Option<String>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Check a backup (or every backup of a set) with the public card only:
    /// the manifest's signature, every file's SHA-256, the audit chain
    Verify {
        /// A backup set, or one backup's directory (s3://BUCKET/PREFIX[/ID] too)
        path: PathBuf,
        /// The department card to check with, instead of the backup's own
        #[arg(long, value_name = "FILE")]
        card: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// List the backups of a set, oldest first (nothing is verified)
    List {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Keep the newest N backups of a set; remove the others and the
    /// blobs only they held
    Prune {
        path: PathBuf,
        #[arg(long, value_name = "N")]
        keep: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup set (its newest backup is restored) or one backup's directory
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// The recovery identity (age) that opens the keys inside the backup
    #[arg(long, value_name = "FILE", conflicts_with = "keys")]
    recovery_identity: Option<PathBuf>,
    /// A directory with the node's key files, for a backup taken without keys
    #[arg(long, value_name = "DIR")]
    keys: Option<PathBuf>,
    /// The department card to check the backup with, instead of its own
    #[arg(long, value_name = "FILE")]
    card: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub async fn backup(settings: Settings, args: BackupArgs) -> CliResult<()> {
    if let Some(cmd) = args.command {
        return backup_command(settings, cmd).await;
    }
    let to = args.to.expect("clap requires --to");
    let keys_to = match (args.include_keys, args.recovery_recipient) {
        (true, Some(r)) => Some(recipient(&r)?),
        (false, Some(_)) => {
            return Err(CliError::Usage(
                "--recovery-recipient is used only with --include-keys".into(),
            ))
        }
        _ => None,
    };
    let vault = output::open(settings).await?;
    let report = vault
        .backup(&output::actor(&vault)?, &to, BackupOptions { keys_to })
        .await?;
    if args.json {
        print_json(&report)?;
    } else {
        println!("{}", report.path.display());
        eprintln!(
            "backup {}: {} documents, {} objects copied ({} bytes), {} already in the set, audit log to line {}{}",
            report.id,
            report.documents,
            report.objects_copied,
            report.bytes_copied,
            report.objects_kept,
            report.audit_seq,
            if report.keys_included { ", keys included (encrypted to the recovery recipient)" } else { ", no keys" }
        );
    }
    Ok(())
}

/// A recipient given as itself, or as a file holding it.
fn recipient(given: &str) -> CliResult<String> {
    if given.starts_with("age1") {
        return Ok(given.to_string());
    }
    let text = std::fs::read_to_string(given)
        .map_err(|e| CliError::Usage(format!("the recovery recipient {given}: {e}")))?;
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("age1"))
        .map(str::to_string)
        .ok_or_else(|| CliError::Usage(format!("{given} holds no age recipient (age1…)")))
}

async fn backup_command(settings: Settings, cmd: BackupCommand) -> CliResult<()> {
    match cmd {
        BackupCommand::Verify { path, card, json } => {
            let verified = if vault::is_remote(&path) {
                vault::verify_remote(&path, card.as_deref(), &settings).await?
            } else {
                vault::verify_backups(&path, card.as_deref())?
            };
            if json {
                print_json(&verified)?;
            } else {
                for b in &verified {
                    eprintln!(
                        "backup {} of {}: signature, {} files and the audit log (to line {}) verified",
                        b.id, b.department, b.files, b.audit_seq
                    );
                }
            }
            Ok(())
        }
        BackupCommand::List { path, json } => {
            let mut backups = if vault::is_remote(&path) {
                vault::list_remote(&path, &settings).await?
            } else {
                vault::list_backups(&path)?
            };
            // On the node, say which backups still hold keys of documents
            // erased since.
            if crate::vault::Vault::exists(&settings.data_dir) {
                let vault = output::open(settings).await?;
                vault.erased_keys_in(&output::actor(&vault)?, &mut backups)?;
            }
            if json {
                return print_json(&backups);
            }
            print_list(&backups);
            Ok(())
        }
        BackupCommand::Prune { path, keep, json } => {
            let vault = output::open(settings).await?;
            let actor = output::actor(&vault)?;
            let report = if vault::is_remote(&path) {
                vault.prune_remote(&actor, &path, keep).await?
            } else {
                vault.prune_backups(&actor, &path, keep)?
            };
            if json {
                print_json(&report)?;
            } else {
                for id in &report.removed {
                    println!("removed\t{id}");
                }
                eprintln!(
                    "kept {} backup(s); removed {} and {} object(s) only they held",
                    report.kept.len(),
                    report.removed.len(),
                    report.objects_removed
                );
            }
            Ok(())
        }
    }
}

fn print_list(backups: &[BackupSummary]) {
    println!("id\tcreated\tdocuments\taudit_line\tnode_keys\tbytes\terased_keys_held");
    for b in backups {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            b.id,
            b.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            b.documents,
            b.audit_seq,
            if b.keys_included { "yes" } else { "no" },
            b.bytes,
            b.erased_keys.map_or("-".to_string(), |n| n.to_string())
        );
    }
}

pub async fn restore(settings: Settings, args: RestoreArgs) -> CliResult<()> {
    let keys =
        match (args.recovery_identity, args.keys) {
            (Some(identity), None) => KeySource::Recovery(identity),
            (None, Some(dir)) => KeySource::Files(dir),
            _ => return Err(CliError::Usage(
                "say where the node's keys are: --recovery-identity FILE (keys inside the backup) \
                 or --keys DIR (key files kept apart)"
                    .into(),
            )),
        };
    let report = vault::restore_node(&args.from, settings, keys, args.card.as_deref(), || {
        output::passphrase(false)
    })
    .await?;
    if args.json {
        print_json(&report)?;
    } else {
        eprintln!(
            "restored backup {} into {}: {} documents, {} files ({} bytes), every digest checked",
            report.backup,
            report.data_dir.display(),
            report.documents,
            report.files,
            report.bytes
        );
        eprintln!("run `handover check`, then `handover serve`");
    }
    Ok(())
}

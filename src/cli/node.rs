//! `init`, `check`, `gc` and `dept card`: the node as a whole.

use clap::{Args, Subcommand};

use super::output::{self, print_json, CliError};
use crate::config::Settings;
use crate::vault::{InitOptions, Vault};

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
}

pub fn init(settings: Settings, args: InitArgs) -> anyhow::Result<()> {
    let wanted = args.passphrase || std::env::var_os(output::PASSPHRASE_ENV).is_some();
    let passphrase = if wanted {
        let p = output::passphrase(true).ok_or_else(|| {
            CliError(format!(
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
        },
    )?;
    eprintln!("Initialised node {} in {}", card.id, dir.display());
    eprintln!("age recipient: {}", card.age_recipient);
    println!("{}", card.id);
    Ok(())
}

pub async fn check(settings: Settings, args: CheckArgs) -> anyhow::Result<()> {
    // No clean-up on open: check reports leftovers instead of removing them.
    let vault = Vault::open(settings, || output::passphrase(false), false).await?;
    let report = vault.check().await?;
    if args.json {
        print_json(&report)?;
    } else {
        eprintln!("verified documents: {}", report.verified);
        for (what, ids) in [
            ("missing", &report.missing),
            ("corrupt", &report.corrupt),
            ("orphaned", &report.orphaned),
            ("interrupted upload (removed by gc)", &report.interrupted),
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
            "{} missing, {} corrupt, {} orphaned",
            report.missing.len(),
            report.corrupt.len(),
            report.orphaned.len()
        ))
        .into())
    }
}

pub async fn gc(settings: Settings, args: GcArgs) -> anyhow::Result<()> {
    let vault = Vault::open(settings, || output::passphrase(false), false).await?;
    let report = vault.gc(args.orphans).await?;
    if args.json {
        print_json(&report)?;
    } else {
        eprintln!(
            "removed {} leftover(s) of interrupted uploads, {} orphaned blob(s)",
            report.interrupted, report.orphaned
        );
    }
    Ok(())
}

pub async fn dept(settings: Settings, cmd: DeptCommand) -> anyhow::Result<()> {
    match cmd {
        DeptCommand::Card => {
            let vault = output::open(settings).await?;
            print_json(vault.card())
        }
    }
}

//! `handover blobs`: where the node keeps its document blobs. `migrate`
//! copies them to another store, verifies every copy there and switches
//! the node's `blob_store` setting (the vault's `migrate_blobs`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::output::{self, print_json, CliError, CliResult};
use crate::config::Settings;
use crate::vault::{Vault, VaultError, NODE_SETTINGS_FILE};

#[derive(Debug, Subcommand)]
pub enum BlobsCommand {
    /// Copy every blob to another store (file:///DIR or s3://BUCKET, with
    /// the node's s3_* settings), verify each copy's SHA-256 there, then
    /// switch the node to it. Resumable; the old store is left untouched.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The destination store's URL
    #[arg(long, value_name = "URL")]
    to: String,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub async fn run(settings: Settings, config: Option<PathBuf>, cmd: BlobsCommand) -> CliResult<()> {
    let BlobsCommand::Migrate(args) = cmd;
    let data_dir = settings.data_dir.clone();
    let vault = Vault::open(settings, || output::passphrase(false), true).await?;
    let report = match vault.migrate_blobs(&output::actor(&vault)?, &args.to).await {
        Ok(report) => report,
        Err(e @ VaultError::SwitchNeedsNode { .. }) => {
            return Err(CliError::Usage(format!(
                "{e}.\nStop `handover serve` (and any other handover command on this node), \
                 then run the same command again: it copies only what arrived meanwhile, \
                 and switches."
            )))
        }
        Err(e) => return Err(e.into()),
    };
    drop(vault);
    if args.json {
        print_json(&report)?;
    } else {
        eprintln!(
            "copied and verified {} blob(s) ({} already there); the node now keeps its blobs in {}",
            report.copied, report.already_there, report.to
        );
        eprintln!("restart `handover serve` for it to use the new store");
    }
    // The data directory's settings file now names the new store; say so
    // if a setting read later overrides it.
    let effective = Settings::load(Some(&data_dir), config.as_deref())?;
    if effective.blob_store.as_deref() != Some(args.to.as_str()) {
        return Err(CliError::Usage(format!(
            "{} now says blob_store = {:?}, but HANDOVER_BLOB_STORE or --config sets {:?}: \
             change it there to {:?}",
            data_dir.join(NODE_SETTINGS_FILE).display(),
            args.to,
            effective.blob_store.unwrap_or_default(),
            args.to
        )));
    }
    Ok(())
}

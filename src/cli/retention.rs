//! `handover retention`: what falls due under `policies/retention.toml`,
//! and erasing it (the vault's `retention` module).

use clap::Subcommand;

use super::output::{self, print_json, CliResult};
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// List every child and document a retention rule covers, with when it
    /// falls due (ids only), soonest first
    Report {
        #[arg(long)]
        json: bool,
    },
    /// Erase everything that is due now (crypto-erasure, audited)
    Apply {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(settings: Settings, cmd: RetentionCommand) -> CliResult<()> {
    let vault = output::open(settings).await?;
    let actor = output::actor(&vault)?;
    let now = chrono::Utc::now();
    match cmd {
        RetentionCommand::Report { json } => {
            let items = vault.retention_report(&actor, now)?;
            if json {
                return print_json(&items);
            }
            println!("child\tstate\tsince\trule\tdue\tnow_due\twhat");
            for i in items {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    i.child_id,
                    i.state,
                    i.since.format("%Y-%m-%d"),
                    i.rule,
                    i.due.format("%Y-%m-%d"),
                    if i.is_due { "yes" } else { "no" },
                    if i.whole_record {
                        "the whole record".to_string()
                    } else {
                        format!("{} document(s)", i.documents.len())
                    }
                );
            }
            Ok(())
        }
        RetentionCommand::Apply { json } => {
            let applied = vault.apply_retention(&actor, now).await?;
            if json {
                print_json(&applied)?;
            } else {
                for c in &applied.children_erased {
                    println!("erased child\t{c}");
                }
                for d in &applied.documents_erased {
                    println!("erased document\t{d}");
                }
                eprintln!(
                    "{} record(s) and {} single document(s) erased",
                    applied.children_erased.len(),
                    applied.documents_erased.len()
                );
            }
            Ok(())
        }
    }
}

//! `bundle create|verify|open|export-bag|import|refuse` and `receipt verify`.

use super::output::CliResult;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use serde::Serialize;

use super::output::{open, print_json, CliError};
use crate::config::Settings;
use crate::domain::{AnswerOutcome, ChildId};
use crate::vault::Answer;

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write a signed bundle of a child's papers, encrypted to department DEPT; prints the bundle id
    Create {
        child: ChildId,
        /// The destination department (in the directory)
        #[arg(long, value_name = "DEPT")]
        to: String,
        /// Where to write the bundle
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: PathBuf,
        /// Send although the restoration checklist is incomplete, for this reason
        #[arg(long, value_name = "REASON")]
        allow_incomplete: Option<String>,
    },
    /// Check a bundle's origin and integrity (no secret needed); exit 0 only if all holds
    Verify {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Decrypt a bundle addressed to this node into a new directory, without importing it
    Open {
        file: PathBuf,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Decrypt a bundle addressed to this node into a new BagIt bag (RFC 8493)
    ExportBag {
        file: PathBuf,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Import a bundle addressed to this node (once per bundle); prints the new child id
    Import {
        file: PathBuf,
        /// Write the signed receipt here, for the source department
        #[arg(long, value_name = "OUT")]
        receipt: Option<PathBuf>,
    },
    /// Refuse a bundle addressed to this node without importing it: sign a
    /// refusal for the source department; prints the bundle id
    Refuse {
        file: PathBuf,
        /// Why (1 to 500 characters); the source department reads it
        #[arg(long, value_name = "REASON")]
        reason: String,
        /// Write the signed refusal here, for the source department
        #[arg(long, value_name = "OUT")]
        refusal: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// At the source: check an answer (receipt or refusal) and record the
    /// hand-over as delivered, partially delivered or refused
    Verify {
        receipt: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// What `bundle verify` prints: nothing personal.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    bundle_id: &'a str,
    source: &'a str,
    destination: &'a str,
    created_at: String,
    documents: usize,
    entries: usize,
    size: u64,
    envelope_sha256: &'a str,
}

pub async fn run(settings: Settings, cmd: BundleCommand) -> CliResult<()> {
    let vault = open(settings).await?;
    let actor = super::output::actor(&vault)?;
    match cmd {
        BundleCommand::Create {
            child,
            to,
            out,
            allow_incomplete,
        } => {
            let bar = progress_bar();
            let mut tick = |done: u64, total: u64| {
                if let Some(bar) = &bar {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            };
            let created = vault
                .create_bundle(&actor, child, &to, &out, allow_incomplete, &mut tick)
                .await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let created = created?;
            eprintln!(
                "wrote {} for {}: {} document(s), {} bytes",
                out.display(),
                created.destination,
                created.documents,
                created.size
            );
            println!("{}", created.bundle_id);
        }
        BundleCommand::Verify { file, json } => {
            let v = vault.verify_bundle(&file).await?;
            let e = &v.envelope;
            let summary = Summary {
                bundle_id: &e.bundle_id,
                source: &e.source.id,
                destination: &e.destination.id,
                created_at: e.created_at.to_rfc3339(),
                documents: v.document_count(),
                entries: e.entries.len() + 3,
                size: v.size,
                envelope_sha256: &v.envelope_sha256,
            };
            if json {
                print_json(&summary)?;
            } else {
                println!("bundle      {}", summary.bundle_id);
                println!("from        {}", summary.source);
                println!("to          {}", summary.destination);
                println!("created     {}", summary.created_at);
                println!("documents   {}", summary.documents);
                println!("size        {} bytes", summary.size);
                eprintln!("signature, structure and every digest verified");
            }
        }
        BundleCommand::Import { file, receipt } => {
            let imported = vault.import_bundle(&actor, &file).await?;
            if imported.already {
                eprintln!(
                    "bundle {} was imported before, as child {}; nothing changed",
                    imported.bundle_id, imported.child_id
                );
            } else {
                eprintln!(
                    "imported bundle {} from {}: child {}, {} document(s)",
                    imported.bundle_id, imported.source, imported.child_id, imported.documents
                );
            }
            if let Some(path) = receipt {
                write_new(&path, &imported.receipt)?;
                eprintln!("receipt written to {}", path.display());
            }
            println!("{}", imported.child_id);
        }
        BundleCommand::Refuse {
            file,
            reason,
            refusal,
        } => {
            let refused = vault.refuse_bundle(&actor, &file, &reason).await?;
            if refused.already {
                eprintln!(
                    "bundle {} was refused before; the same refusal stands",
                    refused.bundle_id
                );
            } else {
                eprintln!(
                    "refused bundle {} from {}; nothing was imported",
                    refused.bundle_id, refused.source
                );
            }
            if let Some(path) = refusal {
                write_new(&path, &refused.refusal)?;
                eprintln!("refusal written to {}", path.display());
            }
            println!("{}", refused.bundle_id);
        }
        BundleCommand::ExportBag { file, out } => {
            let opened = vault.export_bag(&actor, &file, &out).await?;
            eprintln!(
                "exported bundle {} as a BagIt bag in {}: {} document(s)",
                opened.verified.envelope.bundle_id,
                opened.dir.display(),
                opened.manifest.documents.len()
            );
        }
        BundleCommand::Open { file, out } => {
            let opened = vault.open_bundle(&actor, &file, &out).await?;
            eprintln!(
                "opened bundle {} from {} into {}: {} document(s), every digest verified",
                opened.verified.envelope.bundle_id,
                opened.verified.envelope.source.id,
                opened.dir.display(),
                opened.manifest.documents.len()
            );
        }
    }
    Ok(())
}

pub async fn run_receipt(settings: Settings, cmd: ReceiptCommand) -> CliResult<()> {
    let vault = open(settings).await?;
    match cmd {
        ReceiptCommand::Verify { receipt, json } => {
            let bytes = std::fs::read(&receipt)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", receipt.display())))?;
            let delivered = vault.verify_receipt(&super::output::actor(&vault)?, &bytes)?;
            if json {
                let mut v = match &delivered.answer {
                    Answer::Receipt(r) => serde_json::to_value(r)?,
                    Answer::Refusal(r) => serde_json::to_value(r)?,
                };
                v["outcome"] = delivered.outcome.as_str().into();
                v["missing"] = delivered.missing.clone().into();
                print_json(&v)?;
            } else {
                println!("bundle      {}", delivered.bundle_id());
                println!("child       {}", delivered.child_id);
                match &delivered.answer {
                    Answer::Receipt(r) => {
                        println!(
                            "received by {} at {}",
                            r.destination,
                            r.received_at.to_rfc3339()
                        );
                        println!("documents   {} accepted", r.documents.len());
                        for m in &delivered.missing {
                            println!("missing     {m}");
                        }
                    }
                    Answer::Refusal(r) => {
                        println!(
                            "refused by  {} at {}",
                            r.destination,
                            r.refused_at.to_rfc3339()
                        );
                        println!("reason      {}", r.reason.escape_default());
                    }
                }
            }
            let what = match delivered.outcome {
                AnswerOutcome::Delivered => "delivered",
                AnswerOutcome::PartiallyDelivered => "partially delivered",
                AnswerOutcome::Refused => "refused",
            };
            let kind = match delivered.answer {
                Answer::Receipt(_) => "receipt",
                Answer::Refusal(_) => "refusal",
            };
            if delivered.already {
                eprintln!("{kind} verified; the hand-over was already recorded as {what}");
            } else {
                eprintln!("{kind} verified; the hand-over is recorded as {what}");
            }
        }
    }
    Ok(())
}

/// Writes a new file; refuses to replace one.
fn write_new(path: &std::path::Path, bytes: &[u8]) -> CliResult<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// A progress bar on stderr, only when it is a terminal.
fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

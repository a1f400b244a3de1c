//! `doc put|get|list`.

use super::output::CliResult;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::output::{open, print_json, CliError};
use crate::config::Settings;
use crate::domain::{ChildId, DocKind, DocumentId};
use crate::vault::NewDocument;

#[derive(Debug, Subcommand)]
pub enum DocCommand {
    /// Store a scan for a child; prints the new document id
    Put {
        child: ChildId,
        /// Kind of paper: fir, medical_report, fit_to_travel, counselling_report,
        /// release_certificate, legal_statement, cwc_order, social_investigation,
        /// care_plan, bank_account, identity, education_report, other
        #[arg(long)]
        kind: String,
        /// The file, or - for standard input
        file: PathBuf,
        /// A title (required for kind other)
        #[arg(long)]
        title: Option<String>,
    },
    /// Write a document's content to OUT (or - for standard output)
    Get {
        id: DocumentId,
        #[arg(short = 'o', long = "out", value_name = "OUT")]
        out: PathBuf,
        /// Replace OUT if it exists
        #[arg(long)]
        force: bool,
        /// Write the stored age file (header and payload), still encrypted
        /// to the node, instead of the plaintext; `age -d` opens it
        #[arg(long)]
        sealed: bool,
    },
    /// List a child's documents
    List {
        child: ChildId,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(settings: Settings, cmd: DocCommand) -> CliResult<()> {
    match cmd {
        DocCommand::Put {
            child,
            kind,
            file,
            title,
        } => {
            let kind: DocKind = kind.parse().map_err(|e| CliError::Usage(format!("{e}")))?;
            let (source, file_name, declared_size) = open_source(&file)?;
            let vault = open(settings).await?;
            let actor = super::output::actor(&vault)?;
            let doc = vault
                .put_document(
                    &actor,
                    child,
                    NewDocument {
                        kind,
                        title,
                        file_name,
                        declared_size,
                    },
                    source,
                )
                .await?;
            eprintln!("stored {} ({}, {} bytes)", doc.id, doc.media_type, doc.size);
            println!("{}", doc.id);
        }
        DocCommand::Get {
            id,
            out,
            force,
            sealed,
        } => {
            let vault = open(settings).await?;
            let actor = super::output::actor(&vault)?;
            if sealed {
                let sink: Box<dyn std::io::Write + Send> = if out.as_os_str() == "-" {
                    Box::new(std::io::stdout())
                } else {
                    if out.exists() && !force {
                        return Err(crate::vault::VaultError::OutputExists(out).into());
                    }
                    Box::new(std::fs::File::create(&out)?)
                };
                let n = vault.read_sealed_document(&actor, id, sink).await?;
                eprintln!("wrote {n} bytes of the sealed age file");
            } else if out.as_os_str() == "-" {
                let doc = vault
                    .read_document(&actor, id, Box::new(std::io::stdout()))
                    .await?;
                eprintln!("wrote {} bytes, SHA-256 verified", doc.size);
            } else {
                let doc = vault.save_document(&actor, id, &out, force).await?;
                eprintln!(
                    "wrote {} ({} bytes, SHA-256 verified)",
                    out.display(),
                    doc.size
                );
            }
        }
        DocCommand::List { child, json } => {
            let vault = open(settings).await?;
            let actor = super::output::actor(&vault)?;
            let docs = vault.list_documents(&actor, child)?;
            if json {
                print_json(&docs)?;
            } else {
                for d in docs {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        d.id,
                        d.kind,
                        crate::domain::text::escape_for_terminal(d.title.as_deref().unwrap_or("-")),
                        d.media_type,
                        d.size,
                        d.added_at.format("%Y-%m-%d %H:%M")
                    );
                }
            }
        }
    }
    Ok(())
}

type Source = (Box<dyn Read + Send>, Option<String>, Option<u64>);

/// The input of `doc put`: a file (with its name and size) or standard input.
fn open_source(path: &Path) -> Result<Source, CliError> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin()), None, None));
    }
    let file = File::open(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let meta = file
        .metadata()
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(CliError::Usage(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    Ok((Box::new(file), name, Some(meta.len())))
}

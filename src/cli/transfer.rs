//! `transfer create|submit|approve|reject|revoke|send|show|list`: the
//! workflow that moves a child to another department.

use super::output::CliResult;
use std::path::PathBuf;

use clap::Subcommand;

use super::output::{actor, open, print_json};
use crate::config::Settings;
use crate::domain::{ChildId, Transfer, TransferId, TransferStep};

#[derive(Debug, Subcommand)]
pub enum TransferCommand {
    /// Draft the transfer of a child to another department; prints its id
    Create {
        child: ChildId,
        #[arg(long)]
        to: String,
    },
    /// Ask the CWC to approve (the restoration checklist must be complete,
    /// unless a CWC member gives --override)
    Submit {
        id: TransferId,
        /// A CWC member's reason to submit with an incomplete checklist
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
    },
    /// Approve a submitted transfer, recording the restoration order number (CWC)
    Approve {
        id: TransferId,
        #[arg(long = "order", value_name = "NUMBER")]
        order_number: String,
    },
    /// Reject a submitted transfer, with the reason (CWC)
    Reject {
        id: TransferId,
        #[arg(long)]
        reason: String,
    },
    /// Revoke a transfer that is not yet sent
    Revoke { id: TransferId },
    /// Send an approved transfer: writes its bundle (for offline hand-over)
    Send {
        id: TransferId,
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: PathBuf,
    },
    /// Show a transfer, its state and history
    Show {
        id: TransferId,
        #[arg(long)]
        json: bool,
    },
    /// List transfers (of one child, or all)
    List {
        #[arg(long)]
        child: Option<ChildId>,
        #[arg(long)]
        json: bool,
    },
}

fn print(t: &Transfer) {
    println!(
        "transfer {}  child {}  to {}  {}",
        t.id, t.child, t.to, t.state
    );
    for e in &t.history {
        println!(
            "  {}  {:<8} by {:<44} -> {}",
            e.at.to_rfc3339(),
            e.step.name(),
            e.by,
            e.state
        );
    }
}

pub async fn run(settings: Settings, cmd: TransferCommand) -> CliResult<()> {
    let vault = open(settings).await?;
    let who = actor(&vault)?;
    let step = |id, step| (id, step);
    let (id, step) = match cmd {
        TransferCommand::Create { child, to } => {
            let t = vault.create_transfer(&who, child, &to)?;
            println!("{}", t.id);
            return Ok(());
        }
        TransferCommand::Send { id, out } => {
            let (t, created) = vault.send_transfer(&who, id, &out, &mut |_, _| {}).await?;
            eprintln!(
                "transfer {} sent: bundle {} ({} document(s), {} bytes) in {}",
                t.id,
                created.bundle_id,
                created.documents,
                created.size,
                out.display()
            );
            return Ok(());
        }
        TransferCommand::Show { id, json } => {
            let t = vault.transfer(&who, id)?;
            if json {
                return print_json(&t);
            }
            print(&t);
            return Ok(());
        }
        TransferCommand::List { child, json } => {
            let all = vault.list_transfers(&who, child)?;
            if json {
                return print_json(&all);
            }
            for t in &all {
                println!("{}  child {}  to {}  {}", t.id, t.child, t.to, t.state);
            }
            return Ok(());
        }
        TransferCommand::Submit {
            id,
            override_reason,
        } => step(id, TransferStep::Submit { override_reason }),
        TransferCommand::Approve { id, order_number } => {
            step(id, TransferStep::Approve { order_number })
        }
        TransferCommand::Reject { id, reason } => step(id, TransferStep::Reject { reason }),
        TransferCommand::Revoke { id } => step(id, TransferStep::Revoke),
    };
    let t = vault.transfer_step(&who, id, step)?;
    eprintln!("transfer {} is {}", t.id, t.state);
    Ok(())
}

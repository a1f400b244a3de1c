//! `handover keys rotate`: a new signing key or a new storage key while the
//! node serves (the vault's `rotation` module; `docs/key-rotation.md`).

use clap::{ArgGroup, Args, Subcommand};

use super::output::{self, print_json, CliResult};
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key: --signing (Ed25519, the card lists the old one with
    /// its end date and a statement it signed) or --storage (age, every
    /// document header rewrapped, the old identity destroyed at the end)
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["signing", "storage"])))]
pub struct RotateArgs {
    /// Rotate the signing key
    #[arg(long)]
    signing: bool,
    /// With --signing: the old key was lost or stolen. It is listed as
    /// revoked and signs no statement; other departments must add the new
    /// card with `dept add --replace` after checking it by phone
    #[arg(long, requires = "signing")]
    compromised: bool,
    /// Rotate the storage key (goes on with a rotation that stopped)
    #[arg(long)]
    storage: bool,
    /// With --storage: stop after rewrapping N headers (run again to go on)
    #[arg(long, value_name = "N", requires = "storage")]
    limit: Option<u64>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub async fn run(settings: Settings, cmd: KeysCommand) -> CliResult<()> {
    let vault = output::open(settings).await?;
    let actor = output::actor(&vault)?;
    match cmd {
        KeysCommand::Rotate(args) if args.signing => {
            let r = vault.rotate_signing_key(&actor, args.compromised)?;
            if args.json {
                return print_json(&r);
            }
            eprintln!(
                "signing key rotated: {} ended {}{}",
                r.previous_fingerprint,
                r.at,
                if r.compromised { " (revoked)" } else { "" }
            );
            eprintln!("send the new card (`handover dept card`) to every department");
            println!("{}", r.fingerprint);
            Ok(())
        }
        KeysCommand::Rotate(args) => {
            let r = vault.rotate_storage_key(&actor, args.limit).await?;
            if args.json {
                return print_json(&r);
            }
            if r.finished {
                eprintln!(
                    "storage key rotated: {} headers and {} upload segments rewrapped; the old identity is destroyed",
                    r.rewrapped, r.segments
                );
                eprintln!("send the new card (`handover dept card`) to every department");
            } else {
                eprintln!(
                    "storage key rotation in progress: {} headers rewrapped, {} left; run it again to go on",
                    r.rewrapped, r.left
                );
            }
            println!("{}", r.fingerprint);
            Ok(())
        }
    }
}

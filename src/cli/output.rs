//! Shared pieces of the command runners: opening the node (with the
//! passphrase from the environment or a prompt), printing, and the CLI's own
//! input errors.

use std::io::IsTerminal;

use serde::Serialize;

use crate::config::Settings;
use crate::domain::Principal;
use crate::vault::Passphrase;
use crate::vault::{ErrorClass, Vault};

/// Environment variable holding the node passphrase.
pub const PASSPHRASE_ENV: &str = "HANDOVER_PASSPHRASE";

/// Bad input found by the command line itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl CliError {
    /// Exit class of a CLI error: always bad input.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Refused
    }
}

/// The node passphrase: `HANDOVER_PASSPHRASE`, else a prompt on the terminal.
pub fn passphrase(confirm: bool) -> Option<Passphrase> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Some(Passphrase::from(p));
    }
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let first = rpassword::prompt_password("Node passphrase: ").ok()?;
    if confirm {
        let again = rpassword::prompt_password("Repeat the passphrase: ").ok()?;
        if again != first {
            eprintln!("The passphrases differ.");
            return None;
        }
    }
    Some(Passphrase::from(first))
}

/// The API token the command acts with (`--token` / `HANDOVER_TOKEN`), set
/// once by the runner before any command runs.
static TOKEN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

pub fn set_token(token: Option<String>) {
    let _ = TOKEN.set(token);
}

/// Who runs this command: the user of `--token`, else the local operator.
pub fn actor(vault: &Vault) -> anyhow::Result<Principal> {
    match TOKEN.get().and_then(|t| t.as_deref()) {
        Some(token) => Ok(vault.authenticate_token(token)?),
        None => Ok(Principal::LocalOperator),
    }
}

/// Opens the node, clearing leftovers of interrupted uploads when it can.
pub async fn open(settings: Settings) -> anyhow::Result<Vault> {
    Ok(Vault::open(settings, || passphrase(false), true).await?)
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

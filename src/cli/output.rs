//! Shared pieces of the command runners: opening the node (with the
//! passphrase from the environment or a prompt), printing, and the CLI's own
//! input errors.

use std::io::IsTerminal;

use serde::Serialize;

use crate::config::{ConfigError, Settings};
use crate::domain::Principal;
use crate::vault::Passphrase;
use crate::vault::{ErrorClass, Vault, VaultError};

/// Environment variable holding the node passphrase.
pub const PASSPHRASE_ENV: &str = "HANDOVER_PASSPHRASE";

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input found by the command line itself.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot print the result: {0}")]
    Print(#[from] serde_json::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// The exit class: bad input is refused; the vault classes its own.
    pub fn class(&self) -> ErrorClass {
        match self {
            CliError::Usage(_) | CliError::Config(_) => ErrorClass::Refused,
            CliError::Vault(e) => e.class(),
            CliError::Print(_) | CliError::Io(_) => ErrorClass::Internal,
        }
    }
}

impl CliError {
    /// What to do about it, in the command line's words (the vault's
    /// errors say what was refused, never which command or flag to use).
    pub fn hint(&self) -> Option<&'static str> {
        let CliError::Vault(e) = self else {
            return None;
        };
        Some(match e {
            VaultError::NotANode(_) => "run `handover init` first",
            VaultError::UnknownDepartment(_) => "add its card with `handover dept add CARD`",
            VaultError::DepartmentKeysChanged(_) => {
                "check the new card's fingerprints, then add it with `handover dept add --replace`"
            }
            VaultError::ChecklistIncomplete { .. } => {
                "`bundle create` sends it anyway with --allow-incomplete \"REASON\"; \
                 a CWC member may `transfer submit` with --override \"REASON\""
            }
            VaultError::OutputExists(_) => {
                "choose another path; `doc get` replaces a file with --force"
            }
            _ => return None,
        })
    }
}

/// What a command runner returns.
pub type CliResult<T = ()> = Result<T, CliError>;

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
pub fn actor(vault: &Vault) -> CliResult<Principal> {
    match TOKEN.get().and_then(|t| t.as_deref()) {
        Some(token) => Ok(vault.authenticate_token(token)?),
        None => Ok(Principal::LocalOperator),
    }
}

/// Opens the node, clearing leftovers of interrupted uploads when it can.
pub async fn open(settings: Settings) -> CliResult<Vault> {
    Ok(Vault::open(settings, || passphrase(false), true).await?)
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> CliResult<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

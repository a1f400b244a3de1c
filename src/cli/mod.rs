//! The `handover` command line: clap definitions and one small runner per
//! noun. Runners parse, call the vault, and print; they hold no rules.
//! Creating commands print only the new id on stdout; messages go to stderr.

use output::CliResult;
mod access;
mod backup;
mod blobs;
mod bundle;
mod child;
mod doc;
mod keys;
mod node;
mod output;
mod retention;
mod serve;
mod transfer;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Settings;

pub use output::{CliError, PASSPHRASE_ENV};
pub use serve::ServeArgs;

/// handover: an encrypted vault for child-protection case papers, and their
/// signed, encrypted hand-over between state departments.
#[derive(Debug, Parser)]
#[command(name = "handover", version, about, long_about = None)]
pub struct Cli {
    /// The node's data directory [env: HANDOVER_DATA_DIR] [default: ./handover-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A settings file (TOML) to read after ./handover.toml and DIR/handover.toml
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Act as the user of this API token instead of as the local operator
    #[arg(
        long,
        global = true,
        env = "HANDOVER_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node as a service: HTTP API, inbox, pushes to other nodes.
    /// On first run it sets up a node and prints the admin's password once.
    Serve(serve::ServeArgs),
    /// Set up a new node: keys, encrypted database, public card
    Init(node::InitArgs),
    /// Children's case records
    #[command(subcommand)]
    Child(child::ChildCommand),
    /// Documents of a child
    #[command(subcommand)]
    Doc(doc::DocCommand),
    /// Re-read every stored document and verify it; exit 2 if anything is wrong
    Check(node::CheckArgs),
    /// Remove leftovers of interrupted uploads
    Gc(node::GcArgs),
    /// Where the document blobs are kept: move them to another store
    #[command(subcommand)]
    Blobs(blobs::BlobsCommand),
    /// The department directory: this node's card, other departments' cards
    #[command(subcommand)]
    Dept(node::DeptCommand),
    /// The node's keys: rotate the signing key or the storage key
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Transfer bundles: create, verify, open, import
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Receipts of hand-overs
    #[command(subcommand)]
    Receipt(bundle::ReceiptCommand),
    /// User accounts (roles and scopes)
    #[command(subcommand)]
    User(access::UserCommand),
    /// API tokens of users
    #[command(subcommand)]
    Token(access::TokenCommand),
    /// Purpose-bound, time-limited access for support persons
    #[command(subcommand)]
    Grant(access::GrantCommand),
    /// The access policies (Cedar)
    #[command(subcommand)]
    Policy(access::PolicyCommand),
    /// The tamper-evident audit log
    #[command(subcommand)]
    Audit(access::AuditCommand),
    /// The node's status for a second person watching the administrators:
    /// accounts by role, read-capable accounts created, roles given, passwords reset
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Back the node up while it serves (--to DIR); verify, list and prune
    /// backup sets
    Backup(backup::BackupArgs),
    /// Restore a node from a backup into an empty data directory
    Restore(backup::RestoreArgs),
    /// What falls due under policies/retention.toml, and erasing it
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Transfers of a child to another department (draft, CWC approval, send)
    #[command(subcommand)]
    Transfer(transfer::TransferCommand),
}

impl Cli {
    /// True for `handover serve`.
    pub fn is_serve(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }

    /// The `log_format` setting, if the settings load.
    pub fn log_format(&self) -> Option<String> {
        Settings::load(self.data_dir.as_deref(), self.config.as_deref())
            .ok()
            .map(|s| s.log_format)
    }

    /// The settings this command line names.
    pub fn settings(&self) -> Result<Settings, crate::config::ConfigError> {
        Settings::load(self.data_dir.as_deref(), self.config.as_deref())
    }
}

/// Runs one parsed command line, except `serve`, which the binary starts
/// (it is the `api` face).
pub async fn run(cli: Cli) -> CliResult<()> {
    let settings = cli.settings()?;
    let config = cli.config.clone();
    output::set_token(cli.token);
    match cli.command {
        Command::Serve(_) => Err(CliError::Usage(
            "`serve` is started by the handover binary".into(),
        )),
        Command::Init(args) => node::init(settings, args),
        Command::Child(cmd) => child::run(settings, cmd).await,
        Command::Doc(cmd) => doc::run(settings, cmd).await,
        Command::Check(args) => node::check(settings, args).await,
        Command::Gc(args) => node::gc(settings, args).await,
        Command::Blobs(cmd) => blobs::run(settings, config, cmd).await,
        Command::Dept(cmd) => node::dept(settings, cmd).await,
        Command::Keys(cmd) => keys::run(settings, cmd).await,
        Command::Bundle(cmd) => bundle::run(settings, cmd).await,
        Command::Receipt(cmd) => bundle::run_receipt(settings, cmd).await,
        Command::User(cmd) => access::user(settings, cmd).await,
        Command::Token(cmd) => access::token(settings, cmd).await,
        Command::Grant(cmd) => access::grant(settings, cmd).await,
        Command::Policy(cmd) => access::policy(settings, cmd),
        Command::Audit(cmd) => access::audit(settings, cmd).await,
        Command::Status { json } => access::status(settings, json).await,
        Command::Transfer(cmd) => transfer::run(settings, cmd).await,
        Command::Backup(args) => backup::backup(settings, args).await,
        Command::Restore(args) => backup::restore(settings, args).await,
        Command::Retention(cmd) => retention::run(settings, cmd).await,
    }
}

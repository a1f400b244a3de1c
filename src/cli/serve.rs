//! `handover serve`: the node as a service (see `api`).

use clap::Args;

use super::output;
use crate::api::{serve, ServeOptions};
use crate::config::Settings;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: HANDOVER_BIND] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// On first run (no node in the data directory): the department id to set up
    #[arg(long, value_name = "ID")]
    department: Option<String>,
    /// On first run: the department's name
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

pub async fn run(settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    let passphrase = std::env::var(output::PASSPHRASE_ENV)
        .ok()
        .map(crate::vault::Passphrase::from);
    serve(
        settings,
        ServeOptions {
            bind: args.bind,
            department: args.department,
            name: args.name,
            passphrase,
        },
    )
    .await?;
    Ok(())
}

//! `handover serve`: its command-line arguments. The binary (`main.rs`)
//! starts the `api` face with them: one face does not call another.

use clap::Args;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: HANDOVER_BIND] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// On first run (no node in the data directory): the department id to set up
    #[arg(long, value_name = "ID")]
    pub department: Option<String>,
    /// On first run: the department's name
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Set up a demo node: one user of each role (their one-time passwords
    /// are printed) and a few synthetic children with synthetic scans.
    /// Only on a new node (or one set up with --demo before).
    #[arg(long)]
    pub demo: bool,
}

//! The `handover` binary: parse the command line, run it, and turn the
//! outcome into an exit code: 0 ok, 1 bad input or refused, 2 integrity
//! failure (corrupt or tampered data), 3 anything else.

use std::process::ExitCode;

use clap::Parser;
use handover::api::{ServeError, ServeOptions};
use handover::cli::{self, Cli, CliError, Command};
use handover::config::ConfigError;
use handover::vault::{ErrorClass, Passphrase, VaultError};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when a reader closes our output
    // early (`handover … | head`), instead of panicking on a failed print.
    // SAFETY: restoring a signal's default disposition at start-up, before
    // any thread exists, has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Everything this program creates (database, WAL, blob folders, opened
    // papers, bundles) is for its owner only.
    // SAFETY: setting the process umask has no preconditions.
    unsafe {
        libc::umask(0o077);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors are bad input (1), not clap's default 2, which
            // here means an integrity failure.
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(&cli);
    // SAFETY: mallopt only tunes the allocator; called before any thread.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        if cli.is_serve() {
            // A long-running server frees big buffers (Argon2's 19 MiB per
            // login, upload parts, read-ahead) all the time; glibc's adaptive
            // threshold would soon keep them on the heap for good. Serving
            // them from mmap gives the memory back when a request ends.
            libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        } else {
            // A command's few busy threads would each get an arena of their
            // own, and buffers freed in one and wanted in another pile up:
            // importing a 1 GiB bundle peaked anywhere from 38 to 65 MiB.
            // With two arenas it measured 35 to 53 MiB, and no slower
            // (docs/PERFORMANCE.md).
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The top error's message already names its cause.
            eprintln!("error: {e}");
            if let Some(hint) = e.downcast_ref::<CliError>().and_then(CliError::hint) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(match class_of(&e) {
                ErrorClass::Refused => 1,
                ErrorClass::Integrity => 2,
                ErrorClass::Internal => 3,
            })
        }
    }
}

/// `serve` starts the API face with the web pages beside it; every other
/// command is the command line's.
async fn run(cli: Cli) -> anyhow::Result<()> {
    let Command::Serve(args) = &cli.command else {
        return Ok(cli::run(cli).await?);
    };
    let passphrase = std::env::var(cli::PASSPHRASE_ENV)
        .ok()
        .map(Passphrase::from);
    let options = ServeOptions {
        bind: args.bind.clone(),
        department: args.department.clone(),
        name: args.name.clone(),
        passphrase,
        pages: Some(handover::web::router),
        demo: args.demo,
    };
    handover::api::serve(cli.settings()?, options).await?;
    Ok(())
}

/// Log lines go to stderr: warnings for commands; for `serve`, one line per
/// request and event (`HANDOVER_LOG` filters, `log_format` picks text or JSON).
fn init_logging(cli: &Cli) {
    let serving = cli.is_serve();
    let default = if serving { "info" } else { "warn" };
    let filter =
        EnvFilter::try_from_env("HANDOVER_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if serving && cli.log_format().as_deref() == Some("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn class_of(e: &anyhow::Error) -> ErrorClass {
    if let Some(v) = e.downcast_ref::<VaultError>() {
        v.class()
    } else if let Some(s) = e.downcast_ref::<ServeError>() {
        match s {
            ServeError::Vault(v) => v.class(),
            ServeError::Bind { .. } | ServeError::Tls(_) => ErrorClass::Refused,
            ServeError::Io(_) => ErrorClass::Internal,
        }
    } else if let Some(c) = e.downcast_ref::<CliError>() {
        c.class()
    } else if e.downcast_ref::<ConfigError>().is_some() {
        ErrorClass::Refused
    } else {
        ErrorClass::Internal
    }
}

//! `handover serve`: on first run, set up a node and its `admin` user; then
//! listen (HTTP, or HTTPS with rustls), push the outbox in the background,
//! and on SIGTERM/SIGINT stop taking requests, let those in flight finish
//! (up to a grace period), and close the vault, which writes the audit
//! checkpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use tokio_util::sync::CancellationToken;

use super::{push, router, AppState};
use crate::config::Settings;
use crate::vault::Passphrase;
use crate::vault::{Backoff, FirstRun, Vault, VaultError};

/// `println!` that never panics: a server whose stdout was closed (a
/// script that stopped reading after the address line) keeps serving.
macro_rules! say {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// How long requests in flight may take to finish after a stop signal.
const GRACE: Duration = Duration::from_secs(30);

/// What `serve` needs beyond the settings.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Overrides the `bind` setting.
    pub bind: Option<String>,
    /// Id and name of the department a first run sets up.
    pub department: Option<String>,
    pub name: Option<String>,
    /// The node passphrase, if its secrets are protected (or to protect them on first run).
    pub passphrase: Option<Passphrase>,
    /// Pages to serve beside the API (the web face, given by `main.rs`):
    /// every path outside `/api/` goes to them.
    pub pages: Option<Pages>,
    /// Set up demo users and synthetic children on a new node (`--demo`).
    pub demo: bool,
}

/// Builds the pages' router for an open vault.
pub type Pages = fn(Arc<Vault>, &Settings) -> axum::Router;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS certificate or key unusable: {0}")]
    Tls(std::io::Error),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the server until a stop signal.
pub async fn serve(mut settings: Settings, opts: ServeOptions) -> Result<(), ServeError> {
    if let Some(bind) = &opts.bind {
        settings.bind = bind.clone();
    }
    let listener =
        std::net::TcpListener::bind(&settings.bind).map_err(|source| ServeError::Bind {
            addr: settings.bind.clone(),
            source,
        })?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let tls = settings.tls_cert.is_some() && settings.tls_key.is_some();
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{}://{addr}", if tls { "https" } else { "http" }));

    let first = Vault::set_up_if_new(
        &settings,
        FirstRun {
            department: opts.department.clone(),
            name: opts.name.clone(),
            inbox_url: Some(format!("{}/api/v1/inbox", public_url.trim_end_matches('/'))),
            passphrase: opts.passphrase.clone(),
        },
    )?;
    let passphrase = opts.passphrase.clone();
    let vault = Arc::new(Vault::open(settings.clone(), move || passphrase, true).await?);
    let cleared = vault.clear_partial_receipts()?;
    if cleared > 0 {
        tracing::info!(cleared, "removed bundles whose receiving was interrupted");
    }
    if first {
        let file = vault.create_first_admin().await?;
        // The password itself never reaches the terminal or the journal.
        say!(
            "First run: set up department {} in {}.\n\
             Log in as user `admin` with the one-time password in this file \
             (readable only by this account):\n\n    {}\n\n\
             The first login must set a new password; the file is then removed.\n",
            vault.card().id,
            vault.data_dir().display(),
            file.display()
        );
    }
    if opts.demo {
        show_demo(&vault, first).await?;
    }
    vault.prepare_logins();
    // Uploads whose bytes all arrived before the last stop become
    // documents now; expired ones go.
    if let Err(e) = vault.sweep_uploads().await {
        tracing::warn!(error = %e, "cannot sweep resumable uploads");
    }

    let stop = CancellationToken::new();
    let state = AppState::new(vault.clone(), &settings, stop.clone());
    let pages = opts.pages.map(|build| build(vault.clone(), &settings));
    let app = router(state.clone(), &settings, pages);
    let backoff = Backoff {
        first: chrono::Duration::seconds(settings.push_retry_first_secs.max(1) as i64),
        max: chrono::Duration::seconds(settings.push_retry_max_secs.max(1) as i64),
        give_up_after: chrono::Duration::hours(settings.push_give_up_hours as i64),
    };
    let pusher = tokio::spawn(push::run(state.clone(), backoff, stop.clone()));
    let sweeper = tokio::spawn(sweep(
        vault.clone(),
        Duration::from_secs(settings.request_timeout_secs + 5),
        stop.clone(),
    ));

    let handle: Handle<SocketAddr> = Handle::new();
    tokio::spawn(stop_on_signal(handle.clone(), stop.clone()));
    if opts.pages.is_some() {
        say!("Open {public_url} in a browser and log in as admin.");
    }
    // The last line printed: scripts and tests wait for it.
    say!(
        "handover {} listening on {public_url} ({addr})",
        vault.card().id
    );
    tracing::info!(%addr, tls, "listening");
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let served = if let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = RustlsConfig::from_pem_file(cert, key)
            .await
            .map_err(ServeError::Tls)?;
        let mut server = axum_server::from_tcp_rustls(listener, config)?;
        patient_headers(server.http_builder(), &settings);
        server.handle(handle).serve(service).await
    } else {
        let mut server = axum_server::from_tcp(listener)?;
        patient_headers(server.http_builder(), &settings);
        server.handle(handle).serve(service).await
    };
    stop.cancel();
    let _ = pusher.await;
    let _ = sweeper.await;
    drop(state);
    // Work already handed to the blocking pools (a download's decryption
    // whose client went away, say) still holds the vault: give it the
    // grace period to end.
    let waited = std::time::Instant::now();
    while Arc::strong_count(&vault) > 1 && waited.elapsed() < GRACE {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The last reference: closing the vault writes the audit checkpoint.
    match Arc::try_unwrap(vault) {
        Ok(vault) => drop(vault),
        Err(_) => tracing::warn!("the vault is still in use at shutdown"),
    }
    tracing::info!("stopped");
    served.map_err(ServeError::Io)
}

/// `--demo`: on a new node, adds the demo users and children and prints
/// the users' one-time passwords; on a demo node, says it is one; on any
/// other node, refuses.
async fn show_demo(vault: &Vault, first: bool) -> Result<(), VaultError> {
    if !first {
        if !vault.is_demo()? {
            return Err(VaultError::HoldsRealData);
        }
        say!("DEMO NODE: synthetic data only (set up earlier with --demo).");
        return Ok(());
    }
    let users = vault.set_up_demo().await?;
    say!("DEMO NODE: synthetic children and scans, not real data. Demo users and");
    say!("their one-time passwords (each must choose a new one at the first login):\n");
    for u in &users {
        say!(
            "    {:<14} {:<16} {}",
            u.name,
            u.role.as_str(),
            secrecy::ExposeSecret::expose_secret(&u.password)
        );
    }
    say!();
    Ok(())
}

/// A connection that sends no complete request head for `body_idle_secs`
/// is closed (HTTP/1; the request bodies have their own pace limit).
fn patient_headers(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    settings: &Settings,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(settings.body_idle_secs.max(1)));
}

/// Every minute, removes inbox partial files that no receive in progress
/// owns (left by a crash; a receive that fails removes its own at once),
/// and the blobs of uploads older than any request may live (`older_than`)
/// that never committed.
async fn sweep(vault: Arc<Vault>, older_than: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(older_than.min(Duration::from_secs(60))) => {}
            _ = stop.cancelled() => return,
        }
        match vault.clear_partial_receipts() {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed abandoned inbox files"),
            Err(e) => tracing::warn!(error = %e, "cannot sweep the inbox"),
        }
        if let Err(e) = vault.sweep_abandoned_uploads(older_than).await {
            tracing::warn!(error = %e, "cannot sweep abandoned uploads");
        }
        if let Err(e) = vault.sweep_uploads().await {
            tracing::warn!(error = %e, "cannot sweep resumable uploads");
        }
        // Keeps the access-history index near the log's end, so a read
        // of a history rarely has much to catch up.
        let v = vault.clone();
        match tokio::task::spawn_blocking(move || v.catch_up_audit_index()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot catch up the access-history index"),
            Err(e) => tracing::warn!(error = %e, "the access-history index catch-up failed"),
        }
    }
}

/// Waits for SIGTERM or SIGINT, then stops taking connections and gives
/// requests in flight [`GRACE`] to finish.
async fn stop_on_signal(handle: Handle<SocketAddr>, stop: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("stop signal: finishing requests in flight");
    stop.cancel();
    handle.graceful_shutdown(Some(GRACE));
}

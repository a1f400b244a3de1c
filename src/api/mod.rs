//! The HTTP API (axum): routes under `/api/v1`, JSON in and out, streamed
//! uploads and downloads, bearer-token auth, problem+json errors, the
//! OpenAPI document, health and metrics, and pushing to other nodes.
//! Handlers parse and call the vault; they hold no rules.

mod admin;
mod auth;
mod children;
mod documents;
mod guard;
mod health;
mod inbox;
mod openapi;
mod paging;
mod problem;
mod push;
mod server;
mod transfers;
mod uploads;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;

use crate::config::Settings;
use crate::vault::{Vault, VaultError};

pub use openapi::ApiDoc;
pub use problem::{ApiError, Problem};
pub use server::{serve, Pages, ServeError, ServeOptions};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub vault: Arc<Vault>,
    /// The trusted header naming the client's address (behind a proxy).
    client_header: Option<axum::http::HeaderName>,
    metrics: PrometheusHandle,
    /// When set, `/metrics` needs this bearer token.
    metrics_token: Option<String>,
    stop: CancellationToken,
    /// Permits to read an upload's body.
    uploads: Arc<Semaphore>,
    /// Permits to read a bundle pushed into the inbox (its own: slow
    /// senders there cannot hold up document uploads).
    inbox: Arc<Semaphore>,
    /// How request bodies must arrive.
    pace: guard::BodyPace,
    /// Served over TLS (HSTS is sent).
    tls: bool,
    /// The origin of `public_url`, for the pages' same-origin rule.
    public_origin: Option<String>,
}

impl AppState {
    /// Runs a synchronous vault use case (SQLite, audit fsyncs, Argon2) on
    /// tokio's blocking pool, so the runtime's workers stay free for other
    /// requests: the rule of docs/ARCHITECTURE.md, "The runtime stays free".
    pub async fn run<T: Send + 'static>(
        &self,
        use_case: impl FnOnce(&Vault) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, VaultError> {
        let vault = self.vault.clone();
        tokio::task::spawn_blocking(move || use_case(&vault)).await?
    }

    /// Runs a heavy synchronous use case (one that reads the whole audit
    /// log, say) on the vault's low-priority pool (`vault::spawn_heavy`).
    pub async fn run_heavy<T: Send + 'static>(
        &self,
        use_case: impl FnOnce(&Vault) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, VaultError> {
        let vault = self.vault.clone();
        crate::vault::spawn_heavy(move || use_case(&vault)).await?
    }

    pub fn new(vault: Arc<Vault>, settings: &Settings, stop: CancellationToken) -> Self {
        AppState {
            vault,
            client_header: settings
                .client_address_header
                .as_deref()
                .and_then(|h| axum::http::HeaderName::try_from(h.trim()).ok()),
            metrics: health::recorder(),
            metrics_token: settings.metrics_token.clone().filter(|t| !t.is_empty()),
            stop,
            uploads: Arc::new(Semaphore::new(settings.max_concurrent_uploads.max(1))),
            inbox: Arc::new(Semaphore::new(settings.max_concurrent_inbox.max(1))),
            pace: guard::BodyPace {
                idle: Duration::from_secs(settings.body_idle_secs.max(1)),
                min_bytes_per_sec: settings.body_min_bytes_per_sec,
            },
            tls: settings.tls_cert.is_some() && settings.tls_key.is_some(),
            public_origin: settings
                .public_url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                .map(|u| u.origin().ascii_serialization())
                .filter(|o| o != "null"),
        }
    }

    fn shutting_down(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// A turn to read a pushed bundle, now or never: a busy inbox answers
    /// 503 at once and the sending node retries later.
    fn inbox_permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        self.inbox.try_acquire().map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "The node is busy",
                "the inbox is receiving as many bundles as it may; try again later",
            )
            .retry_after(30)
        })
    }

    /// Waits for a turn to read an upload's body.
    async fn upload_permit(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.uploads
            .acquire()
            .await
            .expect("the upload semaphore is never closed")
    }
}

/// The new resource's id.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Created {
    pub id: String,
}

impl Created {
    fn new(id: impl ToString) -> Self {
        Created { id: id.to_string() }
    }
}

/// Parses an opaque id from a path or body; a malformed one reads like an
/// unknown one, and is audited like a refused lookup (on the blocking
/// pool: the audit append waits for its fsync).
async fn parse_id<T: std::str::FromStr>(
    state: &AppState,
    actor: &crate::domain::Principal,
    s: &str,
    what: &'static str,
) -> Result<T, ApiError> {
    if let Ok(id) = s.trim().parse() {
        return Ok(id);
    }
    let actor = actor.clone();
    state
        .run(move |v| v.refuse_malformed_id(&actor, what))
        .await?;
    Err(ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no {what} with this id"),
    ))
}

/// All routes, with limits, timeouts, request metrics and security
/// headers. `max_concurrent_requests` is one limit for the whole node (a
/// semaphore shared by every route), not one per route. With `pages`,
/// every path outside `/api/` and the health routes goes to them (an
/// unknown `/api/` path stays a problem+json 404).
pub fn router(state: AppState, settings: &Settings, pages: Option<Router>) -> Router {
    let node_wide = Arc::new(Semaphore::new(settings.max_concurrent_requests.max(1)));
    let streamed = Router::new()
        .route(
            "/api/v1/children/{id}/documents",
            get(children::documents).post(children::upload),
        )
        .route("/api/v1/inbox", get(inbox::list).post(inbox::receive))
        .route(
            "/api/v1/uploads",
            post(uploads::create).options(uploads::options),
        )
        .route(
            "/api/v1/uploads/{id}",
            axum::routing::head(uploads::head)
                .patch(uploads::patch)
                .delete(uploads::terminate)
                .post(uploads::overridden)
                .options(uploads::options),
        )
        // The vault enforces the document and bundle size limits while it reads.
        .layer(DefaultBodyLimit::disable());
    let api = Router::new()
        .route(
            "/api/v1/openapi.json",
            get(|| async { Json(ApiDoc::openapi()) }),
        )
        .route("/api/v1/session", post(auth::login))
        .route("/api/v1/children", get(children::list).post(children::add))
        .route(
            "/api/v1/children/{id}",
            get(children::show).patch(children::edit),
        )
        .route("/api/v1/children/{id}/checklist", get(children::checklist))
        .route(
            "/api/v1/children/{id}/placement",
            post(children::move_child),
        )
        .route(
            "/api/v1/children/{id}/access-log",
            get(children::access_log),
        )
        .route("/api/v1/documents/{id}", get(documents::metadata))
        .route("/api/v1/documents/{id}/content", get(documents::content))
        .route(
            "/api/v1/transfers",
            get(transfers::list).post(transfers::create),
        )
        .route("/api/v1/transfers/{id}", get(transfers::show))
        .route("/api/v1/transfers/{id}/submit", post(transfers::submit))
        .route("/api/v1/transfers/{id}/approve", post(transfers::approve))
        .route("/api/v1/transfers/{id}/reject", post(transfers::reject))
        .route("/api/v1/transfers/{id}/revoke", post(transfers::revoke))
        .route("/api/v1/transfers/{id}/send", post(transfers::send))
        .route("/api/v1/transfers/{id}/bundle", get(transfers::bundle))
        .route("/api/v1/inbox/{id}/accept", post(inbox::accept))
        .route("/api/v1/inbox/{id}/refuse", post(inbox::refuse))
        .route("/api/v1/receipts", post(inbox::receipt))
        .route(
            "/api/v1/users",
            get(admin::list_users).post(admin::add_user),
        )
        .route(
            "/api/v1/users/{name}",
            axum::routing::patch(admin::change_user),
        )
        .route("/api/v1/users/{name}/disable", post(admin::disable_user))
        .route("/api/v1/users/{name}/enable", post(admin::enable_user))
        .route("/api/v1/users/{name}/password", post(admin::set_password))
        .route(
            "/api/v1/users/{name}/tokens",
            get(admin::list_tokens).post(admin::create_token),
        )
        .route("/api/v1/tokens/{id}/revoke", post(admin::revoke_token))
        .route(
            "/api/v1/grants",
            get(admin::list_grants).post(admin::add_grant),
        )
        .route("/api/v1/grants/{id}/revoke", post(admin::revoke_grant))
        .route(
            "/api/v1/departments",
            get(admin::list_departments).post(admin::add_department),
        )
        .route("/api/v1/departments/self", get(admin::own_card))
        .route("/api/v1/status", get(admin::status))
        .layer(DefaultBodyLimit::max(settings.max_json_bytes));
    let routes = Router::new()
        .merge(api)
        .merge(streamed)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics));
    let routes = match pages {
        Some(pages) => routes
            .route(
                "/api/{*rest}",
                axum::routing::any(|| async { ApiError::not_found() }),
            )
            .fallback_service(pages),
        None => routes.fallback(|| async { ApiError::not_found() }),
    };
    routes
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::pace_bodies,
        ))
        .layer(axum::middleware::from_fn(health::track))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(settings.request_timeout_secs),
        ))
        .layer(GlobalConcurrencyLimitLayer::with_semaphore(node_wide))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::secure_headers,
        ))
        .with_state(state)
}

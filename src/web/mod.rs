//! Pages for people (server-rendered HTML, under `/`): log in, the
//! children and their papers, the transfer workflow, the inbox, grants, a
//! district overview and administration, in English and Hindi, phone
//! first. Plain forms (post, then redirect) work without JavaScript; one
//! small script of our own shows upload progress. Like the API, handlers
//! parse, call the vault and render; what a role may see and do is
//! decided by the vault's policies.
//!
//! * `session`: the login cookie, the caller of a page ([`session::Visitor`]);
//! * `guard`: the CSRF check and the pages' security headers;
//! * `page`: the frame every page shares, rendering, and error pages;
//! * `i18n`: the message catalogs, dates and numbers;
//! * `assets`: the embedded CSS, JavaScript and icon;
//! * one file per group of pages: `children`, `documents`, `transfers`,
//!   `inbox`, `grants`, `district`, `admin`, `account`.

mod account;
mod admin;
pub mod assets;
mod children;
mod district;
mod documents;
mod grants;
mod guard;
pub mod i18n;
mod inbox;
mod page;
mod session;
mod transfers;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName};
use axum::routing::{get, post};
use axum::Router;
use tower_http::compression::predicate::{NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, DefaultPredicate};

use crate::config::Settings;
use crate::vault::{Vault, VaultError};

/// What every page handler shares.
#[derive(Clone)]
pub struct WebState {
    vault: Arc<Vault>,
    /// Served over TLS: cookies are `Secure` and `__Host-` prefixed.
    tls: bool,
    /// The trusted header naming the client's address (behind a proxy).
    client_header: Option<HeaderName>,
    /// The node's public origin (`https://host`), accepted for posts
    /// besides the request's own host.
    public_origin: Option<String>,
}

impl WebState {
    /// Runs a synchronous vault use case on the blocking pool (the rule of
    /// docs/ARCHITECTURE.md, "The runtime stays free").
    async fn run<T: Send + 'static>(
        &self,
        use_case: impl FnOnce(&Vault) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, VaultError> {
        let vault = self.vault.clone();
        tokio::task::spawn_blocking(move || use_case(&vault)).await?
    }

    /// Runs a heavy use case (Argon2, a whole-log read) on the vault's
    /// low-priority pool.
    async fn run_heavy<T: Send + 'static>(
        &self,
        use_case: impl FnOnce(&Vault) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, VaultError> {
        let vault = self.vault.clone();
        crate::vault::spawn_heavy(move || use_case(&vault)).await?
    }

    /// The client's address: the peer's, or the last address in the
    /// trusted header when one is configured and present.
    fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        self.client_header
            .as_ref()
            .and_then(|name| headers.get_all(name).iter().next_back())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(peer.ip())
    }
}

/// The pages, as a router to serve beside the API (`api::serve` takes it
/// as its fallback): every path outside `/api/`.
pub fn router(vault: Arc<Vault>, settings: &Settings) -> Router {
    let state = WebState {
        vault,
        tls: settings.tls_cert.is_some() && settings.tls_key.is_some(),
        client_header: settings
            .client_address_header
            .as_deref()
            .and_then(|h| HeaderName::try_from(h.trim()).ok()),
        public_origin: settings.public_url.as_deref().and_then(origin_of),
    };
    // Scans and PDFs are compressed already; compressing them again costs
    // the server and saves nothing.
    let compress = DefaultPredicate::new()
        .and(NotForContentType::const_new("application/pdf"))
        .and(NotForContentType::const_new("application/octet-stream"));
    Router::new()
        .route("/", get(page::home))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route("/account/language", post(account::choose_language))
        .route("/children", get(children::list).post(children::search))
        .route("/children/new", get(children::new_form).post(children::add))
        .route("/children/{id}", get(children::show).post(children::edit))
        .route(
            "/children/{id}/scans",
            get(documents::upload_form).post(documents::upload),
        )
        .route(
            "/children/{id}/transfers",
            get(transfers::draft_form).post(transfers::draft),
        )
        .route("/children/{id}/access", get(grants::access_history))
        .route("/documents/{id}", get(documents::show))
        .route("/documents/{id}/content", get(documents::content))
        .route("/transfers", get(transfers::list))
        .route("/transfers/{id}", get(transfers::show))
        .route("/transfers/{id}/{step}", post(transfers::step))
        .route("/inbox", get(inbox::list))
        .route("/inbox/{id}/{step}", post(inbox::decide))
        .route("/grants", get(grants::list).post(grants::add))
        .route("/grants/new", get(grants::new_form))
        .route("/grants/{id}/revoke", post(grants::revoke))
        .route("/shared", get(grants::shared))
        .route("/shared/{id}", get(grants::shared_papers))
        .route("/district", get(district::overview))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/users/{name}/{step}", post(admin::user_step))
        .route(
            "/admin/departments",
            get(admin::departments).post(admin::add_department),
        )
        .route("/admin/status", get(admin::status))
        .route("/assets/{name}", get(assets::serve))
        .fallback(page::not_found)
        .route_layer(axum::middleware::from_fn(guard::keep_route))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::same_origin_posts,
        ))
        .layer(axum::middleware::from_fn(guard::page_headers))
        .layer(CompressionLayer::new().compress_when(compress))
        .with_state(state)
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization()).filter(|o| o != "null")
}

/// `?after=ID`: where the previous page of a list ended (an opaque id,
/// never a name).
#[derive(serde::Deserialize)]
pub struct AfterQuery {
    after: Option<String>,
}

impl AfterQuery {
    /// The page of 50 asked for, and whether it is a later one; a bad
    /// cursor reads as a page that does not exist.
    #[allow(clippy::result_large_err)]
    fn page(
        &self,
        v: &session::Visitor,
    ) -> Result<(crate::domain::PageRequest, bool), axum::response::Response> {
        let later = self.after.as_deref().is_some_and(|a| !a.is_empty());
        crate::domain::PageRequest::new(Some(PAGE_SIZE), self.after.clone(), None)
            .map(|p| (p, later))
            .map_err(|_| v.not_found())
    }
}

/// Rows on one page of a list.
pub const PAGE_SIZE: usize = 50;

//! Who is calling: `Authorization: Bearer TOKEN` resolved by the vault, and
//! `POST /api/v1/session` (name and password, Argon2id) that hands out a
//! token, and changes the password on the way when asked (or required).
//! Failed logins are counted and slowed down by the vault, per name and
//! client address; the address is the peer's, or, behind a reverse proxy,
//! the one the configured trusted header names.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::problem::{ApiError, ApiResult, JsonBody};
use super::AppState;
use crate::domain::Principal;
use crate::vault::VaultError;

/// How long a session token lasts.
pub const SESSION_HOURS: u64 = 12;

/// The authenticated user of a request.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        let token = bearer(parts).ok_or_else(ApiError::unauthenticated)?;
        let token = token.to_string();
        match state.run(move |v| v.authenticate_token(&token)).await {
            Ok(p) => Ok(Caller(p)),
            Err(VaultError::Unauthenticated) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "the token is unknown, expired or revoked, or its user is disabled",
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// The caller if a bearer token was sent; none otherwise (routes that
/// another node calls, authenticated by a signature instead).
pub struct MaybeCaller(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<MaybeCaller> {
        if bearer(parts).is_none() {
            return Ok(MaybeCaller(None));
        }
        Caller::from_request_parts(parts, state)
            .await
            .map(|c| MaybeCaller(Some(c.0)))
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// The client's address: the peer's, or the last address in the trusted
/// header when one is configured (`client_address_header`) and present.
pub fn client_address(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    state
        .client_header
        .as_ref()
        .and_then(|name| headers.get_all(name).iter().next_back())
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer.ip())
}

/// Name and password, and a new password to set (required when someone
/// else set the current one).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    pub name: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    /// Set this password instead (at least 12 characters, not a common
    /// one); every other token of the user is revoked.
    #[schema(value_type = Option<String>, format = Password)]
    pub new_password: Option<SecretString>,
}

/// A new session's bearer token, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Log in with name and password; returns a bearer token for 12 hours. A
/// password someone else set (a new account's, a reset) gets 403
/// `password-change-required` until the login also gives `new_password`.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = Login,
    responses((status = 201, body = Session), (status = 401, body = super::Problem),
              (status = 403, body = super::Problem), (status = 422, body = super::Problem),
              (status = 429, body = super::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(login): JsonBody<Login>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let client = client_address(&state, peer, &headers);
    let vault = state.vault.clone();
    // Argon2id takes a while on purpose: off the async threads.
    let outcome = crate::vault::spawn_heavy(move || {
        vault.start_session(
            &login.name,
            &login.password,
            login.new_password.as_ref(),
            client,
            Duration::from_secs(SESSION_HOURS * 3600),
        )
    })
    .await
    .map_err(VaultError::from)?;
    let label = match &outcome {
        Ok(_) => "ok",
        Err(VaultError::Throttled { .. }) => "throttled",
        Err(VaultError::PasswordChangeRequired) => "password_change_required",
        Err(_) => "refused",
    };
    metrics::counter!("handover_logins_total", "outcome" => label).increment(1);
    match outcome {
        Ok((row, token)) => Ok((
            StatusCode::CREATED,
            Json(Session {
                token: token.expose_secret().to_string(),
                expires_at: row.expires_at,
            }),
        )),
        Err(VaultError::Unauthenticated) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            "wrong user name or password, or the user is disabled",
        )),
        Err(e) => Err(e.into()),
    }
}

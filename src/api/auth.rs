//! Who is calling: `Authorization: Bearer TOKEN` resolved by the vault, and
//! `POST /api/v1/session` (name and password, Argon2id) that hands out a
//! token. Failed logins are limited per user name and per client address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
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
/// The window failed logins are counted in.
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The authenticated user of a request.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        let token = bearer(parts).ok_or_else(ApiError::unauthenticated)?;
        match state.vault.authenticate_token(token) {
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

/// Name and password.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    pub name: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// A new session's bearer token, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Log in with name and password; returns a bearer token for 12 hours.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = Login,
    responses((status = 201, body = Session), (status = 401, body = super::Problem),
              (status = 429, body = super::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    JsonBody(login): JsonBody<Login>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let name = login.name.trim().to_string();
    state.limiter.check(&name, addr.ip())?;
    let vault = state.vault.clone();
    let password = login.password;
    let who = name.clone();
    // Argon2id takes a while on purpose: off the async threads.
    let outcome = tokio::task::spawn_blocking(move || {
        vault.start_session(&who, &password, Duration::from_secs(SESSION_HOURS * 3600))
    })
    .await
    .map_err(|_| ApiError::from(VaultError::Io(std::io::Error::other("login task failed"))))?;
    match outcome {
        Ok((row, token)) => {
            state.limiter.succeeded(&name);
            metrics::counter!("handover_logins_total", "outcome" => "ok").increment(1);
            Ok((
                StatusCode::CREATED,
                Json(Session {
                    token: token.expose_secret().to_string(),
                    expires_at: row.expires_at,
                }),
            ))
        }
        Err(VaultError::Unauthenticated) => {
            state.limiter.failed(&name, addr.ip());
            metrics::counter!("handover_logins_total", "outcome" => "refused").increment(1);
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "wrong user name or password, or the user is disabled",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Failed logins per user name and per address, in a sliding window.
pub struct LoginLimiter {
    per_user: u32,
    per_address: u32,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    /// `per_user` failures per name; four times as many per address.
    pub fn new(per_user: u32) -> Self {
        LoginLimiter {
            per_user: per_user.max(1),
            per_address: per_user.max(1) * 4,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn check(&self, name: &str, ip: IpAddr) -> ApiResult<()> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < WINDOW);
            !times.is_empty()
        });
        let count = |key: &str| map.get(key).map_or(0, |t| t.len() as u32);
        if count(&user_key(name)) >= self.per_user || count(&ip_key(ip)) >= self.per_address {
            return Err(ApiError::too_many_attempts(
                "too many failed logins for this user or from this address; wait 15 minutes",
            ));
        }
        Ok(())
    }

    fn failed(&self, name: &str, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.entry(user_key(name)).or_default().push(now);
        map.entry(ip_key(ip)).or_default().push(now);
    }

    fn succeeded(&self, name: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&user_key(name));
    }
}

fn user_key(name: &str) -> String {
    format!("user:{}", name.to_lowercase())
}

fn ip_key(ip: IpAddr) -> String {
    format!("ip:{ip}")
}

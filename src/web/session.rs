//! Who is at the browser. The session's secret travels in an `HttpOnly`,
//! `SameSite=Strict` cookie (`__Host-handover` and `Secure` under TLS);
//! the vault keeps only its digest and ends it after the idle and the
//! absolute limits. Each form carries a token derived from the secret, so
//! another site can neither read nor forge it; before login, a random
//! `handover-pre` cookie plays the secret's part for the login form.
//! Logging in and out, and the caller of every page ([`Visitor`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64ct::{Base64UrlUnpadded, Encoding};
use cookie::{Cookie, SameSite};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::i18n::Tr;
use super::page::{self, Chrome, Page};
use super::WebState;
use crate::domain::{form_token, session_cookie_name, Language, Principal};
use crate::vault::VaultError;

const PRE_COOKIE: &str = "handover-pre";
/// The language chosen before login (no personal data).
pub const LANGUAGE_COOKIE: &str = "handover-lang";

/// The value of cookie `name` in the request.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`, and
/// `Secure` under TLS; `max_age` 0 removes the cookie.
fn set_cookie(name: &str, value: &str, tls: bool, max_age: Option<i64>) -> HeaderValue {
    let mut c = Cookie::build((name.to_string(), value.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(tls);
    if let Some(secs) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(secs));
    }
    HeaderValue::from_str(&c.build().to_string()).expect("cookie values are ASCII")
}

/// The form tokens a post may carry: the session's, and before login the
/// pre-login cookie's.
pub fn form_tokens(state: &WebState, headers: &HeaderMap) -> Vec<String> {
    [
        cookie_value(headers, session_cookie_name(state.tls)),
        cookie_value(headers, PRE_COOKIE),
    ]
    .into_iter()
    .flatten()
    .map(|s| form_token(&s))
    .collect()
}

/// Whether `token` is one of `expected` (compared in constant time).
pub fn token_matches(expected: &[String], token: &str) -> bool {
    expected.iter().any(|e| {
        e.len() == token.len()
            && e.bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    })
}

/// The language of a page before login: the language cookie, else the
/// first of Hindi and English the browser asks for, else English.
pub fn page_language(headers: &HeaderMap) -> Language {
    if let Some(l) = cookie_value(headers, LANGUAGE_COOKIE).and_then(|v| v.parse().ok()) {
        return l;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept
        .split(',')
        .filter_map(|part| part.split(';').next())
        .filter_map(|tag| tag.trim().split('-').next())
        .find_map(|primary| primary.to_ascii_lowercase().parse().ok())
        .unwrap_or_default()
}

/// The signed-in caller of a page. Without a session the page answers
/// with the login page; with one that has ended, with the login page
/// saying so.
pub struct Visitor {
    pub who: Principal,
    /// The token every form of this session carries.
    pub csrf: String,
    pub tr: Tr,
}

impl Visitor {
    /// The frame of a page for this visitor.
    pub fn chrome(&self) -> Chrome {
        Chrome::signed_in(self)
    }
}

impl FromRequestParts<WebState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Visitor, Response> {
        let name = session_cookie_name(state.tls);
        let Some(secret) = cookie_value(&parts.headers, name) else {
            return Err(Redirect::to("/login").into_response());
        };
        let lang = page_language(&parts.headers);
        let checked = secret.clone();
        match state.run(move |v| v.resume_session(&checked)).await {
            Ok((who, session)) => Ok(Visitor {
                tr: Tr::new(session.language.unwrap_or(lang)),
                csrf: form_token(&secret),
                who,
            }),
            Err(VaultError::Unauthenticated) => {
                let mut r = Redirect::to("/login?ended=1").into_response();
                r.headers_mut()
                    .append(header::SET_COOKIE, set_cookie(name, "", state.tls, Some(0)));
                Err(r)
            }
            Err(e) => Err(page::failure(Tr::new(lang), e)),
        }
    }
}

/// What the login page says above its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginNote {
    None,
    /// The session ended (idle or past its limit): "your session ended".
    Ended,
    LoggedOut,
    Refused,
    Throttled(u64),
    /// The password must be changed: the form asks for a new one.
    ChangeRequired,
    /// The new password was refused; the message id says why.
    Weak(&'static str),
    Mismatch,
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    note: LoginNote,
    /// The name typed, kept when the form comes back (never a child's).
    name: String,
    change: bool,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    ended: Option<String>,
    bye: Option<String>,
    lang: Option<String>,
}

/// `GET /login`: the login form (also "your session ended"). `?lang=hi`
/// switches the language before login and remembers it in a cookie.
pub async fn login_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let chosen: Option<Language> = q.lang.as_deref().and_then(|l| l.parse().ok());
    let lang = chosen.unwrap_or_else(|| page_language(&headers));
    let note = if q.ended.is_some() {
        LoginNote::Ended
    } else if q.bye.is_some() {
        LoginNote::LoggedOut
    } else {
        LoginNote::None
    };
    let (pre, mut extra) = pre_cookie(&state, &headers);
    if let Some(l) = chosen {
        extra.push(set_cookie(
            LANGUAGE_COOKIE,
            l.code(),
            state.tls,
            Some(365 * 86400),
        ));
    }
    let status = if note == LoginNote::Ended {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    render_login(lang, &pre, note, String::new(), status, extra)
}

/// The pre-login secret, and the cookie that sets it when it is new.
fn pre_cookie(state: &WebState, headers: &HeaderMap) -> (String, Vec<HeaderValue>) {
    if let Some(v) = cookie_value(headers, PRE_COOKIE) {
        return (v, Vec::new());
    }
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let v = Base64UrlUnpadded::encode_string(&bytes);
    let c = set_cookie(PRE_COOKIE, &v, state.tls, None);
    (v, vec![c])
}

fn render_login(
    lang: Language,
    pre: &str,
    note: LoginNote,
    name: String,
    status: StatusCode,
    cookies: Vec<HeaderValue>,
) -> Response {
    let tr = Tr::new(lang);
    let change = matches!(
        note,
        LoginNote::ChangeRequired | LoginNote::Weak(_) | LoginNote::Mismatch
    );
    let mut r = Page(LoginPage {
        c: Chrome::anonymous(tr, form_token(pre), "login-title"),
        note,
        name,
        change,
    })
    .with_status(status);
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: SecretString,
    #[serde(default)]
    new_password: Option<SecretString>,
    #[serde(default)]
    new_password_again: Option<SecretString>,
}

/// `POST /login`: a new session and its cookie, then the home page. A
/// password someone else set must be changed here first.
pub async fn login(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = page_language(&headers);
    let (pre, _) = pre_cookie(&state, &headers);
    let client = state.client(peer, &headers);
    let name = form.name.trim().to_string();
    let new_password = form.new_password.filter(|p| !p.expose_secret().is_empty());
    if let Some(new) = &new_password {
        let again = form
            .new_password_again
            .as_ref()
            .map(|p| p.expose_secret().to_string())
            .unwrap_or_default();
        if new.expose_secret() != again {
            return render_login(
                lang,
                &pre,
                LoginNote::Mismatch,
                name,
                StatusCode::OK,
                vec![],
            );
        }
    }
    let tried = name.clone();
    let outcome = state
        .run_heavy(move |v| {
            v.open_session(&tried, &form.password, new_password.as_ref(), client, lang)
                .map(|(_, secret)| secret)
        })
        .await;
    let note = match outcome {
        Ok(secret) => return signed_in_redirect(&state, "/", &secret),
        Err(VaultError::Unauthenticated) => LoginNote::Refused,
        Err(VaultError::Throttled { retry_after_secs }) => LoginNote::Throttled(retry_after_secs),
        Err(VaultError::PasswordChangeRequired) => LoginNote::ChangeRequired,
        Err(VaultError::WeakPassword(w)) => LoginNote::Weak(page::weak_password_message(&w)),
        Err(e) => return page::failure(Tr::new(lang), e),
    };
    let status = match note {
        LoginNote::Refused => StatusCode::UNAUTHORIZED,
        LoginNote::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::OK,
    };
    render_login(lang, &pre, note, name, status, vec![])
}

/// A redirect to `to` that sets the new session's cookie (and removes the
/// spent pre-login one).
pub fn signed_in_redirect(state: &WebState, to: &str, secret: &SecretString) -> Response {
    let mut r = Redirect::to(to).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            session_cookie_name(state.tls),
            secret.expose_secret(),
            state.tls,
            None,
        ),
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(PRE_COOKIE, "", state.tls, Some(0)),
    );
    r
}

/// `POST /logout`: the session ends and its cookie is removed.
pub async fn logout(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let name = session_cookie_name(state.tls);
    if let Some(secret) = cookie_value(&headers, name) {
        if let Err(e) = state.run(move |v| v.close_session(&secret)).await {
            return page::failure(Tr::new(page_language(&headers)), e);
        }
    }
    let mut r = Redirect::to("/login?bye=1").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(name, "", state.tls, Some(0)));
    r
}

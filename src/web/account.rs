//! The visitor's own account: change the password (which ends every
//! session of the account and starts a new one), and choose the language
//! of the pages (remembered for the user).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::page::{weak_password_message, Chrome, Page, PageResult};
use super::session::{self, Visitor};
use super::WebState;
use crate::domain::{Language, Principal};
use crate::vault::VaultError;

#[derive(askama::Template)]
#[template(path = "account.html")]
struct AccountPage {
    c: Chrome,
    languages: [Language; 2],
    /// Message id of the outcome of a password change, if any.
    note: Option<&'static str>,
}

/// `GET /account`.
pub async fn show(v: Visitor) -> Response {
    Page(AccountPage {
        c: v.chrome().titled("account-title"),
        languages: Language::ALL,
        note: None,
    })
    .into_response()
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: SecretString,
    new_password: SecretString,
    new_password_again: SecretString,
}

/// `POST /account/password`: checks the current password like a login
/// (throttled), sets the new one, and starts a new session.
pub async fn change_password(
    State(state): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    v: Visitor,
    Form(f): Form<PasswordForm>,
) -> Response {
    let again_page = |note: &'static str| {
        Page(AccountPage {
            c: v.chrome().titled("account-title"),
            languages: Language::ALL,
            note: Some(note),
        })
        .with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY)
    };
    if f.new_password.expose_secret() != f.new_password_again.expose_secret() {
        return again_page("password-mismatch");
    }
    let Principal::User(user) = &v.who else {
        return v.not_found();
    };
    let name = user.name.clone();
    let client = state.client(peer, &headers);
    let lang = v.tr.lang;
    let outcome = state
        .run_heavy(move |vault| {
            vault
                .open_session(&name, &f.current, Some(&f.new_password), client, lang)
                .map(|(_, secret)| secret)
        })
        .await;
    match outcome {
        Ok(secret) => session::signed_in_redirect(&state, "/account", &secret),
        Err(VaultError::Unauthenticated) => again_page("password-current-wrong"),
        Err(VaultError::WeakPassword(w)) => again_page(weak_password_message(&w)),
        Err(e) => v.failure(e),
    }
}

#[derive(Deserialize)]
pub struct LanguageForm {
    language: String,
}

/// `POST /account/language`.
pub async fn choose_language(
    State(state): State<WebState>,
    v: Visitor,
    Form(f): Form<LanguageForm>,
) -> PageResult {
    let language: Language = v.id(&f.language)?;
    v.ask(&state, move |vault, who| vault.set_language(who, language))
        .await?;
    Ok(Redirect::to("/account").into_response())
}

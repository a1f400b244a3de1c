//! Administration in pages: users (add one with a role and a scope,
//! disable and enable, reset a password, list and revoke tokens), the
//! department directory (add a card by pasting or uploading it, with
//! fingerprints large enough to read aloud over the phone), and the
//! node's status and health.

use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::page::{Chrome, Page, PageResult};
use super::session::Visitor;
use super::WebState;
use crate::domain::{DepartmentCard, Role, Scope, TokenId, TokenInfo, User};
use crate::vault::{DirectoryEntry, NodeHealth, NodeStatus};

#[derive(askama::Template)]
#[template(path = "users.html")]
struct UsersPage {
    c: Chrome,
    users: Vec<(User, Vec<TokenInfo>)>,
    roles: [Role; 6],
    now: chrono::DateTime<chrono::Utc>,
    later: bool,
    next: Option<String>,
}

/// `GET /admin/users`: the users in name order, 50 a page
/// (`?after=USER_ID`), each with their tokens.
pub async fn users(
    State(state): State<WebState>,
    v: Visitor,
    Query(q): Query<super::AfterQuery>,
) -> PageResult {
    let (page, later) = q.page(&v)?;
    let (users, next) = v
        .ask(&state, move |vault, who| {
            let found = vault.list_users_page(who, &page)?;
            let tokens = vault.list_tokens(who, None)?;
            let users = found
                .items
                .into_iter()
                .map(|u| {
                    let mine = tokens.iter().filter(|t| t.user == u.id).cloned().collect();
                    (u, mine)
                })
                .collect();
            Ok((users, found.next))
        })
        .await?;
    Ok(Page(UsersPage {
        c: v.chrome().titled("users-title"),
        users,
        roles: Role::ALL,
        now: chrono::Utc::now(),
        later,
        next,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct NewUserForm {
    name: String,
    role: String,
    scope_kind: String,
    scope: String,
    #[serde(default)]
    password: String,
}

/// `POST /admin/users`: adds a user; a password given here must be
/// changed at the first login.
pub async fn add_user(
    State(state): State<WebState>,
    v: Visitor,
    Form(f): Form<NewUserForm>,
) -> PageResult {
    let role: Role = f.role.parse().map_err(|_| v.bad_form("form-bad-role"))?;
    let scope: Scope = format!("{}:{}", f.scope_kind.trim(), f.scope.trim())
        .parse()
        .map_err(|_| v.bad_form("form-bad-scope"))?;
    let password = Some(f.password.trim().to_string())
        .filter(|p| !p.is_empty())
        .map(SecretString::from);
    v.ask_heavy(&state, move |vault, who| {
        vault.add_user(who, f.name.trim(), role, scope, password.as_ref())
    })
    .await?;
    Ok(Redirect::to("/admin/users").into_response())
}

#[derive(Deserialize)]
pub struct UserStepForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
}

/// `POST /admin/users/{name}/{step}`: `disable`, `enable`, `password`
/// (a reset, with the new password) or `revoke-token` (with its id).
pub async fn user_step(
    State(state): State<WebState>,
    v: Visitor,
    Path((name, step)): Path<(String, String)>,
    Form(f): Form<UserStepForm>,
) -> PageResult {
    match step.as_str() {
        "disable" | "enable" => {
            let disabled = step == "disable";
            v.ask(&state, move |vault, who| {
                vault.set_user_disabled(who, &name, disabled)
            })
            .await?;
        }
        "password" => {
            let password = SecretString::from(f.password);
            v.ask_heavy(&state, move |vault, who| {
                vault.set_password(who, &name, &password)
            })
            .await?;
        }
        "revoke-token" => {
            let id: TokenId = v.id(&f.token)?;
            v.ask(&state, move |vault, who| vault.revoke_token(who, id))
                .await?;
        }
        _ => return Err(v.not_found()),
    }
    Ok(Redirect::to("/admin/users").into_response())
}

#[derive(askama::Template)]
#[template(path = "departments.html")]
struct DepartmentsPage {
    c: Chrome,
    entries: Vec<DirectoryEntry>,
    action: String,
}

/// `GET /admin/departments`.
pub async fn departments(State(state): State<WebState>, v: Visitor) -> PageResult {
    let entries = v
        .ask(&state, |vault, who| vault.list_departments(who))
        .await?;
    Ok(Page(DepartmentsPage {
        c: v.chrome().titled("departments-title"),
        action: format!("/admin/departments?csrf={}", v.csrf),
        entries,
    })
    .into_response())
}

/// Longest card accepted, in bytes.
const MAX_CARD_BYTES: usize = 64 * 1024;

/// `POST /admin/departments` (multipart: `card` pasted, or `card_file`).
pub async fn add_department(
    State(state): State<WebState>,
    v: Visitor,
    mut form: Multipart,
) -> PageResult {
    let mut text = String::new();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        let bytes = field.bytes().await.map_err(|_| v.bad_form("error-card"))?;
        if bytes.len() > MAX_CARD_BYTES {
            return Err(v.bad_form("error-card"));
        }
        let value = String::from_utf8_lossy(&bytes).trim().to_string();
        if (name == "card" || name == "card_file") && !value.is_empty() {
            text = value;
        }
    }
    let card: DepartmentCard = serde_json::from_str(&text).map_err(|_| v.bad_form("error-card"))?;
    v.ask(&state, move |vault, who| {
        vault.add_department(who, card, false).map(|_| ())
    })
    .await?;
    Ok(Redirect::to("/admin/departments").into_response())
}

#[derive(askama::Template)]
#[template(path = "status.html")]
struct StatusPage {
    c: Chrome,
    status: NodeStatus,
    health: NodeHealth,
    undelivered_days: u64,
    /// Department names by id.
    names: std::collections::BTreeMap<String, String>,
}

impl StatusPage {
    /// A department's name (its id if it is not in the directory).
    fn department<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }
}

/// `GET /admin/status`: health, the audit chain, disk, queues, and the
/// oversight counts.
pub async fn status(State(state): State<WebState>, v: Visitor) -> PageResult {
    let (status, health, names) = v
        .ask_heavy(&state, |vault, who| {
            Ok((
                vault.status(who)?,
                vault.node_health(who)?,
                vault.department_names()?,
            ))
        })
        .await?;
    Ok(Page(StatusPage {
        names,
        c: v.chrome().titled("status-title"),
        status,
        health,
        undelivered_days: crate::vault::UNDELIVERED_DAYS as u64,
    })
    .into_response())
}

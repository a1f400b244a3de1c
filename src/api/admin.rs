//! Administration and access: users, their tokens, support persons'
//! grants, and the department directory.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::paging::{page_request, paged, PageQuery};
use super::problem::{ApiError, ApiResult, JsonBody, QueryParams};
use super::{parse_id, AppState, Problem};
use crate::domain::{
    parse_until, DepartmentCard, DocKind, Grant, GrantId, Purpose, Role, Scope, TokenInfo, User,
};
use crate::vault::{DirectoryEntry, NodeStatus};

/// A new user.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub name: String,
    /// `shelter_staff`, `cwc_member`, `dcpu_officer`, `swd_officer`, `support_person` or `admin`.
    pub role: String,
    /// `institution:ID`, `district:STATE/DISTRICT` or `department:ID`.
    pub scope: String,
    /// At least 12 characters, not a common one; none for a token-only
    /// user. It works once: the user's first login must set a new one.
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
}

/// Add a user (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = User), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn add_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    JsonBody(new): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let role: Role = new
        .role
        .parse::<Role>()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let scope: Scope = new
        .scope
        .parse::<Scope>()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let user = state
        .run(move |v| v.add_user(&actor, new.name.trim(), role, scope, new.password.as_ref()))
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Users of this node (admin), in name order, a page at a time; `q`
/// searches names.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = [User],
        headers(("Link" = String, description = "`<...?after=CURSOR>; rel=\"next\"` when there may be another page"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<PageQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<User>>)> {
    let page = q.request()?;
    let found = state.run(move |v| v.list_users_page(&actor, &page)).await?;
    let keep = [("limit", q.limit.map(|l| l.to_string())), ("q", q.q)];
    Ok(paged("/api/v1/users", &keep, found))
}

/// Another role or scope for a user.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct UserChange {
    pub role: String,
    pub scope: String,
}

/// Change a user's role and scope (admin); every token and session of the
/// user is revoked.
#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "users", security(("bearer" = [])),
    params(("name" = String, Path, description = "user name")), request_body = UserChange,
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn change_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    JsonBody(change): JsonBody<UserChange>,
) -> ApiResult<Json<User>> {
    let role: Role = change
        .role
        .parse::<Role>()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let scope: Scope = change
        .scope
        .parse::<Scope>()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(
        state
            .run(move |v| v.set_user_role(&actor, &name, role, scope))
            .await?,
    ))
}

/// Disable a user at once (admin); every token and session of the user is
/// revoked for good (enabling brings none back).
#[utoipa::path(post, path = "/api/v1/users/{name}/disable", tag = "users", security(("bearer" = [])),
    params(("name" = String, Path, description = "user name")),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn disable_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        state
            .run(move |v| v.set_user_disabled(&actor, &name, true))
            .await?,
    ))
}

/// Enable a user again (admin).
#[utoipa::path(post, path = "/api/v1/users/{name}/enable", tag = "users", security(("bearer" = [])),
    params(("name" = String, Path, description = "user name")),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn enable_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        state
            .run(move |v| v.set_user_disabled(&actor, &name, false))
            .await?,
    ))
}

/// A new password.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewPassword {
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// Reset a user's password (admin). It works once: the user's next login
/// must set a new one. Every token and session of the user is revoked.
#[utoipa::path(post, path = "/api/v1/users/{name}/password", tag = "users", security(("bearer" = [])),
    params(("name" = String, Path, description = "user name")), request_body = NewPassword,
    responses((status = 204), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn set_password(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<NewPassword>,
) -> ApiResult<StatusCode> {
    state
        .run(move |v| v.set_password(&actor, &name, &body.password))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How long a new token lasts.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// Days, 1 to 366; default 30.
    pub days: Option<u32>,
}

/// A new token, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    pub id: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Create an API token: an admin for a token-only user (a service, a
/// script), or any user for themselves. An admin asking for a token of an
/// account with a password gets 403 `separation-of-duties`.
#[utoipa::path(post, path = "/api/v1/users/{name}/tokens", tag = "users", security(("bearer" = [])),
    params(("name" = String, Path, description = "user name")), request_body = NewToken,
    responses((status = 201, body = IssuedToken), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<NewToken>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let days = u64::from(body.days.unwrap_or(30));
    let (row, token) = state
        .run(move |v| v.create_token(&actor, &name, std::time::Duration::from_secs(days * 86_400)))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            id: row.id.to_string(),
            token: token.expose_secret().to_string(),
            expires_at: row.expires_at,
        }),
    ))
}

/// A user's tokens (admin).
#[utoipa::path(get, path = "/api/v1/users/{name}/tokens", tag = "users", security(("bearer" = [])),
    params(("name" = String, Path, description = "user name")),
    responses((status = 200, body = [TokenInfo]), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(
        state
            .run(move |v| v.list_tokens(&actor, Some(&name)))
            .await?,
    ))
}

/// Revoke a token at once (admin).
#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "token id")),
    responses((status = 204), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&state, &actor, &id, "token").await?;
    state.run(move |v| v.revoke_token(&actor, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new grant for a support person.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewGrant {
    /// The support person's user name.
    pub to: String,
    pub child_id: String,
    /// Document kinds they may read.
    pub kinds: Vec<DocKind>,
    pub purpose: Purpose,
    /// `YYYY-MM-DD` (end of that day in India) or an RFC 3339 time; at most 366 days ahead.
    pub until: String,
}

/// Let a support person read some kinds of a child's papers for a purpose, until a date.
#[utoipa::path(post, path = "/api/v1/grants", tag = "grants", security(("bearer" = [])), request_body = NewGrant,
    responses((status = 201, body = Grant), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_grant(
    State(state): State<AppState>,
    Caller(actor): Caller,
    JsonBody(new): JsonBody<NewGrant>,
) -> ApiResult<(StatusCode, Json<Grant>)> {
    let child = parse_id(&state, &actor, &new.child_id, "child").await?;
    let until = parse_until(new.until.trim()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let grant = state
        .run(move |v| v.add_grant(&actor, new.to.trim(), child, new.kinds, new.purpose, until))
        .await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

/// Filter and page of the grant list.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct GrantQuery {
    /// Only this child's grants.
    pub child: Option<String>,
    /// Rows per page: 1 to 500, default 50.
    pub limit: Option<usize>,
    /// Where the previous page ended: the cursor in its `Link: rel="next"` header.
    pub after: Option<String>,
}

/// Grants the caller may see, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/grants", tag = "grants", security(("bearer" = [])), params(GrantQuery),
    responses((status = 200, body = [Grant],
        headers(("Link" = String, description = "`<...?after=CURSOR>; rel=\"next\"` when there may be another page"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_grants(
    State(state): State<AppState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<GrantQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<Grant>>)> {
    let page = page_request(q.limit, q.after.clone(), None)?;
    let child = match q.child.as_deref() {
        Some(c) => Some(parse_id(&state, &actor, c, "child").await?),
        None => None,
    };
    let found = state
        .run(move |v| v.list_grants_page(&actor, child, &page))
        .await?;
    let keep = [
        ("child", q.child),
        ("limit", q.limit.map(|l| l.to_string())),
    ];
    Ok(paged("/api/v1/grants", &keep, found))
}

/// Revoke a grant at once.
#[utoipa::path(post, path = "/api/v1/grants/{id}/revoke", tag = "grants", security(("bearer" = [])),
    params(("id" = String, Path, description = "grant id")),
    responses((status = 200, body = Grant), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn revoke_grant(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Grant>> {
    let id: GrantId = parse_id(&state, &actor, &id, "grant").await?;
    Ok(Json(state.run(move |v| v.revoke_grant(&actor, id)).await?))
}

/// This node and the departments in its directory, with key fingerprints.
#[utoipa::path(get, path = "/api/v1/departments", tag = "departments", security(("bearer" = [])),
    responses((status = 200, body = [DirectoryEntry]), (status = 401, body = Problem)))]
pub async fn list_departments(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<Vec<DirectoryEntry>>> {
    Ok(Json(state.run(move |v| v.list_departments(&actor)).await?))
}

/// This node's public card (no login: it holds only public keys and the inbox URL).
#[utoipa::path(get, path = "/api/v1/departments/self", tag = "departments",
    responses((status = 200, body = DepartmentCard)))]
pub async fn own_card(State(state): State<AppState>) -> Json<DepartmentCard> {
    Json((*state.vault.card()).clone())
}

/// The node's status for a second person watching the administrators:
/// accounts by role, and every creation of a read-capable account, grant
/// of a read-capable role and password reset (admin, auditors).
#[utoipa::path(get, path = "/api/v1/status", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = NodeStatus), (status = 403, body = Problem)))]
pub async fn status(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> ApiResult<Json<NodeStatus>> {
    Ok(Json(state.run(move |v| v.status(&actor)).await?))
}

/// Whether a card replaces one with other keys.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct AddQuery {
    /// Replace a card of the same id with other keys (after checking fingerprints).
    pub replace: Option<bool>,
}

/// Add another department's card to the directory (admin).
#[utoipa::path(post, path = "/api/v1/departments", tag = "departments", security(("bearer" = [])),
    params(AddQuery), request_body = DepartmentCard,
    responses((status = 201, body = DirectoryEntry), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn add_department(
    State(state): State<AppState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<AddQuery>,
    JsonBody(card): JsonBody<DepartmentCard>,
) -> ApiResult<(StatusCode, Json<DirectoryEntry>)> {
    let (entry, _) = state
        .run(move |v| v.add_department(&actor, card, q.replace.unwrap_or(false)))
        .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

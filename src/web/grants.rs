//! Grants in pages. A home-state officer gives a support person access
//! to some kinds of one child's papers, for a purpose, until a day at
//! most a year ahead; lists the grants made and revokes them; and reads a
//! child's access history. A support person sees the grants made to
//! them, and inside each, only the papers it covers.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use chrono::Utc;
use serde::Deserialize;

use super::page::{Chrome, Page, PageResult};
use super::session::Visitor;
use super::WebState;
use crate::domain::{parse_until, ChildId, DocKind, Grant, GrantId, Purpose};
use crate::vault::{AccessRecord, ChildView, GrantSummary};

#[derive(askama::Template)]
#[template(path = "grants.html")]
struct GrantsPage {
    c: Chrome,
    grants: Vec<GrantSummary>,
    now: chrono::DateTime<Utc>,
    later: bool,
    next: Option<String>,
}

/// `GET /grants`: the grants on children the visitor may grant access
/// to, newest first, 50 a page (`?after=GRANT_ID`).
pub async fn list(
    State(state): State<WebState>,
    v: Visitor,
    Query(q): Query<super::AfterQuery>,
) -> PageResult {
    let (page, later) = q.page(&v)?;
    let found = v
        .ask(&state, move |vault, who| {
            vault.grants_given_page(who, &page)
        })
        .await?;
    Ok(Page(GrantsPage {
        c: v.chrome().titled("grants-title"),
        grants: found.items,
        now: Utc::now(),
        later,
        next: found.next,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct NewQuery {
    child: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "grant_new.html")]
struct NewGrantPage {
    c: Chrome,
    child: ChildId,
    people: Vec<String>,
    kinds: Vec<DocKind>,
    purposes: Vec<Purpose>,
    /// The latest end date allowed, and tomorrow (the earliest), YYYY-MM-DD.
    max_day: String,
    min_day: String,
}

/// `GET /grants/new?child=ID`: the form to give access.
pub async fn new_form(
    State(state): State<WebState>,
    v: Visitor,
    Query(q): Query<NewQuery>,
) -> PageResult {
    let child: ChildId = v.id(q.child.as_deref().unwrap_or(""))?;
    let people = v
        .ask(&state, move |vault, who| vault.support_persons(who, child))
        .await?;
    let today = Utc::now().date_naive();
    let day = |days| {
        (today + chrono::Duration::days(days))
            .format("%Y-%m-%d")
            .to_string()
    };
    Ok(Page(NewGrantPage {
        c: v.chrome().titled("grant-new-title"),
        child,
        people,
        kinds: DocKind::ALL.to_vec(),
        purposes: Purpose::ALL.to_vec(),
        max_day: day(365),
        min_day: day(1),
    })
    .into_response())
}

/// `POST /grants` (`child`, `to`, `kind` repeated, `purpose`, `until`):
/// gives access, then shows the child's page.
pub async fn add(State(state): State<WebState>, v: Visitor, body: Bytes) -> PageResult {
    let mut child = None;
    let mut to = String::new();
    let mut kinds = Vec::new();
    let mut purpose = None;
    let mut until = None;
    for (k, val) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "child" => child = val.parse::<ChildId>().ok(),
            "to" => to = val.trim().to_string(),
            "kind" => {
                if let Ok(kind) = val.parse::<DocKind>() {
                    kinds.push(kind);
                }
            }
            "purpose" => purpose = val.parse::<Purpose>().ok(),
            "until" => until = parse_until(val.trim()).ok(),
            _ => {}
        }
    }
    let Some(child) = child else {
        return Err(v.not_found());
    };
    let (Some(purpose), Some(until), false) = (purpose, until, to.is_empty()) else {
        return Err(v.bad_form("grant-form-incomplete"));
    };
    v.ask(&state, move |vault, who| {
        vault.add_grant(who, &to, child, kinds, purpose, until)
    })
    .await?;
    Ok(Redirect::to(&format!("/children/{child}")).into_response())
}

/// `POST /grants/{id}/revoke`: ends the grant at once.
pub async fn revoke(
    State(state): State<WebState>,
    v: Visitor,
    Path(id): Path<String>,
) -> PageResult {
    let id: GrantId = v.id(&id)?;
    let g = v
        .ask(&state, move |vault, who| vault.revoke_grant(who, id))
        .await?;
    Ok(Redirect::to(&format!("/children/{}", g.child)).into_response())
}

#[derive(askama::Template)]
#[template(path = "shared.html")]
struct SharedPage {
    c: Chrome,
    grants: Vec<GrantSummary>,
}

/// `GET /shared`: the papers shared with a support person, by grant.
pub async fn shared(State(state): State<WebState>, v: Visitor) -> PageResult {
    let grants = v.ask(&state, |vault, who| vault.grants_to_me(who)).await?;
    Ok(Page(SharedPage {
        c: v.chrome().titled("shared-title"),
        grants,
    })
    .into_response())
}

#[derive(askama::Template)]
#[template(path = "shared_papers.html")]
struct SharedPapersPage {
    c: Chrome,
    grant: Grant,
    /// The child and the papers the grant covers, while it is live.
    view: Option<ChildView>,
}

/// `GET /shared/{grant}`: inside one grant, the papers it covers (only
/// while it is live; afterwards the page says it has ended).
pub async fn shared_papers(
    State(state): State<WebState>,
    v: Visitor,
    Path(id): Path<String>,
) -> PageResult {
    let id: GrantId = v.id(&id)?;
    let (grant, view) = v
        .ask(&state, move |vault, who| {
            let Some(g) = vault
                .grants_to_me(who)?
                .into_iter()
                .find(|g| g.grant.id == id)
            else {
                return Err(crate::vault::VaultError::UnknownGrant(id.to_string()));
            };
            let view = if g.grant.is_active(Utc::now()) {
                Some(vault.show_child(who, g.grant.child, g.grant.purpose)?)
            } else {
                None
            };
            Ok((g.grant, view))
        })
        .await?;
    Ok(Page(SharedPapersPage {
        c: v.chrome().titled("shared-papers-title"),
        grant,
        view,
    })
    .into_response())
}

#[derive(askama::Template)]
#[template(path = "access.html")]
struct AccessPage {
    c: Chrome,
    child: ChildId,
    records: Vec<AccessRecord>,
    /// The line number to read older decisions before, if there are any.
    older: Option<String>,
}

/// Which part of a history: the decisions before line `before`.
#[derive(Deserialize)]
pub struct HistoryQuery {
    before: Option<u64>,
}

/// `GET /children/{id}/access`: who read which paper, when and why,
/// newest first, 50 at a time (`?before=LINE` for older ones).
pub async fn access_history(
    State(state): State<WebState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> PageResult {
    let child: ChildId = v.id(&id)?;
    let (records, older) = v
        .ask(&state, move |vault, who| {
            vault.access_history(who, child, q.before, HISTORY_PAGE)
        })
        .await?;
    Ok(Page(AccessPage {
        c: v.chrome().titled("access-title"),
        child,
        records,
        older,
    })
    .into_response())
}

/// Decisions on one page of a child's access history.
const HISTORY_PAGE: usize = 50;

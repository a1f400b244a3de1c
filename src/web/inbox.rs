//! The inbox of a home-state department: the bundles other departments
//! sent, each with its source, when it came, how many papers and how big,
//! and that its signature was verified on arrival (a bundle whose
//! signature fails never reaches the inbox). The officer accepts one (the
//! child and papers are imported, and a signed receipt goes back) or
//! refuses it with a reason (a signed refusal goes back).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;

use super::page::{Chrome, Page, PageResult};
use super::session::Visitor;
use super::WebState;
use crate::domain::InboxItem;

/// One inbox row with its source's name.
pub struct Row {
    pub item: InboxItem,
    pub source: String,
}

#[derive(askama::Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    c: Chrome,
    waiting: Vec<Row>,
    decided: Vec<Row>,
    later: bool,
    next: Option<String>,
}

/// `GET /inbox`: every bundle waiting, then those decided, newest first,
/// 50 a page (`?after=BUNDLE_ID`).
pub async fn list(
    State(state): State<WebState>,
    v: Visitor,
    Query(q): Query<super::AfterQuery>,
) -> PageResult {
    let (page, later) = q.page(&v)?;
    let ((waiting, decided), names) = v
        .ask(&state, move |vault, who| {
            Ok((vault.inbox_overview(who, &page)?, vault.department_names()?))
        })
        .await?;
    let row = |item: InboxItem| Row {
        source: names.get(&item.source).unwrap_or(&item.source).clone(),
        item,
    };
    Ok(Page(InboxPage {
        c: v.chrome().titled("inbox-title"),
        waiting: waiting.into_iter().map(row).collect(),
        decided: decided.items.into_iter().map(row).collect(),
        later,
        next: decided.next,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    reason: String,
}

/// `POST /inbox/{id}/accept` and `POST /inbox/{id}/refuse` (with a reason).
pub async fn decide(
    State(state): State<WebState>,
    v: Visitor,
    Path((id, step)): Path<(String, String)>,
    Form(f): Form<DecideForm>,
) -> PageResult {
    let id = id.trim().to_string();
    let to = match step.as_str() {
        "accept" => {
            let (item, _) = state
                .vault
                .accept_inbox(&v.who, &id)
                .await
                .map_err(|e| v.failure(e))?;
            item.child_id
                .map_or_else(|| "/inbox".to_string(), |c| format!("/children/{c}"))
        }
        "refuse" => {
            state
                .vault
                .refuse_inbox(&v.who, &id, &f.reason)
                .await
                .map_err(|e| v.failure(e))?;
            "/inbox".to_string()
        }
        _ => return Err(v.not_found()),
    };
    Ok(Redirect::to(&to).into_response())
}

//! The transfer workflow in pages: staff draft a transfer to a department
//! of the directory and submit it; the CWC reviews the record, the papers
//! and the checklist gaps, then approves with the restoration order
//! number, rejects with a reason, or submits over the gaps with a
//! recorded reason; staff send an approved transfer (its bundle is pushed
//! to the destination), and the page follows it to `delivered`.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;

use super::page::{Chrome, Page, PageResult};
use super::session::Visitor;
use super::WebState;
use crate::domain::{
    ChildId, PageRequest, Principal, Role, TransferId, TransferState, TransferStep,
};
use crate::vault::{ChildAbilities, ChildView, DirectoryEntry, Purpose, TransferSummary};

#[derive(askama::Template)]
#[template(path = "transfer_new.html")]
struct DraftPage {
    c: Chrome,
    child: ChildId,
    departments: Vec<DirectoryEntry>,
}

/// `GET /children/{id}/transfers`: choose the department to send to.
pub async fn draft_form(
    State(state): State<WebState>,
    v: Visitor,
    Path(id): Path<String>,
) -> PageResult {
    let child: ChildId = v.id(&id)?;
    let (may, departments) = v
        .ask(&state, move |vault, who| {
            Ok((
                vault.child_abilities(who, child)?,
                vault.list_departments(who)?,
            ))
        })
        .await?;
    if !may.create_transfer {
        return Err(v.not_found());
    }
    Ok(Page(DraftPage {
        c: v.chrome().titled("transfer-new-title"),
        child,
        departments: departments.into_iter().filter(|d| !d.this_node).collect(),
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct DraftForm {
    to: String,
}

/// `POST /children/{id}/transfers`: drafts the transfer.
pub async fn draft(
    State(state): State<WebState>,
    v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<DraftForm>,
) -> PageResult {
    let child: ChildId = v.id(&id)?;
    let t = v
        .ask(&state, move |vault, who| {
            vault.create_transfer(who, child, f.to.trim())
        })
        .await?;
    Ok(Redirect::to(&format!("/transfers/{}", t.id)).into_response())
}

#[derive(askama::Template)]
#[template(path = "transfers.html")]
struct ListPage {
    c: Chrome,
    waiting: Vec<TransferSummary>,
    others: Vec<TransferSummary>,
    /// The cursor of the next page of the others, if there may be one.
    next: Option<String>,
    /// Whether this is a later page of the others.
    later: bool,
    for_committee: bool,
}

/// `GET /transfers`: for a CWC member, the transfers waiting for the
/// committee first; for staff, those waiting to be sent; then the others
/// visible, newest first, 50 a page (`?after=TRANSFER_ID`).
pub async fn list(
    State(state): State<WebState>,
    v: Visitor,
    Query(q): Query<super::AfterQuery>,
) -> PageResult {
    let for_committee = matches!(&v.who, Principal::User(u) if u.role == Role::CwcMember);
    let waiting_state = if for_committee {
        TransferState::Submitted
    } else {
        TransferState::Approved
    };
    let (others_page, later) = q.page(&v)?;
    let (waiting, others) = v
        .ask(&state, move |vault, who| {
            let waiting = if later {
                Vec::new()
            } else {
                vault
                    .transfers_visible_page(
                        who,
                        Some(waiting_state),
                        None,
                        &PageRequest {
                            limit: crate::domain::MAX_LIMIT,
                            ..PageRequest::default()
                        },
                    )?
                    .items
            };
            let others =
                vault.transfers_visible_page(who, None, Some(waiting_state), &others_page)?;
            Ok((waiting, others))
        })
        .await?;
    Ok(Page(ListPage {
        c: v.chrome().titled("transfers-title"),
        waiting,
        others: others.items,
        next: others.next,
        later,
        for_committee,
    })
    .into_response())
}

#[derive(askama::Template)]
#[template(path = "transfer.html")]
struct TransferPage {
    c: Chrome,
    t: crate::domain::Transfer,
    view: ChildView,
    may: ChildAbilities,
    department: String,
}

/// `GET /transfers/{id}`: where the transfer stands, its history, and the
/// child's record, papers and gaps (the committee's review).
pub async fn show(State(state): State<WebState>, v: Visitor, Path(id): Path<String>) -> PageResult {
    let id: TransferId = v.id(&id)?;
    let (t, view, may, department) = v
        .ask(&state, move |vault, who| {
            let t = vault.transfer(who, id)?;
            let view = vault.show_child(who, t.child, Purpose::Restoration)?;
            let may = vault.child_abilities(who, t.child)?;
            let department = vault
                .department_names()?
                .remove(&t.to)
                .unwrap_or_else(|| t.to.clone());
            Ok((t, view, may, department))
        })
        .await?;
    Ok(Page(TransferPage {
        c: v.chrome().titled("transfer-title"),
        t,
        view,
        may,
        department,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct StepForm {
    #[serde(default)]
    order_number: String,
    #[serde(default)]
    reason: String,
}

/// `POST /transfers/{id}/{step}`: `submit`, `override` (submit over the
/// checklist's gaps, with a reason), `approve` (with the order number),
/// `reject` (with a reason), `revoke` or `send`.
pub async fn step(
    State(state): State<WebState>,
    v: Visitor,
    Path((id, step)): Path<(String, String)>,
    Form(f): Form<StepForm>,
) -> PageResult {
    let id: TransferId = v.id(&id)?;
    let reason = f.reason.trim().to_string();
    let step = match step.as_str() {
        "submit" => TransferStep::Submit {
            override_reason: None,
        },
        "override" => TransferStep::Submit {
            override_reason: Some(reason),
        },
        "approve" => {
            let order_number = f.order_number.trim().to_string();
            if order_number.is_empty() {
                return Err(v.bad_form("transfer-order-required"));
            }
            TransferStep::Approve { order_number }
        }
        "reject" => TransferStep::Reject { reason },
        "revoke" => TransferStep::Revoke,
        "send" => TransferStep::Send,
        _ => return Err(v.not_found()),
    };
    if step == TransferStep::Send {
        state
            .vault
            .send_transfer_to_outbox(&v.who, id)
            .await
            .map_err(|e| v.failure(e))?;
    } else {
        v.ask(&state, move |vault, who| vault.transfer_step(who, id, step))
            .await?;
    }
    Ok(Redirect::to(&format!("/transfers/{id}")).into_response())
}

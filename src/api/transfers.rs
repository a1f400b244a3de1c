//! The transfer workflow over HTTP: draft, submit, approve or reject (CWC),
//! revoke, send (bundle to the outbox, pushed when the destination has an
//! inbox URL), and the bundle file for offline hand-over.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use tokio_util::io::ReaderStream;

use super::auth::Caller;
use super::paging::{page_request, paged};
use super::problem::{ApiError, ApiResult, JsonBody, QueryParams};
use super::{parse_id, AppState, Created, Problem};
use crate::domain::{ChildId, Transfer, TransferId, TransferStep};

/// A new transfer.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewTransfer {
    pub child_id: String,
    /// The destination department's id (in the directory).
    pub to: String,
}

/// Draft a transfer of a child to another department.
#[utoipa::path(post, path = "/api/v1/transfers", tag = "transfers", security(("bearer" = [])),
    request_body = NewTransfer,
    responses((status = 201, body = Created), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    JsonBody(new): JsonBody<NewTransfer>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let child: ChildId = parse_id(&state, &actor, &new.child_id, "child").await?;
    let t = state
        .run(move |v| v.create_transfer(&actor, child, new.to.trim()))
        .await?;
    Ok((StatusCode::CREATED, Json(Created::new(t.id))))
}

/// Filter and page of the transfer list.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only this child's transfers.
    pub child: Option<String>,
    /// Rows per page: 1 to 500, default 50.
    pub limit: Option<usize>,
    /// Where the previous page ended: the cursor in its `Link: rel="next"` header.
    pub after: Option<String>,
}

/// Transfers the caller may see, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/transfers", tag = "transfers", security(("bearer" = [])),
    params(ListQuery), responses((status = 200, body = [Transfer],
        headers(("Link" = String, description = "`<...?after=CURSOR>; rel=\"next\"` when there may be another page"))),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<Transfer>>)> {
    let page = page_request(q.limit, q.after.clone(), None)?;
    let child = match q.child.as_deref() {
        Some(c) => Some(parse_id(&state, &actor, c, "child").await?),
        None => None,
    };
    let found = state
        .run(move |v| v.list_transfers_page(&actor, child, &page))
        .await?;
    let keep = [
        ("child", q.child),
        ("limit", q.limit.map(|l| l.to_string())),
    ];
    Ok(paged("/api/v1/transfers", &keep, found))
}

/// One transfer with its state and history.
#[utoipa::path(get, path = "/api/v1/transfers/{id}", tag = "transfers", security(("bearer" = [])),
    params(("id" = String, Path, description = "transfer id")),
    responses((status = 200, body = Transfer), (status = 404, body = Problem)))]
pub async fn show(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Transfer>> {
    let id: TransferId = parse_id(&state, &actor, &id, "transfer").await?;
    Ok(Json(state.run(move |v| v.transfer(&actor, id)).await?))
}

/// Submit: optional CWC override of an incomplete checklist.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct SubmitBody {
    /// A CWC member's reason to submit while the restoration checklist is incomplete.
    pub override_reason: Option<String>,
}

/// Approval: the restoration order number.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ApproveBody {
    pub order_number: String,
}

/// Rejection: why.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RejectBody {
    pub reason: String,
}

/// Ask the CWC to approve (refused while the checklist is incomplete, unless a CWC member overrides).
#[utoipa::path(post, path = "/api/v1/transfers/{id}/submit", tag = "transfers", security(("bearer" = [])),
    params(("id" = String, Path, description = "transfer id")), request_body(content = Option<SubmitBody>),
    responses((status = 200, body = Transfer), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn submit(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Transfer>> {
    // The body is optional: empty means no override.
    let body: SubmitBody = if body.iter().all(u8::is_ascii_whitespace) {
        SubmitBody::default()
    } else {
        // Serde's message may quote the value: it is not echoed.
        serde_json::from_slice(&body).map_err(|_| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-json",
                "Invalid JSON body",
                "the JSON body does not fit the schema (`override_reason`: a string)",
            )
        })?
    };
    step(
        &state,
        &actor,
        &id,
        TransferStep::Submit {
            override_reason: body.override_reason,
        },
    )
    .await
}

/// Approve (CWC member), recording the restoration order number.
#[utoipa::path(post, path = "/api/v1/transfers/{id}/approve", tag = "transfers", security(("bearer" = [])),
    params(("id" = String, Path, description = "transfer id")), request_body = ApproveBody,
    responses((status = 200, body = Transfer), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub async fn approve(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ApproveBody>,
) -> ApiResult<Json<Transfer>> {
    step(
        &state,
        &actor,
        &id,
        TransferStep::Approve {
            order_number: body.order_number,
        },
    )
    .await
}

/// Reject (CWC member) with a reason.
#[utoipa::path(post, path = "/api/v1/transfers/{id}/reject", tag = "transfers", security(("bearer" = [])),
    params(("id" = String, Path, description = "transfer id")), request_body = RejectBody,
    responses((status = 200, body = Transfer), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub async fn reject(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RejectBody>,
) -> ApiResult<Json<Transfer>> {
    step(
        &state,
        &actor,
        &id,
        TransferStep::Reject {
            reason: body.reason,
        },
    )
    .await
}

/// Revoke (possible until sent).
#[utoipa::path(post, path = "/api/v1/transfers/{id}/revoke", tag = "transfers", security(("bearer" = [])),
    params(("id" = String, Path, description = "transfer id")),
    responses((status = 200, body = Transfer), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Transfer>> {
    step(&state, &actor, &id, TransferStep::Revoke).await
}

async fn step(
    state: &AppState,
    actor: &crate::domain::Principal,
    id: &str,
    step: TransferStep,
) -> ApiResult<Json<Transfer>> {
    let id: TransferId = parse_id(state, actor, id, "transfer").await?;
    let name = step.name();
    let actor = actor.clone();
    let t = state
        .run(move |v| v.transfer_step(&actor, id, step))
        .await?;
    metrics::counter!("handover_transfer_steps_total", "step" => name).increment(1);
    Ok(Json(t))
}

/// What sending did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Sent {
    pub transfer: Transfer,
    pub bundle_id: String,
    pub documents: usize,
    pub size: u64,
    /// True when the bundle is queued to be pushed to the destination's
    /// inbox; false when the destination has no server (download the
    /// bundle for an offline hand-over).
    pub pushed: bool,
}

/// Send an approved transfer: builds the signed, encrypted bundle and
/// pushes it when the destination's card names an inbox URL.
#[utoipa::path(post, path = "/api/v1/transfers/{id}/send", tag = "transfers", security(("bearer" = [])),
    params(("id" = String, Path, description = "transfer id")),
    responses((status = 200, body = Sent), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn send(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Sent>> {
    let id: TransferId = parse_id(&state, &actor, &id, "transfer").await?;
    let (transfer, created, pushed) = state.vault.send_transfer_to_outbox(&actor, id).await?;
    metrics::counter!("handover_transfer_steps_total", "step" => "send").increment(1);
    Ok(Json(Sent {
        transfer,
        bundle_id: created.bundle_id,
        documents: created.documents,
        size: created.size,
        pushed,
    }))
}

/// The bundle file of a sent transfer, for an offline hand-over.
#[utoipa::path(get, path = "/api/v1/transfers/{id}/bundle", tag = "transfers", security(("bearer" = [])),
    params(("id" = String, Path, description = "transfer id")),
    responses((status = 200, description = "the bundle (a zip)", content_type = "application/zip", body = Vec<u8>),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn bundle(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: TransferId = parse_id(&state, &actor, &id, "transfer").await?;
    let path = state.vault.transfer_bundle(&actor, id).await?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::from(crate::vault::VaultError::Io(e)))?;
    let size = file
        .metadata()
        .await
        .map_err(|e| ApiError::from(crate::vault::VaultError::Io(e)))?
        .len();
    Response::builder()
        .header(header::CONTENT_TYPE, "application/zip")
        .header(header::CONTENT_LENGTH, size)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"transfer-{id}.bundle\""),
        )
        .body(Body::from_stream(ReaderStream::with_capacity(
            file,
            256 * 1024,
        )))
        .map_err(|_| ApiError::bad_request("cannot build the response"))
}

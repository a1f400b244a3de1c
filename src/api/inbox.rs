//! What other nodes send here: bundles into the inbox (no login: the
//! bundle's signature, checked against the directory, authenticates it)
//! and receipts for bundles this node sent. Officers list the inbox and
//! accept (import) or refuse.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::io::StreamReader;

use super::auth::{Caller, MaybeCaller};
use super::paging::{page_request, paged, PageQuery};
use super::problem::{ApiError, ApiResult, JsonBody, QueryParams};
use super::{AppState, Problem};
use crate::domain::{AnswerOutcome, InboxItem};

/// Largest receipt accepted.
pub const MAX_RECEIPT_BYTES: usize = 1024 * 1024;

/// What the inbox tells whoever pushed a bundle: that it is here, and
/// nothing of what became of it (officers see that with `GET /api/v1/inbox`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct InboxAck {
    pub bundle_id: String,
    /// `received` (stored now) or `already_received`.
    pub status: String,
}

/// Deliver a bundle (the raw body); no login, the bundle's signature
/// authenticates it. Checked as it streams: the marker, then the signed
/// envelope (source in the directory, this node the destination) before
/// anything is stored, then at most the size the envelope implies. The
/// same bundle twice is stored once (200 instead of 201). A busy inbox
/// answers 503 and a full one 507; the sending node retries both.
#[utoipa::path(post, path = "/api/v1/inbox", tag = "inbox",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = InboxAck), (status = 200, body = InboxAck),
              (status = 413, body = Problem), (status = 422, body = Problem),
              (status = 503, body = Problem), (status = 507, body = Problem)))]
pub async fn receive(
    State(state): State<AppState>,
    body: Body,
) -> ApiResult<(StatusCode, Json<InboxAck>)> {
    let _turn = state.inbox_permit()?;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let result = state.vault.receive_bundle(StreamReader::new(stream)).await;
    let outcome = match &result {
        Ok((_, true)) => "stored",
        Ok((_, false)) => "duplicate",
        Err(_) => "refused",
    };
    metrics::counter!("handover_inbox_received_total", "outcome" => outcome).increment(1);
    let (item, new) = result?;
    let (status, said) = if new {
        (StatusCode::CREATED, "received")
    } else {
        (StatusCode::OK, "already_received")
    };
    Ok((
        status,
        Json(InboxAck {
            bundle_id: item.bundle_id,
            status: said.into(),
        }),
    ))
}

/// The inbox, newest first, a page at a time: origin, size and document
/// count of each bundle.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "inbox", security(("bearer" = [])),
    params(("limit" = Option<usize>, Query, description = "rows per page: 1 to 500, default 50"),
        ("after" = Option<String>, Query, description = "where the previous page ended (its `Link: rel=\"next\"`)")),
    responses((status = 200, body = [InboxItem],
        headers(("Link" = String, description = "`<...?after=CURSOR>; rel=\"next\"` when there may be another page"))),
        (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<PageQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<InboxItem>>)> {
    let page = page_request(q.limit, q.after.clone(), None)?;
    let found = state.run(move |v| v.list_inbox_page(&actor, &page)).await?;
    let keep = [("limit", q.limit.map(|l| l.to_string()))];
    Ok(paged("/api/v1/inbox", &keep, found))
}

/// What accepting did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub inbox: InboxItem,
    /// The signed receipt (also pushed back to the source when it has a server).
    #[schema(value_type = Object)]
    pub receipt: serde_json::Value,
}

/// Accept a waiting bundle: import it (all or nothing) and send the receipt back.
#[utoipa::path(post, path = "/api/v1/inbox/{id}/accept", tag = "inbox", security(("bearer" = [])),
    params(("id" = String, Path, description = "bundle id")),
    responses((status = 200, body = Accepted), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn accept(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Accepted>> {
    let (inbox, receipt) = state.vault.accept_inbox(&actor, id.trim()).await?;
    metrics::counter!("handover_inbox_decisions_total", "decision" => "accept").increment(1);
    let receipt = serde_json::from_slice(&receipt)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&receipt).into()));
    Ok(Json(Accepted { inbox, receipt }))
}

/// Why a bundle is refused.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefuseBody {
    pub reason: String,
}

/// What refusing did: the inbox item, and the signed refusal.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Refused {
    #[serde(flatten)]
    pub inbox: InboxItem,
    /// The signed refusal (also pushed back to the source when it has a server).
    #[schema(value_type = Object)]
    pub refusal: serde_json::Value,
}

/// Refuse a waiting bundle with a reason: a signed refusal goes back to the
/// source, and the bundle's file is deleted.
#[utoipa::path(post, path = "/api/v1/inbox/{id}/refuse", tag = "inbox", security(("bearer" = [])),
    params(("id" = String, Path, description = "bundle id")), request_body = RefuseBody,
    responses((status = 200, body = Refused), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn refuse(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RefuseBody>,
) -> ApiResult<Json<Refused>> {
    let (inbox, refusal) = state
        .vault
        .refuse_inbox(&actor, id.trim(), &body.reason)
        .await?;
    metrics::counter!("handover_inbox_decisions_total", "decision" => "refuse").increment(1);
    let refusal = serde_json::from_slice(&refusal)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&refusal).into()));
    Ok(Json(Refused { inbox, refusal }))
}

/// What an answer recorded.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReceiptRecorded {
    pub bundle_id: String,
    /// The department that signed it.
    pub destination: String,
    /// True if this answer had been recorded before.
    pub already: bool,
    /// What the answer says of the hand-over.
    pub outcome: AnswerOutcome,
    /// Entry paths of the documents the destination took.
    pub arrived: Vec<String>,
    /// Entry paths of the documents sent but not taken.
    pub missing: Vec<String>,
}

/// Deliver the answer to a bundle this node sent (the raw receipt or
/// refusal file). Its signature authenticates it; with a bearer token, a
/// user uploads one that came back offline. A second, different answer to
/// the same bundle is refused (409).
#[utoipa::path(post, path = "/api/v1/receipts", tag = "inbox",
    request_body(content = Vec<u8>, content_type = "application/json"),
    responses((status = 200, body = ReceiptRecorded), (status = 409, body = Problem),
              (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn receipt(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    body: Bytes,
) -> ApiResult<Json<ReceiptRecorded>> {
    if body.len() > MAX_RECEIPT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Too large",
            format!("a receipt is at most {MAX_RECEIPT_BYTES} bytes"),
        ));
    }
    let delivered = match caller {
        Some(actor) => state.run(move |v| v.verify_receipt(&actor, &body)).await?,
        None => state.run(move |v| v.receive_receipt(&body)).await?,
    };
    metrics::counter!("handover_receipts_total").increment(1);
    Ok(Json(ReceiptRecorded {
        bundle_id: delivered.bundle_id().to_string(),
        destination: delivered.destination().to_string(),
        already: delivered.already,
        outcome: delivered.outcome,
        arrived: delivered.arrived,
        missing: delivered.missing,
    }))
}

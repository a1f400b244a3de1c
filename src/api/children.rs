//! Children's case records, their checklist, their documents (upload) and
//! their access history.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::auth::Caller;
use super::paging::{paged, PageQuery};
use super::problem::{ApiError, ApiResult, JsonBody, QueryParams};
use super::{parse_id, AppState, Created, Problem};
use crate::domain::{CaseRecord, CaseRecordPatch, Child, ChildId, DocKind, Document, Purpose};
use crate::vault::{ChildView, NewDocument};

/// Which checklist to evaluate.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct PurposeQuery {
    /// `restoration` (default), `compensation_claim` or `school_enrolment`.
    pub purpose: Option<String>,
}

/// Take a child in. Only `name` is required; the rest can follow with PATCH.
#[utoipa::path(post, path = "/api/v1/children", tag = "children", request_body = CaseRecord,
    security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn add(
    State(state): State<AppState>,
    Caller(actor): Caller,
    JsonBody(record): JsonBody<CaseRecord>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let id = state.run(move |v| v.add_child(&actor, record)).await?;
    Ok((StatusCode::CREATED, Json(Created::new(id))))
}

/// The children the caller may see, a page at a time, in name order;
/// `q` searches names.
#[utoipa::path(get, path = "/api/v1/children", tag = "children", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = [Child],
        headers(("Link" = String, description = "`<...?after=ID>; rel=\"next\"` when there may be another page"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<PageQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<Child>>)> {
    let page = q.request()?;
    let found = state
        .run(move |v| v.list_children_page(&actor, &page))
        .await?;
    let keep = [("limit", q.limit.map(|l| l.to_string())), ("q", q.q)];
    Ok(paged("/api/v1/children", &keep, found))
}

/// One child: record, documents and the checklist for a purpose.
#[utoipa::path(get, path = "/api/v1/children/{id}", tag = "children", security(("bearer" = [])),
    params(("id" = String, Path, description = "child id"), PurposeQuery),
    responses((status = 200, body = ChildView), (status = 404, body = Problem)))]
pub async fn show(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<PurposeQuery>,
) -> ApiResult<Json<ChildView>> {
    let id: ChildId = parse_id(&state, &actor, &id, "child").await?;
    let purpose = purpose(q.purpose.as_deref())?;
    Ok(Json(
        state
            .run(move |v| v.show_child(&actor, id, purpose))
            .await?,
    ))
}

/// Change fields of a child's record.
#[utoipa::path(patch, path = "/api/v1/children/{id}", tag = "children", security(("bearer" = [])),
    params(("id" = String, Path, description = "child id")), request_body = CaseRecordPatch,
    responses((status = 200, body = Child), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn edit(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<CaseRecordPatch>,
) -> ApiResult<Json<Child>> {
    let id: ChildId = parse_id(&state, &actor, &id, "child").await?;
    Ok(Json(
        state.run(move |v| v.edit_child(&actor, id, patch)).await?,
    ))
}

/// A new placement for a child, and why.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct Move {
    /// The new institution id (absent: unchanged).
    pub institution: Option<String>,
    /// The new district, `STATE/DISTRICT` from the node's list (absent: unchanged).
    pub district: Option<String>,
    /// Why, 1 to 500 characters (kept encrypted with the move; the audit
    /// log names the move's id only).
    pub reason: String,
}

/// Move a child to another institution or district: the CWC or DCPU of
/// its current district, or an SWD officer for a child transferred in.
/// `PATCH` never changes the placement.
#[utoipa::path(post, path = "/api/v1/children/{id}/placement", tag = "children", security(("bearer" = [])),
    params(("id" = String, Path, description = "child id")), request_body = Move,
    responses((status = 200, body = Child), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn move_child(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    JsonBody(m): JsonBody<Move>,
) -> ApiResult<Json<Child>> {
    let id: ChildId = parse_id(&state, &actor, &id, "child").await?;
    Ok(Json(
        state
            .run(move |v| v.move_child(&actor, id, m.institution, m.district, &m.reason))
            .await?,
    ))
}

/// The checklist of a child for a purpose.
#[utoipa::path(get, path = "/api/v1/children/{id}/checklist", tag = "children", security(("bearer" = [])),
    params(("id" = String, Path, description = "child id"), PurposeQuery),
    responses((status = 200, body = crate::vault::Checklist), (status = 404, body = Problem)))]
pub async fn checklist(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<PurposeQuery>,
) -> ApiResult<Json<crate::vault::Checklist>> {
    let id: ChildId = parse_id(&state, &actor, &id, "child").await?;
    let purpose = purpose(q.purpose.as_deref())?;
    Ok(Json(
        state
            .run(move |v| v.show_child(&actor, id, purpose))
            .await?
            .checklist,
    ))
}

/// A child's documents, oldest first.
#[utoipa::path(get, path = "/api/v1/children/{id}/documents", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path, description = "child id")),
    responses((status = 200, body = [Document]), (status = 404, body = Problem)))]
pub async fn documents(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Document>>> {
    let id: ChildId = parse_id(&state, &actor, &id, "child").await?;
    Ok(Json(
        state.run(move |v| v.list_documents(&actor, id)).await?,
    ))
}

/// What an upload says about the document. Each may also come as a header
/// (`X-Handover-Kind`, `X-Handover-Title`, `X-Handover-File-Name`), which
/// keeps a title out of URLs and proxy logs.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct UploadQuery {
    /// Document kind, e.g. `fir`, `medical_report`, `release_certificate`.
    pub kind: Option<String>,
    /// Title; required for kind `other`.
    pub title: Option<String>,
    /// The original file name.
    pub file_name: Option<String>,
}

/// A stored document's id and digest.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Stored {
    pub id: String,
    /// Hex SHA-256 of the document as uploaded (metadata of images removed).
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
}

/// Upload a document: the file is the raw request body, streamed (never
/// held in memory), checked, hashed and encrypted in one pass.
#[utoipa::path(post, path = "/api/v1/children/{id}/documents", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path, description = "child id"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Stored), (status = 404, body = Problem), (status = 413, body = Problem),
              (status = 422, body = Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Stored>)> {
    let id: ChildId = parse_id(&state, &actor, &id, "child").await?;
    // Header values are taken as UTF-8 (a title in Devanagari); one that
    // is not UTF-8 is refused rather than dropped.
    let mut undecodable = None;
    let mut header = |name: &'static str| {
        let v = headers.get(name)?;
        match std::str::from_utf8(v.as_bytes()) {
            Ok(s) => Some(s.to_string()),
            Err(_) => {
                undecodable = Some(name);
                None
            }
        }
    };
    let kind = q
        .kind
        .or_else(|| header("x-handover-kind"))
        .ok_or_else(|| {
            ApiError::bad_request("the document kind is required (`kind` query or X-Handover-Kind)")
        })?;
    let kind: DocKind = kind
        .parse()
        .map_err(|e: crate::domain::UnknownDocKind| ApiError::bad_request(e.to_string()))?;
    let declared_size = match headers.get(axum::http::header::CONTENT_LENGTH) {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Content-Length is not a number"))?,
        ),
        None => None,
    };
    let new = NewDocument {
        kind,
        title: q.title.or_else(|| header("x-handover-title")),
        file_name: q.file_name.or_else(|| header("x-handover-file-name")),
        declared_size,
    };
    if let Some(name) = undecodable {
        return Err(ApiError::bad_request(format!(
            "the {name} header is not UTF-8"
        )));
    }
    let _turn = state.upload_permit().await;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let source = SyncIoBridge::new(StreamReader::new(stream));
    let doc = state
        .vault
        .put_document(&actor, id, new, Box::new(source))
        .await?;
    metrics::counter!("handover_documents_stored_total").increment(1);
    metrics::counter!("handover_document_bytes_stored_total").increment(doc.size);
    Ok((
        StatusCode::CREATED,
        Json(Stored {
            id: doc.id.to_string(),
            sha256: doc.sha256,
            size: doc.size,
            media_type: doc.media_type.as_str().to_string(),
        }),
    ))
}

/// One decision of the access history.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessRecord {
    pub seq: u64,
    pub time: chrono::DateTime<chrono::Utc>,
    /// `user:UUID`, `department:ID` or `local-operator`.
    pub who: String,
    pub role: String,
    pub action: String,
    /// `allow` or `deny`.
    pub decision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

/// Who asked for what about a child, when and why (from the audit log,
/// through its index), oldest first, a page at a time; the cursor is the
/// last decision's `seq`.
#[utoipa::path(get, path = "/api/v1/children/{id}/access-log", tag = "children", security(("bearer" = [])),
    params(("id" = String, Path, description = "child id"),
        ("limit" = Option<usize>, Query, description = "rows per page: 1 to 500, default 50"),
        ("after" = Option<String>, Query, description = "the `seq` the previous page ended at (its `Link: rel=\"next\"`)")),
    responses((status = 200, body = [AccessRecord],
        headers(("Link" = String, description = "`<...?after=SEQ>; rel=\"next\"` when there may be another page"))),
        (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn access_log(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<AccessRecord>>)> {
    let page = q.request()?;
    let after = match page.after.as_deref() {
        Some(a) => Some(
            a.parse::<u64>()
                .map_err(|_| ApiError::bad_request("after: not a line number"))?,
        ),
        None => None,
    };
    let child: ChildId = parse_id(&state, &actor, &id, "child").await?;
    let found = state
        .run(move |v| v.access_log_page(&actor, child, after, page.limit, false))
        .await?;
    let records = crate::domain::Page {
        items: found
            .items
            .into_iter()
            .map(|(line, e)| AccessRecord {
                seq: line.seq,
                time: line.time,
                who: e.who,
                role: e.role,
                action: e.action,
                decision: match e.decision {
                    crate::vault::Outcome::Allow => "allow".into(),
                    crate::vault::Outcome::Deny => "deny".into(),
                },
                document: e.document,
                grant: e.grant,
                purpose: e.purpose,
            })
            .collect(),
        next: found.next,
    };
    let keep = [("limit", q.limit.map(|l| l.to_string()))];
    Ok(paged(
        &format!("/api/v1/children/{child}/access-log"),
        &keep,
        records,
    ))
}

fn purpose(p: Option<&str>) -> ApiResult<Purpose> {
    match p {
        None => Ok(Purpose::Restoration),
        Some(p) => p
            .parse::<Purpose>()
            .map_err(|e| ApiError::bad_request(e.to_string())),
    }
}
